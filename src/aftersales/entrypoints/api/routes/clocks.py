"""A case's SLA clocks: pause one for an exemption its policy allows (SS-2), resume it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from aftersales.domain.lifecycle import Channel
from aftersales.entrypoints.api import models as m
from aftersales.entrypoints.api.deps import Caller, PostOnce, ServicesDep, case_after, visible_case
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.services import cases as case_services

router = APIRouter(prefix="/api/v1", tags=["clocks"], responses=PROBLEMS)


@router.post("/cases/{case_id}/clocks/{clock_id}/pause")
def pause(
    case_id: str,
    clock_id: str,
    body: m.PauseRequest,
    caller: Caller,
    svc: ServicesDep,
    once: PostOnce,
) -> JSONResponse:
    """Stop a clock for an exemption its policy allows (SS-2); the reason is recorded."""
    visible_case(svc, caller, case_id)
    actor = caller.actor(Channel.API)
    return once(
        svc,
        caller,
        body,
        case_after(
            svc,
            caller,
            case_id,
            lambda: case_services.pause_clock(svc, case_id, clock_id, body.reason, actor),
        ),
    )


@router.post("/cases/{case_id}/clocks/{clock_id}/resume")
def resume(
    case_id: str, clock_id: str, caller: Caller, svc: ServicesDep, once: PostOnce
) -> JSONResponse:
    """Start a paused clock again; it keeps the time it had left."""
    visible_case(svc, caller, case_id)
    actor = caller.actor(Channel.API)
    return once(
        svc,
        caller,
        m.NoBody(),
        case_after(
            svc, caller, case_id, lambda: case_services.resume_clock(svc, case_id, clock_id, actor)
        ),
    )
