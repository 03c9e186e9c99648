"""The HTTP application factory: ``create_app(container)``; nothing is built at import."""

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import quote as url_quote

from fastapi import Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from aftersales.adapters.db import migrate
from aftersales.adapters.db import schema as s
from aftersales.adapters.db.reference import brand_after_sales
from aftersales.bootstrap import Container
from aftersales.demo.play import create_demo_sandbox
from aftersales.domain.cases import Complaint
from aftersales.domain.lifecycle import Channel, Role
from aftersales.domain.policy import ProgrammePolicy, _parse_duration
from aftersales.entrypoints.api import models as m
from aftersales.entrypoints.api.paging import decode_cursor, encode_cursor
from aftersales.entrypoints.error_table import retry_after, status_of
from aftersales.entrypoints.observability import instrument
from aftersales.entrypoints.web import Viewer, mount_web
from aftersales.entrypoints.web.session import CookieSessions
from aftersales.errors import AftersalesError, CaseNotFound, InvalidRequest
from aftersales.services import accounts, idempotency, views
from aftersales.services import cases as case_services
from aftersales.services.idempotency import Answer
from aftersales.services.ports import Attachment
from aftersales.services.reports import case_report
from aftersales.services.sandboxes import advance_sandbox, create_sandbox, list_sandboxes

# Who may do what beyond seeing the case (the web pages use the same sets).
PAUSERS = frozenset({Role.PROVIDER, Role.MERCHANT, Role.OPERATIONS})  # SS-2 exemptions
QUOTERS = frozenset({Role.BRAND, Role.PROVIDER, Role.MERCHANT})  # NW-6 paid repairs
PROBLEM = {"model": m.Problem, "content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {**PROBLEM, "description": "not signed in, or an unknown token"},
    403: {**PROBLEM, "description": "the caller's role may not do this"},
    404: {**PROBLEM, "description": "not found, or not the caller's to see"},
    422: {**PROBLEM, "description": "invalid input, or refused by a rule (the reason cites it)"},
}


def app_from_environment() -> FastAPI:
    """The app of one of several HTTP processes (``serve --workers N``), set up from ``AFTERSALES_*``.

    The supervising process has migrated the database already, so this one only connects.
    """
    import os

    from aftersales.bootstrap import bootstrap
    from aftersales.entrypoints.observability import configure_logging
    from aftersales.settings import load_settings

    configure_logging(os.environ.get("AFTERSALES_LOG_FORMAT", "json"))
    return create_app(bootstrap(load_settings(), migrate=False))


def create_app(container: Container) -> FastAPI:
    app = FastAPI(
        title="aftersales",
        version="0.1.0",
        docs_url="/docs",
        description=(
            "After-sales commitments as SLA clocks, automatic exactly-once payouts and "
            "bilingual explanations. Authenticate with `Authorization: Bearer <token>` "
            "(made with `aftersales accounts token`) or a signed-in session plus "
            "`X-CSRF-Token` on writes. Every POST takes an `Idempotency-Key` header: a "
            "repeat with the same key returns the first answer. Lists page with `cursor`."
        ),
    )
    app.state.container = container

    @app.exception_handler(AftersalesError)
    async def _refused_by_rule(_: Request, exc: AftersalesError) -> JSONResponse:
        status, title = status_of(exc)
        response = _problem(status, title, str(exc))
        if (wait := retry_after(exc)) is not None:
            response.headers["Retry-After"] = str(wait)
        return response

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
        except (AftersalesError, SQLAlchemyError) as exc:
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
            account = accounts.account_for_token(container.services, credential.strip())
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

    @app.get("/api/v1/cases/{case_id}", responses=ERRORS)
    def get_case(case_id: str, caller: Annotated[Viewer, Depends(signed_in)]) -> dict[str, Any]:
        if not views.may_see_case(container.services, caller.scope, case_id):
            raise CaseNotFound(case_id)  # the same answer as for a case that does not exist
        return case_report(case_services.get_case(container.services, case_id), container.book)

    @app.get("/api/v1/cases", response_model=m.CasePage, responses=ERRORS)
    def list_cases(
        caller: Annotated[Viewer, Depends(signed_in)],
        sandbox: str = Query("live", max_length=64),
        open_only: bool = Query(False, alias="open"),
        limit: int = Query(50, ge=1, le=500),
        cursor: str | None = Query(None, max_length=400),
    ) -> m.CasePage:
        """The cases the caller may see, newest first, each with its nearest deadline."""
        after = decode_cursor(cursor, str) if cursor else None
        lines = views.case_lines(
            container.services,
            caller.scope,
            sandbox=sandbox,
            open_only=open_only,
            limit=limit + 1,
            after=after,
        )
        page, more = lines[:limit], len(lines) > limit
        return m.CasePage(
            items=[
                m.CaseSummary(
                    id=c.id,
                    sandbox=c.sandbox,
                    programme=c.programme,
                    state=c.state,
                    is_open=c.is_open,
                    opened_at=c.opened_at,
                    product=c.product,
                    assignee=c.assignee,
                    city=c.city,
                    next_due=c.next_due,
                )
                for c in page
            ],
            next_cursor=encode_cursor(page[-1].opened_at, page[-1].id) if more else None,
        )

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
            container.services,
            account_id=caller.account_id,
            key=request.headers.get("Idempotency-Key"),
            digest=idempotency.request_digest(
                request.method, request.url.path, payload.model_dump(mode="json")
            ),
            produce=produce,
        )
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
        return JSONResponse(answer.body, status_code=answer.status, headers=headers)

    @app.post("/api/v1/help-requests", status_code=201, responses=ERRORS)
    def create_help_request(
        caller: Annotated[Viewer, Depends(signed_in)], body: m.HelpRequest, request: Request
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

    @app.post("/api/v1/repair-reports", status_code=201, responses=ERRORS)
    def create_repair_report(
        caller: Annotated[Viewer, Depends(signed_in)], body: m.RepairReport, request: Request
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
        if not views.may_see_case(container.services, caller.scope, case_id):
            raise CaseNotFound(case_id)

    @app.post("/api/v1/cases/{case_id}/actions", responses=ERRORS)
    def act_on_case(
        caller: Annotated[Viewer, Depends(signed_in)],
        case_id: str,
        body: m.CaseAction,
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

    @app.post(
        "/api/v1/cases/{case_id}/complaints",
        status_code=201,
        response_model=m.ComplaintOut,
        responses=ERRORS,
    )
    def complain(
        caller: Annotated[Viewer, Depends(signed_in)],
        case_id: str,
        body: m.ComplaintFiled,
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

    @app.post(
        "/api/v1/cases/{case_id}/complaints/{complaint_id}/decision",
        response_model=m.ComplaintOut,
        responses=ERRORS,
    )
    def decide(
        caller: Annotated[Viewer, Depends(signed_in)],
        case_id: str,
        complaint_id: str,
        body: m.ComplaintDecision,
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

    @app.get("/api/v1/payouts", response_model=m.PayoutPage, responses=ERRORS)
    def payouts(
        caller: Annotated[Viewer, Depends(signed_in)],
        sandbox: str | None = Query(None, max_length=64),
        limit: int = Query(100, ge=1, le=1000),
        cursor: str | None = Query(None, max_length=400),
    ) -> m.PayoutPage:
        """Payouts the caller may see, newest first, each with its reason in zh and en."""
        after = decode_cursor(cursor, int) if cursor else None
        lines = views.payout_lines(
            container.services, caller.scope, sandbox=sandbox, limit=limit + 1, after=after
        )
        page, more = lines[:limit], len(lines) > limit
        return m.PayoutPage(
            items=[
                m.PayoutOut(
                    key=p.key,
                    case_id=p.case_id,
                    sandbox=p.sandbox,
                    rule=p.rule,
                    amount=p.amount,
                    unit=p.unit,
                    payer=p.payer,
                    payee=p.payee,
                    at=p.at,
                    explanation=m.Bilingual(zh=p.explanation("zh"), en=p.explanation("en")),
                )
                for p in page
            ],
            next_cursor=encode_cursor(page[-1].at, page[-1].entry_id) if more else None,
        )

    @app.get("/api/v1/balances", response_model=list[m.BalanceOut], responses=ERRORS)
    def balances(
        caller: Annotated[Viewer, Depends(signed_in)],
        sandbox: str | None = Query(None, max_length=64),
    ) -> list[m.BalanceOut]:
        """Ledger balances: the caller's own account's, or every account's for operations."""
        return [
            m.BalanceOut(sandbox=b.sandbox, account=b.account, unit=b.unit, balance=b.balance)
            for b in views.balances(container.services, caller.scope, sandbox=sandbox)
        ]

    @app.get("/api/v1/compliance", response_model=m.ComplianceOut, responses=ERRORS)
    def compliance(
        caller: Annotated[Viewer, Depends(signed_in)],
        start: datetime = Query(..., alias="from"),
        end: datetime = Query(..., alias="to"),
        by: str = Query("provider", description="provider, city, category, programme or clock"),
        sandbox: str | None = Query(None, max_length=64),
    ) -> m.ComplianceOut:
        """Commitments kept and missed per provider, city, category, programme or clock."""
        if caller.role is Role.CONSUMER:
            raise ApiRefused(403, "Not allowed", "compliance figures are for the trade")
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidRequest(
                "give 'from' and 'to' with a UTC offset, e.g. 2026-11-01T00:00+08:00"
            )
        try:
            result = views.compliance(
                container.services, caller.scope, by=by, start=start, end=end, sandbox=sandbox
            )
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from exc
        return m.ComplianceOut(
            by=result.by,
            rows=[
                m.ComplianceRowOut(
                    key=r.key,
                    met=r.met,
                    breached=r.breached,
                    not_applicable=r.not_applicable,
                    running=r.running,
                    points_paid=r.points_paid,
                    rate=r.rate,
                )
                for r in result.rows
            ],
        )

    @app.get("/api/v1/brands/{brand_id}", response_model=m.BrandOut, responses=ERRORS)
    def brand_info(caller: Annotated[Viewer, Depends(signed_in)], brand_id: str) -> m.BrandOut:
        """A brand's hotline, warranty terms, exclusions and service centres (NW-3)."""
        with container.engine.connect() as conn:
            info = brand_after_sales(conn, brand_id)
        return m.BrandOut(
            id=info.brand_id,
            name=info.name,
            hotline=info.hotline,
            warranty_terms=m.Bilingual(zh=info.warranty_terms.zh, en=info.warranty_terms.en),
            exclusions=[m.Bilingual(zh=e.zh, en=e.en) for e in info.exclusions],
            centres=[
                m.ServiceCentreOut(name=c.name, city=c.city, address=c.address, phone=c.phone)
                for c in info.centres
            ],
        )

    # ------------------------------------------------------------ policies (read by everyone)

    def policy_out(policy: ProgrammePolicy) -> dict[str, Any]:
        return {
            "id": policy.id,
            "programme": policy.programme.value,
            "version": policy.version,
            "name": m.Bilingual(zh=policy.name.zh, en=policy.name.en),
            "effective_from": policy.effective_from,
            "effective_until": policy.effective_until,
            "in_force": policy.in_force_at(container.clock.now()),
            "clocks": [
                m.ClockDefinitionOut(
                    id=c.id, rule=c.rule, duration=str(c.duration), calendar=c.calendar
                )
                for c in policy.clocks
            ],
        }

    @app.get("/api/v1/policies", response_model=list[m.PolicyOut], responses=ERRORS)
    def policies(
        caller: Annotated[Viewer, Depends(signed_in)],
        programme: str | None = Query(None, description="national_warranty or one_click_help"),
    ) -> list[m.PolicyOut]:
        """Every version of every programme, oldest first, marked in force or not (OH-8)."""
        return [
            m.PolicyOut(**policy_out(p))
            for p in sorted(container.book.programmes, key=lambda p: p.effective_from)
            if programme is None or p.programme.value == programme
        ]

    @app.get("/api/v1/policies/{policy_id}", response_model=m.PolicyDocumentOut, responses=ERRORS)
    def policy(
        caller: Annotated[Viewer, Depends(signed_in)], policy_id: str
    ) -> m.PolicyDocumentOut:
        """One policy version with its whole document: clocks, penalties, eligibility."""
        try:
            found = container.book.by_id(policy_id)
        except KeyError:
            raise ApiRefused(404, "Not found", f"no policy version '{policy_id}'") from None
        return m.PolicyDocumentOut(**policy_out(found), document=found.model_dump(mode="json"))

    # ------------------------------------------------------------ sandboxes

    @app.get("/api/v1/sandboxes", response_model=list[m.SandboxOut], responses=ERRORS)
    def sandboxes(caller: Annotated[Viewer, Depends(signed_in)]) -> list[m.SandboxOut]:
        """Sandboxes and the reading of each one's test clock."""
        return [
            m.SandboxOut(id=sb.id, name=sb.name, now=sb.now)
            for sb in list_sandboxes(container.services)
        ]

    @app.post("/api/v1/sandboxes", status_code=201, response_model=m.SandboxOut, responses=ERRORS)
    def new_sandbox(
        caller: Annotated[Viewer, Depends(signed_in)], body: m.SandboxCreated, request: Request
    ) -> JSONResponse:
        """A sandbox with its own clock (and, by default, its own copy of the demo's orders)."""
        if caller.role is not Role.OPERATIONS:
            raise ApiRefused(403, "Not allowed", "only operations create sandboxes")
        if body.start is not None and body.start.tzinfo is None:
            raise InvalidRequest("give 'start' with a UTC offset, e.g. 2026-11-24T10:00+08:00")

        def produce() -> Answer:
            if body.demo_data:
                sandbox = create_demo_sandbox(container, body.id, start=body.start, name=body.name)
            else:
                sandbox = create_sandbox(
                    container.services,
                    sandbox_id=body.id,
                    name=body.name,
                    start=body.start,
                )
            out = m.SandboxOut(id=sandbox.id, name=sandbox.name, now=sandbox.now)
            return Answer(201, out.model_dump(mode="json"))

        return post_once(caller, request, body, produce)

    @app.post(
        "/api/v1/sandboxes/{sandbox_id}/advance", response_model=m.AdvanceOut, responses=ERRORS
    )
    def advance(
        caller: Annotated[Viewer, Depends(signed_in)],
        sandbox_id: str,
        request: Request,
        by: str = Query(..., max_length=20, description="e.g. 61m, 48h, 30d"),
    ) -> JSONResponse:
        """Move a sandbox clock forward and settle what fell due on the way (payouts included)."""
        if caller.role is not Role.OPERATIONS:
            raise ApiRefused(403, "Not allowed", "only operations move sandbox clocks")
        try:
            delta = _parse_duration(by)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from exc
        if not isinstance(delta, timedelta):
            raise InvalidRequest(f"'{by}' is not a duration such as 61m, 48h or 30d")

        def produce() -> Answer:
            sandbox, report = advance_sandbox(
                container.services,
                sandbox_id,
                by=delta,
                real_now=container.clock.now(),
            )
            out = m.AdvanceOut(
                id=sandbox.id, now=sandbox.now, payouts=report.payouts, paid=report.payout_keys
            )
            return Answer(200, out.model_dump(mode="json"))

        # Advancing twice moves the clock twice: a retried request must carry its key.
        return post_once(caller, request, m.SandboxAdvance(by=by), produce)

    # ------------------------------------------------------------ pauses and quotes

    def case_answer(case_id: str, change: Callable[[], object]) -> Callable[[], Answer]:
        def produce() -> Answer:
            change()
            report = case_report(
                case_services.get_case(container.services, case_id), container.book
            )
            return Answer(200, report)

        return produce

    @app.post("/api/v1/cases/{case_id}/clocks/{clock_id}/pause", responses=ERRORS)
    def pause(
        caller: Annotated[Viewer, Depends(signed_in)],
        case_id: str,
        clock_id: str,
        body: m.PauseRequest,
        request: Request,
    ) -> JSONResponse:
        """Stop a clock for an exemption its policy allows (SS-2); the reason is recorded."""
        visible_case(caller, case_id)
        if caller.role not in PAUSERS:
            raise ApiRefused(403, "Not allowed", "providers, merchants and operations pause clocks")
        actor = caller.actor(Channel.API)
        change = lambda: case_services.pause_clock(  # noqa: E731
            container.services, case_id, clock_id, body.reason, actor
        )
        return post_once(caller, request, body, case_answer(case_id, change))

    @app.post("/api/v1/cases/{case_id}/clocks/{clock_id}/resume", responses=ERRORS)
    def resume(
        caller: Annotated[Viewer, Depends(signed_in)],
        case_id: str,
        clock_id: str,
        request: Request,
    ) -> JSONResponse:
        """Start a paused clock again; it keeps the time it had left."""
        visible_case(caller, case_id)
        if caller.role not in PAUSERS:
            raise ApiRefused(
                403, "Not allowed", "providers, merchants and operations resume clocks"
            )
        actor = caller.actor(Channel.API)
        change = lambda: case_services.resume_clock(  # noqa: E731
            container.services, case_id, clock_id, actor
        )
        return post_once(caller, request, m.NoBody(), case_answer(case_id, change))

    @app.post("/api/v1/cases/{case_id}/quote", responses=ERRORS)
    def give_quote(
        caller: Annotated[Viewer, Depends(signed_in)],
        case_id: str,
        body: m.QuoteIssued,
        request: Request,
    ) -> JSONResponse:
        """A paid repair's quote (NW-6); the buyer accepts or declines it."""
        visible_case(caller, case_id)
        if caller.role not in QUOTERS:
            raise ApiRefused(403, "Not allowed", "brands, merchants and providers quote repairs")
        actor = caller.actor(Channel.API)
        change = lambda: case_services.issue_quote(  # noqa: E731
            container.services, case_id, body.amount_fen, actor
        )
        return post_once(caller, request, body, case_answer(case_id, change))

    @app.post("/api/v1/cases/{case_id}/quote/answer", responses=ERRORS)
    def answer_quote(
        caller: Annotated[Viewer, Depends(signed_in)],
        case_id: str,
        body: m.QuoteAnswer,
        request: Request,
    ) -> JSONResponse:
        """The buyer accepts or declines the quote."""
        visible_case(caller, case_id)
        if caller.role is not Role.CONSUMER:
            raise ApiRefused(403, "Not allowed", "the buyer answers a quote")
        actor = caller.actor(Channel.API)
        change = lambda: case_services.answer_quote(  # noqa: E731
            container.services, case_id, body.accept, actor
        )
        return post_once(caller, request, body, case_answer(case_id, change))

    # ------------------------------------------------------------ chat (NW-2c, NW-3)

    def chat_thread(caller: Viewer, thread_id: str) -> Any:
        """The thread if the caller may take part: its buyer, its brand, agents, operations."""
        with container.engine.connect() as conn:
            row = conn.execute(
                select(s.chat_threads, s.orders.c.buyer_account)
                .select_from(
                    s.chat_threads.join(
                        s.order_items, s.order_items.c.id == s.chat_threads.c.order_item_id
                    ).join(s.orders, s.orders.c.id == s.order_items.c.order_id)
                )
                .where(s.chat_threads.c.id == thread_id)
            ).first()
        allowed = row is not None and (
            caller.role in (Role.AGENT, Role.OPERATIONS)
            or (caller.role is Role.CONSUMER and row.buyer_account == caller.party)
            or (caller.role is Role.BRAND and row.brand_id == caller.party)
        )
        if not allowed:
            raise ApiRefused(404, "Not found", f"no chat '{thread_id}' of yours")
        return row

    def chat_out(thread_id: str) -> m.ChatOut:
        row = case_services.chat_thread(container.services, thread_id)
        return m.ChatOut(
            id=row.id,
            order_item_id=row.order_item_id,
            brand_id=row.brand_id,
            case_id=row.case_id,
            messages=[
                m.ChatMessageOut(
                    at=msg.at, sender_role=msg.sender_role, sender_id=msg.sender_id, text=msg.text
                )
                for msg in case_services.chat_messages(container.services, thread_id)
            ],
        )

    @app.post("/api/v1/chats", status_code=201, response_model=m.ChatOut, responses=ERRORS)
    def open_chat(
        caller: Annotated[Viewer, Depends(signed_in)], body: m.ChatOpened, request: Request
    ) -> JSONResponse:
        """Ask the brand's service centre about an item (a consultation, NW-3)."""
        if caller.role not in (Role.CONSUMER, Role.AGENT):
            raise ApiRefused(403, "Not allowed", "chats are opened by buyers or hotline agents")
        own_item(caller, body.order_item_id)

        def produce() -> Answer:
            thread_id = case_services.open_chat(
                container.services,
                order_item_id=body.order_item_id,
                actor=caller.actor(Channel.CHAT),
                text=body.text,
            )
            return Answer(201, chat_out(thread_id).model_dump(mode="json"))

        return post_once(caller, request, body, produce)

    @app.get("/api/v1/chats/{thread_id}", response_model=m.ChatOut, responses=ERRORS)
    def get_chat(caller: Annotated[Viewer, Depends(signed_in)], thread_id: str) -> m.ChatOut:
        """A chat with all its messages, oldest first."""
        chat_thread(caller, thread_id)
        return chat_out(thread_id)

    @app.post("/api/v1/chats/{thread_id}/messages", response_model=m.ChatOut, responses=ERRORS)
    def post_message(
        caller: Annotated[Viewer, Depends(signed_in)],
        thread_id: str,
        body: m.ChatMessagePosted,
        request: Request,
    ) -> JSONResponse:
        chat_thread(caller, thread_id)

        def produce() -> Answer:
            case_services.post_chat_message(
                container.services, thread_id, caller.actor(Channel.CHAT), body.text
            )
            return Answer(200, chat_out(thread_id).model_dump(mode="json"))

        return post_once(caller, request, body, produce)

    @app.post("/api/v1/chats/{thread_id}/report", status_code=201, responses=ERRORS)
    def chat_to_report(
        caller: Annotated[Viewer, Depends(signed_in)], thread_id: str, request: Request
    ) -> JSONResponse:
        """Turn the chat into a repair report (NW-2c); asking again returns the same case."""
        chat_thread(caller, thread_id)
        if caller.role not in (Role.CONSUMER, Role.BRAND, Role.AGENT):
            raise ApiRefused(
                403, "Not allowed", "the buyer, the brand's service centre or an agent files it"
            )

        def produce() -> Answer:
            opened = case_services.chat_to_report(
                container.services, thread_id, caller.actor(Channel.CHAT)
            )
            return Answer(201 if opened.created else 200, case_report(opened.case, container.book))

        return post_once(caller, request, m.NoBody(), produce)

    # ------------------------------------------------------------ attachments

    store = container.services.files
    assert store is not None, "bootstrap gives the services a file store"

    def attachment_out(record: Attachment) -> m.AttachmentOut:
        return m.AttachmentOut(**{k: getattr(record, k) for k in m.AttachmentOut.model_fields})

    @app.post(
        "/api/v1/cases/{case_id}/attachments",
        status_code=201,
        response_model=m.AttachmentOut,
        responses=ERRORS,
    )
    async def upload(
        caller: Annotated[Viewer, Depends(signed_in)],
        case_id: str,
        request: Request,
        file: Annotated[UploadFile, File(description="a photo (JPEG, PNG, WebP, HEIC) or PDF")],
    ) -> JSONResponse:
        """Attach a photo or document to a case; its type is judged by content, not by name."""
        visible_case(caller, case_id)
        data = await file.read(container.settings.attachment_max_bytes + 1)
        payload = m.AttachmentUpload(
            filename=file.filename or "upload",
            sha256=hashlib.sha256(data).hexdigest(),
            declared_type=file.content_type,
        )

        def produce() -> Answer:
            record = case_services.add_attachment(
                container.services,
                data=data,
                filename=payload.filename,
                declared_type=payload.declared_type,
                actor=caller.actor(Channel.API),
                case_id=case_id,
            )
            return Answer(201, attachment_out(record).model_dump(mode="json"))

        return post_once(caller, request, payload, produce)

    @app.get(
        "/api/v1/cases/{case_id}/attachments",
        response_model=list[m.AttachmentOut],
        responses=ERRORS,
    )
    def attachments(
        caller: Annotated[Viewer, Depends(signed_in)], case_id: str
    ) -> list[m.AttachmentOut]:
        visible_case(caller, case_id)
        return [
            attachment_out(r) for r in case_services.attachments_of(container.services, case_id)
        ]

    @app.get(
        "/api/v1/cases/{case_id}/attachments/{attachment_id}",
        response_class=Response,
        responses={**ERRORS, 200: {"description": "the file's bytes, with its content type"}},
    )
    def attachment(
        caller: Annotated[Viewer, Depends(signed_in)], case_id: str, attachment_id: str
    ) -> Response:
        visible_case(caller, case_id)
        found = [
            r
            for r in case_services.attachments_of(container.services, case_id)
            if r.id == attachment_id
        ]
        if not found:
            raise ApiRefused(
                404, "Not found", f"case {case_id} has no attachment '{attachment_id}'"
            )
        record = found[0]
        return Response(
            store.open(record.storage_key),
            media_type=record.content_type,
            headers={
                "Content-Disposition": f"inline; filename*=UTF-8''{url_quote(record.filename)}",
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, max-age=3600",
            },
        )

    web = mount_web(app, container, sessions)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        """An unknown path or method: a problem for the API, a page in the viewer's language else."""
        phrase = HTTPStatus(exc.status_code).phrase
        detail = str(exc.detail)
        if request.url.path.startswith("/api/") or "text/html" not in request.headers.get(
            "accept", ""
        ):
            if detail != phrase:
                pass  # a route's own words stand
            elif exc.status_code == 404:
                detail = f"there is no {request.url.path}; /docs lists the endpoints"
            elif exc.status_code == 405:
                detail = f"{request.method} is not allowed on {request.url.path}"
            return _problem(exc.status_code, phrase, detail)
        key = "error.not_found" if exc.status_code == 404 else "error.title"
        return web.refusal(request, exc.status_code, key, "")

    return app


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
