"""What every benchmark shares: repeated timing, figures with their peer, the table."""

from __future__ import annotations

import glob
import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Spread:
    """A median over repeated runs, with the smallest and largest run."""

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Spread:
        if not samples:
            raise ValueError("a spread needs at least one sample")
        return cls(statistics.median(samples), min(samples), max(samples), len(samples))

    def text(self, fmt: str = "{:,.3g}") -> str:
        if self.runs == 1:
            return fmt.format(self.median)
        return f"{fmt.format(self.median)} [{fmt.format(self.low)}–{fmt.format(self.high)}]"


def repeat(run: Callable[[], float], times: int) -> Spread:
    """Call ``run`` ``times`` times; each call returns the figure it measured."""
    return Spread.of([run() for _ in range(times)])


def timed(run: Callable[[], object]) -> float:
    """Seconds one call of ``run`` takes (monotonic, high resolution)."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


@dataclass(frozen=True)
class Figure:
    """One line of the table: our figure, the peer's or ceiling's, their ratio, the target.

    ``better`` says which direction wins: "higher" (throughput) or "lower" (latency,
    time per call). ``ratio`` is always "how many times better we are" (>1 is ahead);
    against a ceiling it is the share of the ceiling we reach.
    """

    group: str
    name: str
    unit: str
    ours: Spread
    better: str = "higher"
    peer: Spread | None = None
    peer_name: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.peer is None or self.peer.median == 0 or self.ours.median == 0:
            return None
        if self.better == "higher":
            return self.ours.median / self.peer.median
        return self.peer.median / self.ours.median


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(render_line(figure), flush=True)
        return figure


def _ratio_text(figure: Figure) -> str:
    ratio = figure.ratio
    if ratio is None:
        return ""
    return f"{ratio:,.3g}×" if ratio >= 0.01 else f"{ratio:.2e}×"


def render_line(figure: Figure) -> str:
    peer = f"{figure.peer.text()} ({figure.peer_name})" if figure.peer else ""
    met = {True: "met", False: "NOT met", None: ""}[figure.met]
    target = f"{figure.target} {met}".strip()
    return (
        f"[{figure.group}] {figure.name}: {figure.ours.text()} {figure.unit}"
        + (f" | vs {peer}: {_ratio_text(figure)}" if peer else "")
        + (f" | target {target}" if target else "")
        + (f" | {figure.note}" if figure.note else "")
    )


def markdown_table(figures: Sequence[Figure]) -> str:
    """The table ``docs/benchmarks.md`` carries: median [min–max] for ours and the peer."""
    lines = [
        "| benchmark | figure | ours: median [min–max] | peer or ceiling: median [min–max] "
        "| ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        peer = f"{f.peer.text()} ({f.peer_name})" if f.peer else "—"
        met = {True: "✅ met", False: "❌ not met", None: "—"}[f.met]
        lines.append(
            f"| {f.group} | {f.name} | {f.ours.text()} {f.unit} | {peer} "
            f"| {_ratio_text(f) or '—'} | {f.target or '—'} | {met} |"
        )
    return "\n".join(lines)


CALIBRATION_LOOPS = 2_000_000


def calibration_probe(repeats: int = 5) -> Spread:
    """Milliseconds a fixed pure-Python loop takes (best of ``repeats``, and the spread).

    Printed before any benchmark: the same code on the same machine takes the same
    time when the machine is quiet, so a run whose probe reads, say, 1.8× the
    usual one was made on a machine that lent the benchmarks about half its speed,
    and its figures compare with others' only with that in mind."""

    def loop() -> float:
        started = time.process_time()
        total = 0
        for n in range(CALIBRATION_LOOPS):
            total += n * n % 7
        return (time.process_time() - started) * 1000

    return Spread.of([loop() for _ in range(repeats)])


MEMORY_PROBE_SLOTS = 1 << 20  # about 40 MB of list and integers: beyond the caches
MEMORY_PROBE_STEPS = 1_000_000


def memory_probe(repeats: int = 5) -> Spread:
    """Milliseconds of CPU for a fixed walk of dependent reads through a large random cycle.

    The loop of :func:`calibration_probe` lives in the processor's caches, so it reads
    the same on a host whose memory other tenants keep busy; work with a large working
    set (a served request walks FastAPI, SQLAlchemy, psycopg and our own code) does not.
    On one machine on one day the loop read 91 and then 98 ms while a served intake
    request grew from 3.4 to 5.0 ms of CPU. Each step of this walk waits for memory,
    so a busy host shows here."""
    import random

    rng = random.Random(7)
    order = list(range(MEMORY_PROBE_SLOTS))
    rng.shuffle(order)
    following = [0] * MEMORY_PROBE_SLOTS
    for here, there in zip(order, order[1:] + order[:1], strict=True):
        following[here] = there

    def walk() -> float:
        started = time.process_time()
        at = 0
        for _ in range(MEMORY_PROBE_STEPS):
            at = following[at]
        return (time.process_time() - started) * 1000

    return Spread.of([walk() for _ in range(repeats)])


def calibration_line() -> str:
    """The probes as one line: CPU ms and wall ms of the fixed loop, so a loaded machine
    shows, and CPU ms of the memory walk, so a host with busy memory shows."""
    started = time.perf_counter()
    cpu = calibration_probe()
    wall_ms = (time.perf_counter() - started) * 1000 / cpu.runs
    busy = " (wall well above CPU: the machine was busy with other work)"
    memory = memory_probe()
    return (
        f"calibration: a fixed loop of {CALIBRATION_LOOPS:,} steps took "
        f"{cpu.text('{:,.0f}')} ms of CPU and {wall_ms:,.0f} ms of wall time per run"
        + (busy if wall_ms > 1.5 * cpu.median else "")
        + f"; a walk of {MEMORY_PROBE_STEPS:,} dependent reads through "
        f"{MEMORY_PROBE_SLOTS:,} slots took {memory.text('{:,.0f}')} ms of CPU"
    )


def machine_description(database_url: str | None = None) -> list[str]:
    """Lines describing where the figures were measured: CPU, memory, OS, Python, databases."""
    import os
    import platform
    import sqlite3
    from pathlib import Path

    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kib = int(meminfo.read_text().split("MemTotal:", 1)[1].split()[0])
        memory = f", {total_kib / 1024 / 1024:.0f} GiB RAM"
    lines = [
        f"CPU: {os.cpu_count()} × {model}{memory}",
        f"OS: {platform.system()} {platform.release()} ({platform.machine()})",
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}",
    ]
    if database_url:
        try:
            from sqlalchemy import create_engine, make_url, text

            # The maintenance database: the benchmark's own may not exist yet.
            engine = create_engine(make_url(database_url).set(database="postgres"))
            with engine.connect() as conn:
                version = conn.execute(text("SHOW server_version")).scalar()
            engine.dispose()
            lines.append(f"PostgreSQL {version} on the same machine")
        except Exception as exc:  # the description must not stop the run
            lines.append(f"PostgreSQL: not reachable ({type(exc).__name__})")
    return lines


def ensure_database(database_url: str) -> None:
    """Create the PostgreSQL database ``database_url`` names, if it is not there yet."""
    from sqlalchemy import create_engine, make_url, text

    url = make_url(database_url)
    name = url.database
    if not name or not url.drivername.startswith("postgresql"):
        return
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def vacuum(engine: Any, *, analyze: bool = True) -> None:
    """``VACUUM`` (``ANALYZE`` too unless told) the database ``engine`` is on, outside a
    transaction, as autovacuum would; the suites call it where a running service's tables
    would have been vacuumed by then."""
    from sqlalchemy import text

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if analyze else "VACUUM"))


TICKS_PER_S = os.sysconf("SC_CLK_TCK")  # the unit of the kernel's CPU counters in /proc


def process_ticks(pid: int) -> int:
    """CPU ticks (user + system) process ``pid`` has used; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def postgres_ticks() -> dict[int, int]:
    """CPU ticks of every PostgreSQL process on this machine, by pid."""
    found: dict[int, int] = {}
    for comm in glob.glob("/proc/[0-9]*/comm"):
        try:
            if Path(comm).read_text().strip() == "postgres":
                pid = int(comm.split("/")[2])
                found[pid] = process_ticks(pid)
        except (OSError, ValueError):
            continue
    return found


def machine_busy_ticks() -> int:
    """CPU ticks the whole machine has spent on anything but idling and waiting for I/O."""
    try:
        numbers = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0
    idle = numbers[3] + (numbers[4] if len(numbers) > 4 else 0)
    return sum(numbers[:8]) - idle


def peak_rss_kib(pid: int | str = "self") -> int:
    """The kernel's high-water mark of process ``pid``'s resident memory (``VmHWM``), KiB.

    Unlike ``ru_maxrss`` it is the process's own: Linux keeps ``ru_maxrss`` across
    ``execve``, so a child of a large benchmark process would report its parent's size."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:", 1)[1].split()[0])


def wait_for_log_line(
    log: Path, needle: str, process: subprocess.Popen[bytes], *, timeout_s: float = 120.0
) -> None:
    """Until ``log`` (the output of ``process``) holds a line with ``needle``, e.g. a
    worker's readiness line "worker NAME started": a condition, never a fixed sleep."""
    give_up = time.monotonic() + timeout_s
    while needle not in log.read_text(errors="replace"):
        if process.poll() is not None:
            raise RuntimeError(f"{log.name}: the process exited early:\n{log.read_text()[-2000:]}")
        if time.monotonic() > give_up:
            raise RuntimeError(
                f"{log.name}: no {needle!r} after {timeout_s:.0f} s:\n{log.read_text()[-2000:]}"
            )
        time.sleep(0.05)
