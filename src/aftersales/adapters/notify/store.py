"""The notification send queue: fan-out to channels, claims with a lease, outcomes.

Three short transactions, each safe with several workers at once:

1. :func:`fan_out` takes notifications not yet handed on (``FOR UPDATE SKIP
   LOCKED`` on PostgreSQL), adds one ``notification_deliveries`` row per channel
   the account switched on (the unique ``(notification, channel)`` pair makes a
   repeat add nothing), and marks them handed on;
2. :func:`claim_due` pushes the due deliveries' ``next_attempt_at`` forward by a
   lease, so no other worker sends them meanwhile, and returns what to send;
3. :func:`record_outcome` records each result, compare-and-set on the claim:
   ``delivered``, or another attempt after the back-off, or ``dead`` when the
   attempts are used up.

Nothing here reads the wall clock: ``now`` is an argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Integer, and_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from aftersales.adapters.db import schema as s
from aftersales.domain.explain import Language, Reason
from aftersales.domain.retry import RetryPolicy

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
CHANNELS = ("email", "sms", "chat")
# 15 s, 30 s, 1 min … doubling up to an hour, with jitter from the delivery id.
NOTIFY_RETRY = RetryPolicy(base_s=15, factor=2, cap_s=3600, jitter=0.2, max_attempts=10)

_n, _p, _d = s.notifications, s.notification_preferences, s.notification_deliveries


@dataclass(frozen=True)
class SendClaim:
    """One delivery taken for one attempt, with everything needed to send it."""

    delivery_id: int
    channel: str  # email | sms | chat
    address: str
    attempts: int
    lease_until: datetime
    notification_id: int
    kind: str
    case_id: str
    sandbox: str
    at: datetime
    reason: Reason
    language: Language


# Built once: the notification loop runs it every poll interval, found or not. SQLite
# renders no FOR UPDATE (its writers are serialised).
_UNSENT = (
    select(_n.c.id, _n.c.account_id)
    .where(_n.c.dispatched_at.is_(None))
    .order_by(_n.c.id)
    .limit(bindparam("batch", type_=Integer))
    .with_for_update(skip_locked=True)
)


def fan_out(conn: Connection, *, now: datetime, batch: int = 500) -> int:
    """Hand up to ``batch`` new notifications to their accounts' channels; how many."""
    picked = conn.execute(_UNSENT, {"batch": batch}).all()
    if not picked:
        return 0
    prefs = {
        row.account_id: row
        for row in conn.execute(
            select(_p).where(_p.c.account_id.in_(sorted({r.account_id for r in picked})))
        )
    }
    rows: list[dict[str, Any]] = []
    for notification in picked:
        chosen = prefs.get(notification.account_id)
        if chosen is None:
            continue
        for channel, on, address in (
            ("email", chosen.email_on, chosen.email),
            ("sms", chosen.sms_on, chosen.phone),
            ("chat", chosen.chat_on, chosen.chat_id),
        ):
            if on and address:
                rows.append(
                    {
                        "notification_id": notification.id,
                        "channel": channel,
                        "address": address,
                        "status": PENDING,
                        "attempts": 0,
                        "next_attempt_at": now,
                    }
                )
    if rows:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(_d).on_conflict_do_nothing(
                index_elements=["notification_id", "channel"]
            ),
            rows,
        )
    conn.execute(update(_n).where(_n.c.id.in_([r.id for r in picked])).values(dispatched_at=now))
    return len(picked)


# Built once, with the values bound at each run: the loop asks every poll interval.
_DUE = (
    select(
        _d.c.id,
        _d.c.channel,
        _d.c.address,
        _d.c.attempts,
        _n.c.id.label("notification_id"),
        _n.c.kind,
        _n.c.case_id,
        _n.c.sandbox,
        _n.c.at,
        _n.c.reason,
        _p.c.language,
    )
    .join(_n, _n.c.id == _d.c.notification_id)
    .outerjoin(_p, _p.c.account_id == _n.c.account_id)
    .where(
        _d.c.status == PENDING,
        _d.c.channel.in_(bindparam("channels", expanding=True)),
        or_(_d.c.next_attempt_at.is_(None), _d.c.next_attempt_at <= bindparam("now")),
    )
    .order_by(_d.c.next_attempt_at, _d.c.id)
    .limit(bindparam("limit", type_=Integer))
    .with_for_update(of=_d, skip_locked=True)
)


def claim_due(
    engine: Engine,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    channels: Sequence[str] = CHANNELS,
) -> list[SendClaim]:
    """Claim up to ``limit`` pending deliveries due at ``now`` on ``channels``."""
    if not channels:
        return []
    with engine.begin() as conn:
        rows = conn.execute(_DUE, {"channels": list(channels), "now": now, "limit": limit}).all()
        until = now + lease
        claims: list[SendClaim] = []
        for row in rows:
            conn.execute(update(_d).where(_d.c.id == row.id).values(next_attempt_at=until))
            claims.append(
                SendClaim(
                    delivery_id=int(row.id),
                    channel=row.channel,
                    address=row.address,
                    attempts=int(row.attempts),
                    lease_until=until,
                    notification_id=int(row.notification_id),
                    kind=row.kind,
                    case_id=row.case_id,
                    sandbox=row.sandbox,
                    at=row.at,
                    reason=Reason.from_dict(row.reason),
                    language="en" if row.language == "en" else "zh",
                )
            )
    return claims


def record_outcome(
    engine: Engine,
    claim: SendClaim,
    *,
    now: datetime,
    error: str | None,
    retry: RetryPolicy = NOTIFY_RETRY,
) -> str:
    """Record one attempt; returns the delivery's status after it ('' if the claim lapsed
    and someone else has the delivery now: the outcome is dropped)."""
    attempts = claim.attempts + 1
    if error is None:
        values: dict[str, Any] = {
            "status": DELIVERED,
            "attempts": attempts,
            "delivered_at": now,
            "next_attempt_at": None,
            "last_error": None,
        }
    elif retry.gives_up(attempts):
        values = {
            "status": DEAD,
            "attempts": attempts,
            "next_attempt_at": None,
            "last_error": error,
        }
    else:
        values = {
            "status": PENDING,
            "attempts": attempts,
            "next_attempt_at": now + retry.delay(attempts, str(claim.delivery_id)),
            "last_error": error,
        }
    with engine.begin() as conn:
        changed = conn.execute(
            update(_d)
            .where(
                and_(
                    _d.c.id == claim.delivery_id,
                    _d.c.status == PENDING,
                    _d.c.attempts == claim.attempts,
                    _d.c.next_attempt_at == claim.lease_until,
                )
            )
            .values(**values)
        ).rowcount
    return str(values["status"]) if changed else ""


def deliveries_of(engine: Engine, notification_id: int) -> list[dict[str, Any]]:
    """The sends of one notification (for operators and tests)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(_d).where(_d.c.notification_id == notification_id).order_by(_d.c.channel)
        )
        return [dict(r._mapping) for r in rows]
