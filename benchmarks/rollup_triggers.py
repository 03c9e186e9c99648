"""What the compliance rollup's triggers cost the cliff's writes, on PostgreSQL.

``python -m benchmarks.rollup_triggers [--database-url URL] [--cases N]``

Set-up: a fresh database (``<name>_rollup_triggers`` beside the one given) with
``N`` dispatched help requests (5,000 by default) opened a few seconds apart, so
their clocks fall in several hours. Then, a chunk of 500 cases at a time, the
cliff's bulk path: one set update judging 500 clocks breached and one COPY of 500
points payouts, timed to the end of the statements and rolled back (so every
chunk meets the same rows), alternately with the rollup's triggers on ``clocks``,
``ledger_entries`` and ``cases`` enabled and disabled; and the same for one case's
writes as a request makes them (a clock started, the case saved, the clock judged). The other triggers (the counts of
0012) stay on in both, so the difference is the rollup's alone. Takes well under a
minute at the default size.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, make_url, select, text
from tests.integration.bulk import create_due_help_cases

from aftersales.adapters.db import bulk, migrate
from aftersales.adapters.db import schema as s
from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.policy_files import load_policy_book
from benchmarks.common import calibration_line, ensure_database

CHUNK = 500
_NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TRIGGERS = {
    "clocks": ("rollup_clocks_insert", "rollup_clocks_update"),
    "ledger_entries": ("rollup_ledger_entries_insert",),
    "cases": ("rollup_cases_update",),
}


def _switch(engine: Engine, on: bool) -> None:
    with engine.begin() as conn:
        for table, names in TRIGGERS.items():
            for name in names:
                conn.execute(
                    text(f"ALTER TABLE {table} {'ENABLE' if on else 'DISABLE'} TRIGGER {name}")
                )


def _chunk(conn: Connection, case_ids: list[str], clock_id: str, sandbox: str) -> float:
    started = time.perf_counter()
    bulk.update_rows(
        conn,
        s.clocks,
        {"case_id": "_case_id", "clock_id": "_clock_id"},
        [{"_case_id": c, "_clock_id": clock_id, "status": "breached"} for c in case_ids],
    )
    bulk.insert_rows(
        conn,
        s.ledger_entries,
        [
            {
                "key": f"{c}/{clock_id}/late",
                "sandbox": sandbox,
                "case_id": c,
                "clock_id": clock_id,
                "failure": "late",
                "penalty_id": "bench",
                "rule": "OH-5",
                "payer_role": "merchant",
                "payer": "bulk-shop",
                "payee": "buyer",
                "amount": 5_000,
                "unit": "points",
                "at": _NOW,
                "gates_complaints": False,
                "reason": {},
            }
            for c in case_ids
        ],
    )
    return (time.perf_counter() - started) * 1000


def _one_case(conn: Connection, case_id: str) -> float:
    """What one request writes that the rollup watches: a clock started, the case saved
    (its state, not its keys), the clock judged."""
    started = time.perf_counter()
    conn.execute(
        text("INSERT INTO clocks (case_id, clock_id, status) VALUES (:c, 'extra', 'running')"),
        {"c": case_id},
    )
    conn.execute(text("UPDATE cases SET version = version + 1 WHERE id = :c"), {"c": case_id})
    conn.execute(
        text("UPDATE clocks SET status = 'met' WHERE case_id = :c AND clock_id = 'extra'"),
        {"c": case_id},
    )
    return (time.perf_counter() - started) * 1000


def _report(what: str, times: dict[bool, list[float]], per: int) -> None:
    with_, without = statistics.median(times[True]), statistics.median(times[False])
    print(
        f"{what}, median of {len(times[True])}: with the rollup's triggers {with_:.2f} ms, "
        f"without {without:.2f} ms: +{with_ - without:.2f} ms "
        f"({(with_ / without - 1) * 100:+.0f}%, {(with_ - without) / per * 1000:.0f} µs each)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rollup_triggers")
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/aftersales_bench"
    )
    parser.add_argument("--cases", type=int, default=5_000)
    args = parser.parse_args(argv)
    given = make_url(args.database_url)
    url = given.set(database=f"{given.database}_rollup_triggers").render_as_string(
        hide_password=False
    )
    print(f"# {calibration_line()}")
    ensure_database(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        migrate.upgrade(engine)
        made = create_due_help_cases(
            engine,
            load_policy_book(),
            count=args.cases,
            sandbox="cliff",
            stagger=timedelta(seconds=7),
            events_dispatched=True,
            chunk=5_000,
            verbose=False,
        )
        with engine.begin() as conn:
            clock_id = conn.execute(
                select(s.clocks.c.clock_id).where(s.clocks.c.status == "running").limit(1)
            ).scalar_one()
            conn.execute(text("ANALYZE"))
        chunks = [made.case_ids[i : i + CHUNK] for i in range(0, len(made.case_ids), CHUNK)]
        times: dict[bool, list[float]] = {True: [], False: []}
        singles: dict[bool, list[float]] = {True: [], False: []}
        for round_ in range(4):
            for on in (round_ % 2 == 0, round_ % 2 == 1):
                _switch(engine, on)
                for ids in chunks:
                    with engine.connect() as conn:
                        times[on].append(_chunk(conn, ids, clock_id, "cliff"))
                        conn.rollback()
                for case_id in made.case_ids[:50]:
                    with engine.connect() as conn:
                        singles[on].append(_one_case(conn, case_id))
                        conn.rollback()
        _switch(engine, True)
        _report(f"chunk of {CHUNK} clock updates + {CHUNK} payouts (per payout)", times, CHUNK)
        _report("one case: a clock started, the case saved, the clock judged", singles, 1)
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
