"""The HTTP application factory: ``create_app(container)``; nothing is built at import."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from aftersales.adapters.db import migrate
from aftersales.adapters.db import schema as s
from aftersales.adapters.db.cases_repo import CaseNotFound
from aftersales.adapters.db.reference import NotFound, brand_after_sales
from aftersales.bootstrap import Container
from aftersales.domain.cases import Complaint
from aftersales.domain.errors import DomainError
from aftersales.domain.lifecycle import Channel, Role
from aftersales.domain.policy import _parse_duration
from aftersales.entrypoints.observability import instrument
from aftersales.entrypoints.web import Viewer, mount_web
from aftersales.entrypoints.web.session import CookieSessions
from aftersales.services import accounts, idempotency, views
from aftersales.services import cases as case_services
from aftersales.services.idempotency import Answer
from aftersales.services.reports import case_report
from aftersales.services.sandboxes import advance_sandbox, list_sandboxes


def create_app(container: Container) -> FastAPI:
    app = FastAPI(title="aftersales", version="0.1.0", docs_url="/docs")
    app.state.container = container

    @app.exception_handler(CaseNotFound)
    async def _not_found(_: Request, exc: CaseNotFound) -> JSONResponse:
        return _problem(404, "Not found", str(exc))

    @app.exception_handler(NotFound)
    async def _no_such(_: Request, exc: NotFound) -> JSONResponse:
        return _problem(404, "Not found", str(exc))

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return _problem(422, "Request refused", str(exc))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Ready when the database answers and its schema is this release's."""
        try:
            with container.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            current = migrate.is_up_to_date(container.engine)
        except (DomainError, SQLAlchemyError) as exc:
            return _problem(503, "Not ready", f"the database does not answer: {exc}")
        if not current:
            return _problem(
                503,
                "Not ready",
                "the database schema is not at this release's revision; "
                "run `aftersales db upgrade`",
            )
        return JSONResponse({"status": "ready"})

    instrument(app, container)

    sessions = CookieSessions(container)

    def signed_in(request: Request) -> Viewer:
        """Who calls: a system with ``Authorization: Bearer <token>``, or a signed-in session.

        A bearer token is sent deliberately, so it needs no CSRF token; a session
        cookie is sent by the browser on its own, so writes with it must carry the
        session's token in ``X-CSRF-Token``.
        """
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            account = accounts.account_for_token(container.engine, credential.strip())
            if account is None:
                raise ApiRefused(401, "Unknown token", "the bearer token is unknown or was revoked")
            return Viewer(account.id, account.name, account.role, account.party, "")
        viewer = sessions.viewer(request)
        if viewer is None:
            raise ApiRefused(
                401,
                "Sign in first",
                "this endpoint needs a signed-in session or an API token (Authorization: Bearer …)",
            )
        if request.method not in ("GET", "HEAD", "OPTIONS") and not viewer.csrf_ok(
            request.headers.get("X-CSRF-Token")
        ):
            raise ApiRefused(
                403, "Missing CSRF token", "send the session's CSRF token in X-CSRF-Token"
            )
        return viewer

    @app.exception_handler(ApiRefused)
    async def _refused(_: Request, exc: ApiRefused) -> JSONResponse:
        return _problem(exc.status, exc.title, exc.detail)

    @app.get("/api/v1/cases/{case_id}")
    def get_case(case_id: str, caller: Annotated[Viewer, Depends(signed_in)]) -> dict[str, Any]:
        if not views.may_see_case(container.engine, caller.scope, case_id):
            raise CaseNotFound(case_id)  # the same answer as for a case that does not exist
        return case_report(case_services.get_case(container.services, case_id), container.book)

    @app.get("/api/v1/cases")
    def list_cases(
        caller: Annotated[Viewer, Depends(signed_in)],
        sandbox: str = Query("live"),
        limit: int = Query(50, ge=1, le=500),
    ) -> list[dict[str, Any]]:
        lines = views.case_lines(container.engine, caller.scope, sandbox=sandbox, limit=limit)
        return [
            {
                "id": c.id,
                "programme": c.programme,
                "state": c.state,
                "opened_at": c.opened_at.isoformat(),
                "assignee": c.assignee,
            }
            for c in lines
        ]

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
            for e in exc.errors()
        ]
        return _problem(422, "Invalid request", "; ".join(problems))

    def own_item(caller: Viewer, order_item_id: str) -> None:
        """A consumer acts on items they bought; an agent on any caller's (NW-2a)."""
        if caller.role is Role.AGENT or caller.role is Role.OPERATIONS:
            return
        with container.engine.connect() as conn:
            buyer = conn.execute(
                select(s.orders.c.buyer_account)
                .select_from(s.order_items.join(s.orders))
                .where(s.order_items.c.id == order_item_id)
            ).scalar()
        if caller.role is not Role.CONSUMER or buyer != caller.party:
            raise ApiRefused(404, "Not found", f"no order item '{order_item_id}' of yours")

    def post_once(
        caller: Viewer, request: Request, payload: BaseModel, produce: Callable[[], Answer]
    ) -> JSONResponse:
        answer = idempotency.once(
            container.engine,
            container.clock,
            account_id=caller.account_id,
            key=request.headers.get("Idempotency-Key"),
            digest=idempotency.request_digest(
                request.method, request.url.path, payload.model_dump(mode="json")
            ),
            produce=produce,
        )
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
        return JSONResponse(answer.body, status_code=answer.status, headers=headers)

    @app.post("/api/v1/help-requests", status_code=201)
    def create_help_request(
        caller: Annotated[Viewer, Depends(signed_in)], body: HelpRequest, request: Request
    ) -> JSONResponse:
        """One-click help (OH-3): opened and dispatched at once; a repeat returns the open one."""
        if caller.role is not Role.CONSUMER:
            raise ApiRefused(403, "Not allowed", "one-click help is pressed by the buyer")
        own_item(caller, body.order_item_id)

        def produce() -> Answer:
            opened = case_services.request_help(
                container.services,
                order_item_id=body.order_item_id,
                actor=caller.actor(Channel.API),
                failure=body.failure,
                description=body.description,
            )
            report = case_report(opened.case, container.book)
            return Answer(201 if opened.created else 200, report)

        return post_once(caller, request, body, produce)

    @app.post("/api/v1/repair-reports", status_code=201)
    def create_repair_report(
        caller: Annotated[Viewer, Depends(signed_in)], body: RepairReport, request: Request
    ) -> JSONResponse:
        """A national-warranty repair report (NW-2): by the buyer, or by a hotline agent for them."""
        if caller.role not in (Role.CONSUMER, Role.AGENT):
            raise ApiRefused(
                403, "Not allowed", "repair reports come from buyers or hotline agents"
            )
        own_item(caller, body.order_item_id)
        channel = Channel.HOTLINE if caller.role is Role.AGENT else Channel.API

        def produce() -> Answer:
            opened = case_services.report_repair(
                container.services,
                order_item_id=body.order_item_id,
                actor=caller.actor(channel),
                description=body.description,
            )
            report = case_report(opened.case, container.book)
            return Answer(201 if opened.created else 200, report)

        return post_once(caller, request, body, produce)

    def visible_case(caller: Viewer, case_id: str) -> None:
        if not views.may_see_case(container.engine, caller.scope, case_id):
            raise CaseNotFound(case_id)

    @app.post("/api/v1/cases/{case_id}/actions")
    def act_on_case(
        caller: Annotated[Viewer, Depends(signed_in)],
        case_id: str,
        body: CaseAction,
        request: Request,
    ) -> JSONResponse:
        """A step of the case's lifecycle (respond, accept, give a solution, resolve, ...)."""
        visible_case(caller, case_id)

        def produce() -> Answer:
            case = case_services.act(
                container.services, case_id, body.action, caller.actor(Channel.API), body.note
            )
            return Answer(200, case_report(case, container.book))

        return post_once(caller, request, body, produce)

    @app.post("/api/v1/cases/{case_id}/complaints", status_code=201)
    def complain(
        caller: Annotated[Viewer, Depends(signed_in)],
        case_id: str,
        body: ComplaintFiled,
        request: Request,
    ) -> JSONResponse:
        """A breach-of-commitment complaint; refused with the reason once paid (OH-7, SS-5)."""
        if caller.role not in (Role.CONSUMER, Role.AGENT):
            raise ApiRefused(403, "Not allowed", "complaints come from buyers or hotline agents")
        visible_case(caller, case_id)

        def produce() -> Answer:
            complaint = case_services.file_complaint(
                container.services, case_id, body.clock_id, caller.actor(Channel.API), body.text
            )
            return Answer(201, _complaint_body(complaint))

        return post_once(caller, request, body, produce)

    @app.post("/api/v1/cases/{case_id}/complaints/{complaint_id}/decision")
    def decide(
        caller: Annotated[Viewer, Depends(signed_in)],
        case_id: str,
        complaint_id: str,
        body: ComplaintDecision,
        request: Request,
    ) -> JSONResponse:
        """Operations uphold or dismiss a complaint; an upheld NW-7 complaint pays the buyer."""
        if caller.role is not Role.OPERATIONS:
            raise ApiRefused(403, "Not allowed", "operations decide complaints")

        def produce() -> Answer:
            complaint = case_services.decide_complaint(
                container.services,
                case_id,
                complaint_id,
                body.uphold,
                caller.actor(Channel.API),
                body.note,
            )
            return Answer(200, _complaint_body(complaint))

        return post_once(caller, request, body, produce)

    @app.get("/api/v1/payouts")
    def payouts(
        caller: Annotated[Viewer, Depends(signed_in)],
        sandbox: str | None = Query(None),
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        """Payouts the caller may see, newest first, each with its reason in zh and en."""
        return [
            {
                "key": p.key,
                "case_id": p.case_id,
                "sandbox": p.sandbox,
                "rule": p.rule,
                "amount": p.amount,
                "unit": p.unit,
                "payer": p.payer,
                "payee": p.payee,
                "at": p.at.isoformat(),
                "explanation": {"zh": p.explanation("zh"), "en": p.explanation("en")},
            }
            for p in views.payout_lines(
                container.engine, caller.scope, sandbox=sandbox, limit=limit
            )
        ]

    @app.get("/api/v1/compliance")
    def compliance(
        caller: Annotated[Viewer, Depends(signed_in)],
        start: datetime = Query(..., alias="from"),
        end: datetime = Query(..., alias="to"),
        by: str = Query("provider"),
        sandbox: str | None = Query(None),
    ) -> dict[str, Any]:
        """Commitments kept and missed per provider, city, category, programme or clock."""
        if caller.role is Role.CONSUMER:
            raise ApiRefused(403, "Not allowed", "compliance figures are for the trade")
        if start.tzinfo is None or end.tzinfo is None:
            raise DomainError("give 'from' and 'to' with a UTC offset, e.g. 2026-11-01T00:00+08:00")
        try:
            result = views.compliance(
                container.engine, caller.scope, by=by, start=start, end=end, sandbox=sandbox
            )
        except ValueError as exc:
            raise DomainError(str(exc)) from exc
        return {
            "by": result.by,
            "rows": [
                {
                    "key": r.key,
                    "met": r.met,
                    "breached": r.breached,
                    "not_applicable": r.not_applicable,
                    "running": r.running,
                    "points_paid": r.points_paid,
                    "rate": r.rate,
                }
                for r in result.rows
            ],
        }

    @app.get("/api/v1/brands/{brand_id}")
    def brand_info(caller: Annotated[Viewer, Depends(signed_in)], brand_id: str) -> dict[str, Any]:
        """A brand's hotline, warranty terms, exclusions and service centres (NW-3)."""
        with container.engine.connect() as conn:
            info = brand_after_sales(conn, brand_id)
        return {
            "id": info.brand_id,
            "name": info.name,
            "hotline": info.hotline,
            "warranty_terms": {"zh": info.warranty_terms.zh, "en": info.warranty_terms.en},
            "exclusions": [{"zh": e.zh, "en": e.en} for e in info.exclusions],
            "centres": [
                {"name": c.name, "city": c.city, "address": c.address, "phone": c.phone}
                for c in info.centres
            ],
        }

    @app.get("/api/v1/sandboxes")
    def sandboxes(caller: Annotated[Viewer, Depends(signed_in)]) -> list[dict[str, Any]]:
        return [
            {"id": sb.id, "name": sb.name, "now": sb.now.isoformat()}
            for sb in list_sandboxes(container.engine)
        ]

    @app.post("/api/v1/sandboxes/{sandbox_id}/advance")
    def advance(
        caller: Annotated[Viewer, Depends(signed_in)],
        sandbox_id: str,
        by: str = Query(..., description="e.g. 61m, 48h, 30d"),
    ) -> dict[str, Any]:
        if caller.role is not Role.OPERATIONS:
            raise ApiRefused(403, "Not allowed", "only operations move sandbox clocks")
        try:
            delta = _parse_duration(by)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        if not isinstance(delta, timedelta):
            raise HTTPException(422, f"'{by}' is not a duration such as 61m, 48h or 30d")
        sandbox, report = advance_sandbox(
            container.engine,
            container.book,
            sandbox_id,
            by=delta,
            real_now=container.clock.now(),
        )
        return {
            "id": sandbox.id,
            "now": sandbox.now.isoformat(),
            "payouts": report.payouts,
            "paid": report.payout_keys,
        }

    mount_web(app, container, sessions)
    return app


class HelpRequest(BaseModel):
    order_item_id: str = Field(min_length=1, max_length=64)
    failure: str = Field(
        min_length=1, max_length=64, description="e.g. installation_late, not_delivered_into_home"
    )
    description: str = Field(default="", max_length=4000)


class RepairReport(BaseModel):
    order_item_id: str = Field(min_length=1, max_length=64)
    description: str = Field(min_length=1, max_length=4000, description="The fault, in words.")


class CaseAction(BaseModel):
    action: str = Field(min_length=1, max_length=40, description="e.g. accept, give_solution")
    note: str = Field(default="", max_length=4000)


class ComplaintFiled(BaseModel):
    clock_id: str | None = Field(default=None, max_length=64)
    text: str = Field(default="", max_length=4000)


class ComplaintDecision(BaseModel):
    uphold: bool
    note: str = Field(default="", max_length=4000)


def _complaint_body(complaint: Complaint) -> dict[str, Any]:
    return {
        "id": complaint.id,
        "clock": complaint.clock_id,
        "status": complaint.status,
        "explanation": {
            "rule": complaint.reason.rule,
            "zh": complaint.reason.zh,
            "en": complaint.reason.en,
        },
    }


class ApiRefused(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )
