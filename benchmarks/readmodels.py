"""The read models at scale, beside the full-scan queries they replace, on PostgreSQL.

Set-up: a fresh database (``<name>_readmodels`` beside the one given), filled with
open one-click-help cases through the bulk loader the load tests use, moved to live
data (as the metrics scrape reads live data only), each with its two running
deadlines. At 10,000 and 1,000,000 open cases (quick: 1,000 and 5,000) it times:

1. **provider queue**: the first 200 cases nearest to breach, for the provider every
   case is assigned to. Peer: the query it replaced, which read every running
   deadline in scope and sorted in Python.
2. **compliance, 30 days**: per provider, over a window not on whole hours: the
   whole hours from the rollup the database keeps, the part-hours at the edges from
   the cases. Peer: the report's two GROUP BYs over every case opened in the window
   (``compliance_in_full``, the query it replaced and is held equal to).
3. **metrics scrape**: ``live_figures``, from the kept counts. Peer: the counts it
   replaced (open cases grouped by programme, payouts grouped by rule, over rows).
4. **ops case list**: the operations' list of open live cases, a page of 50 found
   by keyset after a first page, without the count. Peer: today's page with the
   exact count of every matching case.

"Flat" is checked as in the deadline benchmark: the largest size within 2× the
smallest.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Engine, func, make_url, select, text
from tests.integration.bulk import OPENED_AT, create_due_help_cases

from aftersales.adapters.db import migrate
from aftersales.adapters.db import read_models as rm
from aftersales.adapters.db import schema as s
from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.policy_files import load_policy_book
from aftersales.domain.lifecycle import Role
from aftersales.services.records import LIVE, CaseFilter, QueueLine, Scope
from benchmarks.common import Figure, Report, Spread, ensure_database, vacuum

GROUP: Final = "read models"
FLAT_LIMIT: Final = 2.0
TARGETS_MS: Final = {
    "provider queue": 50.0,
    "compliance 30 days": 200.0,
    "metrics scrape": 50.0,
    "ops case list": 100.0,
}
OPS: Final = Scope(Role.OPERATIONS, None)


def database_for(database_url: str) -> str:
    url = make_url(database_url)
    return url.set(database=f"{url.database}_readmodels").render_as_string(hide_password=False)


def run(report: Report, *, quick: bool, database_url: str) -> None:
    url = database_for(database_url)
    largest = int(os.environ.get("AFTERSALES_BENCH_OPEN_MAX", "1000000"))
    sizes = (1_000, 5_000) if quick else (10_000, largest)  # quick: a smoke run, kept short
    ensure_database(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        migrate.upgrade(engine)
        _at_sizes(report, engine, sizes, repeats=3 if quick else 7)
    finally:
        engine.dispose()


def _load(engine: Engine, count: int, sandbox: str) -> str:
    """``count`` open live cases; the provider they are all assigned to."""
    started = time.perf_counter()
    create_due_help_cases(
        engine,
        load_policy_book(),
        count=count,
        sandbox=sandbox,
        due_after=timedelta(0),
        events_dispatched=True,
        chunk=5_000,
        verbose=False,
    )
    with engine.begin() as conn:
        for table in (s.cases, s.deadlines):
            conn.execute(table.update().where(table.c.sandbox == sandbox).values(sandbox=LIVE))
        provider = conn.execute(select(s.cases.c.assignee).limit(1)).scalar_one()
    # The move to live left a dead version of every row: vacuum as autovacuum would,
    # so the figures are of the tables a running service has, not of the loader's.
    vacuum(engine)
    print(f"  {count:,} open cases loaded in {time.perf_counter() - started:,.1f} s", flush=True)
    return str(provider)


def _ms(run: Callable[[], object], times: int) -> Spread:
    run()  # warm the caches and the statement cache first
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return Spread.of(samples)


def _at_sizes(report: Report, engine: Engine, sizes: Sequence[int], *, repeats: int) -> None:
    loaded = 0
    ours_at: dict[str, dict[int, Spread]] = {name: {} for name in TARGETS_MS}
    for size in sizes:
        provider = _load(engine, size - loaded, f"load-{size}")
        loaded = size
        with engine.connect() as conn:
            views = rm.SqlReadModels(conn)
            runs = _runs(views, provider)
            for name, (ours_run, peer_run, peer_name) in runs.items():
                ours = _ms(ours_run, repeats)
                peer = _ms(peer_run, max(2, repeats // 2))
                ours_at[name][size] = ours
                target = TARGETS_MS[name]
                report.add(
                    Figure(
                        GROUP,
                        f"{name} at {size:,} open cases",
                        "ms",
                        ours,
                        better="lower",
                        peer=peer,
                        peer_name=peer_name,
                        target=f"≤ {target:g} ms",
                        met=ours.median <= target,
                    )
                )
    for name, by_size in ours_at.items():
        small, big = by_size[sizes[0]], by_size[sizes[-1]]
        growth = Spread.of([big.median / small.median])
        report.add(
            Figure(
                GROUP,
                f"{name} growth, {sizes[0]:,} → {sizes[-1]:,} open cases",
                "×",
                growth,
                better="lower",
                target=f"flat (≤{FLAT_LIMIT:g}×)",
                met=growth.median <= FLAT_LIMIT,
            )
        )


Run = Callable[[], object]


def _runs(views: rm.SqlReadModels, provider: str) -> dict[str, tuple[Run, Run, str]]:
    """Per figure: ours, the peer, and what the peer is."""
    live_now = OPENED_AT
    scope = Scope(Role.PROVIDER, provider)
    start, end = OPENED_AT - timedelta(days=29), OPENED_AT + timedelta(days=1)
    # "The last 30 days" asked at 10:23:17 starts and ends inside an hour.
    ragged = start + timedelta(minutes=23, seconds=17), end + timedelta(minutes=23, seconds=17)
    first = views.case_search(OPS, CaseFilter(open_only=True), limit=50, count=False)
    after = (first.lines[-1].opened_at, first.lines[-1].id)
    return {
        "provider queue": (
            lambda: views.provider_queue(scope, live_now=live_now, limit=200),
            lambda: _full_scan_queue(views, scope, live_now, 200),
            "every running deadline read, sorted in Python",
        ),
        "compliance 30 days": (
            lambda: views.compliance(OPS, by="provider", start=ragged[0], end=ragged[1]),
            lambda: views.compliance_in_full(OPS, by="provider", start=ragged[0], end=ragged[1]),
            "the full GROUP BY over every case of the window",
        ),
        "metrics scrape": (
            lambda: views.live_figures(live_now),
            lambda: _counted_figures(views),
            "open cases and payouts counted over rows",
        ),
        "ops case list": (
            lambda: views.case_search(
                OPS, CaseFilter(open_only=True), limit=50, after=after, count=False
            ),
            lambda: views.case_search(OPS, CaseFilter(open_only=True), limit=50),
            "the page with the exact count of every match",
        ),
    }


def _full_scan_queue(
    views: rm.SqlReadModels, scope: Scope, live_now: datetime, limit: int
) -> list[QueueLine]:
    """The provider queue as it was computed before: every running deadline, sorted here."""
    d, sb, c = s.deadlines, s.sandboxes, s.cases
    query = rm.scoped(
        rm._joined([*rm._LINE_COLUMNS, d.c.clock_id, d.c.due_at, sb.c.now.label("sandbox_now")])
        .join(d, d.c.case_id == c.c.id)
        .outerjoin(sb, sb.c.id == c.c.sandbox)
        .where(c.c.is_open, rm._a_clock(d)),
        scope,
    )
    lines: dict[str, QueueLine] = {}
    for r in views.conn.execute(query):
        line = QueueLine(
            rm._case_line(r, r.due_at), r.clock_id, r.due_at, r.sandbox_now or live_now
        )
        kept = lines.get(r.id)
        if kept is None or line.seconds_left < kept.seconds_left:
            lines[r.id] = line
    return sorted(lines.values(), key=lambda q: (q.seconds_left, q.case.id))[:limit]


def _counted_figures(views: rm.SqlReadModels) -> object:
    """The scrape's counts as they were taken before: over every open case and payout."""
    c, le = s.cases, s.ledger_entries
    return (
        views.conn.execute(
            select(c.c.programme, func.count())
            .where(c.c.sandbox == LIVE, c.c.is_open)
            .group_by(c.c.programme)
        ).all(),
        views.conn.execute(
            select(le.c.rule, func.count(), func.coalesce(func.sum(le.c.amount), 0))
            .where(le.c.sandbox == LIVE, le.c.unit == "points")
            .group_by(le.c.rule)
        ).all(),
    )
