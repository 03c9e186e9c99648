"""Sandboxes: test clocks of their own, made and moved forward by operations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from aftersales.domain import access
from aftersales.domain.access import Action
from aftersales.domain.durations import Duration
from aftersales.entrypoints.api import models as m
from aftersales.entrypoints.api.deps import Caller, ContainerDep, PostOnce, ServicesDep
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.services.idempotency import Answer
from aftersales.services.sandboxes import advance_sandbox, create_sandbox, list_sandboxes

router = APIRouter(prefix="/api/v1", tags=["sandboxes"], responses=PROBLEMS)


@router.get("/sandboxes", response_model=list[m.SandboxOut])
def sandboxes(caller: Caller, svc: ServicesDep) -> list[m.SandboxOut]:
    """Sandboxes and the reading of each one's test clock."""
    return [m.SandboxOut(id=sb.id, name=sb.name, now=sb.now) for sb in list_sandboxes(svc)]


@router.post("/sandboxes", status_code=201, response_model=m.SandboxOut)
def new_sandbox(
    body: m.SandboxCreated, caller: Caller, svc: ServicesDep, box: ContainerDep, once: PostOnce
) -> JSONResponse:
    """A sandbox with its own clock (and, by default, its own copy of the demo's orders)."""
    access.require(caller.role, Action.CREATE_SANDBOX)

    def produce() -> Answer:
        if body.demo_data:
            sandbox = box.seed_sandbox_with_demo(svc, body.id, start=body.start, name=body.name)
        else:
            sandbox = create_sandbox(svc, sandbox_id=body.id, name=body.name, start=body.start)
        out = m.SandboxOut(id=sandbox.id, name=sandbox.name, now=sandbox.now)
        return Answer(201, out.model_dump(mode="json"))

    return once(svc, caller, body, produce)


@router.post("/sandboxes/{sandbox_id}/advance", response_model=m.AdvanceOut)
def advance(
    sandbox_id: str,
    by: Annotated[Duration, Query(description="e.g. 61m, 48h, 30d, or ISO 8601 such as PT1H")],
    caller: Caller,
    svc: ServicesDep,
    once: PostOnce,
) -> JSONResponse:
    """Move a sandbox clock forward and settle what fell due on the way (payouts included)."""
    access.require(caller.role, Action.ADVANCE_SANDBOX)

    def produce() -> Answer:
        sandbox, report = advance_sandbox(svc, sandbox_id, by=by, real_now=svc.clock.now())
        out = m.AdvanceOut(
            id=sandbox.id, now=sandbox.now, payouts=report.payouts, paid=report.payout_keys
        )
        return Answer(200, out.model_dump(mode="json"))

    # Advancing twice moves the clock twice: a retried request must carry its key.
    return once(svc, caller, m.SandboxAdvance(by=by), produce)
