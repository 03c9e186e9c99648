"""Commitments kept and missed over a period, grouped as the trade asks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aftersales.domain import access
from aftersales.domain.access import Action
from aftersales.domain.instants import Instant
from aftersales.entrypoints.api import models as m
from aftersales.entrypoints.api.deps import Caller, ServicesDep
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.errors import InvalidRequest
from aftersales.services import views

router = APIRouter(prefix="/api/v1", tags=["compliance"], responses=PROBLEMS)


@router.get("/compliance", response_model=m.ComplianceOut)
def compliance(
    caller: Caller,
    svc: ServicesDep,
    start: Annotated[
        Instant, Query(alias="from", description="with a UTC offset, e.g. 2026-11-01T00:00+08:00")
    ],
    end: Annotated[
        Instant, Query(alias="to", description="with a UTC offset, e.g. 2026-12-01T00:00+08:00")
    ],
    by: str = Query(
        "provider",
        description="provider, city, category, programme, clock or holder (who held each "
        "clock when it was judged)",
    ),
    sandbox: str = Query(
        "live", max_length=64, description="live data unless a sandbox's id is given"
    ),
) -> m.ComplianceOut:
    """Commitments kept and missed per provider, city, category, programme or clock."""
    access.require(caller.role, Action.SEE_COMPLIANCE)
    try:
        result = views.compliance(svc, caller.scope, by=by, start=start, end=end, sandbox=sandbox)
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
