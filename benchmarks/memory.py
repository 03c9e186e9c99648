"""Peak memory (RSS) of the deadline worker and of the API process with many open cases.

Runs on the database the deadline benchmark filled (``<name>_deadlines``); when
that holds fewer open cases than wanted (e.g. this suite runs alone), it is
filled first. Each process runs as operators run it — ``aftersales worker`` and
``aftersales serve --no-worker`` — for a stretch of real work: the worker wakes
repeatedly and probes every clock; the API answers readiness and metrics
scrapes (which count open cases and due deadlines) and serves the sign-in page.
The peak is the kernel's high-water mark (``VmHWM``) for the process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

import httpx
from sqlalchemy import func, select

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.engine import make_engine
from aftersales.testing.serving import cli_command, free_port
from benchmarks.common import Figure, Report, Spread, ensure_database, peak_rss_kib
from benchmarks.deadlines import _load_open, _reset, database_for

GROUP: Final = "memory"


def run(report: Report, *, quick: bool, database_url: str) -> None:
    url = database_for(database_url)
    wanted = 10_000 if quick else int(os.environ.get("AFTERSALES_BENCH_OPEN_MAX", "1000000"))
    ensure_database(url)
    engine = make_engine(url)
    try:
        try:
            with engine.connect() as conn:
                open_cases = conn.execute(
                    select(func.count()).where(s.cases.c.is_open)
                ).scalar_one()
        except Exception:  # no schema yet
            _reset(engine)
            open_cases = 0
        if open_cases < wanted:
            _load_open(engine, wanted - open_cases, f"memory-{wanted}")
            open_cases = wanted
    finally:
        engine.dispose()
    seconds = 3.0 if quick else 20.0
    # The two processes run side by side: each one's own peak is what is read.
    with ThreadPoolExecutor(max_workers=2) as pool:
        worker_peak = pool.submit(
            _peak_rss_mib, url, ["worker", "--id", "memory"], seconds, http=False
        )
        api_peak = pool.submit(_peak_rss_mib, url, ["serve", "--no-worker"], seconds, http=True)
        worker, api = worker_peak.result(), api_peak.result()
    for name, peak in (("worker", worker), ("API process (serve --no-worker)", api)):
        report.add(
            Figure(
                GROUP,
                f"peak RSS of the {name} at {open_cases:,} open cases",
                "MiB",
                Spread.of([peak]),
                better="lower",
                note=f"VmHWM after {seconds:g} s of work",
            )
        )


def _peak_rss_mib(url: str, args: list[str], seconds: float, *, http: bool) -> float:
    command = cli_command()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}
    env["AFTERSALES_DATABASE_URL"] = url
    env["AFTERSALES_DATA_DIR"] = tempfile.mkdtemp(prefix="aftersales-memory-")
    port = free_port()
    extra = ["--port", str(port)] if http else []
    log = Path(env["AFTERSALES_DATA_DIR"]) / "process.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, *args, *extra], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        ends = time.monotonic() + seconds
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() < ends:
            if process.poll() is not None:
                raise RuntimeError(f"{' '.join(args)} exited early:\n{log.read_text()[-2000:]}")
            if http:
                try:
                    for path in ("/readyz", "/metrics", "/login"):
                        httpx.get(base + path, timeout=30)
                except httpx.TransportError:
                    pass  # not listening yet
            time.sleep(0.2)
        return peak_rss_kib(process.pid) / 1024
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
