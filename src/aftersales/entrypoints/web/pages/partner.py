"""The merchant's and the brand's page: their cases, their payouts, their commitments kept."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends
from fastapi.responses import HTMLResponse, Response

from aftersales.entrypoints.api.deps import ServicesDep
from aftersales.entrypoints.web.pages.common import PageContext, page, page_router, render
from aftersales.services import views

router = page_router()


@router.get("/partner", response_class=HTMLResponse)
def partner(ctx: Annotated[PageContext, Depends(page("partner"))], svc: ServicesDep) -> Response:
    scope = ctx.signed_in.scope
    end = svc.clock.now() + timedelta(days=400)
    start = end - timedelta(days=800)
    return render(
        ctx,
        "partner.html",
        cases=views.case_lines(svc, scope, limit=100),
        payouts=views.payout_lines(svc, scope, limit=100),
        compliance=views.compliance(svc, scope, by="clock", start=start, end=end),
    )
