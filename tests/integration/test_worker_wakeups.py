"""The deadline worker wakes when something falls due, not only when its poll comes round.

Each test runs the deadline loop in a thread on real time, with a poll interval
far longer than the wait the test allows — on PostgreSQL, where the worker
listens for notices; on SQLite, which has none, the poll is short, and the test
checks that it bounds the wait instead. Tests wait for conditions with a time
limit; nothing sleeps a fixed time to let something happen.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, select, update

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.wakeups import CHANNEL, announce_near
from aftersales.adapters.policy_files import load_policy_book
from aftersales.bootstrap import Container, bootstrap
from aftersales.settings import Settings
from aftersales.worker.loop import Worker
from tests.integration.bulk import BulkCases, create_due_help_cases

LONG_POLL_S = 30.0  # on PostgreSQL: only a wake-up can explain a prompt payout
SHORT_POLL_S = 0.3  # on SQLite: the fallback that bounds every wait
PROMPT_S = 10.0  # well under LONG_POLL_S, even on a loaded machine


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} (waited {timeout_s} s)", pytrace=False)
        time.sleep(0.01)
    return time.monotonic()


@contextlib.contextmanager
def running_worker(database_url: str, tmp_path: Path, poll_s: float) -> Iterator[Worker]:
    container: Container = bootstrap(
        Settings(database_url=database_url, data_dir=tmp_path, worker_poll_interval_s=poll_s)
    )
    worker = Worker(container, worker_id="wake-up-test")
    thread = threading.Thread(target=worker.run, name="deadline-loop")
    thread.start()
    try:
        if worker.wakeups.enabled:
            assert worker.wakeups.listening.wait(PROMPT_S), "the worker never listened"
        # Its first round has looked at every clock: from here it sleeps, or is about to.
        wait_until(lambda: worker.rounds >= 1, PROMPT_S, "the worker made no round")
        yield worker
    finally:
        worker.stop.set()
        thread.join(PROMPT_S + 5)
        container.close()
    assert not thread.is_alive(), "the worker did not stop"


def poll_for(engine: Engine) -> float:
    return LONG_POLL_S if engine.dialect.name == "postgresql" else SHORT_POLL_S


def one_case(engine: Engine, sandbox: str) -> BulkCases:
    """One dispatched help request whose 1-hour clock is not due yet on its sandbox clock."""
    return create_due_help_cases(
        engine, load_policy_book(), count=1, sandbox=sandbox, due_after=timedelta(0), verbose=False
    )


def paid(engine: Engine, cases: BulkCases) -> bool:
    with engine.connect() as conn:
        key = cases.payout_key(cases.case_ids[0])
        row = conn.execute(select(s.ledger_entries.c.id).where(s.ledger_entries.c.key == key))
        return row.first() is not None


def test_moving_a_sandbox_clock_past_a_deadline_wakes_the_sleeping_worker(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    cases = one_case(engine, "moved")
    with running_worker(database_url, tmp_path, poll_for(engine)) as worker:
        assert not paid(engine, cases)
        past_due = cases_opened(engine) + timedelta(hours=1, seconds=1)
        with worker.container.services.uow() as uow:  # as an advance or the sandbox API moves it
            uow.sandboxes.set_now("moved", past_due)
            uow.commit()
        moved = time.monotonic()
        paid_at = wait_until(lambda: paid(engine, cases), PROMPT_S, "the due payout was not made")
        assert paid_at - moved < PROMPT_S
        if worker.wakeups.enabled:
            assert worker.wakeups.notices >= 1


def test_a_deadline_held_by_a_lapsing_lease_is_claimed_when_the_lease_runs_out(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    """A sandbox deadline already due, held by a worker that died: the sleeping worker
    wakes when the lease lapses (a real-clock instant, like a live deadline), not at its
    next poll — and no notice announces a lapse, so this holds on every database."""
    cases = one_case(engine, "held")
    past_due = cases_opened(engine) + timedelta(hours=1, seconds=1)
    with engine.begin() as conn:
        conn.execute(update(s.sandboxes).where(s.sandboxes.c.id == "held").values(now=past_due))
        lapse = datetime.now(UTC) + timedelta(seconds=2)
        conn.execute(
            update(s.deadlines)
            .where(s.deadlines.c.sandbox == "held")
            .values(claimed_by="a-dead-worker", claimed_until=lapse)
        )
    with running_worker(database_url, tmp_path, LONG_POLL_S):
        wait_until(lambda: paid(engine, cases), PROMPT_S, "the lapsed claim was not taken over")
    assert datetime.now(UTC) >= lapse  # not before the lease ran out


def cases_opened(engine: Engine) -> datetime:
    with engine.connect() as conn:
        return conn.execute(select(s.cases.c.opened_at)).scalar_one()


@pytest.mark.postgres
def test_arming_a_live_deadline_due_soon_announces_it_and_one_due_later_does_not(
    engine: Engine, database_url: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    now = datetime.now(UTC)
    with psycopg.connect(conninfo, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")

        def heard() -> list[str]:
            return [n.payload for n in listener.notifies(timeout=0.5)]

        with engine.begin() as conn:
            announce_near(conn, [("live", now + timedelta(hours=1)), ("sb", now)])
        assert heard() == []
        with engine.begin() as conn:
            announce_near(conn, [("live", now + timedelta(hours=1)), ("live", now)])
            announce_near(conn, [("live", now + timedelta(seconds=1))])
        assert heard() == ["live"]  # one notice for the transaction, at its commit
        with contextlib.suppress(RuntimeError), engine.begin() as conn:
            announce_near(conn, [("live", now)])
            raise RuntimeError("rolled back")
        assert heard() == []
