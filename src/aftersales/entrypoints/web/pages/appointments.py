"""Appointment pages (SS-2): the buyer's visit window on the case page, the installer's days.

The case page shows the booked window and, to the buyer or the party the case is
assigned to, the windows with room left (``slot_context``); a choice posts to
``/cases/{id}/slot``. ``/provider/days`` is the installer's day view: today and the
next days, each window with its capacity, what is booked and the cases in it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Form, Query
from fastapi.responses import HTMLResponse, Response

from aftersales.domain.access import Action
from aftersales.domain.cases import Case
from aftersales.domain.errors import Forbidden, IllegalTransition
from aftersales.domain.lifecycle import Programme, Role
from aftersales.entrypoints.api.deps import ServicesDep
from aftersales.entrypoints.viewer import Viewer
from aftersales.entrypoints.web.pages.common import (
    PageContext,
    back_to_case,
    on_case,
    page,
    page_router,
    render,
)
from aftersales.errors import InvalidFields
from aftersales.services import appointments
from aftersales.services.base import Services
from aftersales.services.records import LIVE

router = page_router()
WEEKDAYS = {
    "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def day_text(day: date, lang: str) -> str:
    name = WEEKDAYS["zh" if lang == "zh" else "en"][day.isoweekday() - 1]
    return f"{day:%m-%d} {name}" if lang == "zh" else f"{name} {day:%d %b}"


def slot_labeller(timezone: str, lang: str) -> Callable[[datetime, datetime], str]:
    zone = ZoneInfo(timezone)

    def label(starts_at: datetime, ends_at: datetime) -> str:
        start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
        return f"{day_text(start.date(), lang)} {start:%H:%M}–{end:%H:%M}"

    return label


def slot_context(svc: Services, ctx: PageContext, viewer: Viewer, case: Case) -> dict[str, Any]:
    """What the case page needs to show the visit window: nothing when the case books
    none, is closed (its agreed visit stays in the customer and visit block), or the
    viewer may not book for it."""
    if (
        case.programme is not Programme.ONE_CLICK_HELP
        or case.policy(svc.book).appointments is None
        or not case.is_open
    ):
        return {"slot_offer": None}
    try:
        offer = appointments.case_slots(svc, case.id, viewer.actor())
    except (Forbidden, IllegalTransition):
        return {"slot_offer": None}
    return {"slot_offer": offer, "slot_label": slot_labeller(offer.timezone, ctx.lang)}


@router.post("/cases/{case_id}/slot")
def book_slot(
    ctx: Annotated[PageContext, Depends(page("case"))],
    svc: ServicesDep,
    case_id: str,
    slot: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    """Book the chosen window (or move the visit to it: the buyer's reschedule, SS-2)."""
    from aftersales.entrypoints.web.pages.case import render_case  # the page drawn again

    viewer = on_case(svc, ctx, case_id, csrf_token, Action.BOOK_SLOT)
    try:
        appointments.book_slot(svc, case_id, slot, viewer.actor())
    except InvalidFields as exc:
        code = exc.problems.get("slot", "slot.not_offered").replace(".", "_")
        return render_case(ctx, svc, case_id, 422, errors={"slot": f"appointments.{code}"})
    return back_to_case(case_id)


@router.get("/provider/days", response_class=HTMLResponse)
def provider_days(
    ctx: Annotated[PageContext, Depends(page("provider_days"))],
    svc: ServicesDep,
    provider: str = Query("", max_length=64),
    days: int = Query(7, ge=1, le=31),
    sandbox: str = Query(LIVE, max_length=64),
) -> Response:
    """The installer's own days (operations name one with ``?provider=``), in live data or
    in one sandbox (``?sandbox=``, on that sandbox's clock)."""
    viewer = ctx.signed_in
    provider_id = (viewer.party or "") if viewer.role is Role.PROVIDER else provider
    name, plans = appointments.provider_days(
        svc, provider_id, viewer.actor(), days=days, sandbox=sandbox
    )
    timezone = svc.book.in_force(Programme.ONE_CLICK_HELP, svc.clock.now()).timezone
    zone = ZoneInfo(timezone)
    return render(
        ctx,
        "provider_days.html",
        provider_name=name,
        days=plans,
        sandbox=sandbox,
        today=plans[0].day if plans else None,
        has_windows=any(p.windows for p in plans) or not plans,
        day_label=lambda d: day_text(d, ctx.lang),
        hm=lambda at: f"{at.astimezone(zone):%H:%M}",
    )
