"""Notifications: each account's list, reading and acknowledging, and its channels.

Notifications are *made* where cases are saved (the case repository writes a
case's notices in the same transaction, see :mod:`aftersales.domain.notices`),
most of them by the deadline engine: a warning mark is a deadline like any
other. This module is what an account does with them. Sending them by email,
SMS or chat app happens in the worker (:mod:`aftersales.worker.notify`), never
in a request or in the deadline transaction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aftersales.domain.explain import Bilingual, Language
from aftersales.errors import InvalidRequest, NotFound
from aftersales.services.base import Services
from aftersales.services.records import NotificationPreferences, NotificationRecord

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_MOBILE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")
_CHAT_ID = re.compile(r"^\S{1,200}$")


@dataclass(frozen=True)
class NotificationPage:
    items: list[NotificationRecord]
    total: int
    unread: int
    latest: int  # the newest id (0: none): a change of it means something new arrived
    next_before: int | None  # pass as ``before`` for the next (older) page


class PreferencesRefused(InvalidRequest):
    """Channel settings that cannot be used, with what is wrong with each field."""

    def __init__(self, problems: dict[str, Bilingual]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {p.en}" for field, p in problems.items()))


def page_of(
    svc: Services, account_id: str, *, before: int | None = None, limit: int = PAGE_SIZE
) -> NotificationPage:
    """The account's notifications, newest first, ``limit`` at a time."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    if before is not None and before < 1:
        raise InvalidRequest("before must be a notification id (a whole number above 0)")
    with svc.uow() as uow:
        items = uow.notifications.page(account_id, before=before, limit=limit + 1)
        total, unread, latest = uow.notifications.counts(account_id)
    more = len(items) > limit
    items = items[:limit]
    return NotificationPage(items, total, unread, latest, items[-1].id if more else None)


def counts(svc: Services, account_id: str) -> tuple[int, int, int]:
    """(all, unread, newest id): what the badge and the live refresh look at."""
    with svc.uow() as uow:
        return uow.notifications.counts(account_id)


def acknowledge(svc: Services, account_id: str, notification_id: int) -> NotificationRecord:
    """ "Seen, I am on it": marks it read, and stops a warning being passed on (escalation)."""
    with svc.uow() as uow:
        uow.notifications.acknowledge(account_id, notification_id, svc.clock.now())
        found = uow.notifications.get(account_id, notification_id)
        uow.commit()
    if found is None:  # pragma: no cover - acknowledge raised NotFound already
        raise NotFound("notification", str(notification_id))
    return found


def mark_read(svc: Services, account_id: str, ids: Sequence[int] | None = None) -> int:
    """Mark these notifications (None: all of the account's) read; how many changed."""
    with svc.uow() as uow:
        changed = uow.notifications.mark_read(account_id, ids, svc.clock.now())
        uow.commit()
    return changed


def preferences_of(svc: Services, account_id: str) -> NotificationPreferences:
    with svc.uow() as uow:
        return uow.notifications.preferences(account_id)


def set_preferences(
    svc: Services,
    account_id: str,
    *,
    email: str = "",
    email_on: bool = False,
    phone: str = "",
    sms_on: bool = False,
    chat_id: str = "",
    chat_on: bool = False,
    language: str = "zh",
) -> NotificationPreferences:
    """Check and keep the account's channels; nothing is kept if any field is wrong."""
    email, phone, chat_id = email.strip(), re.sub(r"[\s-]", "", phone), chat_id.strip()
    problems: dict[str, Bilingual] = {}
    if email and (len(email) > 254 or not _EMAIL.match(email)):
        problems["email"] = Bilingual(
            "邮箱地址格式不对，例如 name@example.com", "not an email address, e.g. name@example.com"
        )
    elif email_on and not email:
        problems["email"] = Bilingual(
            "要用邮件接收，请填写邮箱地址", "give an email address to be told by email"
        )
    if phone and not _MOBILE.match(phone):
        problems["phone"] = Bilingual(
            "短信只能发到中国大陆手机号（11 位，1 开头），例如 13800138000",
            "text messages go to a mainland China mobile number (11 digits starting with 1), "
            "e.g. 13800138000",
        )
    elif sms_on and not phone:
        problems["phone"] = Bilingual(
            "要用短信接收，请填写手机号", "give a mobile number to be told by text message"
        )
    if chat_id and not _CHAT_ID.match(chat_id):
        problems["chat_id"] = Bilingual(
            "聊天账号不能有空格，最长 200 个字符",
            "a chat account has no spaces, at most 200 characters",
        )
    elif chat_on and not chat_id:
        problems["chat_id"] = Bilingual(
            "要用聊天应用接收，请填写聊天账号", "give your chat-app account to be told there"
        )
    if language not in ("zh", "en"):
        problems["language"] = Bilingual("语言只能是中文或英文", "the language is zh or en")
    if problems:
        raise PreferencesRefused(problems)
    lang: Language = "en" if language == "en" else "zh"
    chosen = NotificationPreferences(
        account_id=account_id,
        email=email or None,
        email_on=email_on,
        phone=phone.removeprefix("+86").removeprefix("86") if phone else None,
        sms_on=sms_on,
        chat_id=chat_id or None,
        chat_on=chat_on,
        language=lang,
    )
    with svc.uow() as uow:
        uow.notifications.save_preferences(chosen, svc.clock.now())
        uow.commit()
    return chosen
