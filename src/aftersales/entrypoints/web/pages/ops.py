"""Operations' pages: the compliance dashboard, the case search and its export, the
board of clocks about to breach, payouts, complaints beside their case, sandbox clocks.

Every list shows live data unless a sandbox is chosen, so test clocks never mix
into live figures.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Form, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aftersales.domain.durations import duration_from_text
from aftersales.domain.instants import instant_from_text
from aftersales.domain.lifecycle import Programme
from aftersales.entrypoints.api.deps import ContainerDep, ServicesDep
from aftersales.entrypoints.api.paging import BadCursor, decode_cursor, encode_cursor
from aftersales.entrypoints.web.i18n import Lang, text
from aftersales.entrypoints.web.pages.common import (
    PageContext,
    PageRefused,
    page,
    page_router,
    render,
    require_csrf,
)
from aftersales.entrypoints.web.pages.formats import (
    clock_name,
    fmt_left,
    programme_name,
    state_choices,
)
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
from aftersales.entrypoints.web.pages.provider import WARN_BEFORE_S
from aftersales.errors import InvalidRequest
from aftersales.services import cases as svc_cases
from aftersales.services import views
from aftersales.services.base import Services
from aftersales.services.records import CLOCK_STATES, LIVE
from aftersales.services.sandboxes import (
    advance_sandbox,
    create_sandbox,
    current_time,
    get_sandbox,
    list_sandboxes,
)

router = page_router()
SHANGHAI = ZoneInfo("Asia/Shanghai")
SandboxesPage = Annotated[PageContext, Depends(page("ops_sandboxes"))]
COMPLAINTS_SHOWN = 20  # each is shown with its whole case; the oldest first


@router.get("/ops", response_class=HTMLResponse)
def ops(
    ctx: Annotated[PageContext, Depends(page("ops"))],
    svc: ServicesDep,
    by: str = Query("provider", max_length=32),
    start: date | None = Query(None, alias="from"),
    end: date | None = Query(None, alias="to"),
    sandbox: str = Query(LIVE, max_length=64),
) -> Response:
    if by not in views.GROUPINGS:
        raise PageRefused(422, "ops.bad.by")
    sandbox = check_world(svc, sandbox or LIVE)
    today = svc.clock.now().astimezone(SHANGHAI).date()
    end_day = end or today + timedelta(days=60)
    start_day = start or end_day - timedelta(days=120)
    if start_day >= end_day:
        raise PageRefused(422, "ops.bad.period")
    result = views.compliance(
        svc,
        ctx.signed_in.scope,
        by=by,
        start=datetime.combine(start_day, time(), SHANGHAI),
        end=datetime.combine(end_day, time(), SHANGHAI),
        sandbox=sandbox,
    )
    labels = compliance_labels(svc, result, ctx.lang)
    shown = result.rows[:30]
    chart = {
        "keys": [labels.get(row.key, row.key) for row in shown],
        "met": [row.met for row in shown],
        "breached": [row.breached for row in shown],
    }
    return render(
        ctx,
        "ops.html",
        result=result,
        labels=labels,
        by=by,
        start=start_day,
        end=end_day,
        sandbox=sandbox,
        worlds=world_choices(svc, ctx.lang),
        groupings=list(views.GROUPINGS),
        chart=chart,
    )


def compliance_labels(svc: Services, result: views.Compliance, lang: Lang) -> dict[str, str]:
    """What a person reads for each row's key: a provider's name, a programme's, a clock's."""
    keys = [row.key for row in result.rows]
    labels = {"total": text("imports.all", lang)}
    if result.by == "provider":
        labels.update(views.names(svc, keys))
    elif result.by == "holder":  # "<kind>:<party>": "服务方 · 杭州安装服务站"
        parties = views.names(svc, [k.partition(":")[2] for k in keys])
        for k in keys:
            kind, _, party = k.partition(":")
            if party:
                labels[k] = f"{text('ops.holder.' + kind, lang)} · {parties.get(party, party)}"
    elif result.by == "programme":
        labels.update({k: programme_name(k, lang) for k in keys})
    elif result.by == "clock":
        labels.update({k: clock_name(svc.book, k, lang) for k in keys})
    elif result.by == "category":
        named = {c.id: c.name for c in svc.book.catalog.categories}
        labels.update({k: named[k].zh if lang == "zh" else named[k].en for k in keys if k in named})
    return labels


@router.get("/ops/cases", response_class=HTMLResponse)
def ops_cases(
    ctx: Annotated[PageContext, Depends(page("ops_cases"))],
    svc: ServicesDep,
    query: Annotated[CaseQuery, Depends(case_query)],
) -> Response:
    return case_list_page(ctx, svc, query, "/ops/cases")


@router.get("/ops/cases.csv")
def ops_cases_csv(
    ctx: Annotated[PageContext, Depends(page("ops_cases"))],
    svc: ServicesDep,
    box: ContainerDep,
    query: Annotated[CaseQuery, Depends(case_query)],
) -> Response:
    check_world(svc, query.filter.sandbox)
    # The download outlives the request's unit of work: it reads with its own, a chunk each.
    return cases_csv(box.services, ctx.signed_in.scope, query.filter, ctx.lang)


def case_list_page(ctx: PageContext, svc: Services, query: CaseQuery, path: str) -> Response:
    """A case list with its filters, one page of it, its count and its export (ops, partners)."""
    check_world(svc, query.filter.sandbox)
    found = views.case_search(
        svc, ctx.signed_in.scope, query.filter, limit=PAGE_SIZE, after=query.after
    )
    return render(
        ctx,
        "cases.html",
        found=found,
        query=query,
        path=path,
        worlds=world_choices(svc, ctx.lang),
        programmes=[p.value for p in Programme],
        states=state_choices(ctx.lang),
        clock_states=CLOCK_STATES,
        next_cursor=next_cursor(found),
        first_page=query.after is None,
    )


@router.get("/ops/breaching", response_class=HTMLResponse)
def ops_breaching(
    ctx: Annotated[PageContext, Depends(page("ops_cases"))],
    svc: ServicesDep,
    sandbox: str = Query(LIVE, max_length=64),
) -> Response:
    sandbox = check_world(svc, sandbox or LIVE)
    now = current_time(svc, sandbox)
    lines = views.breach_board(svc, ctx.signed_in.scope, sandbox=sandbox, limit=200)
    return render(
        ctx,
        "breaching.html",
        lines=lines,
        sandbox=sandbox,
        now=now,
        worlds=world_choices(svc, ctx.lang),
        clock_label=lambda clock_id, programme: clock_name(svc.book, clock_id, ctx.lang, programme),
        fmt_left=lambda seconds: fmt_left(seconds, ctx.lang),
        warn_before_s=WARN_BEFORE_S,
    )


@router.get("/ops/payouts", response_class=HTMLResponse)
def ops_payouts(
    ctx: Annotated[PageContext, Depends(page("ops_payouts"))],
    svc: ServicesDep,
    sandbox: str = Query(LIVE, max_length=64),
    cursor: str = Query("", max_length=400),
) -> Response:
    return payouts_page(ctx, svc, sandbox, cursor, "/ops/payouts")


@router.get("/ops/payouts.csv")
def ops_payouts_csv(
    ctx: Annotated[PageContext, Depends(page("ops_payouts"))],
    svc: ServicesDep,
    box: ContainerDep,
    sandbox: str = Query(LIVE, max_length=64),
) -> Response:
    sandbox = check_world(svc, sandbox or LIVE)
    return payouts_csv(box.services, ctx.signed_in.scope, sandbox, ctx.lang)


def payouts_page(ctx: PageContext, svc: Services, sandbox: str, cursor: str, path: str) -> Response:
    """One page of payouts with their count and total, names instead of ids, and the export."""
    sandbox = check_world(svc, sandbox or LIVE)
    after = None
    if cursor:
        try:
            after = decode_cursor(cursor, int)
        except BadCursor:
            raise PageRefused(422, "ops.bad.cursor") from None
    scope = ctx.signed_in.scope
    lines = views.payout_lines(svc, scope, sandbox=sandbox, limit=PAGE_SIZE + 1, after=after)
    shown, more = lines[:PAGE_SIZE], len(lines) > PAGE_SIZE
    return render(
        ctx,
        "payouts.html",
        payouts=shown,
        total=views.payout_total(svc, scope, sandbox=sandbox),
        names=names_of_lines(svc, shown),
        sandbox=sandbox,
        worlds=world_choices(svc, ctx.lang),
        path=path,
        next_cursor=encode_cursor(shown[-1].at, shown[-1].entry_id) if more else "",
        first_page=after is None,
    )


@router.get("/ops/complaints", response_class=HTMLResponse)
def ops_complaints(
    ctx: Annotated[PageContext, Depends(page("ops_complaints"))], svc: ServicesDep
) -> Response:
    """Each complaint waiting for a decision, beside its case: clocks, history, photos, rules."""
    pending = views.pending_complaints(svc, limit=COMPLAINTS_SHOWN)
    book = svc.book
    shown = []
    for complaint in pending:
        case = svc_cases.get_case(svc, complaint.case_id)
        view = views.case_view(svc, ctx.signed_in.scope, case)
        shown.append(
            {
                "complaint": complaint,
                "case": view.report,
                "assignee": view.names.get(case.assignee or "", case.assignee or ""),
                "history": [(h["at"], h[ctx.lang]) for h in view.history],
                "attachments": svc_cases.attachments_of(svc, complaint.case_id),
                "about": clock_name(book, complaint.clock_id, ctx.lang)
                if complaint.clock_id
                else "",
            }
        )
    return render(ctx, "complaints.html", pending=shown)


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
        return instant_from_text(text, default_zone=SHANGHAI)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc
