"""Case intake through the HTTP API, at fixed offered rates, on PostgreSQL and SQLite
(the quick form: PostgreSQL only).

For each backend the benchmark

1. prepares a fresh database: the demo's brands, shops, providers (with their
   coverage, so one-click help is dispatched to a real provider) and products,
   then one order item per request it will send, written with executemany in
   chunks. Even items are ceiling lamps in Hangzhou (one-click help, filed by
   their buyer through a consumer API token); odd items are phones in warranty
   (national-warranty repair reports, filed by a hotline agent's token). Each
   request needs an item of its own: a second request for an item would only
   return the case already open for it;
2. starts ``aftersales serve --workers 2`` as an operator of this 2-core machine
   would (one HTTP process per core, default database pool, the deadline worker
   thread in the supervising process, JSON logs to a file) on a free port;
3. drives it from ``benchmarks.loadgen`` in another process: open-loop POSTs at a
   fixed offered rate, each with its own ``Idempotency-Key``, latency counted
   from the request's due time. A request that finds no free connection within
   the queue timeout is dropped and counted as an error (its latency is that
   timeout); one that was sent is always waited for;
4. after every run checks that the new cases in the database are exactly the
   201 answers (when a sent request went unanswered, it first waits for the
   service to go quiet, and then allows for the case that request may have made).

Before the offered rates, a short warm-up and a run at :data:`LIGHT_RATE` show
what one request costs when nothing queues.

The ceiling is measured in the same run: ``pgbench`` running, per transaction,
the statements one help request's intake issues (the item read, the idempotency
key reserved, the providers found and the chosen one's day counted, the case with
its clocks, decisions, audit entries, deadlines and outbox events written in one
statement, the notices' accounts and the answer's contact and names read, the
answer stored; see :data:`_CEILING_SCRIPT`) on scratch tables of the same
PostgreSQL, prepared, as many per second as it can. The ratio is the share of
what the database could do for the same work that the whole product (HTTP,
JSON, authentication, the rules) delivers; the target is half. After the
offered rates, runs at half the best achieved rate give the p99 the service
holds when busy with room to spare, and the light-load and half-load runs give
the app's CPU per request.

Beside the client's view, each run records the service's own view (the
``duration_ms`` of its request log lines, i.e. time inside the app including any
wait for a thread or a database connection) and where the machine's CPU went
(the service process, PostgreSQL's processes, the load generator, the whole
machine), which is what says where the time goes when a target is missed.
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, insert, select, text

from aftersales.adapters.areas import code_for
from aftersales.adapters.db import migrate
from aftersales.adapters.db import schema as s
from aftersales.adapters.db.engine import make_engine
from aftersales.demo import dataset as demo
from aftersales.domain.lifecycle import Role
from aftersales.services.accounts import create_account, create_api_token
from aftersales.testing import services_on
from aftersales.testing.serving import Served, clean_env, served
from benchmarks.common import (
    TICKS_PER_S,
    Figure,
    Report,
    Spread,
    ensure_database,
    machine_busy_ticks,
    postgres_ticks,
    process_ticks,
    vacuum,
)
from benchmarks.loadgen import NOT_SENT, Spec, consumer_of, is_help_item, item_id

GROUP = "intake"
SHANGHAI = ZoneInfo("Asia/Shanghai")
CONSUMERS = 8  # consumer accounts (each with a token); the lamps are spread over them
CONCURRENCY = 64  # keep-alive connections in the load generator's pool
ANSWER_TIMEOUT_S = 30.0  # a request sent and not answered this long is given up
PGBENCH_CLIENTS = (10, CONCURRENCY)  # 10 = the service's own pool (5 + 5 overflow)
ITEM_PREFIX = "bench-item-"
HELP_FAILURE = "installation_late"
LAMP_ADDRESS = ("浙江省杭州市西湖区文三路 90 号", "浙江省", "杭州市", "西湖区")
PHONE_ADDRESS = ("广东省深圳市南山区深南大道 9999 号", "广东省", "深圳市", "南山区")
INTAKE_ROUTES = ("/api/v1/help-requests", "/api/v1/repair-reports")
BUSY_P99_TARGET_MS = 50.0
CPU_TARGET_MS = 3.0  # app CPU per request
CEILING_SHARE = 0.5  # of pgbench running the same statements per case
SUSTAINED_TARGET = 1_000.0
SERVE_WORKERS = 2  # HTTP processes: one per core of the machine this was sized for
LIGHT_RATE = 25  # cases per second far below any saturation: the unqueued cost of a request


@dataclass(frozen=True)
class Plan:
    """What one backend is put through."""

    rates: tuple[int, ...]  # offered rates, cases per second
    seconds: float  # per run
    repeats: int
    # A due request with no free connection this long after its due time is dropped.
    queue_timeout_s: float
    warmup_seconds: float  # at LIGHT_RATE, not reported (0: none)
    light_seconds: float  # at LIGHT_RATE: what one request costs when nothing queues

    def requests(self, rate: int) -> int:
        return round(rate * self.seconds)

    @property
    def items(self) -> int:
        measured = sum(self.requests(r) for r in self.rates) * self.repeats
        measured += self.requests(max(self.rates) // 2) * self.repeats  # at half the best
        return measured + round(LIGHT_RATE * (self.warmup_seconds + self.light_seconds))


@dataclass(frozen=True)
class Tokens:
    consumers: list[str]
    agent: str


@dataclass
class Run:
    """One load-generator run at one offered rate, as the client and the service saw it."""

    offered: int
    sent: int
    created: int  # 201 answers
    maybe_created: int  # sent but unanswered (given up, or the connection failed)
    wall_s: float
    p50_ms: float
    p99_ms: float
    errors: Counter[str]
    db_new_cases: int
    server_p50_ms: float | None
    server_p99_ms: float | None
    launch_lag_p99_ms: float
    cpu_cores: dict[str, float] = field(default_factory=dict)
    # The busiest HTTP process's share of the HTTP processes' CPU (see _CpuMeter.cores).
    busiest_http: float | None = None

    @property
    def achieved(self) -> float:
        return self.created / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def service_cpu_ms_per_case(self) -> float | None:
        if "service" not in self.cpu_cores or self.achieved <= 0:
            return None
        return self.cpu_cores["service"] * 1000 / self.achieved

    @property
    def db_consistent(self) -> bool:
        """Every 201 is a case, and every other new case belongs to an unanswered request."""
        return self.created <= self.db_new_cases <= self.created + self.maybe_created


# ---------------------------------------------------------------- the benchmark


def run(report: Report, *, quick: bool, database_url: str) -> None:
    if quick:
        # No separate warm-up: the light-load run's first requests pay for it.
        pg_plan = Plan((100,), 2.0, 1, 2.0, 0.0, 2.0)
        lite_plan = Plan((100,), 2.0, 1, 2.0, 0.0, 2.0)
    else:
        pg_plan = Plan((250, 500, 1_000, 1_500), 20.0, 3, 5.0, 2.0, 6.0)
        lite_plan = Plan((250, 500), 20.0, 3, 5.0, 2.0, 6.0)

    print("  PostgreSQL: fresh schema, reference data and order items …", flush=True)
    ensure_database(database_url)
    engine = make_engine(database_url)
    try:
        _reset_postgres(engine)
        ceiling, ceiling_note = _pgbench_ceiling(
            engine, database_url, quick=quick, repeats=pg_plan.repeats
        )
        print(f"  pgbench ceiling: {ceiling_note}", flush=True)
        tokens = _prepare(engine, pg_plan.items)
        with _serving(["--database-url", database_url]) as service:
            pg_light, pg_runs, pg_half = _measure(service, engine, tokens, pg_plan)
    finally:
        engine.dispose()
    _report_backend(report, "PostgreSQL", pg_light, pg_runs, pg_plan, ceiling, ceiling_note)
    _report_targets(report, pg_light, pg_runs, pg_half, ceiling)
    if quick:
        return  # the smoke run: SQLite's serving is exercised by the end-to-end tests

    with tempfile.TemporaryDirectory(prefix="aftersales-intake-") as tmp:
        data_dir = Path(tmp) / "data"
        print(f"  SQLite: fresh file in {data_dir}, reference data and order items …", flush=True)
        engine = make_engine(f"sqlite:///{(data_dir / 'aftersales.sqlite3').resolve()}")
        try:
            migrate.upgrade(engine)
            tokens = _prepare(engine, lite_plan.items)
            with _serving(["--data-dir", str(data_dir)]) as service:
                lite_light, lite_runs, _ = _measure(service, engine, tokens, lite_plan)
        finally:
            engine.dispose()
    _report_backend(report, "SQLite", lite_light, lite_runs, lite_plan, None, "")


def _report_backend(
    report: Report,
    backend: str,
    light: Run,
    runs: dict[int, list[Run]],
    plan: Plan,
    ceiling: Spread | None,
    ceiling_note: str,
) -> None:
    top = max(plan.rates)
    for which in ("p50", "p99"):
        report.add(
            Figure(
                GROUP,
                f"{backend} {which} @ {LIGHT_RATE}/s (light load, one run)",
                "ms",
                Spread.of([getattr(light, f"{which}_ms")]),
                better="lower",
                note=_server_note([light], which)
                + (f"; {_cpu_per_case_note([light])}" if which == "p50" else ""),
            )
        )
    for rate in plan.rates:
        done = runs[rate]
        achieved = Spread.of([r.achieved for r in done])
        sustained_target = backend == "PostgreSQL" and rate == top and rate >= SUSTAINED_TARGET
        report.add(
            Figure(
                GROUP,
                f"{backend} achieved @ {rate:,}/s offered",
                "cases/s",
                achieved,
                better="higher",
                peer=ceiling,
                peer_name="pgbench, same-shaped transaction" if ceiling else "",
                target="≥1,000 cases/s sustained" if sustained_target else "",
                met=achieved.median >= SUSTAINED_TARGET if sustained_target else None,
                note=_outcome_note(done, plan.queue_timeout_s)
                + (f"; ceiling {ceiling_note}" if rate == top and ceiling_note else ""),
            )
        )
    for rate in plan.rates:
        done = runs[rate]
        report.add(
            Figure(
                GROUP,
                f"{backend} p50 @ {rate:,}/s",
                "ms",
                Spread.of([r.p50_ms for r in done]),
                better="lower",
                note=_server_note(done, "p50") + "; " + _cpu_per_case_note(done),
            )
        )
    for rate in plan.rates:
        done = runs[rate]
        p99 = Spread.of([r.p99_ms for r in done])
        report.add(
            Figure(
                GROUP,
                f"{backend} p99 @ {rate:,}/s",
                "ms",
                p99,
                better="lower",
                note=_server_note(done, "p99") + "; " + _cpu_note(done),
            )
        )


def _report_targets(
    report: Report,
    light: Run,
    runs: dict[int, list[Run]],
    half: list[Run],
    ceiling: Spread | None,
) -> None:
    """The issue's three intake rows on PostgreSQL: CPU per request, share of the ceiling,
    p99 at half the achieved maximum."""
    cpu = [r.service_cpu_ms_per_case for r in [light, *half] if r.service_cpu_ms_per_case]
    if cpu:
        spread = Spread.of(cpu)
        report.add(
            Figure(
                GROUP,
                "PostgreSQL app CPU per request (light load and half load)",
                "ms",
                spread,
                better="lower",
                target=f"≤ {CPU_TARGET_MS:g} ms",
                met=spread.median <= CPU_TARGET_MS,
                note="CPU of the serve processes (HTTP workers and the supervisor) / cases made"
                + _split_note([light, *half]),
            )
        )
    best_rate = max(runs, key=lambda rate: Spread.of([r.achieved for r in runs[rate]]).median)
    best = Spread.of([r.achieved for r in runs[best_rate]])
    share_met = None if ceiling is None else best.median >= CEILING_SHARE * ceiling.median
    report.add(
        Figure(
            GROUP,
            f"PostgreSQL best achieved (at {best_rate:,}/s offered) vs the same-shaped ceiling",
            "cases/s",
            best,
            better="higher",
            peer=ceiling,
            peer_name="pgbench, one case's intake statements per transaction",
            target=f"≥ {CEILING_SHARE:.0%} of the ceiling",
            met=share_met,
        )
    )
    p99 = Spread.of([r.p99_ms for r in half])
    report.add(
        Figure(
            GROUP,
            f"PostgreSQL p99 at half the achieved maximum ({half[0].offered:,}/s)",
            "ms",
            p99,
            better="lower",
            target=f"< {BUSY_P99_TARGET_MS:g} ms",
            met=p99.median < BUSY_P99_TARGET_MS,
            note=_server_note(half, "p99") + "; " + _cpu_note(half),
        )
    )


def _outcome_note(runs: Sequence[Run], timeout_s: float) -> str:
    errors: Counter[str] = Counter()
    for r in runs:
        errors.update(r.errors)
    kinds = ", ".join(f"{k}×{n:,}" for k, n in errors.most_common(4))
    sent = sum(r.sent for r in runs)
    note = f"errors {sum(errors.values()):,} of {sent:,} sent" + (f" ({kinds})" if kinds else "")
    if errors[NOT_SENT]:
        note += f"; '{NOT_SENT}': no connection free {timeout_s:g} s after the due time"
    extra = sum(r.db_new_cases - r.created for r in runs)
    if not all(r.db_consistent for r in runs):
        note += "; DB CHECK FAILED (new cases/201s: " + ", ".join(
            f"{r.db_new_cases:,}/{r.created:,}" for r in runs
        )
        note += ")"
    elif extra == 0:
        note += "; DB: new cases = 201s in every run"
    else:
        note += (
            f"; DB: every 201 is a case, plus {extra:,} of requests sent but not answered "
            f"within {ANSWER_TIMEOUT_S:g} s (the service finished them)"
        )
    return note


def _server_note(runs: Sequence[Run], which: str) -> str:
    values = [getattr(r, f"server_{which}_ms") for r in runs]
    known = [v for v in values if v is not None]
    if not known:
        return "service log had no timings"
    return f"in-service {which} {Spread.of(known).text('{:,.3g}')} ms"


def _cpu_per_case_note(runs: Sequence[Run]) -> str:
    per_case = [r.service_cpu_ms_per_case for r in runs if r.service_cpu_ms_per_case is not None]
    if not per_case:
        return "service CPU per case unknown"
    return f"service CPU {Spread.of(per_case).median:,.1f} ms per case"


def _split_note(runs: Sequence[Run]) -> str:
    shares = [r.busiest_http for r in runs if r.busiest_http is not None]
    if not shares:
        return ""
    return "; the busiest HTTP process's share of their CPU, run by run: " + ", ".join(
        f"{share:.0%}" for share in shares
    )


def _cpu_note(runs: Sequence[Run]) -> str:
    keys = ("service", "postgres", "loadgen", "other", "machine")
    parts = []
    for key in keys:
        values = [r.cpu_cores[key] for r in runs if key in r.cpu_cores]
        if values and (key != "postgres" or max(values) > 0):
            parts.append(f"{key} {Spread.of(values).median:.2f}")
    lag = Spread.of([r.launch_lag_p99_ms for r in runs]).median
    return f"CPU cores: {', '.join(parts)} of {os.cpu_count()}; send lag p99 {lag:.1f} ms"


# ---------------------------------------------------------------- measuring


def _measure(
    service: Served, engine: Engine, tokens: Tokens, plan: Plan
) -> tuple[Run, dict[int, list[Run]], list[Run]]:
    """Warm up, a light-load run, then every rate once per repeat (interleaved, so drift spreads)."""
    next_item = 0

    vacuum = _vacuum_between_runs(engine)

    def one(rate: int, count: int) -> Run:
        nonlocal next_item
        vacuum()
        done = _one_run(service, engine, tokens, rate, count, next_item, plan.queue_timeout_s)
        next_item += count
        return done

    if plan.warmup_seconds > 0:
        one(LIGHT_RATE, round(LIGHT_RATE * plan.warmup_seconds))
    light = one(LIGHT_RATE, round(LIGHT_RATE * plan.light_seconds))
    _progress("light load", light)
    runs: dict[int, list[Run]] = {rate: [] for rate in plan.rates}
    for repeat in range(plan.repeats):
        for rate in plan.rates:
            done = one(rate, plan.requests(rate))
            runs[rate].append(done)
            _progress(f"run {repeat + 1}/{plan.repeats}", done)
    # p99 at half the achieved maximum: busy, with room to spare (never above half the top rate).
    best = max(Spread.of([r.achieved for r in done]).median for done in runs.values())
    half = max(LIGHT_RATE, min(round(best / 2), max(plan.rates) // 2))
    halves = []
    for repeat in range(plan.repeats):
        done = one(half, plan.requests(half))
        halves.append(done)
        _progress(f"half of the best {repeat + 1}/{plan.repeats}", done)
    return light, runs, halves


def _vacuum_between_runs(engine: Engine) -> Callable[[], None]:
    """What to do before each run: on a PostgreSQL server whose autovacuum is off, vacuum the
    database, as autovacuum would about once a minute (a run lasts 20–35 s).

    Intake updates a few rows in place all the time (a provider's day, the live counts and
    the compliance rollup, each idempotency key, each outbox event); without vacuum their
    dead versions pile up and every statement on them walks more of them, so the figures
    would fall run after run for a reason no deployment has (autovacuum is PostgreSQL's
    default). Elsewhere: nothing."""
    if engine.dialect.name != "postgresql":
        return lambda: None
    with engine.connect() as conn:
        if conn.execute(text("SHOW autovacuum")).scalar_one() == "on":
            return lambda: None
    print(
        "  autovacuum is off on this server: the database is vacuumed before each run", flush=True
    )

    return lambda: vacuum(engine, analyze=False)


def _progress(label: str, done: Run) -> None:
    cpu = done.service_cpu_ms_per_case
    split = "" if done.busiest_http is None else f", busiest HTTP process {done.busiest_http:.0%}"
    print(
        f"  {label} @ {done.offered:,}/s: {done.achieved:,.0f} cases/s, "
        f"p50 {done.p50_ms:,.1f} ms, p99 {done.p99_ms:,.1f} ms, errors {done.error_count:,}, "
        f"in-service p50 {done.server_p50_ms or float('nan'):,.1f} ms, "
        f"service CPU/case {cpu or float('nan'):.1f} ms, "
        f"DB +{done.db_new_cases:,} for {done.created:,} 201s, CPU {_cores_text(done.cpu_cores)}"
        f"{split}",
        flush=True,
    )
    if not done.db_consistent:
        print(
            f"  !! DB check failed: {done.db_new_cases:,} new cases for {done.created:,} 201s "
            f"and {done.maybe_created:,} unanswered requests",
            flush=True,
        )


def _cores_text(cores: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.2f}" for k, v in cores.items())


def _one_run(
    service: Served,
    engine: Engine,
    tokens: Tokens,
    rate: int,
    count: int,
    first_item: int,
    queue_timeout_s: float,
) -> Run:
    spec = Spec(
        base_url=service.base_url,
        rate=float(rate),
        count=count,
        first_item=first_item,
        item_prefix=ITEM_PREFIX,
        consumer_tokens=tokens.consumers,
        agent_token=tokens.agent,
        concurrency=CONCURRENCY,
        queue_timeout_s=queue_timeout_s,
        answer_timeout_s=ANSWER_TIMEOUT_S,
        help_failure=HELP_FAILURE,
    )
    cases_before = _count_cases(engine)
    log_offset = service.log.stat().st_size
    meter = _CpuMeter(service.pid)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        loadgen = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.loadgen"],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert loadgen.stdin is not None
        loadgen.stdin.write(json.dumps(spec.__dict__))
        loadgen.stdin.close()
        while loadgen.poll() is None:
            meter.sample()
            time.sleep(0.2)
        if loadgen.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"the load generator failed:\n{err.read()[-3000:]}")
        out.seek(0)
        result: dict[str, Any] = json.load(out)
    cores, busiest_http = meter.cores(result["started"], result["ended"])
    cores["loadgen"] = result["client_cpu_s"] / result["wall_s"]
    # Whatever else ran on the machine meanwhile (this process, other people's jobs).
    cores["other"] = max(0.0, cores["machine"] - cores["service"] - cores["postgres"])
    cores["other"] = max(0.0, cores["other"] - cores["loadgen"])
    outcome: list[str] = result["outcome"]
    maybe_created = sum(1 for o in outcome if not o.isdigit() and o != NOT_SENT)
    # Unanswered requests may still be finishing in the service: wait for it to go quiet.
    new_cases = (_settled_count(engine) if maybe_created else _count_cases(engine)) - cases_before
    latencies = sorted(result["latency_ms"])
    errors = Counter(o for o in outcome if not o.startswith("2"))
    server = sorted(_service_durations(service.log, log_offset))
    return Run(
        offered=rate,
        sent=count,
        created=sum(1 for o in outcome if o == "201"),
        maybe_created=maybe_created,
        wall_s=result["wall_s"],
        p50_ms=_percentile(latencies, 0.50),
        p99_ms=_percentile(latencies, 0.99),
        errors=errors,
        db_new_cases=new_cases,
        server_p50_ms=_percentile(server, 0.50) if server else None,
        server_p99_ms=_percentile(server, 0.99) if server else None,
        launch_lag_p99_ms=_percentile(sorted(result["launch_lag_ms"]), 0.99),
        cpu_cores=cores,
        busiest_http=busiest_http,
    )


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
    return float(ordered[rank - 1])


def _count_cases(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(s.cases)).scalar_one())


def _settled_count(engine: Engine, quiet_s: float = 1.0, limit_s: float = 60.0) -> int:
    """The number of cases once it has stopped changing (abandoned requests may still finish)."""
    deadline = time.monotonic() + limit_s
    last = _count_cases(engine)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = _count_cases(engine)
        if now == last:
            return now
        last = now
    return last


def _service_durations(log: Path, offset: int) -> list[float]:
    """``duration_ms`` of the intake requests the service logged after ``offset``."""
    durations: list[float] = []
    with log.open("rb") as handle:
        handle.seek(offset)
        for raw in handle:
            if b'"duration_ms"' not in raw:
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if line.get("route") in INTAKE_ROUTES:
                durations.append(float(line["duration_ms"]))
    return durations


class _CpuMeter:
    """CPU used, in cores, by the service process, PostgreSQL's processes and the whole machine.

    Counters are sampled while the load generator runs; the figure is taken between
    the samples nearest to its first due time and its last answer, so the
    generator's own start-up does not dilute it. PostgreSQL is counted per process
    (a backend that starts in the window counts from zero; one that exits in it is lost).
    """

    def __init__(self, service_pid: int) -> None:
        self.pid = service_pid
        self.ticks = TICKS_PER_S
        self.samples: list[tuple[float, dict[int, int], dict[int, int], int]] = []
        self.sample()

    def sample(self) -> None:
        self.samples.append(
            (
                time.monotonic(),
                self._tree_ticks(self.pid),
                postgres_ticks(),
                machine_busy_ticks(),
            )
        )

    def cores(self, started: float, ended: float) -> tuple[dict[str, float], float | None]:
        """Cores used between the samples around ``started`` and ``ended``, and how the HTTP
        processes split their share: the busiest one's part of their CPU (1/N when even, 1
        when one took them all; None with a single HTTP process). A request costs less CPU
        in a process kept busy than in one that waits between requests, so the split moves
        the per-request figure."""
        self.sample()
        first = max((x for x in self.samples if x[0] <= started), default=self.samples[0])
        last = min((x for x in self.samples if x[0] >= ended), default=self.samples[-1])
        per_second = self.ticks * max(last[0] - first[0], 1e-9)
        postgres = sum(max(0, n - first[2].get(pid, 0)) for pid, n in last[2].items())
        service = {pid: max(0, n - first[1].get(pid, 0)) for pid, n in last[1].items()}
        found = {
            "service": sum(service.values()) / per_second,
            "postgres": postgres / per_second,
            "machine": (last[3] - first[3]) / per_second,
        }
        http = [n for pid, n in service.items() if pid != self.pid]
        busiest = max(http) / sum(http) if len(http) > 1 and sum(http) > 0 else None
        return found, busiest

    def _tree_ticks(self, root: int) -> dict[int, int]:
        """CPU ticks of ``root`` and of every process under it (the HTTP worker processes)."""
        children: dict[int, list[int]] = {}
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
            except (OSError, ValueError, IndexError):
                continue
        found: dict[int, int] = {}
        todo = [root]
        while todo:
            pid = todo.pop()
            found[pid] = process_ticks(pid)
            todo.extend(children.get(pid, []))
        return found


# ---------------------------------------------------------------- the service


@contextmanager
def _serving(args: list[str]) -> Iterator[Served]:
    """``aftersales serve --workers 2 ARGS`` as an operator of this machine would run it."""
    log_dir = Path(tempfile.mkdtemp(prefix="aftersales-intake-log-"))
    # Attachments go to a data dir of their own; SQLite runs pass theirs in ``args``.
    env = clean_env(AFTERSALES_DATA_DIR=str(log_dir / "data"))
    try:
        with served(
            ["--workers", str(SERVE_WORKERS), *args],
            env=env,
            log=log_dir / "serve.log",
            timeout_s=120,
        ) as server:
            print(
                f"  serving on {server.base_url} (pid {server.pid}, log {server.log})", flush=True
            )
            yield server
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


# ---------------------------------------------------------------- preparing a database


def _reset_postgres(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(engine)


def _prepare(engine: Engine, items: int) -> Tokens:
    """Reference rows, ``items`` order items (one order each) and the accounts with tokens."""
    started = time.perf_counter()
    demo.load_demo(services_on(engine))  # the demo's catalogue, as any marketplace loads it
    _insert_items(engine, items)
    tokens = _make_accounts(engine)
    print(
        f"  {items:,} order items, {CONSUMERS} consumer tokens and an agent token "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return tokens


def _buyer(consumer: int) -> str:
    return f"bench-buyer-{consumer}"


def _insert_items(
    engine: Engine,
    count: int,
    chunk: int = 10_000,
    *,
    sandbox: str = s.LIVE,
    now: datetime | None = None,
) -> None:
    """One order per item; lamps (even) in Hangzhou, phones (odd) in Shenzhen, bought recently.

    ``sandbox`` and ``now``: the world the orders belong to and its clock's reading
    (the soak files its requests in a sandbox whose clock it moves)."""
    now = now or datetime.now(UTC)
    purchased = now.astimezone(SHANGHAI).date() - timedelta(days=20)
    delivered = purchased + timedelta(days=3)
    for begin in range(0, count, chunk):
        numbers = range(begin, min(begin + chunk, count))
        orders: list[dict[str, Any]] = []
        order_items: list[dict[str, Any]] = []
        for n in numbers:
            lamp = is_help_item(n)
            address = LAMP_ADDRESS if lamp else PHONE_ADDRESS
            order_id = f"bench-order-{n:07d}"
            orders.append(
                {
                    "id": order_id,
                    "sandbox": sandbox,
                    "buyer_account": _buyer(consumer_of(n, CONSUMERS)),
                    "merchant_id": demo.MERCHANT_GUANGMING if lamp else demo.MERCHANT_LINGXI,
                    "placed_at": now - timedelta(days=21),
                }
            )
            order_items.append(
                {
                    "id": item_id(ITEM_PREFIX, n),
                    "order_id": order_id,
                    "product_id": demo.PRODUCT_LAMP if lamp else demo.PRODUCT_PHONE,
                    "paid_price_fen": 29_900 if lamp else 399_900,
                    "purchased_on": purchased,
                    "delivered_on": delivered,
                    "address_text": address[0],
                    "province": address[1],
                    "city": address[2],
                    "district": address[3],
                    "area_code": code_for(address[2], address[3]),
                }
            )
        with engine.begin() as conn:
            conn.execute(insert(s.orders), orders)
            conn.execute(insert(s.order_items), order_items)


def _make_accounts(engine: Engine) -> Tokens:
    services = services_on(engine)
    password = "bench-password-not-secret"
    consumers = []
    for n in range(CONSUMERS):
        username = f"bench-consumer-{n}"
        create_account(
            services,
            username=username,
            password=password,
            role=Role.CONSUMER,
            party=_buyer(n),
        )
        consumers.append(
            create_api_token(services, username=username, name="intake-benchmark").token
        )
    create_account(
        services, username="bench-agent", password=password, role=Role.AGENT, name="Hotline"
    )
    agent = create_api_token(services, username="bench-agent", name="intake-benchmark").token
    return Tokens(consumers, agent)


# ---------------------------------------------------------------- the ceiling: pgbench


def _pgbench_binary() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))
    return candidates[-1] if candidates else None


# The scratch tables pgbench writes: each as wide as the table of the product it stands for.
_CEILING_TABLES = (
    "ceiling_items (id text PRIMARY KEY, order_id text, buyer text, sandbox text, "
    "product text, area text, price bigint, bought date)",
    "ceiling_coverage (area text, category text, provider text, PRIMARY KEY (area, category))",
    "ceiling_accounts (party text PRIMARY KEY, id text, role text)",
    "ceiling_keys (account text, key text, digest text, created timestamptz, status int, "
    "body json, PRIMARY KEY (account, key))",
    "ceiling_cases (id text PRIMARY KEY, item text, state text, opened timestamptz, "
    "policy text, channel text, description text)",
    "ceiling_clocks (case_id text, clock text, status text, due timestamptz, "
    "PRIMARY KEY (case_id, clock))",
    "ceiling_decisions (case_id text, seq int, at timestamptz, reason json, "
    "PRIMARY KEY (case_id, seq))",
    "ceiling_audit (case_id text, seq int, at timestamptz, action text, note text, "
    "PRIMARY KEY (case_id, seq))",
    "ceiling_deadlines (case_id text, clock text, due timestamptz, PRIMARY KEY (case_id, clock))",
    "ceiling_outbox (id bigserial PRIMARY KEY, case_id text, kind text, payload json)",
    "ceiling_loads (provider text, day date, dispatched int, PRIMARY KEY (provider, day))",
)
CEILING_ITEMS = 10_000
# One case's intake as the service issues it for a new one-click-help request, statement
# for statement (a repair report issues fewer: no dispatch):
#   1. the item with its order, product, sandbox clock, open case and the shop's
#      preferred providers;
#   2. the idempotency key reserved;
#   3. the covering providers with their day's load (dispatch, OH-3);
#   4. the chosen provider's day counted (an upsert of its load row);
#   5. the case, its clocks, decisions, audit entries, deadlines and outbox events, one
#      statement (data-modifying CTEs, multi-row where the service writes several rows);
#   6. the accounts the notices reach;
#   7. the case's contact and the names its answer shows;
#   8. the answer stored under the key.
# One transaction, prepared statements (as the service's are, warm).
_CEILING_SCRIPT = f"""\\set n random(1, {CEILING_ITEMS})
\\set k random(1, 2000000000)
BEGIN;
SELECT i.id, i.order_id, i.buyer, i.sandbox, i.product, i.area, i.price, i.bought, (SELECT id FROM ceiling_cases WHERE item = i.id AND state <> 'closed' LIMIT 1) FROM ceiling_items i WHERE i.id = 'i' || :n;
INSERT INTO ceiling_keys (account, key, digest, created) VALUES ('a', :k || '-' || :client_id, 'x', now()) ON CONFLICT DO NOTHING;
SELECT c.provider, coalesce(l.dispatched, 0) FROM ceiling_coverage c LEFT JOIN ceiling_loads l ON l.provider = c.provider AND l.day = current_date WHERE c.area = 'a' || (:n % 100) AND c.category = 'c';
INSERT INTO ceiling_loads VALUES ('v' || (:n % 100), current_date, 1) ON CONFLICT (provider, day) DO UPDATE SET dispatched = ceiling_loads.dispatched + 1 RETURNING dispatched;
WITH c AS (INSERT INTO ceiling_cases VALUES ('c' || :k || '-' || :client_id, 'i' || :n, 'dispatched', now(), 'p', 'api', 'help') ON CONFLICT DO NOTHING RETURNING id), k AS (INSERT INTO ceiling_clocks SELECT id, x, 'running', now() FROM c, (VALUES ('respond'), ('solve')) v (x) RETURNING 1), d AS (INSERT INTO ceiling_decisions SELECT id, x, now(), '{{}}' FROM c, (VALUES (1), (2)) v (x) RETURNING 1), a AS (INSERT INTO ceiling_audit SELECT id, x, now(), y, '' FROM c, (VALUES (1, 'open'), (2, 'dispatch')) v (x, y) RETURNING 1), l AS (INSERT INTO ceiling_deadlines SELECT id, x, now() FROM c, (VALUES ('respond'), ('solve')) v (x) RETURNING 1), o AS (INSERT INTO ceiling_outbox (case_id, kind, payload) SELECT id, x, '{{}}' FROM c, (VALUES ('opened'), ('dispatched')) v (x) RETURNING 1) SELECT (SELECT count(*) FROM k) + (SELECT count(*) FROM d) + (SELECT count(*) FROM a) + (SELECT count(*) FROM l) + (SELECT count(*) FROM o);
SELECT id, role FROM ceiling_accounts WHERE party = 'p' || (:n % 100);
SELECT c.id, c.state, i.buyer, i.area, (SELECT json_agg(json_build_array(party, id)) FROM ceiling_accounts WHERE party IN ('p' || (:n % 100), 'b')) FROM ceiling_cases c JOIN ceiling_items i ON i.id = c.item WHERE c.id = 'c' || :k || '-' || :client_id;
UPDATE ceiling_keys SET status = 201, body = '{{}}' WHERE account = 'a' AND key = :k || '-' || :client_id;
COMMIT;
"""


def _create_ceiling_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        _drop_ceiling_tables(conn)
        for table in _CEILING_TABLES:
            conn.execute(text(f"CREATE TABLE {table}"))
        conn.execute(
            text(
                "INSERT INTO ceiling_items SELECT 'i' || n, 'o' || n, 'b' || (n % 8), 'live', "
                "'p', 'a' || (n % 100), 29900, current_date FROM generate_series(1, :items) n"
            ),
            {"items": CEILING_ITEMS},
        )
        conn.execute(
            text(
                "INSERT INTO ceiling_coverage SELECT 'a' || n, 'c', 'v' || n "
                "FROM generate_series(0, 99) n"
            )
        )
        conn.execute(
            text(
                "INSERT INTO ceiling_accounts SELECT 'p' || n, 'acc' || n, 'provider' "
                "FROM generate_series(0, 99) n"
            )
        )


def _drop_ceiling_tables(conn: Any) -> None:
    for table in _CEILING_TABLES:
        conn.execute(text(f"DROP TABLE IF EXISTS {table.split()[0]}"))


def _pgbench_ceiling(
    engine: Engine, database_url: str, *, quick: bool, repeats: int
) -> tuple[Spread | None, str]:
    """Best tps of pgbench running one case's intake statements per transaction (see
    :data:`_CEILING_SCRIPT`) over a few client counts, or None with the reason."""
    binary = _pgbench_binary()
    if binary is None:
        return None, "pgbench not found (PATH, /usr/lib/postgresql/*/bin): no ceiling measured"
    seconds = 2 if quick else 5
    clients = PGBENCH_CLIENTS[:1] if quick else PGBENCH_CLIENTS
    conninfo = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", database_url)
    _create_ceiling_tables(engine)
    by_clients: dict[int, list[float]] = {}
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(_CEILING_SCRIPT)
    try:
        for _ in range(repeats):
            for c in clients:
                command = [binary, "-n", "-M", "prepared", "-f", script.name]
                command += ["-c", str(c), "-j", "2", "-T", str(seconds), conninfo]
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                found = re.search(r"tps = ([\d.]+)", done.stdout)
                if done.returncode != 0 or found is None:
                    return None, f"pgbench failed: {(done.stderr or done.stdout).strip()[-300:]}"
                by_clients.setdefault(c, []).append(float(found.group(1)))
    finally:
        os.unlink(script.name)
        with engine.begin() as conn:
            _drop_ceiling_tables(conn)
    best = max(by_clients, key=lambda c: Spread.of(by_clients[c]).median)
    spread = Spread.of(by_clients[best])
    tried = ", ".join(
        f"{c} clients {Spread.of(v).median:,.0f}" for c, v in sorted(by_clients.items())
    )
    return spread, (
        f"pgbench -M prepared -c {best} -j 2 -T {seconds}, one case's intake statements "
        f"per transaction: {spread.text('{:,.0f}')} tps ({tried})"
    )
