"""Liveness and readiness for load balancers and orchestrators: ``/healthz`` and ``/readyz``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from aftersales.adapters.db import migrate
from aftersales.entrypoints.api.deps import ServicesDep
from aftersales.entrypoints.api.errors import problem
from aftersales.errors import AftersalesError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, svc: ServicesDep) -> Response:
    """Ready when the database answers and its schema is this release's."""
    try:
        with svc.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = migrate.is_up_to_date(svc.engine)
    except (AftersalesError, SQLAlchemyError) as exc:
        return problem(request, 503, "Not ready", f"the database does not answer: {exc}")
    if not current:
        return problem(
            request,
            503,
            "Not ready",
            "the database schema is not at this release's revision; run `aftersales db upgrade`",
        )
    return JSONResponse({"status": "ready"})
