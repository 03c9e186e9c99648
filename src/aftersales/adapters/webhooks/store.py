"""The delivery store: claiming due deliveries, recording outcomes, the log, redelivery.

A claim is a short transaction that pushes the chosen deliveries'
``next_attempt_at`` forward by a lease, so no other worker takes them while the
request is under way. An outcome is recorded with a compare-and-set on the
claim as taken: if the lease ran out and another worker took the delivery over
(or someone changed it), the late outcome is dropped and reported as such.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Integer, Row, and_, bindparam, select, update

from aftersales.adapters.db.schema import outbox, webhook_deliveries, webhook_endpoints
from aftersales.adapters.webhooks.records import (
    DEAD,
    DELIVERED,
    PENDING,
    AttemptOutcome,
    DeliveryRecord,
    WebhookError,
)
from aftersales.domain.retry import RetryPolicy

# 10 s, 20 s, 40 s … doubling up to an hour, plus up to 20 % jitter from the
# idempotency key, so the deliveries of an endpoint that was down do not all
# come back in the same second. How many attempts in all is a setting.
WEBHOOK_RETRY = RetryPolicy(base_s=10, factor=2, cap_s=3600, jitter=0.2)
# A claim is hidden from other workers for the time its requests may take plus this.
CLAIM_LEASE_MARGIN_S = 60
# With one delivery per endpoint in a claim, endpoints are looked for this many due rows at a time.
CLAIM_WINDOW = 32


def retry_delay(attempts: int, idempotency_key: str) -> timedelta:
    """How long a delivery waits after its ``attempts``-th failed attempt (:data:`WEBHOOK_RETRY`)."""
    return WEBHOOK_RETRY.delay(attempts, idempotency_key)


def _iso_utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_body(
    *,
    outbox_id: int,
    kind: str,
    at: datetime,
    sandbox: str,
    case_id: str | None,
    payload: Mapping[str, Any],
) -> bytes:
    """The JSON body POSTed for one outbox event (UTF-8, compact, keys in a fixed order)."""
    document = {
        "id": outbox_id,
        "kind": kind,
        "at": _iso_utc(at),
        "sandbox": sandbox,
        "case_id": case_id,
        "data": dict(payload),
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Claim:
    """A delivery taken for one attempt, with everything needed to send it."""

    delivery_id: int
    endpoint_id: str
    idempotency_key: str
    attempts: int
    lease_until: datetime
    url: str
    secret: str
    kind: str
    body: bytes


def _due_query(*, skipping: bool) -> Any:
    d, e, o = webhook_deliveries, webhook_endpoints, outbox
    query = (
        select(
            d.c.id,
            d.c.endpoint_id,
            d.c.idempotency_key,
            d.c.attempts,
            e.c.url,
            e.c.secret,
            o.c.id.label("outbox_id"),
            o.c.kind,
            o.c.at,
            o.c.sandbox,
            o.c.case_id,
            o.c.payload,
        )
        .join(e, e.c.id == d.c.endpoint_id)
        .join(o, o.c.id == d.c.outbox_id)
        .where(
            d.c.status == PENDING,
            d.c.next_attempt_at <= bindparam("now"),
            e.c.active.is_(True),
        )
    )
    if skipping:
        query = query.where(d.c.endpoint_id.not_in(bindparam("skip", expanding=True)))
    # Lock only the delivery rows: endpoints and events are shared by many claims.
    # (SQLAlchemy renders nothing for FOR UPDATE on SQLite, whose writers are serialised.)
    return (
        query.order_by(d.c.next_attempt_at, d.c.id)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True, of=d)
    )


# Built once, with the values bound at each run: the delivery loop asks every poll interval.
_DUE = {False: _due_query(skipping=False), True: _due_query(skipping=True)}


def _due(conn: Connection, *, now: datetime, limit: int, skip: Collection[str]) -> list[Row[Any]]:
    params: dict[str, Any] = {"now": now, "limit": limit}
    if skip:
        params["skip"] = sorted(skip)
    return list(conn.execute(_DUE[bool(skip)], params))


def _one_per_endpoint(
    conn: Connection, *, now: datetime, limit: int, skip: Collection[str]
) -> list[Row[Any]]:
    """The earliest due delivery of up to ``limit`` endpoints, none of them in ``skip``.

    Due rows are read a window at a time, leaving out the endpoints already
    chosen, so an endpoint with a long backlog cannot hide the others behind it.
    """
    chosen: list[Row[Any]] = []
    taken = set(skip)
    while len(chosen) < limit:
        window = _due(conn, now=now, limit=CLAIM_WINDOW, skip=taken)
        for row in window:
            if row.endpoint_id not in taken and len(chosen) < limit:
                taken.add(row.endpoint_id)
                chosen.append(row)
        if len(window) < CLAIM_WINDOW:
            break
    return chosen


def claim_due(
    engine: Engine,
    *,
    now: datetime,
    limit: int,
    lease: Callable[[int], timedelta],
    one_per_endpoint: bool = False,
    skip_endpoints: Collection[str] = (),
) -> list[Claim]:
    """Claim up to ``limit`` pending deliveries due at ``now``, earliest first.

    ``lease(n)`` is how long ``n`` claimed deliveries stay hidden from other
    workers. With ``one_per_endpoint`` at most one delivery of each endpoint is
    taken; endpoints in ``skip_endpoints`` (those the caller is still sending
    to, say) are left out altogether. On PostgreSQL the rows are locked with
    ``FOR UPDATE SKIP LOCKED``, so concurrent claims take different rows.
    """
    d = webhook_deliveries
    with engine.begin() as conn:
        if one_per_endpoint:
            rows = _one_per_endpoint(conn, now=now, limit=limit, skip=skip_endpoints)
        else:
            rows = _due(conn, now=now, limit=limit, skip=skip_endpoints)
        if not rows:
            return []
        lease_until = now + lease(len(rows))
        conn.execute(
            update(d).where(d.c.id.in_([r.id for r in rows])).values(next_attempt_at=lease_until)
        )
    return [_claim(r, lease_until) for r in rows]


def _claim(row: Row[Any], lease_until: datetime) -> Claim:
    return Claim(
        delivery_id=row.id,
        endpoint_id=row.endpoint_id,
        idempotency_key=row.idempotency_key,
        attempts=row.attempts,
        lease_until=lease_until,
        url=row.url,
        secret=row.secret,
        kind=row.kind,
        body=event_body(
            outbox_id=row.outbox_id,
            kind=row.kind,
            at=row.at,
            sandbox=row.sandbox,
            case_id=row.case_id,
            payload=row.payload or {},
        ),
    )


def record_outcome(
    engine: Engine,
    claim: Claim,
    *,
    now: datetime,
    status_code: int | None,
    error: str | None,
    retry: RetryPolicy,
) -> AttemptOutcome:
    """Record one attempt: delivered, retried after ``retry.delay``, or dead once ``retry`` gives up.

    Written only if the delivery is still as it was claimed; otherwise the
    outcome comes back with ``recorded=False`` and nothing changes.
    """
    attempts = claim.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_status_code": status_code}
    next_at: datetime | None
    if error is None:
        status, next_at = DELIVERED, None
        values.update(delivered_at=now, last_error=None)
    elif retry.gives_up(attempts):
        status, next_at = DEAD, None
        values.update(last_error=error)
    else:
        status = PENDING
        next_at = now + retry.delay(attempts, claim.idempotency_key)
        values.update(last_error=error)
    values.update(status=status, next_attempt_at=next_at)
    d = webhook_deliveries
    with engine.begin() as conn:
        result = conn.execute(
            update(d)
            .where(
                d.c.id == claim.delivery_id,
                d.c.status == PENDING,
                d.c.attempts == claim.attempts,
                d.c.next_attempt_at == claim.lease_until,
            )
            .values(**values)
        )
        recorded = result.rowcount == 1
    return AttemptOutcome(
        delivery_id=claim.delivery_id,
        idempotency_key=claim.idempotency_key,
        status=status,
        attempts=attempts,
        status_code=status_code,
        error=error,
        next_attempt_at=next_at,
        recorded=recorded,
    )


def redeliver(conn: Connection, delivery_id: int, now: datetime) -> None:
    """Give a ``dead`` delivery a fresh retry schedule, first attempt due at ``now``.

    The attempt count starts again from zero; the last status code and error
    stay visible until the next attempt replaces them. Runs in the caller's
    transaction.
    """
    d, e = webhook_deliveries, webhook_endpoints
    row = conn.execute(
        select(d.c.status, e.c.active)
        .join(e, e.c.id == d.c.endpoint_id)
        .where(d.c.id == delivery_id)
    ).first()
    if row is None:
        raise WebhookError(f"no webhook delivery with id {delivery_id}")
    if not row.active:
        raise WebhookError(
            f"delivery {delivery_id} belongs to a deactivated endpoint; register the URL again"
        )
    if row.status != DEAD:
        raise WebhookError(
            f"delivery {delivery_id} is {row.status}; only a dead delivery can be redelivered"
        )
    conn.execute(
        update(d)
        .where(d.c.id == delivery_id, d.c.status == DEAD)
        .values(status=PENDING, attempts=0, next_attempt_at=now)
    )


def delivery_log(
    conn: Connection,
    endpoint_id: str | None = None,
    limit: int = 100,
    *,
    status: str | None = None,
) -> list[DeliveryRecord]:
    """The most recent deliveries first, optionally of one endpoint and/or one status."""
    d, e, o = webhook_deliveries, webhook_endpoints, outbox
    query = (
        select(
            d,
            e.c.url,
            o.c.kind,
            o.c.sandbox,
            o.c.case_id,
            o.c.at.label("event_at"),
        )
        .join(e, e.c.id == d.c.endpoint_id)
        .join(o, o.c.id == d.c.outbox_id)
        .order_by(d.c.id.desc())
        .limit(max(0, limit))
    )
    conditions = []
    if endpoint_id is not None:
        conditions.append(d.c.endpoint_id == endpoint_id)
    if status is not None:
        conditions.append(d.c.status == status)
    if conditions:
        query = query.where(and_(*conditions))
    return [_record(r) for r in conn.execute(query)]


def _record(r: Row[Any]) -> DeliveryRecord:
    return DeliveryRecord(
        id=r.id,
        outbox_id=r.outbox_id,
        endpoint_id=r.endpoint_id,
        url=r.url,
        kind=r.kind,
        sandbox=r.sandbox,
        case_id=r.case_id,
        event_at=r.event_at,
        idempotency_key=r.idempotency_key,
        status=r.status,
        attempts=r.attempts,
        next_attempt_at=r.next_attempt_at,
        last_status_code=r.last_status_code,
        last_error=r.last_error,
        delivered_at=r.delivered_at,
    )
