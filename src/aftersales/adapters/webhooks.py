"""Webhooks: outbox events pushed to registered HTTP endpoints, signed and retried.

The outbox is written in the same transaction as every case change. Getting its
rows to subscribers happens in two steps, each safe to run in several workers
at once:

1. :func:`fan_out` turns every undispatched outbox row into one
   ``webhook_deliveries`` row per matching active endpoint of the same sandbox,
   and marks the outbox row dispatched — all in the caller's transaction. The
   unique ``(outbox_id, endpoint_id)`` pair means an event reaches an endpoint
   at most once, however often fan-out runs.
2. :func:`deliver_due` claims the deliveries that are due (a short transaction
   that pushes their ``next_attempt_at`` forward by a lease, so no other worker
   takes them meanwhile), POSTs them with no transaction open, and records each
   outcome in its own short transaction. Failures are retried with exponential
   backoff; after ``max_attempts`` a delivery is ``dead`` until someone calls
   :func:`redeliver`.

Delivery is *at least once*: a worker that dies after the POST but before the
record, or a request slower than its lease, means the receiver may see the same
event twice. Each request carries the same ``Idempotency-Key`` on every attempt
(``"<outbox id>:<endpoint id>"``) so receivers can drop repeats. Recording is a
compare-and-set on ``(status, attempts, next_attempt_at)`` as claimed, so a
repeat never counts twice in the log.

Requests are signed: ``X-Aftersales-Signature: t=<unix seconds>,v1=<hex>``
where ``v1`` is HMAC-SHA256 over ``f"{t}.{body}"`` keyed with the endpoint's
secret; :func:`verify_signature` is the receiver's half. See ``docs/webhooks.md``.

Every instant is an argument (``now``); nothing here reads the wall clock.

Errors::

    DomainError
    └── WebhookError     an endpoint or delivery request cannot be honoured
                         (bad URL, unknown id, wrong state for a redelivery)

Transport failures (timeouts, refused connections, non-2xx answers) are not
raised: they are outcomes, recorded on the delivery and reported in
:class:`DeliveryReport`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Connection, Engine, Row, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from aftersales.adapters.db.schema import LIVE, outbox, webhook_deliveries, webhook_endpoints
from aftersales.errors import InvalidRequest

if TYPE_CHECKING:
    from aftersales.settings import Settings

__all__ = [
    "DEAD",
    "DELIVERED",
    "PENDING",
    "AttemptOutcome",
    "DeliveryRecord",
    "DeliveryReport",
    "Endpoint",
    "WebhookDispatcher",
    "WebhookError",
    "deactivate_endpoint",
    "deliver_due",
    "delivery_log",
    "event_body",
    "fan_out",
    "list_endpoints",
    "redeliver",
    "register_endpoint",
    "retry_delay",
    "sign",
    "verify_signature",
]

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"

SIGNATURE_HEADER = "X-Aftersales-Signature"
EVENT_HEADER = "X-Aftersales-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "aftersales-webhooks/1"

RETRY_BASE_S = 10
RETRY_CAP_S = 3600
# Jitter adds up to this share of the base delay, so that the deliveries of an
# endpoint that was down do not all come back in the same second.
RETRY_JITTER_SHARE = 0.2
SIGNATURE_TOLERANCE_S = 300
# A claimed batch is hidden from other workers for this long, plus a generous
# allowance per request (connect, write and read can each take up to the timeout).
CLAIM_LEASE_MARGIN_S = 60
CLAIM_LEASE_TIMEOUTS_PER_REQUEST = 3
ERROR_TEXT_MAX_CHARS = 500
RESPONSE_SNIPPET_BYTES = 200
URL_MAX_CHARS = 2000  # webhook_endpoints.url is String(2000)
SANDBOX_MAX_CHARS = 64
EVENT_KIND_MAX_CHARS = 64


class WebhookError(InvalidRequest):
    """A webhook endpoint or delivery request cannot be honoured as asked."""


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Endpoint:
    """A registered receiver. The secret is not part of it: it is shown once, at registration."""

    id: str
    url: str
    event_kinds: tuple[str, ...]  # empty: every kind
    sandbox: str
    active: bool
    created_at: datetime

    def wants(self, kind: str) -> bool:
        return not self.event_kinds or kind in self.event_kinds


@dataclass(frozen=True)
class DeliveryRecord:
    """One line of the delivery log: an event, an endpoint, and how delivery is going."""

    id: int
    outbox_id: int
    endpoint_id: str
    url: str
    kind: str
    sandbox: str
    case_id: str | None
    event_at: datetime
    idempotency_key: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class AttemptOutcome:
    """What one POST came to. ``recorded`` is False when another worker got there first."""

    delivery_id: int
    idempotency_key: str
    status: str  # the delivery's status after this attempt
    attempts: int
    status_code: int | None
    error: str | None
    next_attempt_at: datetime | None
    recorded: bool = True


@dataclass
class DeliveryReport:
    """What one dispatcher round did."""

    fanned_out: int = 0  # outbox rows marked dispatched
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    superseded: int = 0  # outcomes not recorded: the claim had been taken over meanwhile
    outcomes: list[AttemptOutcome] = field(default_factory=list)

    def add(self, outcome: AttemptOutcome) -> None:
        self.outcomes.append(outcome)
        if not outcome.recorded:
            self.superseded += 1
        elif outcome.status == DELIVERED:
            self.delivered += 1
        elif outcome.status == DEAD:
            self.dead += 1
        else:
            self.retrying += 1


# ---------------------------------------------------------------- endpoint registry


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


# ---------------------------------------------------------------- fan-out


def _insert_ignoring_duplicates(conn: Connection) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(webhook_deliveries).on_conflict_do_nothing(
        index_elements=[webhook_deliveries.c.outbox_id, webhook_deliveries.c.endpoint_id]
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
    # SQLAlchemy renders nothing for FOR UPDATE on SQLite, so one query serves both.
    events = conn.execute(
        select(outbox.c.id, outbox.c.kind, outbox.c.sandbox)
        .where(outbox.c.dispatched_at.is_(None))
        .order_by(outbox.c.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
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


# ---------------------------------------------------------------- signing


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes | str, *, timestamp: int) -> str:
    """The ``X-Aftersales-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, _as_bytes(body))}"


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes | str,
    *,
    now: datetime,
    tolerance_s: int = SIGNATURE_TOLERANCE_S,
) -> bool:
    """True when ``header`` signs exactly ``body`` with ``secret`` within ``tolerance_s`` of ``now``.

    ``body`` must be the raw request body as received (not re-serialised JSON).
    Several ``v1=`` values are accepted (any one matching is enough), which
    leaves room for rotating secrets. A malformed header is simply False.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    if not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return False
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs(now.timestamp() - timestamp) > tolerance_s:
        return False  # too old (a replay) or from a clock far ahead
    expected = _mac(secret, timestamp, _as_bytes(body))
    # Check every candidate, so timing does not reveal which one matched.
    matches = [hmac.compare_digest(expected, c) for c in candidates]
    return any(matches)


# ---------------------------------------------------------------- delivery


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


def retry_delay(attempts: int, idempotency_key: str) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt.

    10 s, 20 s, 40 s … doubling up to one hour, plus up to 20 % jitter. The
    jitter is a hash of the key and the attempt number: the same delivery
    always waits the same, different deliveries spread out.
    """
    n = max(1, attempts)
    base_s = min(RETRY_CAP_S, RETRY_BASE_S * 2 ** min(n - 1, 32))
    digest = hashlib.sha256(f"{idempotency_key}#{n}".encode()).digest()
    share = int.from_bytes(digest[:8], "big") / 2**64  # in [0, 1)
    jitter_ms = int(base_s * RETRY_JITTER_SHARE * share * 1000)
    return timedelta(seconds=base_s, milliseconds=jitter_ms)


@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    idempotency_key: str
    attempts: int
    lease_until: datetime
    url: str
    secret: str
    kind: str
    body: bytes


def _claim(engine: Engine, *, now: datetime, batch: int, timeout_s: float) -> list[_Claim]:
    d, e, o = webhook_deliveries, webhook_endpoints, outbox
    with engine.begin() as conn:
        rows = conn.execute(
            select(
                d.c.id,
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
            .where(d.c.status == PENDING, d.c.next_attempt_at <= now, e.c.active.is_(True))
            .order_by(d.c.next_attempt_at, d.c.id)
            .limit(batch)
            # Lock only the delivery rows: endpoints and events are shared by many claims.
            .with_for_update(skip_locked=True, of=d)
        ).all()
        if not rows:
            return []
        # Requests run one after another, so the lease must cover the whole batch.
        lease_s = CLAIM_LEASE_MARGIN_S + len(rows) * CLAIM_LEASE_TIMEOUTS_PER_REQUEST * timeout_s
        lease_until = now + timedelta(seconds=lease_s)
        conn.execute(
            update(d).where(d.c.id.in_([r.id for r in rows])).values(next_attempt_at=lease_until)
        )
    return [
        _Claim(
            delivery_id=r.id,
            idempotency_key=r.idempotency_key,
            attempts=r.attempts,
            lease_until=lease_until,
            url=r.url,
            secret=r.secret,
            kind=r.kind,
            body=event_body(
                outbox_id=r.outbox_id,
                kind=r.kind,
                at=r.at,
                sandbox=r.sandbox,
                case_id=r.case_id,
                payload=r.payload or {},
            ),
        )
        for r in rows
    ]


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_TEXT_MAX_CHARS else text[: ERROR_TEXT_MAX_CHARS - 1] + "…"


def _post(
    client: httpx.Client, claim: _Claim, *, timestamp: int, timeout_s: float
) -> tuple[int | None, str | None]:
    """POST one delivery: ``(status_code, None)`` on 2xx, else ``(status_code or None, error)``."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        IDEMPOTENCY_HEADER: claim.idempotency_key,
        EVENT_HEADER: claim.kind,
        SIGNATURE_HEADER: sign(claim.secret, claim.body, timestamp=timestamp),
    }
    try:
        # Streamed, so a receiver answering with a huge body cannot make us read it all.
        with client.stream(
            "POST",
            claim.url,
            content=claim.body,
            headers=headers,
            timeout=timeout_s,
            follow_redirects=False,
        ) as response:
            code = response.status_code
            if 200 <= code < 300:
                return code, None
            snippet = b""
            for chunk in response.iter_bytes():
                snippet += chunk
                if len(snippet) >= RESPONSE_SNIPPET_BYTES:
                    break
            detail = snippet[:RESPONSE_SNIPPET_BYTES].decode("utf-8", "replace").strip()
            reason = response.reason_phrase or ""
            return code, _short(f"HTTP {code} {reason}" + (f": {detail}" if detail else ""))
    except httpx.TimeoutException as exc:
        return None, _short(f"timeout after {timeout_s:g} s ({type(exc).__name__})")
    except httpx.TransportError as exc:
        return None, _short(f"connection error: {type(exc).__name__}: {exc}")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return None, _short(f"request failed: {type(exc).__name__}: {exc}")


def _record(
    engine: Engine,
    claim: _Claim,
    *,
    now: datetime,
    status_code: int | None,
    error: str | None,
    max_attempts: int,
) -> AttemptOutcome:
    attempts = claim.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_status_code": status_code}
    next_at: datetime | None
    if error is None:
        status, next_at = DELIVERED, None
        values.update(delivered_at=now, last_error=None)
    elif attempts >= max_attempts:
        status, next_at = DEAD, None
        values.update(last_error=error)
    else:
        status = PENDING
        next_at = now + retry_delay(attempts, claim.idempotency_key)
        values.update(last_error=error)
    values.update(status=status, next_attempt_at=next_at)
    d = webhook_deliveries
    with engine.begin() as conn:
        # Compare-and-set on the claim: if the lease ran out and another worker
        # took the delivery over (or someone changed it), its record wins.
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


def deliver_due(
    engine: Engine,
    *,
    now: datetime,
    client: httpx.Client,
    max_attempts: int,
    timeout_s: float,
    batch: int = 100,
) -> DeliveryReport:
    """Claim up to ``batch`` pending deliveries due at ``now``, POST them, record the outcomes.

    No transaction is open during a request. 2xx is ``delivered``; any other
    answer, a timeout or a connection error counts an attempt and schedules the
    next one after :func:`retry_delay`, or makes the delivery ``dead`` once
    ``max_attempts`` attempts have failed. Redirects are not followed (a 3xx is
    a failure: register the final URL).

    The signature timestamp is ``now`` plus the time this call has spent so far
    (a monotonic measure, not the wall clock), so the last request of a slow
    batch is not signed minutes in the past.
    """
    if max_attempts < 1:
        raise WebhookError(f"max_attempts must be at least 1, got {max_attempts}")
    if timeout_s <= 0:
        raise WebhookError(f"timeout_s must be positive, got {timeout_s}")
    if batch < 1:
        raise WebhookError(f"delivery batch must be at least 1, got {batch}")
    report = DeliveryReport()
    started = time.monotonic()
    claims = _claim(engine, now=now, batch=batch, timeout_s=timeout_s)
    report.claimed = len(claims)
    for claim in claims:
        timestamp = int(now.timestamp() + (time.monotonic() - started))
        status_code, error = _post(client, claim, timestamp=timestamp, timeout_s=timeout_s)
        report.add(
            _record(
                engine,
                claim,
                now=now,
                status_code=status_code,
                error=error,
                max_attempts=max_attempts,
            )
        )
    return report


# ---------------------------------------------------------------- operations


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
    return [
        DeliveryRecord(
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
        for r in conn.execute(query)
    ]


class WebhookDispatcher:
    """One dispatcher round: fan the outbox out, then deliver what is due.

    Built once by the bootstrap and ticked by the worker loop with the current
    time. Several dispatchers (threads or processes) may tick at once.
    """

    def __init__(
        self,
        engine: Engine,
        client: httpx.Client,
        *,
        max_attempts: int,
        timeout_s: float,
        fan_out_batch: int = 500,
        delivery_batch: int = 100,
    ) -> None:
        self.engine = engine
        self.client = client
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self.fan_out_batch = fan_out_batch
        self.delivery_batch = delivery_batch

    @classmethod
    def from_settings(
        cls, engine: Engine, client: httpx.Client, settings: Settings, **overrides: Any
    ) -> WebhookDispatcher:
        """Take ``webhook_max_attempts`` and ``webhook_timeout_s`` from :class:`Settings`."""
        kwargs: dict[str, Any] = {
            "max_attempts": settings.webhook_max_attempts,
            "timeout_s": settings.webhook_timeout_s,
            **overrides,
        }
        return cls(engine, client, **kwargs)

    def tick(self, now: datetime) -> DeliveryReport:
        with self.engine.begin() as conn:
            fanned_out = fan_out(conn, now=now, batch=self.fan_out_batch)
        report = deliver_due(
            self.engine,
            now=now,
            client=self.client,
            max_attempts=self.max_attempts,
            timeout_s=self.timeout_s,
            batch=self.delivery_batch,
        )
        report.fanned_out = fanned_out
        return report
