"""Chats with a brand's service centre about an order item (NW-3), and turning one into a
repair report (NW-2c): the buyer's side and the brand's, on the same pages.

Who takes part in a chat is the API's rule
(:func:`aftersales.entrypoints.api.routes.chats.chat_thread`): its buyer, its
brand, hotline agents and operations; anyone else is told it does not exist.
The page shows new messages without a reload: htmx asks for the message list
every few seconds (the form works without JavaScript too).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aftersales.domain import access
from aftersales.domain.access import Action
from aftersales.domain.lifecycle import Channel, Role
from aftersales.entrypoints.api.deps import ServicesDep
from aftersales.entrypoints.api.routes.chats import chat_thread as visible_thread
from aftersales.entrypoints.web.pages.common import (
    FormRefused,
    PageContext,
    back_to_case,
    page,
    page_router,
    render,
    require_csrf,
)
from aftersales.entrypoints.web.pages.consumer import own_item
from aftersales.errors import NotFound
from aftersales.services import cases as svc_cases
from aftersales.services import views
from aftersales.services.base import Services
from aftersales.services.records import ChatThread

router = page_router()
ChatPage = Annotated[PageContext, Depends(page("chat"))]
MESSAGE_MAX = 2000


def _brand_name(svc: Services, brand_id: str) -> str:
    try:
        return views.brand_after_sales(svc, brand_id).name
    except NotFound:
        return brand_id


def _thread_lines(svc: Services, threads: list[ChatThread]) -> list[dict[str, Any]]:
    names: dict[str, str] = {}
    lines = []
    for thread in threads:
        if thread.brand_id not in names:
            names[thread.brand_id] = _brand_name(svc, thread.brand_id)
        item, sandbox = views.order_item(svc, thread.order_item_id)
        lines.append(
            {
                "thread": thread,
                "brand": names[thread.brand_id],
                "product": item.product.name,
                "sandbox": sandbox,
            }
        )
    return lines


@router.get("/chats", response_class=HTMLResponse)
def chat_list(ctx: Annotated[PageContext, Depends(page("chats"))], svc: ServicesDep) -> Response:
    """The viewer's chats: a buyer's own, a brand's service centre's, or all (operations)."""
    viewer = ctx.signed_in
    if viewer.role is Role.CONSUMER:
        threads = svc_cases.chat_threads(svc, buyer=viewer.party or "")
    elif viewer.role is Role.BRAND:
        threads = svc_cases.chat_threads(svc, brand=viewer.party or "")
    else:
        threads = svc_cases.chat_threads(svc)
    return render(ctx, "chats.html", lines=_thread_lines(svc, threads))


@router.get("/items/{item_id}/chat", response_class=HTMLResponse)
def item_chat(
    item_id: str, ctx: Annotated[PageContext, Depends(page("help"))], svc: ServicesDep
) -> Response:
    """Ask the brand about an item: the chats already had about it, and a box for a new one."""
    item = own_item(svc, ctx.signed_in, item_id)
    threads = svc_cases.chat_threads(svc, order_item_id=item.id)
    return render(
        ctx,
        "chat_start.html",
        item=item,
        brand=_brand_name(svc, item.product.brand_id),
        lines=_thread_lines(svc, threads),
    )


@router.post("/items/{item_id}/chat")
def start_chat(
    item_id: str,
    ctx: Annotated[PageContext, Depends(page("help"))],
    svc: ServicesDep,
    text: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    viewer = require_csrf(ctx, csrf_token)
    item = own_item(svc, viewer, item_id)
    problem = _message_problem(text)
    if problem:
        threads = svc_cases.chat_threads(svc, order_item_id=item.id)
        raise FormRefused(
            "chat_start.html",
            {"text": text},
            {"text": problem},
            item=item,
            brand=_brand_name(svc, item.product.brand_id),
            lines=_thread_lines(svc, threads),
        )
    thread_id = svc_cases.open_chat(
        svc, order_item_id=item.id, actor=viewer.actor(Channel.CHAT), text=text
    )
    return RedirectResponse(f"/chats/{thread_id}", status_code=303)


def _message_problem(text: str) -> str:
    if not text.strip():
        return "consumer.problem.message.missing"
    if len(text) > MESSAGE_MAX:
        return "consumer.problem.message.too_long"
    return ""


def _chat_context(svc: Services, ctx: PageContext, thread: ChatThread) -> dict[str, Any]:
    viewer = ctx.signed_in
    item, sandbox = views.order_item(svc, thread.order_item_id)
    return {
        "thread": thread,
        "item": item,
        "sandbox": sandbox,
        "brand": _brand_name(svc, thread.brand_id),
        "messages": svc_cases.chat_messages(svc, thread.id),
        "mine": viewer.actor(Channel.CHAT).id,
        "can_report": thread.case_id is None and access.allowed(viewer.role, Action.CHAT_TO_REPORT),
    }


@router.get("/chats/{thread_id}", response_class=HTMLResponse)
def chat_page(thread_id: str, ctx: ChatPage, svc: ServicesDep) -> Response:
    thread = visible_thread(svc, ctx.signed_in, thread_id)
    return render(ctx, "chat.html", **_chat_context(svc, ctx, thread))


@router.get("/chats/{thread_id}/messages", response_class=HTMLResponse)
def chat_messages(thread_id: str, ctx: ChatPage, svc: ServicesDep) -> Response:
    """The message list alone, for the page to refresh itself with."""
    thread = visible_thread(svc, ctx.signed_in, thread_id)
    return render(ctx, "_chat_messages.html", **_chat_context(svc, ctx, thread))


@router.post("/chats/{thread_id}/messages")
def post_message(
    thread_id: str,
    ctx: ChatPage,
    svc: ServicesDep,
    text: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    viewer = require_csrf(ctx, csrf_token)
    thread = visible_thread(svc, viewer, thread_id)
    problem = _message_problem(text)
    if problem:
        raise FormRefused(
            "chat.html", {"text": text}, {"text": problem}, **_chat_context(svc, ctx, thread)
        )
    svc_cases.post_chat_message(svc, thread.id, viewer.actor(Channel.CHAT), text)
    return RedirectResponse(f"/chats/{thread.id}#latest", status_code=303)


@router.post("/chats/{thread_id}/report")
def chat_to_report(
    thread_id: str, ctx: ChatPage, svc: ServicesDep, csrf_token: str = Form("")
) -> Response:
    """NW-2c: the chat becomes a repair report; asking again opens the same case."""
    viewer = require_csrf(ctx, csrf_token)
    thread = visible_thread(svc, viewer, thread_id)
    opened = svc_cases.chat_to_report(svc, thread.id, viewer.actor(Channel.CHAT))
    return back_to_case(opened.case.id)
