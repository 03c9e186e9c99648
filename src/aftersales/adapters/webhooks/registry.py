"""Registered endpoints, and the fan-out of outbox events into one delivery per endpoint."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Integer, Row, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from aftersales.adapters.db.schema import LIVE, outbox, webhook_deliveries, webhook_endpoints
from aftersales.adapters.webhooks.records import DEAD, PENDING, Endpoint, WebhookError

URL_MAX_CHARS = 2000  # webhook_endpoints.url is String(2000)
SANDBOX_MAX_CHARS = 64
EVENT_KIND_MAX_CHARS = 64


def _check_url(url: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise WebhookError("a webhook URL is required")
    url = url.strip()
    if len(url) > URL_MAX_CHARS:
        raise WebhookError(f"webhook URL is {len(url)} characters long; at most {URL_MAX_CHARS}")
    if any(ch.isspace() for ch in url):
        raise WebhookError(f"webhook URL {url!r} contains whitespace")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise WebhookError(f"webhook URL {url!r} is not valid: {exc}") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise WebhookError(
            f"webhook URL {url!r} must start with http:// or https:// "
            f"(got scheme {parts.scheme or 'none'!r})"
        )
    if not parts.hostname:
        raise WebhookError(f"webhook URL {url!r} has no host")
    if parts.fragment:
        raise WebhookError(f"webhook URL {url!r} has a #fragment, which is never sent to a server")
    return url


def _check_kinds(event_kinds: Iterable[str]) -> list[str]:
    # A bare string would be iterated letter by letter: refuse it rather than subscribe to "c", "a"…
    if isinstance(event_kinds, str | bytes):
        raise WebhookError(
            f"event_kinds must be a list of kinds such as ['case.opened'], not the string {event_kinds!r}"
        )
    kinds: set[str] = set()
    for kind in event_kinds:
        if not isinstance(kind, str) or not kind.strip():
            raise WebhookError(f"event kind {kind!r} is not a non-empty string")
        if len(kind) > EVENT_KIND_MAX_CHARS:
            raise WebhookError(f"event kind {kind!r} is longer than {EVENT_KIND_MAX_CHARS}")
        kinds.add(kind.strip())
    return sorted(kinds)


def register_endpoint(
    conn: Connection,
    *,
    url: str,
    event_kinds: Iterable[str] = (),
    sandbox: str = LIVE,
    now: datetime,
) -> tuple[str, str]:
    """Register a receiver; returns ``(endpoint_id, secret)``.

    ``event_kinds`` empty means every kind. Only events of ``sandbox`` reach the
    endpoint. The secret signs every request; keep it, it is not shown again.
    Runs in the caller's transaction.
    """
    checked_url = _check_url(url)
    kinds = _check_kinds(event_kinds)
    if not isinstance(sandbox, str) or not sandbox or len(sandbox) > SANDBOX_MAX_CHARS:
        raise WebhookError(f"sandbox {sandbox!r} must be 1 to {SANDBOX_MAX_CHARS} characters")
    endpoint_id = f"we_{secrets.token_hex(8)}"
    secret = secrets.token_urlsafe(32)
    conn.execute(
        webhook_endpoints.insert().values(
            id=endpoint_id,
            url=checked_url,
            secret=secret,
            event_kinds=kinds,
            sandbox=sandbox,
            active=True,
            created_at=now,
        )
    )
    return endpoint_id, secret


def deactivate_endpoint(conn: Connection, endpoint_id: str) -> None:
    """Stop sending to an endpoint. Its deliveries still pending become ``dead``.

    Deactivating twice is harmless; an unknown id is an error.
    """
    found = conn.execute(
        select(webhook_endpoints.c.id).where(webhook_endpoints.c.id == endpoint_id)
    ).first()
    if found is None:
        raise WebhookError(f"no webhook endpoint with id {endpoint_id!r}")
    conn.execute(
        update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(active=False)
    )
    # Left pending, they would be read (and skipped) by every claim query forever.
    conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.endpoint_id == endpoint_id,
            webhook_deliveries.c.status == PENDING,
        )
        .values(status=DEAD, next_attempt_at=None, last_error="endpoint deactivated")
    )


def _endpoint(row: Row[Any]) -> Endpoint:
    return Endpoint(
        id=row.id,
        url=row.url,
        event_kinds=tuple(row.event_kinds or ()),
        sandbox=row.sandbox,
        active=bool(row.active),
        created_at=row.created_at,
    )


def list_endpoints(
    conn: Connection, *, sandbox: str | None = None, include_inactive: bool = True
) -> list[Endpoint]:
    """Registered endpoints, oldest first; optionally one sandbox's, optionally active ones only."""
    query = select(webhook_endpoints).order_by(
        webhook_endpoints.c.created_at, webhook_endpoints.c.id
    )
    if sandbox is not None:
        query = query.where(webhook_endpoints.c.sandbox == sandbox)
    if not include_inactive:
        query = query.where(webhook_endpoints.c.active.is_(True))
    return [_endpoint(row) for row in conn.execute(query)]


def _insert_ignoring_duplicates(conn: Connection) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(webhook_deliveries).on_conflict_do_nothing(
        index_elements=[webhook_deliveries.c.outbox_id, webhook_deliveries.c.endpoint_id]
    )


# Built once: the delivery loop runs it every poll interval, found or not.
# SQLAlchemy renders nothing for FOR UPDATE on SQLite, so one query serves both.
_UNDISPATCHED = (
    select(outbox.c.id, outbox.c.kind, outbox.c.sandbox)
    .where(outbox.c.dispatched_at.is_(None))
    .order_by(outbox.c.id)
    .limit(bindparam("batch", type_=Integer))
    .with_for_update(skip_locked=True)
)


def fan_out(conn: Connection, *, now: datetime, batch: int = 500) -> int:
    """Turn up to ``batch`` undispatched outbox rows into pending deliveries.

    Rows are taken in id order. On PostgreSQL they are locked with ``FOR UPDATE
    SKIP LOCKED``, so concurrent callers split the backlog instead of sharing
    it; on SQLite the engine's ``BEGIN IMMEDIATE`` already serialises writers.
    Each row gets one delivery per active endpoint of its sandbox that wants its
    kind (none is fine) and is marked dispatched. Runs in the caller's
    transaction; returns the number of outbox rows dispatched.
    """
    if batch < 1:
        raise WebhookError(f"fan-out batch must be at least 1, got {batch}")
    events = conn.execute(_UNDISPATCHED, {"batch": batch}).all()
    if not events:
        return 0
    sandboxes = {e.sandbox for e in events}
    endpoints = [
        _endpoint(row)
        for row in conn.execute(
            select(webhook_endpoints).where(
                webhook_endpoints.c.active.is_(True),
                webhook_endpoints.c.sandbox.in_(sorted(sandboxes)),
            )
        )
    ]
    rows = [
        {
            "outbox_id": e.id,
            "endpoint_id": ep.id,
            "idempotency_key": f"{e.id}:{ep.id}",
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
        }
        for e in events
        for ep in endpoints
        if ep.sandbox == e.sandbox and ep.wants(e.kind)
    ]
    if rows:
        conn.execute(_insert_ignoring_duplicates(conn), rows)
    conn.execute(
        update(outbox)
        .where(outbox.c.id.in_([e.id for e in events]), outbox.c.dispatched_at.is_(None))
        .values(dispatched_at=now)
    )
    return len(events)
