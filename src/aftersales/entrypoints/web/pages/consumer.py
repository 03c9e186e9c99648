"""The buyer's pages: their orders with service badges, one-click help, the repair form."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, File, Form, UploadFile
from fastapi.responses import HTMLResponse, Response

from aftersales.domain.explain import Language
from aftersales.domain.lifecycle import Channel
from aftersales.entrypoints.api.deps import AttachmentStore, ServicesDep
from aftersales.entrypoints.viewer import Viewer
from aftersales.entrypoints.web.pages.common import (
    PageContext,
    PageRefused,
    back_to_case,
    page,
    page_router,
    render,
    require_csrf,
)
from aftersales.services import cases as svc_cases
from aftersales.services import views
from aftersales.services.base import Services
from aftersales.services.eligibility import ItemEligibility, eligibility_at
from aftersales.services.sandboxes import current_time

router = page_router()


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
    return {
        "warranty_until": nw.warranty_until if nw.eligible else None,
        "in_warranty": nw.in_warranty,
        "help": oh.eligible,
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
    return render(ctx, "repair.html", item=item)


@router.post("/items/{item_id}/repair")
async def submit_repair(
    ctx: Annotated[PageContext, Depends(page("repair_form"))],
    svc: ServicesDep,
    store: AttachmentStore,
    item_id: str,
    description: str = Form(""),
    phone: str = Form(""),
    preferred_time: str = Form(""),
    csrf_token: str = Form(""),
    photos: list[UploadFile] = File(default_factory=list),
) -> Response:
    viewer = require_csrf(ctx, csrf_token)
    item = own_item(svc, viewer, item_id)
    form = svc_cases.ServiceForm(contact_phone=phone, preferred_time=preferred_time)
    uploads = [
        (p.filename or "photo", p.content_type, await p.read()) for p in photos if p.filename
    ]
    # Every photo is checked (type by content, size) before the report is filed,
    # so a bad photo refuses the whole form and nothing is half done.
    for name, declared, content in uploads:
        store.put(content, filename=name, declared_type=declared)
    actor = viewer.actor(Channel.SERVICE_FORM)
    opened = svc_cases.report_repair(
        svc, order_item_id=item.id, actor=actor, description=description, form=form
    )
    for name, declared, content in uploads:
        svc_cases.add_attachment(
            svc,
            data=content,
            filename=name,
            declared_type=declared,
            actor=actor,
            case_id=opened.case.id,
        )
    return back_to_case(opened.case.id)
