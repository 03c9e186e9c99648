"""The webhook delivery loop: pass outbox events on, and POST due deliveries a few at a time.

It runs in a thread of its own beside the deadline loop (:mod:`aftersales.worker.loop`),
so however slow a subscriber is, payouts do not wait for it.

Inside, an asyncio event loop keeps up to ``concurrency`` requests in flight
(``AFTERSALES_WEBHOOK_CONCURRENCY``, default 4), each limited by a connect, a
read and a total timeout. A slot that frees up is filled at once with the next
due delivery. At most one request per endpoint is in flight, so a subscriber
that hangs holds one slot until its total timeout, while the other slots keep
serving everyone else. Claims are taken only for free slots and start at once,
so their lease need only outlast one request: the total timeout plus a margin.

Database work (fan-out, claims, outcomes) runs in a small thread pool, never on
the event loop. With nothing to send the loop waits on an event — set when a
request finishes or the stop event is set — for at most the poll interval,
then fans the outbox out and looks again. When stopped it sends nothing new,
lets the requests in flight finish (each is bounded by its total timeout) and
records them, then returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import httpx
from sqlalchemy import Engine

from aftersales.adapters.webhooks.records import DEAD, DELIVERED, DeliveryReport
from aftersales.adapters.webhooks.registry import fan_out
from aftersales.adapters.webhooks.sending import PostTimeouts, post_async
from aftersales.adapters.webhooks.store import (
    CLAIM_LEASE_MARGIN_S,
    WEBHOOK_RETRY,
    Claim,
    claim_due,
    record_outcome,
)
from aftersales.domain.retry import RetryPolicy
from aftersales.services.time import Clock
from aftersales.settings import Settings

log = logging.getLogger(__name__)


class DeliveryLoop:
    """Deliver webhooks until ``stop`` is set; :meth:`run` blocks, so give it a thread.

    ``retry`` is the schedule and the number of attempts allowed; plain
    :data:`WEBHOOK_RETRY` never gives up. :meth:`from_settings` takes the
    number from ``AFTERSALES_WEBHOOK_MAX_ATTEMPTS``, as the worker does.
    """

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        timeouts: PostTimeouts,
        retry: RetryPolicy = WEBHOOK_RETRY,
        concurrency: int = 4,
        poll_interval_s: float = 0.5,
        fan_out_batch: int = 500,
        stop: threading.Event | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"webhook concurrency must be at least 1, got {concurrency}")
        if poll_interval_s <= 0:
            raise ValueError(f"the poll interval must be positive, got {poll_interval_s}")
        self.engine = engine
        self.clock = clock
        self.timeouts = timeouts
        self.retry = retry
        self.concurrency = concurrency
        self.poll_interval_s = poll_interval_s
        self.fan_out_batch = fan_out_batch
        self.stop = stop or threading.Event()
        self.total = DeliveryReport()  # counted, outcomes not kept
        self._next_fan_out = 0.0  # time.monotonic() reading
        self._lock = threading.Lock()
        self._nudge: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

    @classmethod
    def from_settings(
        cls, engine: Engine, clock: Clock, settings: Settings, *, stop: threading.Event | None
    ) -> DeliveryLoop:
        return cls(
            engine,
            clock,
            timeouts=PostTimeouts(
                connect_s=settings.webhook_connect_timeout_s,
                read_s=settings.webhook_read_timeout_s,
                total_s=settings.webhook_timeout_s,
            ),
            retry=replace(WEBHOOK_RETRY, max_attempts=settings.webhook_max_attempts),
            concurrency=settings.webhook_concurrency,
            poll_interval_s=settings.worker_poll_interval_s,
            stop=stop,
        )

    @property
    def lease(self) -> timedelta:
        """How long a claimed delivery stays hidden from other workers: one request and a margin."""
        return timedelta(seconds=self.timeouts.total_s + CLAIM_LEASE_MARGIN_S)

    # ------------------------------------------------------------ the thread

    def run(self) -> DeliveryReport:
        log.info(
            "webhook delivery loop started: %d requests at a time, %g s each at most",
            self.concurrency,
            self.timeouts.total_s,
        )
        relay = threading.Thread(target=self._relay_stop, name="webhook-stop-relay", daemon=True)
        relay.start()
        while not self.stop.is_set():
            try:
                asyncio.run(self._serve())
            except Exception:  # a defect, not a subscriber's fault: log it and start over
                log.exception("webhook delivery loop failed; starting it again")
                self.stop.wait(self.poll_interval_s)
        relay.join()
        t = self.total
        log.info(
            "webhook delivery loop stopped: %d delivered, %d to retry, %d dead, %d superseded",
            t.delivered,
            t.retrying,
            t.dead,
            t.superseded,
        )
        return self.total

    def _relay_stop(self) -> None:
        """Pass the (thread-world) stop event on to the event loop's wake-up event."""
        self.stop.wait()
        with self._lock:
            nudge = self._nudge
        if nudge is not None:
            loop, wake = nudge
            with contextlib.suppress(RuntimeError):  # the event loop has closed meanwhile
                loop.call_soon_threadsafe(wake.set)

    # ------------------------------------------------------------ the event loop

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(
            ThreadPoolExecutor(self.concurrency + 1, thread_name_prefix="webhook-db")
        )
        wake = asyncio.Event()
        with self._lock:
            self._nudge = (loop, wake)
        in_flight: dict[asyncio.Task[None], str] = {}  # task -> endpoint id

        def finished(task: asyncio.Task[None]) -> None:
            in_flight.pop(task, None)
            wake.set()

        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        async with httpx.AsyncClient(
            trust_env=False,  # a proxy from the environment must not see subscriber traffic
            timeout=self.timeouts.for_httpx(),
            limits=limits,
            follow_redirects=False,
        ) as client:
            try:
                while True:
                    wake.clear()
                    if self.stop.is_set():  # checked after clear(): a stop nudge is never lost
                        break
                    free = self.concurrency - len(in_flight)
                    try:
                        fanned_out, claims = await asyncio.to_thread(
                            self._fan_out_and_claim, free, frozenset(in_flight.values())
                        )
                    except Exception:
                        log.exception("webhook delivery round failed; trying again shortly")
                        fanned_out, claims = 0, []
                    self.total.fanned_out += fanned_out
                    self.total.claimed += len(claims)
                    for claim in claims:
                        task = asyncio.create_task(self._deliver(client, claim))
                        in_flight[task] = claim.endpoint_id
                        task.add_done_callback(finished)
                    if fanned_out >= self.fan_out_batch:
                        continue  # the outbox has a backlog: keep passing it on
                    # Woken early by a request that finishes (a slot is free) or by stop.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), self.poll_interval_s)
            finally:
                if in_flight:
                    log.info("webhook delivery loop: %d requests still in flight", len(in_flight))
                    await asyncio.wait(list(in_flight))
                with self._lock:
                    self._nudge = None

    def _fan_out_and_claim(self, free: int, busy: frozenset[str]) -> tuple[int, list[Claim]]:
        """Fan the outbox out (once a poll interval, or again at once while it has a
        backlog), then claim up to ``free`` due deliveries, one per endpoint not in ``busy``."""
        now = self.clock.now()
        fanned_out = 0
        if time.monotonic() >= self._next_fan_out:
            with self.engine.begin() as conn:
                fanned_out = fan_out(conn, now=now, batch=self.fan_out_batch)
            backlog = fanned_out >= self.fan_out_batch
            self._next_fan_out = 0.0 if backlog else time.monotonic() + self.poll_interval_s
        if free < 1:
            return fanned_out, []
        claims = claim_due(
            self.engine,
            now=now,
            limit=free,
            lease=lambda _n: self.lease,
            one_per_endpoint=True,
            skip_endpoints=busy,
        )
        return fanned_out, claims

    async def _deliver(self, client: httpx.AsyncClient, claim: Claim) -> None:
        try:
            sent_at = self.clock.now()
            status_code, error = await post_async(
                client, claim, timestamp=int(sent_at.timestamp()), timeouts=self.timeouts
            )
            outcome = await asyncio.to_thread(
                record_outcome,
                self.engine,
                claim,
                now=self.clock.now(),
                status_code=status_code,
                error=error,
                retry=self.retry,
            )
        except Exception:
            log.exception(
                "webhook delivery %d failed unexpectedly; it is tried again when its claim lapses",
                claim.delivery_id,
            )
            return
        self.total.count(outcome)
        if outcome.recorded and outcome.status != DELIVERED:
            log.log(
                logging.WARNING if outcome.status == DEAD else logging.INFO,
                "webhook delivery %d to %s failed (attempt %d): %s; %s",
                claim.delivery_id,
                claim.url,
                outcome.attempts,
                outcome.error,
                "given up" if outcome.status == DEAD else f"next at {outcome.next_attempt_at}",
            )
