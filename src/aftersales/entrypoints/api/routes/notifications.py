"""The caller's notifications: the list, acknowledging, marking read, and channel settings.

Every route here is about the caller's own account: one account never sees or
acknowledges another's notifications (someone else's id answers 404). The
request and answer models live beside the routes: nothing else uses them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from aftersales.domain.errors import Forbidden
from aftersales.domain.lifecycle import Role
from aftersales.entrypoints.api import models as m
from aftersales.entrypoints.api.deps import Caller, ServicesDep
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.services import notifications as notes
from aftersales.services.records import NotificationPreferences, NotificationRecord


def _a_person(who: Caller) -> None:
    if who.role is Role.INTEGRATION:
        raise Forbidden("notifications are for people; an integration token has none")


router = APIRouter(
    prefix="/api/v1/notifications",
    tags=["notifications"],
    responses=PROBLEMS,
    dependencies=[Depends(_a_person)],
)


class NotificationOut(BaseModel):
    id: int
    kind: Literal["case_assigned", "due_soon", "breached", "payout", "complaint_decided"]
    case_id: str
    sandbox: str
    clock_id: str = Field(description="the SLA clock it is about; '' when none")
    mark: str = Field(description="a warning mark ('30m'; '30m>1' when passed on), or ''")
    level: int = Field(description="0, or the escalation level a warning was passed on to")
    at: datetime = Field(description="the instant it is about (the mark, the deadline, …)")
    text: m.Explanation
    read_at: datetime | None
    acked_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    total: int
    unread: int
    latest: int = Field(description="the newest notification's id (0: none yet)")
    next_before: int | None = Field(description="pass as `before` for the next, older page")


class ReadIn(BaseModel):
    ids: list[int] | None = Field(None, description="which ones; leave out for all")


class ReadOut(BaseModel):
    changed: int


class PreferencesIO(BaseModel):
    email: str | None = Field(None, max_length=254)
    email_on: bool = False
    phone: str | None = Field(None, max_length=32, description="a mainland China mobile")
    sms_on: bool = False
    chat_id: str | None = Field(None, max_length=200, description="the chat-app account")
    chat_on: bool = False
    language: Literal["zh", "en"] = "zh"


def _out(n: NotificationRecord) -> NotificationOut:
    return NotificationOut(
        id=n.id,
        kind=n.kind,
        case_id=n.case_id,
        sandbox=n.sandbox,
        clock_id=n.clock_id,
        mark=n.mark,
        level=n.level,
        at=n.at,
        text=m.Explanation(zh=n.reason.zh, en=n.reason.en, rule=n.reason.rule),
        read_at=n.read_at,
        acked_at=n.acked_at,
    )


def _prefs(p: NotificationPreferences) -> PreferencesIO:
    return PreferencesIO(
        email=p.email,
        email_on=p.email_on,
        phone=p.phone,
        sms_on=p.sms_on,
        chat_id=p.chat_id,
        chat_on=p.chat_on,
        language=p.language,
    )


@router.get("", response_model=NotificationPage)
def list_notifications(
    caller: Caller,
    svc: ServicesDep,
    before: int | None = Query(None, ge=1),
    limit: int = Query(notes.PAGE_SIZE, ge=1, le=notes.MAX_PAGE_SIZE),
) -> NotificationPage:
    """The caller's notifications, newest first, with the unread count."""
    page = notes.page_of(svc, caller.account_id, before=before, limit=limit)
    return NotificationPage(
        items=[_out(n) for n in page.items],
        total=page.total,
        unread=page.unread,
        latest=page.latest,
        next_before=page.next_before,
    )


@router.post("/{notification_id}/ack", response_model=NotificationOut)
def acknowledge(notification_id: int, caller: Caller, svc: ServicesDep) -> NotificationOut:
    """Acknowledge one (it is read too): a warning acknowledged is not passed on."""
    return _out(notes.acknowledge(svc, caller.account_id, notification_id))


@router.post("/read", response_model=ReadOut)
def mark_read(body: ReadIn, caller: Caller, svc: ServicesDep) -> ReadOut:
    """Mark some (or all) of the caller's notifications read."""
    return ReadOut(changed=notes.mark_read(svc, caller.account_id, body.ids))


@router.get("/preferences", response_model=PreferencesIO)
def preferences(caller: Caller, svc: ServicesDep) -> PreferencesIO:
    """The channels the caller chose beside the in-app list (always on)."""
    return _prefs(notes.preferences_of(svc, caller.account_id))


@router.put("/preferences", response_model=PreferencesIO)
def set_preferences(body: PreferencesIO, caller: Caller, svc: ServicesDep) -> PreferencesIO:
    """Choose email, SMS and chat-app channels; a wrong field refuses the whole change (422)."""
    chosen = notes.set_preferences(
        svc,
        caller.account_id,
        email=body.email or "",
        email_on=body.email_on,
        phone=body.phone or "",
        sms_on=body.sms_on,
        chat_id=body.chat_id or "",
        chat_on=body.chat_on,
        language=body.language,
    )
    return _prefs(chosen)
