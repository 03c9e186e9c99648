"""Sending deliveries over HTTP: one request per claim, its outcome as a short text.

Two ways to send. :func:`post` (blocking, ``httpx.Client``) serves
:func:`deliver_due` and :class:`WebhookDispatcher`, which send one request after
another. :func:`post_async` (``httpx.AsyncClient``) serves the worker's delivery
loop (:mod:`aftersales.worker.deliveries`), which keeps several requests in
flight; it also enforces a *total* time limit per request, which a blocking
client cannot: a receiver that trickles its answer a byte at a time keeps
resetting a read timeout, never a total one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import Engine

from aftersales.adapters.webhooks.records import DeliveryReport, WebhookError
from aftersales.adapters.webhooks.registry import fan_out
from aftersales.adapters.webhooks.signing import SIGNATURE_HEADER, sign
from aftersales.adapters.webhooks.store import (
    CLAIM_LEASE_MARGIN_S,
    WEBHOOK_RETRY,
    Claim,
    claim_due,
    record_outcome,
)

if TYPE_CHECKING:
    from aftersales.settings import Settings

EVENT_HEADER = "X-Aftersales-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "aftersales-webhooks/1"
# deliver_due sends a batch one request after another, and connect, write and
# read can each take up to the timeout: its lease allows that much per request.
CLAIM_LEASE_TIMEOUTS_PER_REQUEST = 3
ERROR_TEXT_MAX_CHARS = 500
RESPONSE_SNIPPET_BYTES = 200


@dataclass(frozen=True)
class PostTimeouts:
    """Time limits of one request: to connect, between bytes read or written, and in all."""

    connect_s: float
    read_s: float
    total_s: float

    def __post_init__(self) -> None:
        for name in ("connect_s", "read_s", "total_s"):
            if not getattr(self, name) > 0:
                raise WebhookError(f"webhook {name} timeout must be positive")

    def for_httpx(self) -> httpx.Timeout:
        # Waiting for a pooled connection is bounded by the total; so is everything.
        return httpx.Timeout(
            connect=self.connect_s, read=self.read_s, write=self.read_s, pool=self.total_s
        )

    def describe(self, exc: httpx.TimeoutException) -> str:
        limit = self.connect_s if isinstance(exc, httpx.ConnectTimeout) else self.read_s
        if isinstance(exc, httpx.PoolTimeout):
            limit = self.total_s
        return f"timeout after {limit:g} s ({type(exc).__name__})"


def _headers(claim: Claim, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        IDEMPOTENCY_HEADER: claim.idempotency_key,
        EVENT_HEADER: claim.kind,
        SIGNATURE_HEADER: sign(claim.secret, claim.body, timestamp=timestamp),
    }


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_TEXT_MAX_CHARS else text[: ERROR_TEXT_MAX_CHARS - 1] + "…"


def _refusal(code: int, reason: str | None, snippet: bytes) -> str:
    detail = snippet[:RESPONSE_SNIPPET_BYTES].decode("utf-8", "replace").strip()
    return _short(f"HTTP {code} {reason or ''}" + (f": {detail}" if detail else ""))


def _transport_failure(exc: Exception) -> str:
    if isinstance(exc, httpx.TransportError):
        return _short(f"connection error: {type(exc).__name__}: {exc}")
    return _short(f"request failed: {type(exc).__name__}: {exc}")


def post(
    client: httpx.Client, claim: Claim, *, timestamp: int, timeout_s: float
) -> tuple[int | None, str | None]:
    """POST one delivery: ``(status_code, None)`` on 2xx, else ``(status_code or None, error)``."""
    try:
        # Streamed, so a receiver answering with a huge body cannot make us read it all.
        with client.stream(
            "POST",
            claim.url,
            content=claim.body,
            headers=_headers(claim, timestamp),
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
            return code, _refusal(code, response.reason_phrase, snippet)
    except httpx.TimeoutException as exc:
        return None, _short(f"timeout after {timeout_s:g} s ({type(exc).__name__})")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return None, _transport_failure(exc)


async def post_async(
    client: httpx.AsyncClient, claim: Claim, *, timestamp: int, timeouts: PostTimeouts
) -> tuple[int | None, str | None]:
    """:func:`post` for an event loop; the request is abandoned after ``timeouts.total_s``."""
    try:
        async with (
            asyncio.timeout(timeouts.total_s),
            client.stream(
                "POST",
                claim.url,
                content=claim.body,
                headers=_headers(claim, timestamp),
                timeout=timeouts.for_httpx(),
                follow_redirects=False,
            ) as response,
        ):
            code = response.status_code
            if 200 <= code < 300:
                return code, None
            snippet = b""
            async for chunk in response.aiter_bytes():
                snippet += chunk
                if len(snippet) >= RESPONSE_SNIPPET_BYTES:
                    break
            return code, _refusal(code, response.reason_phrase, snippet)
    except TimeoutError:  # asyncio.timeout: the total ran out, whatever the phase
        return None, _short(f"timeout after {timeouts.total_s:g} s (no complete answer in time)")
    except httpx.TimeoutException as exc:
        return None, _short(timeouts.describe(exc))
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return None, _transport_failure(exc)


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

    Requests go one after another; no transaction is open during a request.
    2xx is ``delivered``; any other answer, a timeout or a connection error
    counts an attempt and schedules the next one after :func:`retry_delay`, or
    makes the delivery ``dead`` once ``max_attempts`` attempts have failed.
    Redirects are not followed (a 3xx is a failure: register the final URL).

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
    retry = replace(WEBHOOK_RETRY, max_attempts=max_attempts)
    report = DeliveryReport()
    started = time.monotonic()

    def lease(n: int) -> timedelta:
        # The requests run one after another, so the lease covers the whole batch.
        per_request = CLAIM_LEASE_TIMEOUTS_PER_REQUEST * timeout_s
        return timedelta(seconds=CLAIM_LEASE_MARGIN_S + n * per_request)

    claims = claim_due(engine, now=now, limit=batch, lease=lease)
    report.claimed = len(claims)
    for claim in claims:
        timestamp = int(now.timestamp() + (time.monotonic() - started))
        status_code, error = post(client, claim, timestamp=timestamp, timeout_s=timeout_s)
        report.add(
            record_outcome(
                engine, claim, now=now, status_code=status_code, error=error, retry=retry
            )
        )
    return report


class WebhookDispatcher:
    """One round of fan-out then sequential delivery, at a ``now`` given by the caller.

    Handy in scripts and tests. The worker does not use it: it runs the
    concurrent :class:`aftersales.worker.deliveries.DeliveryLoop`. Several
    dispatchers (threads or processes) may tick at once.
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
