"""The HTTP application factory: ``create_app(container)``; nothing is built at import."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select, text

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.cases_repo import CaseNotFound
from aftersales.bootstrap import Container
from aftersales.domain.errors import DomainError
from aftersales.domain.policy import _parse_duration
from aftersales.services import cases as case_services
from aftersales.services.reports import case_report
from aftersales.services.sandboxes import advance_sandbox, list_sandboxes


def create_app(container: Container) -> FastAPI:
    app = FastAPI(title="aftersales", version="0.1.0", docs_url="/docs")
    app.state.container = container

    @app.exception_handler(CaseNotFound)
    async def _not_found(_: Request, exc: CaseNotFound) -> JSONResponse:
        return _problem(404, "Not found", str(exc))

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return _problem(422, "Request refused", str(exc))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        with container.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ready"}

    @app.get("/api/v1/cases/{case_id}")
    def get_case(case_id: str) -> dict[str, Any]:
        return case_report(case_services.get_case(container.services, case_id), container.book)

    @app.get("/api/v1/cases")
    def list_cases(
        sandbox: str = Query("live"), limit: int = Query(50, ge=1, le=500)
    ) -> list[dict[str, Any]]:
        with container.engine.connect() as conn:
            rows = conn.execute(
                select(
                    s.cases.c.id,
                    s.cases.c.programme,
                    s.cases.c.state,
                    s.cases.c.opened_at,
                    s.cases.c.assignee,
                )
                .where(s.cases.c.sandbox == sandbox)
                .order_by(s.cases.c.opened_at.desc())
                .limit(limit)
            ).all()
        return [{**r._mapping, "opened_at": r.opened_at.isoformat()} for r in rows]

    @app.get("/api/v1/sandboxes")
    def sandboxes() -> list[dict[str, Any]]:
        return [
            {"id": sb.id, "name": sb.name, "now": sb.now.isoformat()}
            for sb in list_sandboxes(container.engine)
        ]

    @app.post("/api/v1/sandboxes/{sandbox_id}/advance")
    def advance(
        sandbox_id: str, by: str = Query(..., description="e.g. 61m, 48h, 30d")
    ) -> dict[str, Any]:
        try:
            delta = _parse_duration(by)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        if not isinstance(delta, timedelta):
            raise HTTPException(422, f"'{by}' is not a duration such as 61m, 48h or 30d")
        sandbox, report = advance_sandbox(container.engine, container.book, sandbox_id, by=delta)
        return {
            "id": sandbox.id,
            "now": sandbox.now.isoformat(),
            "payouts": report.payouts,
            "paid": report.payout_keys,
        }

    from aftersales.entrypoints.web import mount_web
    from aftersales.entrypoints.web.session import CookieSessions

    mount_web(app, container, CookieSessions(container))
    return app


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )
