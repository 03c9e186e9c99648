"""Notifications in memory: the same unique key and the same answers as the SQL adapter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from aftersales.adapters.memory.state import MemoryStore, Tables, stored_reason, utc
from aftersales.domain.notices import Notice, NoticeKind, base_mark, escalation_base, reaches
from aftersales.errors import NotFound
from aftersales.services.records import NotificationPreferences, NotificationRecord


def write_notices(store: MemoryStore, sandbox: str, notices: Sequence[Notice]) -> int:
    """One notification per active account each notice reaches; a key already taken is
    left alone (the SQL adapter's ``ON CONFLICT DO NOTHING``)."""
    t = store.tables
    added = 0
    for notice in notices:
        base = escalation_base(notice)
        if base is not None and _acknowledged(t, notice.case_id, notice.clock_id, base):
            continue
        for account_id, account in sorted(t.accounts.items()):
            if not account.active or not reaches(
                notice.to, account_id, account.role, account.party
            ):
                continue
            key = (account_id, notice.case_id, notice.kind.value, notice.clock_id, notice.mark)
            if key in t.notification_keys:
                continue
            notification_id = t.next_id("notifications")
            t.notifications[notification_id] = NotificationRecord(
                id=notification_id,
                account_id=account_id,
                sandbox=sandbox,
                case_id=notice.case_id,
                kind=notice.kind.value,
                clock_id=notice.clock_id,
                mark=notice.mark,
                level=notice.level,
                at=utc(notice.at),
                reason=stored_reason(notice.reason),
            )
            t.notification_keys[key] = notification_id
            added += 1
    return added


def _acknowledged(t: Tables, case_id: str, clock_id: str, base: str) -> bool:
    return any(
        n.case_id == case_id
        and n.clock_id == clock_id
        and n.kind == NoticeKind.DUE_SOON.value
        and base_mark(n.mark) == base
        and n.acked_at is not None
        for n in t.notifications.values()
    )


class MemoryNotifications:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def _t(self) -> Tables:
        return self.store.tables

    def _of(self, account_id: str) -> list[NotificationRecord]:
        return sorted(
            (n for n in self._t.notifications.values() if n.account_id == account_id),
            key=lambda n: -n.id,
        )

    def page(
        self, account_id: str, *, before: int | None = None, limit: int = 20
    ) -> list[NotificationRecord]:
        mine = [n for n in self._of(account_id) if before is None or n.id < before]
        return mine[:limit]

    def get(self, account_id: str, notification_id: int) -> NotificationRecord | None:
        found = self._t.notifications.get(notification_id)
        return found if found is not None and found.account_id == account_id else None

    def counts(self, account_id: str) -> tuple[int, int, int]:
        mine = self._of(account_id)
        unread = sum(1 for n in mine if n.read_at is None)
        return len(mine), unread, mine[0].id if mine else 0

    def mark_read(self, account_id: str, ids: Sequence[int] | None, at: datetime) -> int:
        changed = 0
        wanted = None if ids is None else set(ids)
        for n in self._of(account_id):
            if n.read_at is None and (wanted is None or n.id in wanted):
                self._t.notifications[n.id] = replace(n, read_at=utc(at))
                changed += 1
        return changed

    def acknowledge(self, account_id: str, notification_id: int, at: datetime) -> bool:
        found = self.get(account_id, notification_id)
        if found is None:
            raise NotFound("notification", str(notification_id))
        if found.acked_at is not None:
            return False
        self._t.notifications[notification_id] = replace(
            found, acked_at=utc(at), read_at=found.read_at or utc(at)
        )
        return True

    def preferences(self, account_id: str) -> NotificationPreferences:
        return self._t.notification_preferences.get(account_id, NotificationPreferences(account_id))

    def save_preferences(self, preferences: NotificationPreferences, at: datetime) -> None:
        self._t.notification_preferences[preferences.account_id] = preferences
