"""A case's page, for everyone who may see it, and the changes made from it.

The buttons shown are the ones the access table allows the viewer's role:
lifecycle steps from :func:`~aftersales.domain.access.steps_for`, pauses,
quotes and complaints from :func:`~aftersales.domain.access.allowed`. Each form
posts back here, is checked the same way, and returns to the case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aftersales.domain import access
from aftersales.domain.access import Action
from aftersales.domain.cases import Case
from aftersales.domain.contacts import appointment_problem
from aftersales.domain.instants import instant_from_text
from aftersales.domain.lifecycle import Programme, Role
from aftersales.entrypoints.api.deps import ServicesDep
from aftersales.entrypoints.web.pages.appointments import slot_context
from aftersales.entrypoints.web.pages.common import (
    PageContext,
    back_to_case,
    on_case,
    page,
    page_router,
    render,
    require_csrf,
    see_case,
)
from aftersales.entrypoints.web.pages.field import field_context, saved_solution
from aftersales.entrypoints.web.pages.formats import fen_from_yuan, fmt_left
from aftersales.entrypoints.web.pages.story import plan_and_result
from aftersales.services import cases as svc_cases
from aftersales.services import dispatch as dispatching
from aftersales.services import views
from aftersales.services.base import Services
from aftersales.services.dispatch import HandOverRefused
from aftersales.services.reports import case_report
from aftersales.services.sandboxes import current_time

router = page_router()
CasePage = Annotated[PageContext, Depends(page("case"))]


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: str, ctx: CasePage, svc: ServicesDep) -> Response:
    return render_case(ctx, svc, case_id)


def render_case(
    ctx: PageContext, svc: Services, case_id: str, status: int = 200, **extra: Any
) -> Response:
    """The case page; a refused form on it is drawn again with ``extra`` (its errors)."""
    viewer = see_case(svc, ctx, case_id)
    book = svc.book
    case = svc_cases.get_case(svc, case_id)
    sandbox = svc_cases.case_sandbox(svc, case_id)
    now = current_time(svc, sandbox)
    steps = access.steps_for(viewer.role, case.programme, case.state)
    pause_reasons = [
        (definition.id, reason, book.service_standards.exemption_names.get(reason))
        for definition in case.policy(book).clocks
        if definition.id in case.clocks
        for reason in definition.pause_reasons
    ]
    buyer = case.item.buyer_account if viewer.role is Role.CONSUMER else None
    field = field_context(svc, ctx, viewer, case, now)
    slots = slot_context(svc, ctx, viewer, case)
    moves = hand_overs(viewer.role, viewer.party, case)
    qualified_ids = dispatching.qualified_now(svc, case) if moves["can_reassign"] else []
    named = views.names(svc, qualified_ids)
    qualified = [(p, named.get(p, p)) for p in qualified_ids]
    return render(
        ctx,
        "case.html",
        status=status,
        case=field["view"].report,
        outcome=plan_and_result(case, book, ctx.lang, buyer, field["names"]),
        confirm_actions=CONFIRM_ACTIONS,
        sandbox=sandbox,
        now=now,
        live=sandbox == "live",
        actions=[case.lifecycle.transitions[step] for step in steps],
        pause_reasons=pause_reasons,
        attachments=svc_cases.attachments_of(svc, case_id),
        can_complain=access.allowed(viewer.role, Action.FILE_COMPLAINT),
        can_decide=access.allowed(viewer.role, Action.DECIDE_COMPLAINT),
        can_quote=access.allowed(viewer.role, Action.ISSUE_QUOTE, case.programme),
        can_pause=case.is_open and access.allowed(viewer.role, Action.PAUSE_CLOCK),
        **moves,
        qualified=qualified,
        seconds_left=lambda due: (datetime.fromisoformat(due) - now).total_seconds(),
        fmt_left=lambda seconds: fmt_left(seconds, ctx.lang),
        **{**field, **slots, **extra},
    )


def hand_overs(role: Role, party: str | None, case: Case) -> dict[str, bool]:
    """OH-3: whether the viewer may decline the request (the provider holding it) or
    reassign it (operations), now: open, and not yet past the solution."""
    movable = (
        case.is_open
        and case.programme is Programme.ONE_CLICK_HELP
        and case.state in case.lifecycle.transitions["dispatch"].sources
    )
    return {
        "can_decline": movable
        and access.allowed(role, Action.DECLINE_CASE, case.programme)
        and case.assignee == party,
        "can_reassign": movable and access.allowed(role, Action.REASSIGN_CASE, case.programme),
    }


def _hand_over_refused(
    ctx: PageContext, svc: Services, case_id: str, refused: HandOverRefused, typed: dict[str, str]
) -> Response:
    errors = {field: f"dispatch.problem.{code}" for field, code in refused.problems.items()}
    return render_case(ctx, svc, case_id, 422, errors=errors, typed=typed)


@router.post("/cases/{case_id}/decline")
def decline(
    ctx: CasePage,
    svc: ServicesDep,
    case_id: str,
    reason: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    """OH-3: the provider holding the request gives it up, with its reason."""
    viewer = on_case(svc, ctx, case_id, csrf_token, Action.DECLINE_CASE)
    try:
        dispatching.decline(svc, case_id, viewer.actor(), reason)
    except HandOverRefused as refused:
        return _hand_over_refused(ctx, svc, case_id, refused, {"reason": reason})
    return RedirectResponse("/provider", status_code=303)


@router.post("/cases/{case_id}/reassign")
def reassign(
    ctx: CasePage,
    svc: ServicesDep,
    case_id: str,
    provider_id: str = Form(""),
    reason: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    """OH-3: operations hand the request to a provider they name."""
    viewer = on_case(svc, ctx, case_id, csrf_token, Action.REASSIGN_CASE)
    typed = {"provider_id": provider_id, "reassign_reason": reason}
    if not provider_id.strip():
        errors = {"provider_id": "dispatch.problem.provider.coverage"}
        return render_case(ctx, svc, case_id, 422, errors=errors, typed=typed)
    try:
        dispatching.reassign(svc, case_id, viewer.actor(), provider_id.strip(), reason)
    except HandOverRefused as refused:
        return _hand_over_refused(ctx, svc, case_id, refused, typed)
    return back_to_case(case_id)


# Steps that end a case for the buyer: asked twice, the second time on a page of their own
# (works without JavaScript), so one stray tap does not withdraw a request.
CONFIRM_ACTIONS = frozenset({"withdraw", "close"})


@router.post("/cases/{case_id}/act")
def act(
    ctx: CasePage,
    svc: ServicesDep,
    case_id: str,
    action: str = Form(...),
    note: str = Form(""),
    confirmed: str = Form(""),
    solution_id: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    viewer = on_case(svc, ctx, case_id, csrf_token)
    note = note.strip() or saved_solution(svc, viewer, solution_id)
    case = svc_cases.get_case(svc, case_id)
    step = case.lifecycle.transition(action)
    asked_once = action in CONFIRM_ACTIONS and confirmed != "yes"
    if asked_once and step is not None and case.state in step.sources:
        report = case_report(case, svc.book)
        return render(ctx, "confirm.html", case=report, transition=step, note=note)
    if step is not None and step.needs_note and not note:
        errors = {f"note:{action}": "field.note_required"}
        return render_case(ctx, svc, case_id, 422, errors=errors)
    svc_cases.act(svc, case_id, action, viewer.actor(), note)
    return back_to_case(case_id)


@router.post("/cases/{case_id}/appointment")
def book_visit(
    ctx: CasePage,
    svc: ServicesDep,
    case_id: str,
    visit_at: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    """The visit time agreed with the buyer, typed as local time (``2026-11-25T10:00``)."""
    viewer = on_case(svc, ctx, case_id, csrf_token, Action.SET_APPOINTMENT)
    case = svc_cases.get_case(svc, case_id)
    timezone = case.policy(svc.book).timezone
    problem: str | None = None
    when: datetime | None = None
    if not visit_at.strip():
        problem = "missing"
    else:
        try:
            when = instant_from_text(visit_at, default_zone=ZoneInfo(timezone))
        except ValueError:
            problem = "unreadable"
    if when is not None:
        now = current_time(svc, svc_cases.case_sandbox(svc, case_id))
        problem = "closed" if not case.is_open else appointment_problem(when, now, timezone)
    if problem is not None or when is None:
        errors = {"visit_at": f"field.appointment_{problem}"}
        return render_case(ctx, svc, case_id, 422, errors=errors, typed={"visit_at": visit_at})
    svc_cases.set_appointment(svc, case_id, when, viewer.actor())
    return back_to_case(case_id)


@router.post("/cases/{case_id}/pause")
def pause(
    ctx: CasePage,
    svc: ServicesDep,
    case_id: str,
    clock_reason: str = Form(...),
    csrf_token: str = Form(""),
) -> Response:
    viewer = on_case(svc, ctx, case_id, csrf_token, Action.PAUSE_CLOCK)
    clock_id, _, reason = clock_reason.partition(":")
    svc_cases.pause_clock(svc, case_id, clock_id, reason, viewer.actor())
    return back_to_case(case_id)


@router.post("/cases/{case_id}/resume")
def resume(
    ctx: CasePage,
    svc: ServicesDep,
    case_id: str,
    clock_id: str = Form(...),
    csrf_token: str = Form(""),
) -> Response:
    viewer = on_case(svc, ctx, case_id, csrf_token, Action.RESUME_CLOCK)
    svc_cases.resume_clock(svc, case_id, clock_id, viewer.actor())
    return back_to_case(case_id)


@router.post("/cases/{case_id}/complaints")
def complain(
    ctx: CasePage,
    svc: ServicesDep,
    case_id: str,
    clock_id: str = Form(""),
    complaint_text: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    viewer = on_case(svc, ctx, case_id, csrf_token, Action.FILE_COMPLAINT)
    if not complaint_text.strip():  # the service refuses it too; here, beside the field
        errors = {"complaint_text": "ops.complaint_empty"}
        typed = {"complaint_text": complaint_text, "clock_id": clock_id}
        return render_case(ctx, svc, case_id, 422, errors=errors, typed=typed)
    svc_cases.file_complaint(svc, case_id, clock_id or None, viewer.actor(), complaint_text.strip())
    return back_to_case(case_id)


@router.post("/cases/{case_id}/complaints/{complaint_id}/decide")
def decide(
    ctx: Annotated[PageContext, Depends(page("ops_complaints"))],
    svc: ServicesDep,
    case_id: str,
    complaint_id: str,
    uphold: str = Form(...),
    note: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    viewer = require_csrf(ctx, csrf_token)
    svc_cases.decide_complaint(
        svc, case_id, complaint_id, uphold == "yes", viewer.actor(), note.strip()
    )
    return back_to_case(case_id)


@router.post("/cases/{case_id}/quote")
def quote_case(
    ctx: CasePage,
    svc: ServicesDep,
    case_id: str,
    amount_yuan: str = Form(...),
    csrf_token: str = Form(""),
) -> Response:
    viewer = on_case(svc, ctx, case_id, csrf_token, Action.ISSUE_QUOTE)
    svc_cases.issue_quote(svc, case_id, fen_from_yuan(amount_yuan), viewer.actor())
    return back_to_case(case_id)


@router.post("/cases/{case_id}/quote/answer")
def answer_quote(
    ctx: CasePage,
    svc: ServicesDep,
    case_id: str,
    accept: str = Form(...),
    csrf_token: str = Form(""),
) -> Response:
    viewer = on_case(svc, ctx, case_id, csrf_token, Action.ANSWER_QUOTE)
    svc_cases.answer_quote(svc, case_id, accept == "yes", viewer.actor())
    return back_to_case(case_id)
