"""Issue 15 on SQLite and PostgreSQL: a provider-held breach records the provider's
share once, whatever racing workers do, and the migration gives old clocks a holder.

Every case here is a help request dispatched to one installer, whose 1-hour
solution clock (OH-4) is past due in its sandbox: the merchant owes each buyer
5,000 points (OH-5), and the installer, which held the clock, owes the merchant
its share (100 % by policy) under the payout's key + ``/provider-share``.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.migrate import downgrade, upgrade
from aftersales.adapters.policy_files import load_policy_book
from aftersales.domain.ledger import share_key
from aftersales.domain.lifecycle import Role
from aftersales.domain.policy import PolicyBook
from aftersales.services.deadlines import TickReport, due_count, handle_cases, tick
from aftersales.services.records import Scope
from aftersales.services.views import compliance, share_lines
from aftersales.testing import services_on
from tests.integration.bulk import SOLUTION_POINTS, create_due_help_cases

INSTALLER = "installer-race"
REAL_NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
WORKERS = 4
CASES = 60


@pytest.fixture(scope="module")
def book() -> PolicyBook:
    return load_policy_book()


def _race(engine: Engine, book: PolicyBook, sandbox: str, now: datetime) -> list[TickReport]:
    """``WORKERS`` threads tick at once, each claiming in small batches with leases of no
    length: a claimed row is claimable again at once, so the workers claim, load and
    settle the same cases side by side, and only the ledger's keys and the cases'
    versions keep each payment single."""
    reports: list[TickReport] = [TickReport() for _ in range(WORKERS)]
    start = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            start.wait()
            for _ in range(40):
                reports[n] += tick(
                    services_on(engine, book=book),
                    sandbox=sandbox,
                    now=now,
                    worker_id=f"w{n}",
                    limit=15,
                    lease=timedelta(0),
                    real_now=REAL_NOW,
                )
                if due_count(services_on(engine, book=book), sandbox=sandbox, now=now) == 0:
                    return
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    return reports


def test_x_1_racing_workers_pay_each_buyer_once_and_record_each_providers_share_once(
    engine: Engine, book: PolicyBook
) -> None:
    bulk = create_due_help_cases(
        engine, book, count=CASES, sandbox="sb", buyers=7, provider=INSTALLER, verbose=False
    )
    reports = _race(engine, book, "sb", bulk.sandbox_now)
    assert due_count(services_on(engine, book=book), sandbox="sb", now=bulk.sandbox_now) == 0
    assert sum(r.payouts for r in reports) == CASES  # no worker believed it paid twice
    with engine.connect() as conn:
        paid = conn.execute(
            select(s.ledger_entries.c.key, s.ledger_entries.c.payee).where(
                s.ledger_entries.c.sandbox == "sb"
            )
        ).all()
        shares = conn.execute(
            select(
                s.ledger_shares.c.key,
                s.ledger_shares.c.share_of,
                s.ledger_shares.c.payer,
                s.ledger_shares.c.payee,
                s.ledger_shares.c.amount,
                s.ledger_shares.c.rule,
            ).where(s.ledger_shares.c.sandbox == "sb")
        ).all()
        balances = {
            r.account: r.balance
            for r in conn.execute(
                select(s.account_balances).where(s.account_balances.c.sandbox == "sb")
            )
        }
    keys = sorted(bulk.payout_key(c) for c in bulk.case_ids)
    assert sorted(k for k, _ in paid) == keys
    assert sorted(r.share_of for r in shares) == keys
    assert sorted(r.key for r in shares) == sorted(share_key(k) for k in keys)
    assert {(r.payer, r.payee, r.amount, r.rule) for r in shares} == {
        (INSTALLER, bulk.merchant, SOLUTION_POINTS, "OH-5")
    }
    # The merchant paid every buyer and was paid back by the installer, once each.
    per_buyer = Counter(payee for _, payee in paid)
    assert {b: balances[b] for b in per_buyer} == {
        b: n * SOLUTION_POINTS for b, n in per_buyer.items()
    }
    assert balances[bulk.merchant] == 0
    assert balances[INSTALLER] == -CASES * SOLUTION_POINTS


def test_a_merchant_held_breach_records_no_share_on_the_worker_path(
    engine: Engine, book: PolicyBook
) -> None:
    bulk = create_due_help_cases(engine, book, count=3, sandbox="sb", verbose=False)
    report = tick(
        services_on(engine, book=book),
        sandbox="sb",
        now=bulk.sandbox_now,
        worker_id="w",
        real_now=REAL_NOW,
    )
    assert report.payouts == 3
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.ledger_shares)).scalar_one() == 0


def test_the_migration_gives_each_started_clock_one_period_with_the_cases_assignee(
    engine: Engine, book: PolicyBook
) -> None:
    bulk = create_due_help_cases(
        engine, book, count=2, sandbox="sb", provider=INSTALLER, verbose=False
    )
    breached, running = bulk.case_ids
    tick_at = bulk.sandbox_now
    with engine.begin() as conn:  # the first case's solution clock breached before 0016
        conn.execute(update(s.cases).where(s.cases.c.id == breached).values(assignee=None))
    svc = services_on(engine, book=book)
    handle_cases(svc, [breached], now=tick_at, real_now=REAL_NOW)
    downgrade(engine, "0015")
    upgrade(engine)
    with engine.connect() as conn:
        rows = {
            (r.case_id, r.clock_id): (r.status, r.holders, r.started_at, r.breached_at)
            for r in conn.execute(select(s.clocks).where(s.clocks.c.case_id.in_(bulk.case_ids)))
        }
    status, holders, started, due = rows[(running, "solution")]
    assert status == "running"
    assert holders == [
        {
            "kind": "provider",
            "party": INSTALLER,
            "since": started.astimezone(UTC).isoformat(),
            "until": None,
            "why": "before-0016",
        }
    ]
    status, holders, started, due = rows[(breached, "solution")]
    assert status == "breached"
    # No assignee: the merchant held it, up to the due instant it breached at.
    assert [(h["kind"], h["party"], h["until"]) for h in holders] == [
        ("merchant", bulk.merchant, due.astimezone(UTC).isoformat())
    ]
    pending = [k for k, v in rows.items() if v[2] is None]
    assert all(rows[k][1] is None for k in pending)  # a clock not started holds nobody


def test_compliance_by_holding_party_counts_each_judged_clock_under_who_held_it(
    engine: Engine, book: PolicyBook
) -> None:
    held = create_due_help_cases(
        engine, book, count=3, sandbox="sb", provider=INSTALLER, verbose=False
    )
    create_due_help_cases(engine, book, count=2, sandbox="sb2", verbose=False)
    svc = services_on(engine, book=book)
    for sandbox in ("sb", "sb2"):
        tick(svc, sandbox=sandbox, now=held.sandbox_now, worker_id="w", real_now=REAL_NOW)
    report = compliance(
        svc,
        Scope(Role.OPERATIONS),
        by="holder",
        start=held.opened_at - timedelta(hours=1),
        end=held.opened_at + timedelta(hours=1),
    )
    rows = {r.key: (r.breached, r.running, r.points_paid) for r in report.rows}
    # Each case: OH-4 breached (5,000 points); OH-6's 48 hours and SS-2's contact
    # (the goods were signed for) still running.
    assert rows == {
        f"provider:{INSTALLER}": (3, 6, 3 * SOLUTION_POINTS),
        f"merchant:{held.merchant}": (2, 4, 2 * SOLUTION_POINTS),
    }


def test_the_shares_are_listed_to_operations_the_shop_and_the_provider_page_by_page(
    engine: Engine, book: PolicyBook
) -> None:
    bulk = create_due_help_cases(
        engine, book, count=5, sandbox="sb", provider=INSTALLER, verbose=False
    )
    svc = services_on(engine, book=book)
    tick(svc, sandbox="sb", now=bulk.sandbox_now, worker_id="w", real_now=REAL_NOW)
    expected = sorted((share_key(bulk.payout_key(c)) for c in bulk.case_ids), reverse=True)
    for scope in (
        Scope(Role.OPERATIONS),
        Scope(Role.MERCHANT, bulk.merchant),
        Scope(Role.PROVIDER, INSTALLER),
    ):
        seen: list[str] = []
        after = None
        while True:
            page = share_lines(svc, scope, sandbox="sb", limit=2, after=after)
            if not page:
                break
            seen.extend(p.key for p in page)
            after = (page[-1].at, page[-1].key)
        assert seen == expected, scope  # all at one instant: newest first, then by key
    for scope in (
        Scope(Role.CONSUMER, bulk.buyers[0]),
        Scope(Role.PROVIDER, "someone-else"),
        Scope(Role.MERCHANT, "another-shop"),
    ):
        assert share_lines(svc, scope, sandbox="sb") == []
