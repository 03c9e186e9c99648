"""The buyer's pages: their orders with what each item is entitled to, one-click help, the
repair form, their cases (我的售后) and their points (我的积分).

Chats with a brand's service centre are in :mod:`.chats`; a case's own page in :mod:`.case`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, File, Form, UploadFile
from fastapi.responses import HTMLResponse, Response

from aftersales.domain.explain import Language
from aftersales.domain.instants import in_range
from aftersales.domain.lifecycle import LIFECYCLES, Channel, Programme
from aftersales.entrypoints.api.deps import AttachmentStore, ContainerDep, ServicesDep
from aftersales.entrypoints.viewer import Viewer
from aftersales.entrypoints.web.pages.common import (
    FormRefused,
    PageContext,
    PageRefused,
    back_to_case,
    fields_refused,
    page,
    page_router,
    render,
    require_csrf,
)
from aftersales.entrypoints.web.pages.formats import fmt_left
from aftersales.errors import (
    InvalidFields,
    InvalidRequest,
    MalformedRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from aftersales.services import cases as svc_cases
from aftersales.services import views
from aftersales.services.attachments import (
    FilesTooLarge,
    TooManyFiles,
    Upload,
    check_uploads,
)
from aftersales.services.attachments import files_of as svc_files
from aftersales.services.base import Services
from aftersales.services.eligibility import ItemEligibility, eligibility_at
from aftersales.services.records import LIVE, CaseLine, PayoutLine
from aftersales.services.sandboxes import current_time
from aftersales.settings import Settings

router = page_router()
PAGE_SIZE = 20  # lines on one page of my cases and my points


def own_item(svc: Services, viewer: Viewer, item_id: str) -> Any:
    """One of the viewer's own order items; any other is "not found"."""
    items = {i.id: i for i, _ in views.items_of_buyer(svc, viewer.party or "")}
    if item_id not in items:
        raise PageRefused(404, "error.not_found")
    return items[item_id]


@router.get("/my/orders", response_class=HTMLResponse)
def my_orders(ctx: Annotated[PageContext, Depends(page("orders"))], svc: ServicesDep) -> Response:
    viewer = ctx.signed_in
    book = svc.book
    bought = views.items_of_buyer(svc, viewer.party or "")
    items = [item for item, _ in bought]
    sandbox_of = {item.id: sandbox for item, sandbox in bought}
    open_rows = views.open_cases_of_items(svc, [i.id for i in items])
    open_by_item: dict[str, list[Any]] = {}
    for row in open_rows:
        open_by_item.setdefault(row.order_item_id, []).append(row)
    standards = book.service_standards
    now_of: dict[str, Any] = {}
    rows = []
    for item in items:
        sandbox = sandbox_of[item.id]
        if sandbox not in now_of:
            now_of[sandbox] = current_time(svc, sandbox)
        entitled = eligibility_at(svc, item, sandbox, now_of[sandbox])
        tags = sorted(item.product.service_tags)
        failures: list[tuple[str, str]] = []
        for tag in tags:
            standard = standards.for_tag(tag)
            if standard is not None:
                failures.extend(
                    (f.id, f.name.zh if ctx.lang == "zh" else f.name.en)
                    for f in standards.failures_of(standard)
                )
        rows.append(
            {
                "item": item,
                "sandbox": sandbox_of[item.id],
                "badges": [book.catalog.tag(b).name for b in sorted(item.product.badges)],
                "services": [book.catalog.tag(tag).name for tag in tags],
                "national_warranty": "national_warranty" in item.product.badges,
                "failures": list(dict.fromkeys(failures)),
                "open_cases": open_by_item.get(item.id, []),
                "entitled": _entitled(entitled, ctx.lang),
            }
        )
    return render(ctx, "orders.html", rows=rows)


def _entitled(found: ItemEligibility, lang: Language) -> dict[str, Any]:
    """What the item is entitled to now, as sentences in the page's language (NW-1, OH-1,
    OH-2, OH-4): shown before anything is pressed."""
    nw, oh = found.national_warranty, found.one_click_help
    decisive = [
        r for r in oh.reasons if r.code.startswith("oh.") and r.code != "oh.service_eligible"
    ]
    covered = [r.render(lang) for r in oh.reasons if r.code == "oh.city_covered"]
    return {
        "warranty_until": nw.warranty_until if nw.eligible else None,
        "in_warranty": nw.in_warranty,
        "help": oh.eligible,
        # OH-2: the city of the service address is covered (said when it is).
        "covered": covered[0] if oh.eligible and covered else "",
        # Why help is not open to this item (an uncovered city, no qualifying service…).
        "help_refused": ""
        if oh.eligible or not oh.service_tag
        else decisive[-1].render(lang)
        if decisive
        else "",
        "if_pressed_now": [
            (reason.code != "clock.not_applicable_outside_window", reason.render(lang))
            for clock_id, reason in found.commitments
            if clock_id == "solution"
        ],
        # OH-4: the window the one-hour commitment holds in, whatever the time now.
        "windows": [
            {"clock": w.clock.in_(lang), "window": w.window.in_(lang), "rule": w.rule}
            for w in found.windows
        ],
    }


@router.post("/items/{item_id}/help")
def press_help(
    ctx: Annotated[PageContext, Depends(page("help"))],
    svc: ServicesDep,
    item_id: str,
    failure: str = Form(...),
    csrf_token: str = Form(""),
) -> Response:
    viewer = require_csrf(ctx, csrf_token)
    own_item(svc, viewer, item_id)
    opened = svc_cases.request_help(
        svc, order_item_id=item_id, actor=viewer.actor(Channel.HELP_BUTTON), failure=failure
    )
    return back_to_case(opened.case.id)


@router.get("/items/{item_id}/repair", response_class=HTMLResponse)
def repair_form(
    item_id: str, ctx: Annotated[PageContext, Depends(page("repair_form"))], svc: ServicesDep
) -> Response:
    item = own_item(svc, ctx.signed_in, item_id)
    return render(ctx, "repair.html", **_repair_context(svc, item, ctx.lang))


def _repair_context(svc: Services, item: Any, lang: Language) -> dict[str, Any]:
    """The item, the address it was delivered to (the form's default) and its warranty as
    sentences (NW-1, NW-6), so the buyer knows before sending who pays."""
    sandbox = views.sandbox_of_item(svc, item.id)
    found = eligibility_at(svc, item, sandbox, current_time(svc, sandbox))
    return {
        "item": item,
        "default_address": item.address.text if item.address else "",
        "warranty": [
            r.render(lang) for r in found.national_warranty.reasons if r.code.startswith("nw.")
        ],
        "in_warranty": found.national_warranty.in_warranty,
    }


REPAIR_FIELDS = ("description", "phone", "address", "preferred_time")


@router.post("/items/{item_id}/repair")
async def submit_repair(
    ctx: Annotated[PageContext, Depends(page("repair_form"))],
    svc: ServicesDep,
    box: ContainerDep,
    store: AttachmentStore,
    item_id: str,
    description: str = Form(""),
    phone: str = Form(""),
    address: str = Form(""),
    preferred_time: str = Form(""),
    csrf_token: str = Form(""),
    photos: list[UploadFile] = File(default_factory=list),
) -> Response:
    """NW-2b: the repair form. Every field and every photo is checked before anything is
    kept, disk included; a refused form comes back with what was typed and each problem
    beside its field, and leaves no file behind."""
    viewer = require_csrf(ctx, csrf_token)
    item = own_item(svc, viewer, item_id)
    typed = dict(zip(REPAIR_FIELDS, (description, phone, address, preferred_time), strict=True))
    form = svc_cases.ServiceForm(
        contact_phone=phone,
        address=address,
        preferred_time=preferred_time,
        required=frozenset({"phone", "address"}),
    )
    sandbox = views.sandbox_of_item(svc, item.id)
    problems = form.problems(current_time(svc, sandbox))
    if not description.strip():
        problems = {"description": "description.missing", **problems}
    errors = {name: f"consumer.problem.{code}" for name, code in problems.items()}
    uploads = [Upload.of(p.filename, p.content_type, await p.read()) for p in photos if p.filename]
    settings = box.settings
    params = {"limit": f"{store.max_bytes / 1_000_000:g}"}
    photo_problem = _photos_refused(svc, uploads, settings, store.max_bytes, params)
    if photo_problem:
        errors["photos"] = photo_problem
    context = _repair_context(svc, item, ctx.lang)
    if uploads:
        context["photos_again"] = True  # a browser cannot keep a chosen file: ask again
    if errors:
        raise FormRefused("repair.html", typed, errors, params=params, **context)
    actor = viewer.actor(Channel.SERVICE_FORM)
    try:
        opened = svc_cases.report_repair(
            svc,
            order_item_id=item.id,
            actor=actor,
            description=description,
            form=form,
            photos=uploads,
        )
    except InvalidFields as refused:
        raise fields_refused(
            refused, "repair.html", typed, "consumer.problem.", **context
        ) from None
    return back_to_case(opened.case.id)


def _photos_refused(
    svc: Services, uploads: list[Upload], settings: Settings, each: int, params: dict[str, str]
) -> str | None:
    """The word key saying why the photos cannot be taken (``params`` filled for it), or
    None when every photo is accepted and together they are within the limits."""
    try:
        check_uploads(
            svc,
            uploads,
            max_count=settings.attachment_max_per_report,
            max_total_bytes=settings.attachment_max_total_bytes,
        )
    except TooManyFiles as refused:
        params.update(count=str(refused.count), limit=str(refused.limit))
        return "uploads.problem.too_many"
    except FilesTooLarge as refused:
        params.update(
            total=f"{refused.total / 1_000_000:.1f}", limit=f"{refused.limit / 1_000_000:g}"
        )
        return "uploads.problem.total_size"
    except (PayloadTooLarge, UnsupportedMediaType, InvalidRequest):
        # Which photo: the first one the store refuses on its own.
        for upload in uploads:
            try:
                svc_files(svc).check(
                    upload.data, filename=upload.filename, declared_type=upload.declared_type
                )
            except (PayloadTooLarge, UnsupportedMediaType, InvalidRequest):
                params["name"] = upload.filename
                too_big = len(upload.data) > each
                return "consumer.problem.photo_size" if too_big else "consumer.problem.photo_type"
        raise
    return None


# ------------------------------------------------------------------ my cases, my points


def _cursor(text: str) -> tuple[datetime, str] | None:
    """``after=<instant>|<key>`` of a "next page" link; None for the first page."""
    if not text:
        return None
    instant, sep, key = text.partition("|")
    try:
        at = in_range(datetime.fromisoformat(instant))
    except ValueError:
        at = None
    if not sep or not key or at is None or at.tzinfo is None:
        raise MalformedRequest("this page link is damaged; open the list again from the menu")
    return at, key


@router.get("/my/cases", response_class=HTMLResponse)
def my_cases(
    ctx: Annotated[PageContext, Depends(page("my_cases"))], svc: ServicesDep, after: str = ""
) -> Response:
    """我的售后: every case of the buyer's, open and closed, newest first, a page at a time."""
    viewer = ctx.signed_in
    lines = views.case_lines(svc, viewer.scope, limit=PAGE_SIZE + 1, after=_cursor(after))
    more = len(lines) > PAGE_SIZE
    lines = lines[:PAGE_SIZE]
    paid: dict[str, list[PayoutLine]] = {}
    for payout in views.payouts_of_cases(svc, [line.id for line in lines]):
        paid.setdefault(payout.case_id, []).append(payout)
    now_of: dict[str, datetime] = {}
    rows = []
    for line in lines:
        if line.sandbox not in now_of:
            now_of[line.sandbox] = current_time(svc, line.sandbox)
        rows.append(_case_row(line, paid.get(line.id, []), now_of[line.sandbox], ctx.lang))
    last = lines[-1] if lines else None
    return render(
        ctx,
        "my_cases.html",
        rows=rows,
        first_page=not after,
        next_after=f"{last.opened_at.isoformat()}|{last.id}" if more and last else "",
    )


def _case_row(
    line: CaseLine, payouts: list[PayoutLine], now: datetime, lang: Language
) -> dict[str, Any]:
    zh, en = LIFECYCLES[Programme(line.programme)].states[line.state]
    points = sum(p.amount for p in payouts if p.unit == "points")
    left = None if line.next_due is None else (line.next_due - now).total_seconds()
    return {
        "line": line,
        "state": zh if lang == "zh" else en,
        "points": points,
        "payouts": len(payouts),
        "left": None if left is None else fmt_left(left, lang),
        "overdue": left is not None and left < 0,
    }


@router.get("/my/points", response_class=HTMLResponse)
def my_points(
    ctx: Annotated[PageContext, Depends(page("my_points"))], svc: ServicesDep, after: str = ""
) -> Response:
    """我的积分: the balance, and every payout with its reason (X-2), linking its case."""
    viewer = ctx.signed_in
    cursor = _cursor(after)
    if cursor is not None and not cursor[1].isdigit():
        raise MalformedRequest("this page link is damaged; open the list again from the menu")
    lines = views.payout_lines(
        svc,
        viewer.scope,
        limit=PAGE_SIZE + 1,
        after=None if cursor is None else (cursor[0], int(cursor[1])),
    )
    more = len(lines) > PAGE_SIZE
    lines = lines[:PAGE_SIZE]
    balances = views.balances(svc, viewer.scope)
    live = sum(b.balance for b in balances if b.sandbox == LIVE and b.unit == "points")
    sandboxes = [b for b in balances if b.sandbox != LIVE and b.unit == "points"]
    last = lines[-1] if lines else None
    return render(
        ctx,
        "my_points.html",
        balance=live,
        sandbox_balances=sandboxes,
        payouts=lines,
        first_page=not after,
        next_after=f"{last.at.isoformat()}|{last.entry_id}" if more and last else "",
    )
