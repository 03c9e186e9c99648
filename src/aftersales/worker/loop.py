"""The worker loop: handle what falls due, sleep until the next deadline, stop cleanly.

Each round claims due deadlines for live cases and for every sandbox that has
some due on its own clock (one query finds those), then delivers pending
webhooks. When a round finds less than a full batch, the worker sleeps until the
earliest armed deadline or the poll interval, whichever is sooner — a single
index lookup, whatever the number of open cases. A stop request (SIGTERM/SIGINT)
lets the current round finish and then ends the loop.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from aftersales.bootstrap import Container
from aftersales.services.deadlines import TickReport, clocks_with_due, next_due, tick
from aftersales.services.ports import LIVE

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        container: Container,
        *,
        worker_id: str | None = None,
        stop: threading.Event | None = None,
        on_round: Callable[[TickReport], None] | None = None,
        extra_round: Callable[[datetime], object] | None = None,
    ) -> None:
        self.container = container
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.stop = stop or threading.Event()
        self.on_round = on_round
        self.extra_round = extra_round
        self.total = TickReport()
        self.closers: list[Callable[[], None]] = []

    def run_once(self) -> TickReport:
        settings = self.container.settings
        services = self.container.services
        lease = timedelta(seconds=settings.worker_lease_s)
        now = self.container.clock.now()
        report = tick(
            services,
            sandbox=LIVE,
            now=now,
            worker_id=self.worker_id,
            limit=settings.worker_batch_size,
            lease=lease,
        )
        for sandbox, sandbox_now in clocks_with_due(services, real_now=now):
            report += tick(
                services,
                sandbox=sandbox,
                now=sandbox_now,
                worker_id=self.worker_id,
                limit=settings.worker_batch_size,
                lease=lease,
                real_now=now,
            )
        if self.extra_round is not None:
            self.extra_round(now)
        self.total += report
        if self.on_round is not None:
            self.on_round(report)
        return report

    def seconds_until_next(self) -> float:
        poll = self.container.settings.worker_poll_interval_s
        now = self.container.clock.now()
        due = next_due(self.container.services, sandbox=LIVE, real_now=now)
        if due is None:
            return poll
        wait = (due - now).total_seconds()
        return max(0.0, min(poll, wait))

    def run(self) -> TickReport:
        log.info("worker %s started", self.worker_id)
        while not self.stop.is_set():
            try:
                report = self.run_once()
            except Exception:  # a database hiccup must not kill the worker; try again shortly
                log.exception("worker round failed; retrying")
                self.stop.wait(self.container.settings.worker_poll_interval_s)
                continue
            if report.claimed >= self.container.settings.worker_batch_size:
                continue  # more is due right now
            self.stop.wait(self.seconds_until_next())
        log.info("worker %s stopped: %s", self.worker_id, self.total)
        for close in self.closers:
            close()
        return self.total


def build_worker(
    container: Container, *, worker_id: str | None = None, stop: threading.Event | None = None
) -> Worker:
    """A worker that also delivers webhooks from the outbox after each round."""
    import httpx

    from aftersales.adapters.webhooks import WebhookDispatcher

    settings = container.settings
    client = httpx.Client(
        trust_env=False, timeout=settings.webhook_timeout_s, follow_redirects=False
    )
    dispatcher = WebhookDispatcher.from_settings(container.engine, client, settings)
    worker = Worker(container, worker_id=worker_id, stop=stop, extra_round=dispatcher.tick)
    worker.closers.append(client.close)
    return worker
