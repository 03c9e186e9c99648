"""The hotline agent's desk: find a caller's order, file a repair report for them (NW-2a)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form
from fastapi.responses import HTMLResponse, Response

from aftersales.domain.lifecycle import Channel
from aftersales.entrypoints.api.deps import ServicesDep
from aftersales.entrypoints.web.pages.common import (
    PageContext,
    back_to_case,
    page,
    page_router,
    render,
    require_csrf,
)
from aftersales.services import cases as svc_cases
from aftersales.services import views

router = page_router()
AgentPage = Annotated[PageContext, Depends(page("agent"))]


@router.get("/agent", response_class=HTMLResponse)
def agent(ctx: AgentPage, svc: ServicesDep, q: str = "") -> Response:
    found = views.find_orders_for_caller(svc, q) if q else []
    return render(ctx, "agent.html", q=q, found=found, searched=bool(q))


@router.post("/agent/report")
def agent_report(
    ctx: AgentPage,
    svc: ServicesDep,
    item_id: str = Form(...),
    caller: str = Form(""),
    description: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    viewer = require_csrf(ctx, csrf_token)
    details = description.strip()
    if details and caller.strip():
        details = f"{details}\n来电人 / caller: {caller.strip()}"
    opened = svc_cases.report_repair(
        svc, order_item_id=item_id, actor=viewer.actor(Channel.HOTLINE), description=details
    )
    return back_to_case(opened.case.id)
