"""X-1 under stress, on PostgreSQL: racing worker processes and a worker killed mid-batch.

Every case here is a dispatched one-click-help request whose 1-hour solution
clock (OH-4) is past due in its sandbox, so each owes exactly one payout of
5,000 points (OH-5) under the key ``<case>/solution/no_solution_in_time``.
The workers are real ``aftersales worker`` processes, as an operator runs them.

What "exactly once" is checked against, after the run:

* the ledger holds one entry per case and no other (its unique key would refuse
  a second one, so the workers' own counts are checked too: the payouts they
  report add up to the number of cases, which they would exceed if two workers
  both believed they had paid the same failure);
* one ``payout.made`` event per case in the outbox, written in the same
  transaction as the entry (a crash between the two would show here);
* every buyer's balance equals the sum of their ledger entries, and the merchant's
  balance is the negative of the total (no balance update lost or doubled);
* no deadline of the sandbox is still due.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, func, select

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.policy_files import load_policy_book
from aftersales.services.deadlines import due_count
from aftersales.testing import services_on
from tests.integration.bulk import SOLUTION_POINTS, BulkCases, create_due_help_cases
from tests.integration.pg import PgAdmin

pytestmark = pytest.mark.postgres

RACE_CASES = 10_000
RACE_WORKERS = 4
KILL_CASES = 3_000
KILL_ROUNDS = 20
WORKER_STOPPED = re.compile(r"worker stopped: (\d+) cases handled, (\d+) payouts made")


@pytest.fixture
def pg_url(pg_admin: PgAdmin, pg_migrated_template: str) -> Iterator[str]:
    with pg_admin.fresh_database(pg_migrated_template) as url:
        yield url


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _worker(url: str, worker_id: str, *, batch: int, lease_s: float) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}
    env |= {"AFTERSALES_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aftersales.entrypoints.cli",
            "worker",
            "--id",
            worker_id,
            "--batch",
            str(batch),
            "--poll",
            "0.2",
            "--lease",
            str(lease_s),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _ledger_count(engine: Engine, sandbox: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(s.ledger_entries)
                .where(s.ledger_entries.c.sandbox == sandbox)
            ).scalar_one()
        )


def _wait_until_drained(engine: Engine, bulk: BulkCases, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if due_count(services_on(engine), sandbox=bulk.sandbox, now=bulk.sandbox_now) == 0:
            return
        time.sleep(0.25)
    pytest.fail(
        f"{due_count(services_on(engine), sandbox=bulk.sandbox, now=bulk.sandbox_now)} deadlines still due "
        f"after {timeout_s:.0f} s"
    )


def _wait_until_started(process: subprocess.Popen[str], *, timeout_s: float) -> str:
    """Read the worker's output until it logs that it started; return what was read."""
    assert process.stdout is not None
    give_up = time.monotonic() + timeout_s
    lines = []
    while time.monotonic() < give_up:
        line = process.stdout.readline()
        if not line:  # it ended
            break
        lines.append(line)
        if "worker" in line and "started" in line:
            return "".join(lines)
    pytest.fail(f"the worker did not start: {''.join(lines)}")


@dataclass(frozen=True)
class LedgerCheck:
    entries: int
    distinct_cases: int
    duplicates: int
    payout_events: int
    points_paid: int


def _check_paid_exactly_once(engine: Engine, bulk: BulkCases) -> LedgerCheck:
    le, ob, bal = s.ledger_entries, s.outbox, s.account_balances
    with engine.connect() as conn:
        keys = [
            r.key
            for r in conn.execute(select(le.c.key, le.c.amount).where(le.c.sandbox == bulk.sandbox))
        ]
        per_payee = dict(
            conn.execute(
                select(le.c.payee, func.sum(le.c.amount))
                .where(le.c.sandbox == bulk.sandbox)
                .group_by(le.c.payee)
            ).all()
        )
        points_paid = int(
            conn.execute(
                select(func.coalesce(func.sum(le.c.amount), 0)).where(le.c.sandbox == bulk.sandbox)
            ).scalar_one()
        )
        payout_events = int(
            conn.execute(
                select(func.count())
                .select_from(ob)
                .where(ob.c.sandbox == bulk.sandbox, ob.c.kind == "payout.made")
            ).scalar_one()
        )
        balances = dict(
            conn.execute(
                select(bal.c.account, bal.c.balance).where(
                    bal.c.sandbox == bulk.sandbox, bal.c.unit == "points"
                )
            ).all()
        )
    check = LedgerCheck(
        entries=len(keys),
        distinct_cases=len({k.split("/")[0] for k in keys}),
        duplicates=len(keys) - len(set(keys)),
        payout_events=payout_events,
        points_paid=points_paid,
    )
    assert check.duplicates == 0
    assert sorted(keys) == sorted(bulk.payout_key(c) for c in bulk.case_ids)
    assert check.payout_events == bulk.count
    assert points_paid == bulk.count * SOLUTION_POINTS
    for buyer in bulk.buyers:
        assert balances.get(buyer) == per_payee.get(buyer), buyer
    assert balances[bulk.merchant] == -points_paid
    assert due_count(services_on(engine), sandbox=bulk.sandbox, now=bulk.sandbox_now) == 0
    return check


@pytest.mark.timeout(900)
def test_x_1_four_racing_workers_pay_10000_due_deadlines_exactly_once(
    pg_engine: Engine, pg_url: str
) -> None:
    book = load_policy_book()
    bulk = create_due_help_cases(pg_engine, book, count=RACE_CASES, sandbox="race")
    started = time.monotonic()
    workers = [_worker(pg_url, f"racer-{n}", batch=100, lease_s=30) for n in range(RACE_WORKERS)]
    try:
        _wait_until_drained(pg_engine, bulk, timeout_s=600)
        drained_s = time.monotonic() - started
        for process in workers:
            process.send_signal(signal.SIGTERM)
        outputs = [p.communicate(timeout=60)[0] for p in workers]
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()
    reported = []
    for process, output in zip(workers, outputs, strict=True):
        assert process.returncode == 0, output
        found = WORKER_STOPPED.search(output)
        assert found, output
        reported.append(int(found.group(2)))
    check = _check_paid_exactly_once(pg_engine, bulk)
    # Had two workers each paid the same failure, their reports would add up to more.
    assert sum(reported) == bulk.count
    assert sum(1 for n in reported if n > 0) >= 2, f"the claims were not shared: {reported}"
    print(
        f"\n[race] {RACE_WORKERS} workers, {bulk.count} due deadlines: drained in {drained_s:.1f} s "
        f"(including process start-up); payouts per worker {reported}; ledger entries "
        f"{check.entries}; payout events {check.payout_events}; duplicates {check.duplicates}"
    )


@pytest.mark.timeout(900)
def test_x_1_worker_killed_mid_batch_20_times_loses_nothing_and_pays_nothing_twice(
    pg_engine: Engine, pg_url: str
) -> None:
    book = load_policy_book()
    bulk = create_due_help_cases(pg_engine, book, count=KILL_CASES, sandbox="kill")
    rng = random.Random(20261124)
    lease_s = 1.0  # short, so what a killed worker had claimed is claimed again soon
    kills_mid_batch = 0
    for round_no in range(KILL_ROUNDS):
        before = _ledger_count(pg_engine, bulk.sandbox)
        process = _worker(pg_url, f"victim-{round_no}", batch=50, lease_s=lease_s)
        try:
            # Wait until this worker is paying (start-up done, a batch under way), then
            # kill it at a random point within the next batches.
            give_up = time.monotonic() + 60
            while _ledger_count(pg_engine, bulk.sandbox) == before:
                if process.poll() is not None or time.monotonic() > give_up:
                    break
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills_mid_batch += 1
            process.communicate(timeout=30)
        if due_count(services_on(pg_engine), sandbox=bulk.sandbox, now=bulk.sandbox_now) == 0:
            break
    assert kills_mid_batch >= 10, "the worker finished before it could be killed often enough"
    paid_by_victims = _ledger_count(pg_engine, bulk.sandbox)
    # A last worker, left alone, finishes the rest once the dead workers' leases expire.
    time.sleep(lease_s)
    survivor = _worker(pg_url, "survivor", batch=50, lease_s=lease_s)
    try:
        # Stop it only once it runs: a SIGTERM during start-up (the victims may have
        # paid everything already) would end it before its handler is installed.
        started = _wait_until_started(survivor, timeout_s=60)
        _wait_until_drained(pg_engine, bulk, timeout_s=300)
        survivor.send_signal(signal.SIGTERM)
        output, _ = survivor.communicate(timeout=60)
        output = started + output
    finally:
        if survivor.poll() is None:
            survivor.kill()
    assert survivor.returncode == 0, output
    found = WORKER_STOPPED.search(output)
    assert found, output
    check = _check_paid_exactly_once(pg_engine, bulk)
    assert paid_by_victims + int(found.group(2)) == bulk.count
    print(
        f"\n[kill] {kills_mid_batch} SIGKILLs mid-batch over {bulk.count} due deadlines: "
        f"{paid_by_victims} paid before the last kill, {found.group(2)} by the survivor; "
        f"ledger entries {check.entries}; payout events {check.payout_events}; "
        f"duplicates {check.duplicates}"
    )
