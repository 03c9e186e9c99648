"""Cases: the caller's list (paged by cursor), one case as a report, and lifecycle steps."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from aftersales.domain.lifecycle import Channel
from aftersales.entrypoints.api import models as m
from aftersales.entrypoints.api.deps import Caller, PostOnce, ServicesDep, visible_case
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.entrypoints.api.paging import decode_cursor, encode_cursor
from aftersales.services import cases as case_services
from aftersales.services import views
from aftersales.services.idempotency import Answer

router = APIRouter(prefix="/api/v1", tags=["cases"], responses=PROBLEMS)


@router.get("/cases/{case_id}")
def get_case(case_id: str, caller: Caller, svc: ServicesDep) -> dict[str, Any]:
    """One case with its clocks, decisions (each citing its rule), payouts and complaints."""
    visible_case(svc, caller, case_id)  # the same answer as for a case that does not exist
    # The customer's contact is whole for the assigned party, operations and the buyer,
    # masked for everyone else (domain.access.may_see_contact).
    case = case_services.get_case(svc, case_id)
    return views.case_view(svc, caller.scope, case).as_json()


@router.get("/cases", response_model=m.CasePage)
def list_cases(
    caller: Caller,
    svc: ServicesDep,
    sandbox: str = Query("live", max_length=64),
    open_only: bool = Query(False, alias="open"),
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, max_length=400),
) -> m.CasePage:
    """The cases the caller may see, newest first, each with its nearest deadline."""
    after = decode_cursor(cursor, str) if cursor else None
    lines = views.case_lines(
        svc, caller.scope, sandbox=sandbox, open_only=open_only, limit=limit + 1, after=after
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


@router.post("/cases/{case_id}/actions")
def act_on_case(
    case_id: str, body: m.CaseAction, caller: Caller, svc: ServicesDep, once: PostOnce
) -> JSONResponse:
    """A step of the case's lifecycle (respond, accept, give a solution, resolve, ...)."""
    visible_case(svc, caller, case_id)

    def produce() -> Answer:
        case_services.act(svc, case_id, body.action, caller.actor(Channel.API), body.note)
        case = case_services.get_case(svc, case_id)
        return Answer(200, views.case_view(svc, caller.scope, case).as_json())

    return once(body, produce)


@router.post("/cases/{case_id}/appointment")
def book_visit(
    case_id: str, body: m.Appointment, caller: Caller, svc: ServicesDep, once: PostOnce
) -> JSONResponse:
    """The visit time agreed with the buyer: later than the case's now, within 90 days,
    07:00-22:00 local time. A change is recorded in the case's history."""
    visible_case(svc, caller, case_id)

    def produce() -> Answer:
        case_services.set_appointment(svc, case_id, body.at, caller.actor(Channel.API))
        case = case_services.get_case(svc, case_id)
        return Answer(200, views.case_view(svc, caller.scope, case).as_json())

    return once(body, produce)
