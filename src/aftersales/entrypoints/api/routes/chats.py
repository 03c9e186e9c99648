"""Chats with a brand's service centre (NW-3), and turning one into a repair report (NW-2c)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from aftersales.domain.lifecycle import Channel, Role
from aftersales.entrypoints.api import models as m
from aftersales.entrypoints.api.deps import Caller, PostOnce, ServicesDep, own_item
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.entrypoints.viewer import Viewer
from aftersales.errors import NotFound
from aftersales.services import cases as case_services
from aftersales.services.base import Services
from aftersales.services.idempotency import Answer
from aftersales.services.records import ChatThread
from aftersales.services.reports import case_report

router = APIRouter(prefix="/api/v1", tags=["chats"], responses=PROBLEMS)


def chat_thread(svc: Services, caller: Viewer, thread_id: str) -> ChatThread:
    """The thread if the caller takes part: its buyer, its brand, agents, operations."""
    try:
        thread = case_services.chat_thread(svc, thread_id)
    except NotFound:
        thread = None
    takes_part = thread is not None and (
        caller.role in (Role.AGENT, Role.OPERATIONS)
        or (caller.role is Role.CONSUMER and thread.buyer_account == caller.party)
        or (caller.role is Role.BRAND and thread.brand_id == caller.party)
    )
    if thread is None or not takes_part:
        raise NotFound("chat", thread_id)
    return thread


def chat_out(svc: Services, thread_id: str) -> m.ChatOut:
    thread = case_services.chat_thread(svc, thread_id)
    return m.ChatOut(
        id=thread.id,
        order_item_id=thread.order_item_id,
        brand_id=thread.brand_id,
        case_id=thread.case_id,
        messages=[
            m.ChatMessageOut(
                at=msg.at, sender_role=msg.sender_role, sender_id=msg.sender_id, text=msg.text
            )
            for msg in case_services.chat_messages(svc, thread_id)
        ],
    )


@router.post("/chats", status_code=201, response_model=m.ChatOut)
def open_chat(body: m.ChatOpened, caller: Caller, svc: ServicesDep, once: PostOnce) -> JSONResponse:
    """Ask the brand's service centre about an item (a consultation, NW-3)."""
    own_item(svc, caller, body.order_item_id)

    def produce() -> Answer:
        thread_id = case_services.open_chat(
            svc,
            order_item_id=body.order_item_id,
            actor=caller.actor(Channel.CHAT),
            text=body.text,
        )
        return Answer(201, chat_out(svc, thread_id).model_dump(mode="json"))

    return once(svc, caller, body, produce)


@router.get("/chats/{thread_id}", response_model=m.ChatOut)
def get_chat(thread_id: str, caller: Caller, svc: ServicesDep) -> m.ChatOut:
    """A chat with all its messages, oldest first."""
    chat_thread(svc, caller, thread_id)
    return chat_out(svc, thread_id)


@router.post("/chats/{thread_id}/messages", response_model=m.ChatOut)
def post_message(
    thread_id: str, body: m.ChatMessagePosted, caller: Caller, svc: ServicesDep, once: PostOnce
) -> JSONResponse:
    """A message in the chat, from whoever takes part in it."""
    chat_thread(svc, caller, thread_id)

    def produce() -> Answer:
        case_services.post_chat_message(svc, thread_id, caller.actor(Channel.CHAT), body.text)
        return Answer(200, chat_out(svc, thread_id).model_dump(mode="json"))

    return once(svc, caller, body, produce)


@router.post("/chats/{thread_id}/report", status_code=201)
def chat_to_report(
    thread_id: str, caller: Caller, svc: ServicesDep, once: PostOnce
) -> JSONResponse:
    """Turn the chat into a repair report (NW-2c); asking again returns the same case."""
    chat_thread(svc, caller, thread_id)

    def produce() -> Answer:
        opened = case_services.chat_to_report(svc, thread_id, caller.actor(Channel.CHAT))
        return Answer(201 if opened.created else 200, case_report(opened.case, svc.book))

    return once(svc, caller, m.NoBody(), produce)
