"""``aftersales db backup`` and ``db restore``, on SQLite and PostgreSQL.

The story: due deadlines, some paid; a backup; the worker pays the rest; the
backup is restored. The restored database holds exactly what was backed up
(ledger, balances, deadlines still armed), and the worker, run on it again,
pays each failure still due once: every failure paid exactly once, as if the
time between backup and restore had never happened.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.policy_files import load_policy_book
from aftersales.entrypoints.cli import app as cli
from aftersales.services.deadlines import due_count, tick
from aftersales.testing import services_on
from tests.integration.bulk import SOLUTION_POINTS, BulkCases, create_due_help_cases

SANDBOX = "backup"
CASES = 12


def _state(engine: Engine) -> dict[str, Any]:
    """What a restore must bring back exactly."""
    with engine.connect() as conn:
        ledger = conn.execute(
            select(
                s.ledger_entries.c.key, s.ledger_entries.c.payee, s.ledger_entries.c.amount
            ).order_by(s.ledger_entries.c.key)
        ).all()
        balances = conn.execute(
            select(s.account_balances).order_by(
                s.account_balances.c.account, s.account_balances.c.unit
            )
        ).all()
        deadlines = conn.execute(
            select(s.deadlines.c.case_id, s.deadlines.c.clock_id, s.deadlines.c.due_at).order_by(
                s.deadlines.c.case_id, s.deadlines.c.clock_id
            )
        ).all()
    return {"ledger": ledger, "balances": balances, "deadlines": deadlines}


def _run_worker(engine: Engine, now: datetime, *, limit: int) -> int:
    """Claim-and-handle rounds as the worker does them; the payouts made."""
    svc = services_on(engine)
    paid = 0
    while True:
        report = tick(svc, sandbox=SANDBOX, now=now, worker_id="w", limit=limit)
        paid += report.payouts
        if report.claimed == 0:
            return paid


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["db", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def _url_options(database_url: str) -> list[str]:
    return ["--database-url", database_url]


@pytest.fixture
def cases(engine: Engine) -> BulkCases:
    return create_due_help_cases(
        engine, load_policy_book([]), count=CASES, sandbox=SANDBOX, verbose=False
    )


def test_a_restored_database_is_the_backup_and_the_worker_pays_each_failure_once(
    engine: Engine, database_url: str, cases: BulkCases, tmp_path: Path
) -> None:
    now = cases.sandbox_now
    svc = services_on(engine)
    first = tick(svc, sandbox=SANDBOX, now=now, worker_id="w", limit=4)
    assert first.payouts == 4
    backed_up = _state(engine)
    assert len(backed_up["ledger"]) == 4
    due_then = due_count(svc, sandbox=SANDBOX, now=now)  # rows: clocks and warning marks
    assert due_then > 0

    backup_file = tmp_path / "aftersales.backup"
    code, out = _cli("backup", str(backup_file), *_url_options(database_url))
    assert code == 0, out
    assert backup_file.stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no partial

    assert _run_worker(engine, now, limit=50) == CASES - 4  # paid after the backup
    assert _state(engine) != backed_up

    engine.dispose()  # the services are stopped for a restore
    code, out = _cli("restore", str(backup_file), *_url_options(database_url))
    assert code == 0, out

    fresh = make_engine(database_url)
    try:
        assert _state(fresh) == backed_up
        assert due_count(services_on(fresh), sandbox=SANDBOX, now=now) == due_then
        assert _run_worker(fresh, now, limit=50) == CASES - 4
        after = _state(fresh)
        keys = [row.key for row in after["ledger"]]
        assert sorted(keys) == sorted(cases.payout_key(c) for c in cases.case_ids)
        assert len(set(keys)) == CASES  # each failure once
        buyers = {row.account: row.balance for row in after["balances"] if row.unit == "points"}
        paid_to = {}
        for row in after["ledger"]:
            paid_to[row.payee] = paid_to.get(row.payee, 0) + row.amount
        assert {k: buyers[k] for k in paid_to} == paid_to
        assert sum(paid_to.values()) == CASES * SOLUTION_POINTS
        assert due_count(services_on(fresh), sandbox=SANDBOX, now=now) == 0
    finally:
        fresh.dispose()


def test_a_restore_is_refused_while_another_process_has_the_database_open(
    engine: Engine, database_url: str, cases: BulkCases, tmp_path: Path
) -> None:
    backup_file = tmp_path / "aftersales.backup"
    assert _cli("backup", str(backup_file), *_url_options(database_url))[0] == 0
    tick(services_on(engine), sandbox=SANDBOX, now=cases.sandbox_now, worker_id="w", limit=4)
    paid = _state(engine)
    with engine.connect():  # a running service holds a connection
        code, out = _cli("restore", str(backup_file), *_url_options(database_url))
        assert code == 2
        assert "--force" in out and "stop the services" in out
    engine.dispose()
    check = make_engine(database_url)
    try:
        assert _state(check) == paid  # refused: nothing restored, nothing half-written
    finally:
        check.dispose()


def test_a_backup_never_overwrites_a_file(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    existing = tmp_path / "keep.me"
    existing.write_bytes(b"precious")
    code, out = _cli("backup", str(existing), *_url_options(database_url))
    assert code == 2 and "exists already" in out
    assert existing.read_bytes() == b"precious"
    code, out = _cli("backup", str(tmp_path / "no" / "such" / "dir"), *_url_options(database_url))
    assert code == 2 and "there is no folder" in out


def test_a_file_that_is_not_a_backup_is_refused_and_the_database_is_untouched(
    engine: Engine, database_url: str, cases: BulkCases, tmp_path: Path
) -> None:
    before = _state(engine)
    engine.dispose()
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a database at all" * 100)
    code, out = _cli("restore", str(junk), *_url_options(database_url))
    assert code == 2 and "junk.backup" in out
    code, out = _cli("restore", str(tmp_path / "missing"), *_url_options(database_url))
    assert code == 2 and "there is no backup file" in out
    check = make_engine(database_url)
    try:
        assert _state(check) == before
    finally:
        check.dispose()


def test_a_forced_restore_goes_ahead_while_another_process_has_the_database_open(
    engine: Engine, database_url: str, cases: BulkCases, tmp_path: Path
) -> None:
    backed_up = _state(engine)
    backup_file = tmp_path / "aftersales.backup"
    assert _cli("backup", str(backup_file), *_url_options(database_url))[0] == 0
    _run_worker(engine, cases.sandbox_now, limit=50)
    with engine.connect() as idle:  # open, between transactions
        idle.rollback()
        code, out = _cli("restore", "--force", str(backup_file), *_url_options(database_url))
        assert code == 0, out
    assert _state(engine) == backed_up  # the open process sees the restored data
