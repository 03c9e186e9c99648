"""Operations' pages: the compliance dashboard, payouts, pending complaints, sandbox clocks."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Form, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aftersales.domain.durations import duration_from_text
from aftersales.entrypoints.api.deps import ContainerDep, ServicesDep
from aftersales.entrypoints.web.pages.common import (
    PageContext,
    page,
    page_router,
    render,
    require_csrf,
)
from aftersales.errors import InvalidRequest
from aftersales.services import views
from aftersales.services.sandboxes import (
    advance_sandbox,
    create_sandbox,
    get_sandbox,
    list_sandboxes,
)

router = page_router()
SHANGHAI = ZoneInfo("Asia/Shanghai")
SandboxesPage = Annotated[PageContext, Depends(page("ops_sandboxes"))]


@router.get("/ops", response_class=HTMLResponse)
def ops(
    ctx: Annotated[PageContext, Depends(page("ops"))],
    svc: ServicesDep,
    by: str = Query("provider"),
    start: date | None = Query(None, alias="from"),
    end: date | None = Query(None, alias="to"),
    sandbox: str = Query(""),
) -> Response:
    if by not in views.GROUPINGS:
        raise InvalidRequest(f"group by one of {', '.join(views.GROUPINGS)}, not '{by}'")
    today = svc.clock.now().astimezone(SHANGHAI).date()
    end_day = end or today + timedelta(days=60)
    start_day = start or end_day - timedelta(days=120)
    if start_day >= end_day:
        raise InvalidRequest("the period's start must come before its end")
    result = views.compliance(
        svc,
        ctx.signed_in.scope,
        by=by,
        start=datetime.combine(start_day, time(), SHANGHAI),
        end=datetime.combine(end_day, time(), SHANGHAI),
        sandbox=sandbox or None,
    )
    chart = {
        "keys": [row.key for row in result.rows[:30]],
        "met": [row.met for row in result.rows[:30]],
        "breached": [row.breached for row in result.rows[:30]],
    }
    return render(
        ctx,
        "ops.html",
        result=result,
        by=by,
        start=start_day,
        end=end_day,
        sandbox=sandbox,
        sandboxes=list_sandboxes(svc),
        groupings=list(views.GROUPINGS),
        chart=chart,
    )


@router.get("/ops/payouts", response_class=HTMLResponse)
def ops_payouts(
    ctx: Annotated[PageContext, Depends(page("ops_payouts"))], svc: ServicesDep
) -> Response:
    payouts = views.payout_lines(svc, ctx.signed_in.scope, limit=500)
    return render(ctx, "payouts.html", payouts=payouts)


@router.get("/ops/complaints", response_class=HTMLResponse)
def ops_complaints(
    ctx: Annotated[PageContext, Depends(page("ops_complaints"))], svc: ServicesDep
) -> Response:
    pending = views.pending_complaints(svc, limit=200)
    return render(ctx, "complaints.html", pending=pending)


@router.get("/ops/sandboxes", response_class=HTMLResponse)
def ops_sandboxes(ctx: SandboxesPage, svc: ServicesDep) -> Response:
    return render(ctx, "sandboxes.html", sandboxes=list_sandboxes(svc))


@router.post("/ops/sandboxes")
def ops_create_sandbox(
    ctx: SandboxesPage,
    svc: ServicesDep,
    box: ContainerDep,
    sandbox_id: str = Form(...),
    start: str = Form(""),
    demo_data: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    require_csrf(ctx, csrf_token)
    starts_at = _form_instant(start) if start.strip() else None
    if demo_data:
        box.seed_sandbox_with_demo(svc, sandbox_id.strip(), start=starts_at)
    else:
        create_sandbox(svc, sandbox_id=sandbox_id.strip(), start=starts_at)
    return RedirectResponse("/ops/sandboxes", status_code=303)


@router.post("/ops/sandboxes/{sandbox_id}/advance")
def ops_advance(
    ctx: SandboxesPage,
    svc: ServicesDep,
    sandbox_id: str,
    by: str = Form(...),
    csrf_token: str = Form(""),
) -> Response:
    require_csrf(ctx, csrf_token)
    get_sandbox(svc, sandbox_id)
    try:
        delta = duration_from_text(by.strip())
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc
    advance_sandbox(svc, sandbox_id, by=delta, real_now=svc.clock.now())
    return RedirectResponse("/ops/sandboxes", status_code=303)


def _form_instant(text: str) -> datetime:
    """A date and time typed in the form; without an offset it is read as Shanghai time."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidRequest(
            f"'{text}' is not a date and time; write it like 2026-11-24T10:00+08:00"
        ) from exc
    return at if at.tzinfo is not None else at.replace(tzinfo=SHANGHAI)
