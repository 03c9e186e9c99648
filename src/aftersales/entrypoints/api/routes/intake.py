"""Opening cases: one-click help (OH-3) and national-warranty repair reports (NW-2)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from aftersales.domain.lifecycle import Channel, Programme, Role
from aftersales.entrypoints.api import models as m
from aftersales.entrypoints.api.deps import Caller, PostOnce, ServicesDep, own_item
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.services import cases as case_services
from aftersales.services import views
from aftersales.services.idempotency import Answer

router = APIRouter(prefix="/api/v1", tags=["intake"], responses=PROBLEMS)


@router.post("/help-requests", status_code=201)
def create_help_request(
    body: m.HelpRequest, caller: Caller, svc: ServicesDep, once: PostOnce
) -> JSONResponse:
    """One-click help (OH-3): opened and dispatched at once; a repeat returns the open one."""
    known = own_item(svc, caller, body.order_item_id, Programme.ONE_CLICK_HELP)

    def produce() -> Answer:
        opened = case_services.request_help(
            svc,
            order_item_id=body.order_item_id,
            actor=caller.actor(Channel.API),
            failure=body.failure,
            description=body.description,
            known=known,
        )
        # The case as the caller may see it, as every other answer with a case: a buyer
        # reads neither the providers' dispatch scores nor the runner-up.
        view = views.case_view(svc, caller.scope, opened.case).as_json()
        return Answer(201 if opened.created else 200, view)

    return once(svc, caller, body, produce)


@router.post("/repair-reports", status_code=201)
def create_repair_report(
    body: m.RepairReport, caller: Caller, svc: ServicesDep, once: PostOnce
) -> JSONResponse:
    """A national-warranty repair report (NW-2): by the buyer, or by a hotline agent for them."""
    known = own_item(svc, caller, body.order_item_id, Programme.NATIONAL_WARRANTY)
    channel = Channel.HOTLINE if caller.role is Role.AGENT else Channel.API

    def produce() -> Answer:
        opened = case_services.report_repair(
            svc,
            order_item_id=body.order_item_id,
            actor=caller.actor(channel),
            description=body.description,
            form=case_services.ServiceForm(
                contact_phone=body.contact_phone,
                address=body.address,
                preferred_time=body.preferred_time,
            ),
            caller_name=body.caller_name,
            callback_phone=body.callback_phone,
            known=known,
        )
        # A report added to an open one (``noted``) answers with that case, as the caller
        # may see it: an agent reads the buyer's contact masked. The case as saved holds
        # its whole history (a new one all of it, a noted one was loaded with it), so it
        # is not read again.
        view = views.case_view(svc, caller.scope, opened.case).as_json()
        return Answer(201 if opened.created else 200, {**view, "noted": opened.noted})

    return once(svc, caller, body, produce)
