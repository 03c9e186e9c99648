"""Liveness and readiness for load balancers and orchestrators: ``/healthz`` and ``/readyz``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from aftersales.entrypoints.api.deps import ContainerDep
from aftersales.entrypoints.api.errors import problem

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, box: ContainerDep) -> Response:
    """Ready when the database answers and its schema is this release's."""
    why = box.not_ready()
    if why is not None:
        return problem(request, 503, "Not ready", why)
    return JSONResponse({"status": "ready"})
