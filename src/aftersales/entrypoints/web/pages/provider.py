"""The service side's work queue: open deadlines nearest to breach first, refreshed by htmx.

Each line carries the customer's name, phone and service address (whole for the
party the case is assigned to and for operations, masked for the shop and brand
watching it, as :func:`aftersales.domain.access.may_see_contact` decides) and
the visit agreed with the buyer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.responses import HTMLResponse, Response

from aftersales.domain.lifecycle import Programme
from aftersales.entrypoints.api.deps import ServicesDep
from aftersales.entrypoints.web.pages.common import PageContext, page, page_router, render
from aftersales.entrypoints.web.pages.formats import fmt_left
from aftersales.services import views

router = page_router()
WARN_BEFORE_S = 15 * 60  # a queue line turns amber this long before its deadline


@router.get("/provider/queue", response_class=HTMLResponse)
def queue(
    ctx: Annotated[PageContext, Depends(page("queue"))], svc: ServicesDep, partial: bool = False
) -> Response:
    now = svc.clock.now()
    scope = ctx.signed_in.scope
    lines = views.provider_queue(svc, scope, live_now=now)
    clock_names = {
        (programme.value, definition.id): definition.name
        for programme in Programme
        for definition in svc.book.in_force(programme, now).clocks
    }
    return render(
        ctx,
        "queue_rows.html" if partial else "queue.html",
        lines=lines,
        clock_names=clock_names,
        contacts=views.case_contacts(svc, scope, [q.case.id for q in lines]),
        warn_before_s=WARN_BEFORE_S,
        fmt_left=lambda seconds: fmt_left(seconds, ctx.lang),
    )
