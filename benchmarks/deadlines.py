"""The deadline engine at scale, against a helpdesk-style sweep, on PostgreSQL.

Set-up: a fresh database (``<name>_deadlines`` beside the one given), filled
with dispatched one-click-help cases through the bulk loader the load tests use
(the repository's own rows, written a chunk at a time). Every case has two armed
deadlines (OH-4's 1-hour solution and OH-6's 48-hour resolution).

1. **Cost per wake-up against a sweep.** With 10,000, 100,000 and 1,000,000
   open cases (quick: 1,000 and 5,000), ours is what a worker does each time
   it wakes: for each clock (live and every sandbox) claim what is due — one
   range read of the ``deadlines (sandbox, due_at)`` index — and look up the
   next deadline. The peer is one sweep in the style of helpdesks that find
   breaches by scanning (Frappe Helpdesk hourly, Zammad every five minutes):
   read every open case with its running SLA clocks and compare each against
   now in application code. Both run on the same data in the same run.
2. **The 18:00 cliff.** A sandbox holding ``burst`` cases whose 1-hour clocks
   all fall due at the same instant; 1, 2 and 4 ``aftersales worker`` processes
   (as operators run them) are started idle. As in operation, the clocks' due-soon
   warnings (30 and 10 minutes before, and their escalations) fall due before the
   deadline: the sandbox clock is first moved to a second before it and the
   workers handle the warnings (timed and reported too, as warning marks per
   second); then it is moved past the deadline and the time until the last payout
   is committed is measured: payouts per second and time to drain. Every case
   must be paid exactly once.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from sqlalchemy import Engine, func, make_url, select, text, update
from tests.integration.bulk import OPENED_AT, create_due_help_cases

from aftersales.adapters.db import migrate
from aftersales.adapters.db import schema as s
from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.db.wakeups import announce
from aftersales.adapters.policy_files import load_policy_book
from aftersales.services.deadlines import claim_due, next_due
from aftersales.services.sandboxes import list_sandboxes
from aftersales.testing import services_on
from benchmarks.common import (
    TICKS_PER_S,
    Figure,
    Report,
    Spread,
    ensure_database,
    process_ticks,
    wait_for_log_line,
)

GROUP: Final = "deadlines"
FLAT_LIMIT: Final = 2.0  # "flat": the largest size's wake-up within 2× of the smallest's
BURST_TARGET: Final = 2_000.0  # payouts per second
SOLUTION: Final = timedelta(hours=1)  # OH-4
CLIFF_OPENED_AT: Final = OPENED_AT.replace(hour=17)


def database_for(database_url: str) -> str:
    """The engine benchmark's own database, on the same server as ``database_url``."""
    url = make_url(database_url)
    return url.set(database=f"{url.database}_deadlines").render_as_string(hide_password=False)


def run(report: Report, *, quick: bool, database_url: str) -> None:
    url = database_for(database_url)
    largest = int(os.environ.get("AFTERSALES_BENCH_OPEN_MAX", "1000000"))
    # Each size once, smallest first (AFTERSALES_BENCH_OPEN_MAX=100000 stops at 100,000).
    sizes = (1_000, 5_000) if quick else tuple(sorted({10_000, 100_000, largest}))
    burst = 1_000 if quick else int(os.environ.get("AFTERSALES_BENCH_BURST", "100000"))
    worker_counts = (1, 2) if quick else (1, 2, 4)
    ensure_database(url)
    engine = make_engine(url)
    try:
        _reset(engine)
        _wakeups_against_sweeps(report, engine, sizes, quick=quick)
        _cliff(report, engine, url, burst, worker_counts)
    finally:
        engine.dispose()


def _reset(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(engine)


def _load_open(
    engine: Engine, count: int, sandbox: str, *, opened_at: datetime = OPENED_AT
) -> float:
    """``count`` open cases in ``sandbox``, none due yet (the clock reads their opening).

    Their opening events count as passed on by the webhook fan-out already, as for
    any case opened a while ago: a worker's fan-out then handles the events the
    deadlines produce, not a backlog of millions no running system would have.
    """
    started = time.perf_counter()
    create_due_help_cases(
        engine,
        load_policy_book(),
        count=count,
        sandbox=sandbox,
        opened_at=opened_at,
        due_after=timedelta(0),
        events_dispatched=True,
        chunk=5_000,
        verbose=False,
    )
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _wakeup(engine: Engine, sandbox: str) -> float:
    """One worker wake-up for a clock: claim what is due on it, and find the next live deadline.

    ``sandbox`` is the clock holding most of the open cases; the live clock is
    probed too. Both probes read the one ``deadlines (sandbox, due_at)`` index
    that holds every open case's deadlines, whatever their clock.
    """
    started = time.perf_counter()
    real_now = datetime.now(UTC)
    clock_now = next(sb.now for sb in list_sandboxes(services_on(engine)) if sb.id == sandbox)
    claimed = len(
        claim_due(
            services_on(engine),
            sandbox=s.LIVE,
            now=real_now,
            worker_id="bench",
            limit=200,
            lease=timedelta(seconds=30),
        )
    )
    claimed += len(
        claim_due(
            services_on(engine),
            sandbox=sandbox,
            now=clock_now,
            worker_id="bench",
            limit=200,
            lease=timedelta(seconds=30),
            real_now=real_now,
        )
    )
    next_due(services_on(engine))
    if claimed:
        raise AssertionError(f"nothing should be due, yet {claimed} deadlines were claimed")
    return time.perf_counter() - started


def _sweep(engine: Engine) -> float:
    """A helpdesk-style breach sweep: every open case with its running clocks, judged in Python."""
    started = time.perf_counter()
    c, k, sb = s.cases, s.clocks, s.sandboxes
    query = (
        select(c.c.id, c.c.sandbox, k.c.clock_id, k.c.due_at, sb.c.now)
        .select_from(c.join(k, k.c.case_id == c.c.id).outerjoin(sb, sb.c.id == c.c.sandbox))
        .where(c.c.is_open, k.c.status == "running")
    )
    live_now = datetime.now(UTC)
    breached = 0
    with engine.connect() as conn:
        for row in conn.execute(query).yield_per(10_000):
            now = row.now or live_now
            if row.due_at is not None and row.due_at <= now:
                breached += 1
    if breached:
        raise AssertionError(f"the sweep found {breached} breaches where none are due")
    return time.perf_counter() - started


def _spread(run: Callable[[], float], times: int, scale: float = 1000.0) -> Spread:
    run()  # warm the caches and the statement cache first
    return Spread.of([run() * scale for _ in range(times)])


def _wakeups_against_sweeps(
    report: Report, engine: Engine, sizes: Sequence[int], *, quick: bool
) -> None:
    loaded = 0
    ours_at: dict[int, Spread] = {}
    for size in sizes:
        seconds = _load_open(engine, size - loaded, f"open-{size}")
        print(f"  {size - loaded:,} open cases loaded in {seconds:,.1f} s", flush=True)
        previous, loaded = loaded, size
        with engine.connect() as conn:
            open_cases = conn.execute(select(func.count()).where(s.cases.c.is_open)).scalar_one()
        if open_cases != size:
            raise AssertionError(f"expected {size:,} open cases, found {open_cases:,}")
        biggest = f"open-{size}"
        ours = _spread(functools.partial(_wakeup, engine, biggest), 5 if quick else 15)
        peer = _spread(lambda: _sweep(engine), 2 if quick else 3)
        ours_at[size] = ours
        report.add(
            Figure(
                GROUP,
                f"wake-up at {size:,} open cases",
                "ms",
                ours,
                better="lower",
                peer=peer,
                peer_name="sweep of every open case, helpdesk style",
                note=f"ours: claim on the live clock and on the clock of the {size - previous:,} "
                "cases loaded last, plus the next-deadline lookup",
            )
        )
    smallest, largest = ours_at[sizes[0]], ours_at[sizes[-1]]
    growth = Spread.of([largest.median / smallest.median])
    report.add(
        Figure(
            GROUP,
            f"wake-up cost growth, {sizes[0]:,} → {sizes[-1]:,} open cases",
            "×",
            growth,
            better="lower",
            target=f"flat (≤{FLAT_LIMIT:g}×)",
            met=growth.median <= FLAT_LIMIT,
            note=f"open cases grew {sizes[-1] / sizes[0]:,.0f}×",
        )
    )


@contextmanager
def _workers(url: str, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    script = Path(sys.executable).parent / "aftersales"
    command = (
        [str(script)] if script.exists() else [sys.executable, "-m", "aftersales.entrypoints.cli"]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}
    env["AFTERSALES_DATABASE_URL"] = url
    logs = Path(tempfile.mkdtemp(prefix="aftersales-bench-workers-"))
    processes = []
    for n in range(count):
        with (logs / f"worker-{n}.log").open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [*command, "worker", "--id", f"bench-{n}"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        for n, p in enumerate(processes):  # started and idle before the cliff
            wait_for_log_line(logs / f"worker-{n}.log", f"worker bench-{n} started", p)
        yield processes
    finally:
        for p in processes:
            p.send_signal(signal.SIGTERM)
        for p in processes:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(logs, ignore_errors=True)  # a worker that failed to start said why


def _cliff(
    report: Report, engine: Engine, url: str, burst: int, worker_counts: Sequence[int]
) -> None:
    for count in worker_counts:
        sandbox = f"cliff-{count}"
        # Requests made at 17:00 (inside OH-4's 09:00–18:00 window) owe a solution by 18:00.
        seconds = _load_open(engine, burst, sandbox, opened_at=CLIFF_OPENED_AT)
        print(f"  {burst:,} cases for the cliff with {count} worker(s) in {seconds:,.1f} s")
        with _workers(url, count) as processes:
            marks, warned = _warnings_first(engine, sandbox, burst)
            cpu_before = _cpu_seconds(engine, processes)
            with engine.begin() as conn:  # the clock passes 18:00 for every case at once
                conn.execute(
                    update(s.sandboxes)
                    .where(s.sandboxes.c.id == sandbox)
                    .values(now=CLIFF_OPENED_AT + SOLUTION + timedelta(milliseconds=1))
                )
                announce(conn, sandbox)  # as the sandbox API does: the workers wake at once
            started = time.perf_counter()
            _wait_until_handled(engine, sandbox, limit_s=max(600.0, burst / 20))
            drained = time.perf_counter() - started
            cpu = [
                after - before
                for after, before in zip(_cpu_seconds(engine, processes), cpu_before, strict=True)
            ]
        with engine.connect() as conn:
            paid = conn.execute(
                select(func.count()).where(s.ledger_entries.c.sandbox == sandbox)
            ).scalar_one()
        with engine.connect() as conn:
            keys = conn.execute(
                select(func.count(), func.count(s.ledger_entries.c.key.distinct())).where(
                    s.ledger_entries.c.sandbox == sandbox
                )
            ).one()
        if paid != burst or keys[0] != keys[1]:
            raise AssertionError(f"{burst:,} due, {keys[0]:,} payouts, {keys[1]:,} distinct")
        rate = Spread.of([burst / drained])
        report.add(
            Figure(
                GROUP,
                f"18:00 cliff, {burst:,} due at once, {count} worker(s)",
                "payouts/s",
                rate,
                target=f"≥{BURST_TARGET:,.0f}/s",
                met=rate.median >= BURST_TARGET,
                note=f"drained in {drained:,.1f} s; every case paid exactly once; CPU per "
                f"payout: workers {cpu[0] / burst * 1e6:,.0f} µs, PostgreSQL "
                f"{cpu[1] / burst * 1e6:,.0f} µs",
            )
        )
        report.add(
            Figure(
                GROUP,
                f"the cliff's warnings before it, {marks:,} marks, {count} worker(s)",
                "marks/s",
                Spread.of([marks / warned]),
                note=f"the due-soon warnings and escalations of the {burst:,} clocks, all due "
                f"a second before the deadline, handled in {warned:,.1f} s",
            )
        )


def _warnings_first(engine: Engine, sandbox: str, burst: int) -> tuple[int, float]:
    """Move the clock to a second before the deadline and wait until the warning marks
    due by then are handled: how many there were, and the seconds it took."""
    before = CLIFF_OPENED_AT + SOLUTION - timedelta(seconds=1)
    d = s.deadlines
    with engine.begin() as conn:
        marks = conn.execute(
            select(func.count()).where(d.c.sandbox == sandbox, d.c.due_at < before)
        ).scalar_one()
        conn.execute(update(s.sandboxes).where(s.sandboxes.c.id == sandbox).values(now=before))
        announce(conn, sandbox)
    started = time.perf_counter()
    _wait_until_handled(engine, sandbox, limit_s=max(600.0, burst / 20))
    return int(marks), time.perf_counter() - started


def _wait_until_handled(engine: Engine, sandbox: str, *, limit_s: float) -> None:
    """Until no deadline of ``sandbox`` is due: a case's deadline row goes in the
    transaction that pays it, so then the last payout is committed."""
    deadline = time.monotonic() + limit_s
    d = s.deadlines
    with engine.connect() as conn:
        now = conn.execute(
            select(s.sandboxes.c.now).where(s.sandboxes.c.id == sandbox)
        ).scalar_one()
    probe = select(d.c.case_id).where(d.c.sandbox == sandbox, d.c.due_at < now).limit(1)
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(probe).first() is None:
                return
        time.sleep(0.05)
    raise AssertionError(f"deadlines of {sandbox} still due after {limit_s:,.0f} s")


def _cpu_seconds(engine: Engine, workers: Sequence[subprocess.Popen[bytes]]) -> tuple[float, float]:
    """CPU seconds used so far by the worker processes and by the database server's
    processes for this database (it runs on this machine): where a payout's time goes."""
    with engine.connect() as conn:
        backends = (
            conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            )
            .scalars()
            .all()
        )
    return (
        sum(process_ticks(p.pid) for p in workers) / TICKS_PER_S,
        sum(process_ticks(pid) for pid in backends) / TICKS_PER_S,
    )
