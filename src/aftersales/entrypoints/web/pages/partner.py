"""The merchant's and the brand's page: their cases (searched, paged, counted, exported),
their payouts and the commitments they kept, as a chart and a table.

Everything is scoped by the access rules in the read models: a shop sees only
its own shop's cases, a brand only its products'. Live data unless a sandbox is
chosen.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import HTMLResponse, Response

from aftersales.domain.lifecycle import Programme
from aftersales.entrypoints.api.deps import ContainerDep, ServicesDep
from aftersales.entrypoints.web.pages.common import PageContext, page, page_router, render
from aftersales.entrypoints.web.pages.formats import clock_name, state_choices
from aftersales.entrypoints.web.pages.lists import (
    PAGE_SIZE,
    CaseQuery,
    case_query,
    cases_csv,
    check_world,
    names_of_lines,
    next_cursor,
    payouts_csv,
    world_choices,
)
from aftersales.services import views
from aftersales.services.records import CLOCK_STATES, LIVE

router = page_router()
PartnerPage = Annotated[PageContext, Depends(page("partner"))]
PAYOUTS_SHOWN = 20


@router.get("/partner", response_class=HTMLResponse)
def partner(
    ctx: PartnerPage, svc: ServicesDep, query: Annotated[CaseQuery, Depends(case_query)]
) -> Response:
    scope = ctx.signed_in.scope
    sandbox = check_world(svc, query.filter.sandbox)
    found = views.case_search(svc, scope, query.filter, limit=PAGE_SIZE, after=query.after)
    payouts = views.payout_lines(svc, scope, sandbox=sandbox, limit=PAYOUTS_SHOWN)
    end = svc.clock.now() + timedelta(days=400)
    start = end - timedelta(days=800)
    compliance = views.compliance(svc, scope, by="clock", start=start, end=end, sandbox=sandbox)
    return render(
        ctx,
        "partner.html",
        found=found,
        query=query,
        path="/partner",
        worlds=world_choices(svc, ctx.lang),
        programmes=[p.value for p in Programme],
        states=state_choices(ctx.lang),
        clock_states=CLOCK_STATES,
        next_cursor=next_cursor(found),
        first_page=query.after is None,
        payouts=payouts,
        payout_total=views.payout_total(svc, scope, sandbox=sandbox),
        names=names_of_lines(svc, payouts),
        compliance=compliance,
        labels={row.key: clock_name(svc.book, row.key, ctx.lang) for row in compliance.rows}
        | {"total": ctx.t("imports.all")},
    )


@router.get("/partner.csv")
def partner_cases_csv(
    ctx: PartnerPage,
    svc: ServicesDep,
    box: ContainerDep,
    query: Annotated[CaseQuery, Depends(case_query)],
) -> Response:
    """The shop's (brand's) own cases matching the filters, as CSV."""
    check_world(svc, query.filter.sandbox)
    return cases_csv(box.services, ctx.signed_in.scope, query.filter, ctx.lang)


@router.get("/partner/payouts.csv")
def partner_payouts_csv(
    ctx: PartnerPage, svc: ServicesDep, box: ContainerDep, sandbox: str = Query(LIVE, max_length=64)
) -> Response:
    sandbox = check_world(svc, sandbox or LIVE)
    return payouts_csv(box.services, ctx.signed_in.scope, sandbox, ctx.lang)
