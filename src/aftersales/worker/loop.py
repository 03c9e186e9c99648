"""The worker: the deadline loop, and the webhook delivery loop beside it, stopped together.

The deadline loop (:class:`Worker`) claims due deadlines (warning marks included) for live cases and for
every sandbox that has some due on its own clock (one query finds those), and
nothing else: webhooks go out from their own loop in another thread
(:class:`aftersales.worker.deliveries.DeliveryLoop`), so a slow subscriber
never delays a payout. When a round finds less than a full batch, the deadline
loop sleeps until the next instant it has something to claim — the earliest
armed live deadline, or a held sandbox deadline's lease running out — or the
poll interval, whichever is sooner: index lookups, whatever the number of open
cases. On PostgreSQL it also wakes at once when a nearer deadline is armed or a
sandbox clock moves (``LISTEN/NOTIFY``, see ``adapters/db/wakeups.py``); the
poll interval bounds a notice that went missing, and is all SQLite has.

:func:`build_worker` wires both, the import loop and the notification send loop
beside them (:class:`aftersales.worker.imports.ImportLoop`,
:class:`aftersales.worker.notify.NotifyLoop`, and the attachment sweep
:class:`aftersales.worker.sweep.SweepLoop`, each in a thread of its own), to one
stop event. A stop request (SIGTERM/SIGINT sets it) lets each loop finish what
it is doing — the deadline loop its round, the delivery loop the requests it has
in flight, the import loop its current batch (the job goes back to the queue) —
and then ends them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta

from aftersales.adapters.db.wakeups import Wakeups
from aftersales.bootstrap import Container
from aftersales.services.deadlines import TickReport, clocks_with_due, next_wake, tick
from aftersales.services.records import LIVE
from aftersales.worker.deliveries import DeliveryLoop
from aftersales.worker.imports import ImportLoop
from aftersales.worker.notify import NotifyLoop
from aftersales.worker.sweep import SweepLoop

log = logging.getLogger(__name__)

LISTEN_READY_S = 5.0  # how long start-up waits for the wake-up connection before polling alone


class Worker:
    def __init__(
        self,
        container: Container,
        *,
        worker_id: str | None = None,
        stop: threading.Event | None = None,
        on_round: Callable[[TickReport], None] | None = None,
    ) -> None:
        self.container = container
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.stop = stop or threading.Event()
        self.on_round = on_round
        self.total = TickReport()
        self.rounds = 0  # rounds completed: each looked at every clock once
        self.wakeups = Wakeups(container.engine, self.stop)

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
        self.total += report
        self.rounds += 1
        if self.on_round is not None:
            self.on_round(report)
        return report

    def seconds_until_next(self) -> float:
        poll = self.container.settings.worker_poll_interval_s
        now = self.container.clock.now()
        due = next_wake(self.container.services, real_now=now)
        if due is None:
            return poll
        wait = (due - now).total_seconds()
        return max(0.0, min(poll, wait))

    def run(self) -> TickReport:
        # The readiness line: by now the CLI has installed its SIGTERM handler, the
        # side loops run and (on PostgreSQL) the worker listens for wake-ups, so tests
        # and benchmarks wait for it instead of sleeping.
        self.wakeups.start()
        if self.wakeups.enabled and not self.wakeups.listening.wait(LISTEN_READY_S):
            log.warning("worker %s: not listening for wake-ups yet; polling", self.worker_id)
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
            self.wakeups.wait(self.seconds_until_next())
        self.wakeups.join()
        log.info("worker %s stopped: %s", self.worker_id, self.total)
        return self.total


class WorkerLoops:
    """The deadline loop, the webhook delivery loop and the import loop of one worker,
    sharing one stop event."""

    def __init__(
        self,
        deadlines: Worker,
        deliveries: DeliveryLoop,
        imports: ImportLoop | None = None,
        notify: NotifyLoop | None = None,
        sweep: SweepLoop | None = None,
    ) -> None:
        if deadlines.stop is not deliveries.stop or any(
            loop is not None and loop.stop is not deadlines.stop
            for loop in (imports, notify, sweep)
        ):
            raise ValueError("the loops must share one stop event")
        self.deadlines = deadlines
        self.deliveries = deliveries
        self.imports = imports
        self.notify = notify
        self.sweep = sweep

    @property
    def stop(self) -> threading.Event:
        return self.deadlines.stop

    def run(self) -> TickReport:
        """Run the delivery and import loops in threads and the deadline loop here, until
        stopped.

        Returns the deadline loop's totals once every loop has ended.
        """
        threads = [
            threading.Thread(target=self.deliveries.run, name="webhook-deliveries", daemon=True)
        ]
        if self.imports is not None:
            threads.append(threading.Thread(target=self.imports.run, name="imports", daemon=True))
        if self.notify is not None:
            threads.append(
                threading.Thread(target=self.notify.run, name="notifications", daemon=True)
            )
        if self.sweep is not None:
            threads.append(
                threading.Thread(target=self.sweep.run, name="attachment-sweep", daemon=True)
            )
        for thread in threads:
            thread.start()
        try:
            return self.deadlines.run()
        finally:
            self.stop.set()  # already set, unless the deadline loop itself gave way
            for thread in threads:
                thread.join()


def build_worker(
    container: Container, *, worker_id: str | None = None, stop: threading.Event | None = None
) -> WorkerLoops:
    """A worker: the deadline, webhook delivery and import loops, configured from settings."""
    stop = stop or threading.Event()
    deadlines = Worker(container, worker_id=worker_id, stop=stop)
    deliveries = DeliveryLoop.from_settings(
        container.engine, container.clock, container.settings, stop=stop
    )
    notify = NotifyLoop(container.engine, container.clock, container.settings, stop=stop)
    sweep = SweepLoop(container, stop=stop)
    return WorkerLoops(deadlines, deliveries, ImportLoop(container, stop=stop), notify, sweep)
