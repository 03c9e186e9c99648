"""Cases: the caller's list (paged by cursor), one case as a report, and lifecycle steps."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from aftersales.domain.lifecycle import LIFECYCLES, Channel, Programme
from aftersales.entrypoints.api import models as m
from aftersales.entrypoints.api.deps import Caller, PostOnce, ServicesDep, visible_case
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.entrypoints.api.paging import decode_cursor, encode_cursor
from aftersales.errors import InvalidRequest
from aftersales.services import appointments, views
from aftersales.services import cases as case_services
from aftersales.services import dispatch as dispatching
from aftersales.services.idempotency import Answer
from aftersales.services.records import CLOCK_STATES, CaseFilter

ALL_STATES = frozenset(state for lifecycle in LIFECYCLES.values() for state in lifecycle.states)
ClockState = StrEnum("ClockState", {state: state for state in CLOCK_STATES})  # type: ignore[misc]

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
    sandbox: str = Query("live", max_length=64, description="live data, or a sandbox's id"),
    open_only: bool = Query(False, alias="open"),
    q: str = Query(
        "",
        max_length=200,
        description="a case, order or order item id, a buyer account, a buyer's name "
        "(its start) or phone, or an order's contact phone",
    ),
    programme: Programme | None = Query(None),
    state: str | None = Query(None, max_length=32),
    provider: str | None = Query(None, max_length=64, description="the assignee's id"),
    merchant: str | None = Query(None, max_length=64),
    brand: str | None = Query(None, max_length=64),
    city: str | None = Query(None, max_length=64),
    clock: ClockState | None = Query(None, description="a clock of the case is in this state"),
    due_within: int | None = Query(
        None,
        ge=0,
        le=100_000,
        description="minutes: a running clock falls due within this long (on the data's own "
        "clock: the sandbox's, or the real time for live data)",
    ),
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, max_length=400),
) -> m.CasePage:
    """The cases the caller may see that match the filters, newest first, each with its
    nearest deadline and the parties' names; ``total`` counts every match."""
    if state is not None and state not in ALL_STATES:
        raise InvalidRequest(f"state {state!r}: use one of {', '.join(sorted(ALL_STATES))}")
    after = decode_cursor(cursor, str) if cursor else None
    found = views.case_search(
        svc,
        caller.scope,
        CaseFilter(
            sandbox=sandbox,
            text=q.strip(),
            programme=programme.value if programme else None,
            state=state,
            provider=provider,
            merchant=merchant,
            brand=brand,
            city=city,
            clock_state=clock.value if clock else None,
            due_within=timedelta(minutes=due_within) if due_within is not None else None,
            open_only=open_only,
        ),
        limit=limit,
        after=after,
    )
    page = found.lines
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
                order_id=c.order_id,
                order_item_id=c.order_item_id,
                buyer=c.buyer,
                buyer_name=c.buyer_name,
                merchant=c.merchant,
                merchant_name=c.merchant_name,
                brand=c.brand,
                brand_name=c.brand_name,
                assignee_name=c.assignee_name,
            )
            for c in page
        ],
        total=found.total,
        next_cursor=encode_cursor(page[-1].opened_at, page[-1].id) if found.more and page else None,
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

    return once(svc, caller, body, produce)


@router.post("/cases/{case_id}/appointment")
def book_visit(
    case_id: str, body: m.Appointment, caller: Caller, svc: ServicesDep, once: PostOnce
) -> JSONResponse:
    """The visit agreed with the buyer. ``slot``: a window offered by ``GET .../slots``,
    booked by the buyer or the assigned party on the phone with them (SS-2: the agreed
    day becomes the installation deadline; the same window again changes nothing;
    another one is the buyer's reschedule, within the policy's limits). ``at``: a visit
    time the assigned party agreed, later than the case's now, within 90 days,
    07:00-22:00 local time. A change is recorded in the case's history."""
    visible_case(svc, caller, case_id)

    def produce() -> Answer:
        actor = caller.actor(Channel.API)
        if body.slot is not None:
            appointments.book_slot(svc, case_id, body.slot, actor)
        else:
            assert body.at is not None
            case_services.set_appointment(svc, case_id, body.at, actor)
        case = case_services.get_case(svc, case_id)
        return Answer(200, views.case_view(svc, caller.scope, case).as_json())

    return once(svc, caller, body, produce)


@router.get("/cases/{case_id}/slots")
def case_slots(case_id: str, caller: Caller, svc: ServicesDep) -> dict[str, Any]:
    """SS-2: the visit windows the case may book now: the assigned provider's windows on
    days its calendar works, with room left, from the case's now (the sandbox's clock in
    a sandbox) over the policy's horizon; and the window booked, if one is."""
    visible_case(svc, caller, case_id)
    offer = appointments.case_slots(svc, case_id, caller.actor(Channel.API))
    return appointments.offer_json(offer)


@router.post("/cases/{case_id}/decline")
def decline_case(
    case_id: str, body: m.Decline, caller: Caller, svc: ServicesDep, once: PostOnce
) -> JSONResponse:
    """OH-3: the provider a help request is dispatched to gives it up with its reason; it
    goes to the next qualified provider, else to the merchant, who stays liable."""
    visible_case(svc, caller, case_id)

    def produce() -> Answer:
        dispatching.decline(svc, case_id, caller.actor(Channel.API), body.reason)
        case = case_services.get_case(svc, case_id)
        return Answer(200, views.case_view(svc, caller.scope, case).as_json())

    return once(svc, caller, body, produce)


@router.post("/cases/{case_id}/reassign")
def reassign_case(
    case_id: str, body: m.Reassign, caller: Caller, svc: ServicesDep, once: PostOnce
) -> JSONResponse:
    """OH-3: operations hand a help request to a provider they name, which must qualify
    (coverage, fulfilment, calendar, capacity) like any dispatch; the merchant stays liable."""
    visible_case(svc, caller, case_id)

    def produce() -> Answer:
        dispatching.reassign(
            svc, case_id, caller.actor(Channel.API), body.provider_id.strip(), body.reason
        )
        case = case_services.get_case(svc, case_id)
        return Answer(200, views.case_view(svc, caller.scope, case).as_json())

    return once(svc, caller, body, produce)
