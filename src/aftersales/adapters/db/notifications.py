"""The SQL side of notifications: writing a case's notices, and the ``Notifications`` port.

:func:`write_notices` runs in the transaction that saves the cases (the case
repository calls it): it finds the accounts each notice reaches with one query
for the whole batch, leaves out escalations whose warning someone already
acknowledged (one more query, only when there are escalations), and inserts one
row per account and notice with ``ON CONFLICT DO NOTHING`` on the unique key
``(account, case, kind, clock, mark)`` — so a notice saved twice, by a retried
chunk or by two workers racing, is one notification.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.driver import Prepared, one_of
from aftersales.domain.explain import Reason
from aftersales.domain.notices import Notice, NoticeKind, escalation_base, reaches
from aftersales.errors import NotFound
from aftersales.services.records import NotificationPreferences, NotificationRecord

_n = s.notifications
_p = s.notification_preferences


_INSERT = {  # built once, by "is PostgreSQL"
    pg: dialect.insert(_n).on_conflict_do_nothing(
        index_elements=["account_id", "case_id", "kind", "clock_id", "mark"]
    )
    for pg, dialect in ((True, postgresql), (False, sqlite))
}


@cache
def _recipients(parties: bool, accounts: bool, roles: bool) -> Prepared:
    """The active accounts of the parties, the accounts and the roles asked for (each
    kind only when asked: built once per combination; arrays on PostgreSQL)."""
    a = s.accounts

    def query(pg: bool) -> Select[Any]:
        wanted = []
        if parties:
            wanted.append(one_of(a.c.party, "parties", pg=pg))
        if accounts:
            wanted.append(one_of(a.c.id, "accounts", pg=pg))
        if roles:
            wanted.append(one_of(a.c.role, "roles", pg=pg))
        return select(a.c.id, a.c.role, a.c.party).where(a.c.active, or_(*wanted)).order_by(a.c.id)

    return Prepared.per_dialect(query)


def write_notices(conn: Connection, notices: Sequence[tuple[str, Notice]]) -> int:
    """One notification per account each ``(sandbox, notice)`` reaches; returns rows added."""
    if not notices:
        return 0
    parties = {n.to.party for _, n in notices if n.to.party is not None}
    accounts = {n.to.account for _, n in notices if n.to.account is not None}
    everyone = {r.value for _, n in notices if n.to.party is None for r in n.to.roles}
    wanted = {"parties": sorted(parties), "accounts": sorted(accounts), "roles": sorted(everyone)}
    found = _recipients(bool(parties), bool(accounts), bool(everyone)).rows(
        conn, {k: v for k, v in wanted.items() if v}
    )
    acknowledged = _acknowledged(conn, [n for _, n in notices if n.level > 0])
    rows: list[dict[str, Any]] = []
    for sandbox, notice in notices:
        base = escalation_base(notice)
        if base is not None and (notice.case_id, notice.clock_id, base) in acknowledged:
            continue  # someone acknowledged the warning: nothing to pass on
        for account in found:
            if reaches(notice.to, account.id, account.role, account.party):
                rows.append(
                    {
                        "account_id": account.id,
                        "sandbox": sandbox,
                        "case_id": notice.case_id,
                        "kind": notice.kind.value,
                        "clock_id": notice.clock_id,
                        "mark": notice.mark,
                        "level": notice.level,
                        "at": notice.at,
                        "reason": notice.reason.to_dict(),
                    }
                )
    if not rows:
        return 0
    return conn.execute(_INSERT[conn.dialect.name == "postgresql"], rows).rowcount or 0


def _acknowledged(conn: Connection, escalations: Sequence[Notice]) -> set[tuple[str, str, str]]:
    """(case, clock, warning mark) of the escalations' warnings someone acknowledged, at
    whatever level it had reached."""
    if not escalations:
        return set()
    pairs = sorted({(n.case_id, n.clock_id) for n in escalations})
    rows = conn.execute(
        select(_n.c.case_id, _n.c.clock_id, _n.c.mark).where(
            tuple_(_n.c.case_id, _n.c.clock_id).in_(pairs),
            _n.c.kind == NoticeKind.DUE_SOON.value,
            _n.c.acked_at.is_not(None),
        )
    ).all()
    return {(r.case_id, r.clock_id, r.mark.split(">", 1)[0]) for r in rows}


def record_from_row(row: Any) -> NotificationRecord:
    return NotificationRecord(
        id=int(row.id),
        account_id=row.account_id,
        sandbox=row.sandbox,
        case_id=row.case_id,
        kind=row.kind,
        clock_id=row.clock_id,
        mark=row.mark,
        level=int(row.level),
        at=row.at,
        reason=Reason.from_dict(row.reason),
        read_at=row.read_at,
        acked_at=row.acked_at,
    )


class SqlNotifications:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def page(
        self, account_id: str, *, before: int | None = None, limit: int = 20
    ) -> list[NotificationRecord]:
        query = select(_n).where(_n.c.account_id == account_id)
        if before is not None:
            query = query.where(_n.c.id < before)
        rows = self.conn.execute(query.order_by(_n.c.id.desc()).limit(limit))
        return [record_from_row(r) for r in rows]

    def get(self, account_id: str, notification_id: int) -> NotificationRecord | None:
        row = self.conn.execute(
            select(_n).where(_n.c.id == notification_id, _n.c.account_id == account_id)
        ).one_or_none()
        return None if row is None else record_from_row(row)

    def counts(self, account_id: str) -> tuple[int, int, int]:
        row = self.conn.execute(
            select(
                func.count(),
                func.count(_n.c.id).filter(_n.c.read_at.is_(None)),
                func.coalesce(func.max(_n.c.id), 0),
            ).where(_n.c.account_id == account_id)
        ).one()
        return int(row[0]), int(row[1]), int(row[2])

    def mark_read(self, account_id: str, ids: Sequence[int] | None, at: datetime) -> int:
        statement = (
            update(_n)
            .where(_n.c.account_id == account_id, _n.c.read_at.is_(None))
            .values(read_at=at)
        )
        if ids is not None:
            if not ids:
                return 0
            statement = statement.where(_n.c.id.in_(list(ids)))
        return self.conn.execute(statement).rowcount or 0

    def acknowledge(self, account_id: str, notification_id: int, at: datetime) -> bool:
        if self.get(account_id, notification_id) is None:
            raise NotFound("notification", str(notification_id))
        changed = self.conn.execute(
            update(_n)
            .where(
                _n.c.id == notification_id,
                _n.c.account_id == account_id,
                _n.c.acked_at.is_(None),
            )
            .values(acked_at=at, read_at=func.coalesce(_n.c.read_at, at))
        ).rowcount
        return bool(changed)

    def preferences(self, account_id: str) -> NotificationPreferences:
        row = self.conn.execute(select(_p).where(_p.c.account_id == account_id)).one_or_none()
        if row is None:
            return NotificationPreferences(account_id)
        return NotificationPreferences(
            account_id=account_id,
            email=row.email,
            email_on=row.email_on,
            phone=row.phone,
            sms_on=row.sms_on,
            chat_id=row.chat_id,
            chat_on=row.chat_on,
            language="en" if row.language == "en" else "zh",
        )

    def save_preferences(self, preferences: NotificationPreferences, at: datetime) -> None:
        values = {
            "email": preferences.email,
            "email_on": preferences.email_on,
            "phone": preferences.phone,
            "sms_on": preferences.sms_on,
            "chat_id": preferences.chat_id,
            "chat_on": preferences.chat_on,
            "language": preferences.language,
            "updated_at": at,
        }
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(_p).values(account_id=preferences.account_id, **values)
        self.conn.execute(
            statement.on_conflict_do_update(index_elements=["account_id"], set_=values)
        )
