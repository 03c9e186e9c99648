"""Claiming due deadlines: what is due, who holds it, and when a claim lapses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from aftersales.adapters.policy_files import load_policy_book
from aftersales.services.deadlines import claim_due, next_due, tick
from aftersales.testing import services_on
from tests.integration.bulk import create_due_help_cases

REAL_NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # the worker's own clock
LEASE = timedelta(seconds=30)


def test_a_claimed_deadline_is_not_claimed_again_while_its_lease_runs(engine: Engine) -> None:
    bulk = create_due_help_cases(engine, load_policy_book(), count=3, sandbox="sb", verbose=False)
    claim = dict(sandbox="sb", now=bulk.sandbox_now, limit=10, lease=LEASE)
    assert (
        sorted(claim_due(services_on(engine), worker_id="a", real_now=REAL_NOW, **claim))
        == bulk.case_ids
    )
    assert (
        claim_due(services_on(engine), worker_id="b", real_now=REAL_NOW + LEASE / 2, **claim) == []
    )


def test_a_dead_workers_sandbox_claims_lapse_on_the_real_clock_not_the_sandbox_clock(
    engine: Engine,
) -> None:
    """A sandbox clock stands still between advances; a lease measured on it would never end."""
    bulk = create_due_help_cases(engine, load_policy_book(), count=2, sandbox="sb", verbose=False)
    claim = dict(sandbox="sb", now=bulk.sandbox_now, limit=10, lease=LEASE)
    assert (
        sorted(claim_due(services_on(engine), worker_id="dead", real_now=REAL_NOW, **claim))
        == bulk.case_ids
    )
    # The sandbox clock has not moved; the real one has passed the lease.
    later = REAL_NOW + LEASE + timedelta(seconds=1)
    assert (
        sorted(claim_due(services_on(engine), worker_id="next", real_now=later, **claim))
        == bulk.case_ids
    )


def test_x_1_a_tick_after_a_lapsed_claim_pays_each_failure_once(engine: Engine) -> None:
    book = load_policy_book()
    bulk = create_due_help_cases(engine, book, count=4, sandbox="sb", verbose=False)
    claim_due(
        services_on(engine),
        sandbox="sb",
        now=bulk.sandbox_now,
        worker_id="dead",
        limit=2,
        lease=LEASE,
        real_now=REAL_NOW,
    )
    first = tick(
        services_on(engine, book=book),
        sandbox="sb",
        now=bulk.sandbox_now,
        worker_id="w",
        lease=LEASE,
        real_now=REAL_NOW,
    )
    assert first.payouts == 2  # the dead worker's two are still leased
    second = tick(
        services_on(engine, book=book),
        sandbox="sb",
        now=bulk.sandbox_now,
        worker_id="w",
        lease=LEASE,
        real_now=REAL_NOW + 2 * LEASE,
    )
    assert second.payouts == 2
    assert sorted(first.payout_keys + second.payout_keys) == sorted(
        bulk.payout_key(c) for c in bulk.case_ids
    )


def test_a_worker_does_not_wake_for_deadlines_held_under_another_workers_lease(
    engine: Engine,
) -> None:
    """Counting a leased (or backing-off) deadline would wake the worker at once, again and again."""
    bulk = create_due_help_cases(
        engine,
        load_policy_book(),
        count=2,
        sandbox="sb",
        stagger=timedelta(minutes=1),
        verbose=False,
    )
    first_due = bulk.opened_at + timedelta(minutes=30)  # the 30-minute warning of OH-4's hour
    claim_due(
        services_on(engine),
        sandbox="sb",
        now=bulk.sandbox_now,
        worker_id="other",
        limit=1,
        lease=LEASE,
        real_now=REAL_NOW,
    )
    assert next_due(services_on(engine), sandbox="sb") == first_due
    assert next_due(services_on(engine), sandbox="sb", real_now=REAL_NOW) == first_due + timedelta(
        minutes=1
    )
    assert next_due(services_on(engine), sandbox="sb", real_now=REAL_NOW + LEASE) == first_due


def test_a_worker_sleeps_until_a_held_sandbox_deadline_is_released_and_no_longer(
    engine: Engine,
) -> None:
    """What a worker waits for besides live deadlines: the lapse of another worker's hold on
    a deadline already due on its sandbox's clock (a sandbox clock does not move by itself)."""
    from aftersales.services.deadlines import next_wake

    svc = services_on(engine)
    assert next_wake(svc, real_now=REAL_NOW) is None  # nothing armed, nothing held
    bulk = create_due_help_cases(engine, load_policy_book(), count=2, sandbox="sb", verbose=False)
    # Due on the sandbox's clock but free: claimed on the next round, no waiting for it.
    assert next_wake(svc, real_now=REAL_NOW) is None
    claimed = claim_due(
        svc,
        sandbox="sb",
        now=bulk.sandbox_now,
        worker_id="a",
        limit=1,
        lease=LEASE,
        real_now=REAL_NOW,
    )
    assert len(claimed) == 1
    assert next_wake(svc, real_now=REAL_NOW) == REAL_NOW + LEASE  # the hold's lapse
    assert next_wake(svc, real_now=REAL_NOW + LEASE) is None  # lapsed: free to claim again
