"""Retention: the tables that grow with every case, thinned by age, oldest month first.

At a million cases a day the audit log, the outbox, the webhook deliveries, the
people's notifications and the clocks of finished cases grow without bound. ``aftersales db retention --keep 90d``
deletes what is older than the kept span, a month at a time and a batch at a time,
each batch its own short transaction (so the service keeps running and an
interrupted run simply resumes), and never what something still needs:

* **webhook deliveries**: delivered or given up (``dead``), of events older than the
  span; a pending delivery, and so its event, stays;
* **outbox**: events older than the span that were passed on and have no pending
  delivery;
* **notification sends** (e-mail, SMS, chat): delivered or given up, of
  notifications older than the span about closed cases;
* **notifications**: older than the span, about closed cases, with no send still
  pending (read or not: nothing more will happen on a closed case, and a case
  reopened keeps them);
* **audit log**: entries older than the span, of closed cases only;
* **clocks**: of closed cases opened before the span (a closed case has no running
  deadline; the compliance report of those months goes with them).

The ledger, balances, cases, decisions and complaints are never touched: a payout is
money and stays. ``dry_run`` counts what would go, by month, and deletes nothing.

Native partitioning on PostgreSQL (dropping a month as a partition) would make the
delete free, but it needs the month in every primary key and unique key of these
tables (the outbox's id is referenced by deliveries, the audit log's key is the
case's sequence); batched deletes on the indexes give the same bound on growth
without that change, at a cost that scales with what is deleted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, and_, delete, exists, func, select, tuple_

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.types import aware_utc
from aftersales.errors import InvalidRequest

_KEEP = re.compile(r"^\s*(\d+)\s*d\s*$")
MIN_KEEP = timedelta(days=1)


def parse_keep(text: str) -> timedelta:
    """``"90d"`` as 90 days; anything else is refused with what to write instead."""
    found = _KEEP.match(text)
    if found is None:
        raise InvalidRequest(f"--keep takes a number of days such as 90d, not {text!r}")
    keep = timedelta(days=int(found.group(1)))
    if keep < MIN_KEEP:
        raise InvalidRequest("--keep must be at least 1d: retention never deletes today's rows")
    return keep


@dataclass
class RetentionReport:
    """What was (or, in a dry run, would be) deleted: per table, per month ``YYYY-MM``."""

    cutoff: datetime
    dry_run: bool
    deleted: dict[str, dict[str, int]] = field(default_factory=dict)

    def total(self, table: str) -> int:
        return sum(self.deleted.get(table, {}).values())


@dataclass(frozen=True)
class _Kind:
    """One table's retention: its key columns, the instant that ages a row, and the
    rows that may go (given a window ``[start, end)`` on that instant)."""

    table: Any
    key: tuple[str, ...]
    aged_by: Any  # the column whose month a row belongs to
    eligible: Callable[[datetime, datetime], Select[Any]]


def _deliveries(start: datetime, end: datetime) -> Select[Any]:
    w, o = s.webhook_deliveries, s.outbox
    return (
        select(w.c.id)
        .join(o, o.c.id == w.c.outbox_id)
        .where(o.c.at >= start, o.c.at < end, w.c.status.in_(("delivered", "dead")))
    )


def _outbox(start: datetime, end: datetime) -> Select[Any]:
    o, w = s.outbox, s.webhook_deliveries
    return select(o.c.id).where(
        o.c.at >= start,
        o.c.at < end,
        o.c.dispatched_at.is_not(None),
        ~exists(
            select(w.c.id).where(w.c.outbox_id == o.c.id, w.c.status.not_in(("delivered", "dead")))
        ),
    )


_FINISHED = ("delivered", "dead")


def _notification_sends(start: datetime, end: datetime) -> Select[Any]:
    d, n, c = s.notification_deliveries, s.notifications, s.cases
    return (
        select(d.c.id)
        .join(n, n.c.id == d.c.notification_id)
        .join(c, c.c.id == n.c.case_id)
        .where(n.c.at >= start, n.c.at < end, ~c.c.is_open, d.c.status.in_(_FINISHED))
    )


def _notifications(start: datetime, end: datetime) -> Select[Any]:
    n, c, d = s.notifications, s.cases, s.notification_deliveries
    return (
        select(n.c.id)
        .join(c, c.c.id == n.c.case_id)
        .where(
            n.c.at >= start,
            n.c.at < end,
            ~c.c.is_open,
            ~exists(
                select(d.c.id).where(d.c.notification_id == n.c.id, d.c.status.not_in(_FINISHED))
            ),
        )
    )


def _audit(start: datetime, end: datetime) -> Select[Any]:
    a, c = s.audit_log, s.cases
    return (
        select(a.c.case_id, a.c.seq)
        .join(c, c.c.id == a.c.case_id)
        .where(a.c.at >= start, a.c.at < end, ~c.c.is_open)
    )


def _clocks(start: datetime, end: datetime) -> Select[Any]:
    k, c, d = s.clocks, s.cases, s.deadlines
    return (
        select(k.c.case_id, k.c.clock_id)
        .join(c, c.c.id == k.c.case_id)
        .where(
            c.c.opened_at >= start,
            c.c.opened_at < end,
            ~c.c.is_open,
            ~exists(select(d.c.case_id).where(d.c.case_id == k.c.case_id)),
        )
    )


# In this order: deliveries and sends before the events and notifications they point at.
KINDS = (
    _Kind(s.webhook_deliveries, ("id",), s.outbox.c.at, _deliveries),
    _Kind(s.outbox, ("id",), s.outbox.c.at, _outbox),
    _Kind(s.notification_deliveries, ("id",), s.notifications.c.at, _notification_sends),
    _Kind(s.notifications, ("id",), s.notifications.c.at, _notifications),
    _Kind(s.audit_log, ("case_id", "seq"), s.audit_log.c.at, _audit),
    _Kind(s.clocks, ("case_id", "clock_id"), s.cases.c.opened_at, _clocks),
)


def _months(first: datetime, cutoff: datetime) -> Iterator[tuple[str, datetime, datetime]]:
    """Calendar months (UTC) from ``first``'s to the cutoff, the last one cut at it."""
    start = first.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while start < cutoff:
        after = (start + timedelta(days=32)).replace(day=1)
        yield f"{start:%Y-%m}", start, min(after, cutoff)
        start = after


def retain(
    engine: Engine, *, keep: timedelta, now: datetime, dry_run: bool = False, batch: int = 5_000
) -> RetentionReport:
    """Delete (or with ``dry_run`` count) what is older than ``now - keep``; see the module."""
    if keep < MIN_KEEP:
        raise InvalidRequest("retention keeps at least one day")
    if batch < 1:
        raise InvalidRequest("the batch size must be at least 1")
    cutoff = now - keep
    report = RetentionReport(cutoff, dry_run)
    for kind in KINDS:
        with engine.connect() as conn:
            first = aware_utc(conn.execute(select(func.min(kind.aged_by))).scalar())
        if first is None:
            continue
        per_month: dict[str, int] = {}
        for month, start, end in _months(first, cutoff):
            eligible = kind.eligible(start, end)
            if dry_run:
                with engine.connect() as conn:
                    n = int(
                        conn.execute(
                            select(func.count()).select_from(eligible.subquery())
                        ).scalar_one()
                    )
            else:
                n = _delete_in_batches(engine, kind, eligible, batch)
            if n:
                per_month[month] = n
        if per_month:
            report.deleted[kind.table.name] = per_month
    return report


def _delete_in_batches(engine: Engine, kind: _Kind, eligible: Select[Any], batch: int) -> int:
    """Delete ``eligible`` rows of ``kind.table``, ``batch`` keys per transaction."""
    table = kind.table
    columns = [table.c[c] for c in kind.key]
    deleted = 0
    while True:
        with engine.begin() as conn:
            keys = conn.execute(eligible.limit(batch)).all()
            if not keys:
                return deleted
            if len(columns) == 1:
                where = columns[0].in_([k[0] for k in keys])
            else:
                where = tuple_(*columns).in_([tuple(k) for k in keys])
            # The eligibility is checked again inside the delete: a delivery that went
            # back to pending, or a case reopened, since the keys were read stays.
            if table is s.outbox:  # an event's finished deliveries go with it
                w = s.webhook_deliveries
                conn.execute(
                    delete(w).where(
                        w.c.outbox_id.in_([k[0] for k in keys]), w.c.status.in_(_FINISHED)
                    )
                )
            if table is s.notifications:  # and a notification's finished sends
                nd = s.notification_deliveries
                conn.execute(
                    delete(nd).where(
                        nd.c.notification_id.in_([k[0] for k in keys]),
                        nd.c.status.in_(_FINISHED),
                    )
                )
            gone = conn.execute(delete(table).where(and_(where, _still(kind, eligible))))
            if gone.rowcount == 0:
                return deleted
            deleted += gone.rowcount


def _still(kind: _Kind, eligible: Select[Any]) -> Any:
    columns = [kind.table.c[c] for c in kind.key]
    if len(columns) == 1:
        return columns[0].in_(eligible)
    return tuple_(*columns).in_(eligible)
