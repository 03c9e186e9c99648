"""The hotline agent's desk (NW-2a): find the caller, see their cases, file or add a report.

The agent finds a caller by the phone they ring from, the buyer's name or
account, an order or an item; the desk lists the caller's items and every case
they have, open and closed. Filing on an item that already has an open case (a
repair report, or a help request the buyer made) adds the caller's words to that
case as a note and says so: nothing a caller reports is lost. The callback phone is checked (a mainland mobile, or a landline
with its area code) and kept on the report; a refused form is drawn again with
what was typed and each problem beside its field.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aftersales.domain.contacts import normalise_phone
from aftersales.domain.lifecycle import LIFECYCLES, Channel, Programme
from aftersales.entrypoints.api.deps import ServicesDep
from aftersales.entrypoints.web.pages.common import (
    PageContext,
    page,
    page_router,
    render,
    require_csrf,
)
from aftersales.services import cases as svc_cases
from aftersales.services import views
from aftersales.services.base import Services
from aftersales.services.records import OpenCaseLine

router = page_router()
AgentPage = Annotated[PageContext, Depends(page("agent"))]


@router.get("/agent", response_class=HTMLResponse)
def agent(ctx: AgentPage, svc: ServicesDep, q: str = "") -> Response:
    return _desk(ctx, svc, q.strip())


def _desk(
    ctx: PageContext,
    svc: Services,
    q: str,
    status: int = 200,
    errors: dict[str, dict[str, str]] | None = None,
    typed: dict[str, dict[str, str]] | None = None,
) -> Response:
    scope = ctx.signed_in.scope
    found = views.find_orders_for_caller(svc, q, scope=scope) if q else []
    buyers = sorted({row["buyer_account"] for row in found})
    cases = views.cases_of_callers(svc, scope, buyers) if buyers else []
    open_reports = _open_cases(svc, [row["id"] for row in found])
    states = {line.id: LIFECYCLES[Programme(line.programme)].states[line.state] for line in cases}
    for line in open_reports.values():
        if line.id not in states:
            state = svc_cases.get_case(svc, line.id).state
            states[line.id] = LIFECYCLES[Programme(line.programme)].states[state]
    visible = {line.id for line in cases if views.may_see_case(svc, scope, line.id)}
    return render(
        ctx,
        "agent.html",
        status=status,
        q=q,
        found=found,
        searched=bool(q),
        cases=cases,
        open_reports=open_reports,
        states=states,
        visible=visible,
        errors=errors or {},
        typed=typed or {},
        programme_names=_programme_names(svc),
    )


def _open_cases(svc: Services, item_ids: list[str]) -> dict[str, OpenCaseLine]:
    """The open case of each item, a repair report before a help request (an item may have
    one of each open)."""
    found: dict[str, OpenCaseLine] = {}
    for line in sorted(views.open_cases_of_items(svc, item_ids), key=lambda line: line.id):
        kept = found.get(line.order_item_id)
        if kept is None or line.programme == Programme.NATIONAL_WARRANTY.value:
            found[line.order_item_id] = line
    return found


def _programme_names(svc: Services) -> dict[str, Any]:
    now = svc.clock.now()
    return {p.value: svc.book.in_force(p, now).name for p in Programme}


@router.post("/agent/report")
def agent_report(
    ctx: AgentPage,
    svc: ServicesDep,
    item_id: str = Form(...),
    caller: str = Form(""),
    callback_phone: str = Form(""),
    description: str = Form(""),
    q: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    viewer = require_csrf(ctx, csrf_token)
    problems: dict[str, str] = {}
    if not description.strip():
        problems["description"] = "field.agent_fault_empty"
    if callback_phone.strip() and normalise_phone(callback_phone) is None:
        problems["callback_phone"] = "field.agent_callback_invalid"
    if problems:
        typed = {"caller": caller, "callback_phone": callback_phone, "description": description}
        return _desk(ctx, svc, q.strip() or item_id, 422, {item_id: problems}, {item_id: typed})
    actor = viewer.actor(Channel.HOTLINE)
    open_case = _open_cases(svc, [item_id]).get(item_id)
    if open_case is not None and open_case.programme != Programme.NATIONAL_WARRANTY.value:
        # A call about a help request already made: the caller's words join it.
        svc_cases.add_caller_note(
            svc,
            open_case.id,
            actor,
            description.strip(),
            caller_name=caller,
            callback_phone=callback_phone,
        )
        return RedirectResponse(f"/cases/{open_case.id}?noted=1", status_code=303)
    opened = svc_cases.report_repair(
        svc,
        order_item_id=item_id,
        actor=actor,
        description=description.strip(),
        caller_name=caller,
        callback_phone=callback_phone,
    )
    target = f"/cases/{opened.case.id}" + ("?noted=1" if opened.noted else "")
    return RedirectResponse(target, status_code=303)
