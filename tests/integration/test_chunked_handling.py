"""Cases loaded and saved a chunk at a time (the deadline engine's path), on SQLite and PostgreSQL.

``get_many`` must load what ``get`` loads, ``save_many`` must write what ``save``
writes, and a chunk that cannot be saved together must neither pay twice (X-1)
nor hold back the cases of the chunk that are fine.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, insert, select, update

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.case_rows import payout_row
from aftersales.adapters.db.cases_repo import CaseRepository
from aftersales.adapters.db.driver import statements_on
from aftersales.adapters.policy_files import load_policy_book
from aftersales.domain.cases import Actor, Case
from aftersales.domain.lifecycle import Channel, Role
from aftersales.domain.policy import PolicyBook
from aftersales.errors import ConcurrentUpdate
from aftersales.services.deadlines import handle_cases
from aftersales.testing import services_on
from tests.integration.bulk import SOLUTION_POINTS, BulkCases, create_due_help_cases

REAL_NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # the worker's own clock


@pytest.fixture(scope="module")
def book() -> PolicyBook:
    return load_policy_book()


def _bulk(engine: Engine, book: PolicyBook, count: int) -> BulkCases:
    return create_due_help_cases(engine, book, count=count, sandbox="sb", verbose=False)


def _rows(conn: Connection, table: Any, case_id: str, *, drop: tuple[str, ...] = ()) -> list[Any]:
    """A case's rows of ``table`` with its ids replaced, so two cases can be compared."""
    key = table.c.case_id if "case_id" in table.c else table.c.id
    case = conn.execute(select(s.cases).where(s.cases.c.id == case_id)).one()
    found = []
    for row in conn.execute(select(table).where(key == case_id)):
        values = {k: v for k, v in row._mapping.items() if k not in drop}
        found.append(
            repr(values)
            .replace(case_id, "<case>")
            .replace(case.order_item_id, "<item>")
            .replace(case.opened_by, "<buyer>")
        )
    return sorted(found)


def test_get_many_loads_each_case_as_get_does_and_skips_unknown_ids(
    engine: Engine, book: PolicyBook
) -> None:
    bulk = _bulk(engine, book, 3)
    first, second, third = bulk.case_ids
    with engine.begin() as conn:
        repo = CaseRepository(conn, book)
        # One case paid, one with a complaint: payouts and complaints load too.
        paid = repo.get(first)
        paid.settle(book, bulk.sandbox_now)
        repo.save(paid)
        complained = repo.get(second)
        complained.file_complaint(
            book,
            "solution",
            bulk.sandbox_now,
            Actor(Role.CONSUMER, complained.item.buyer_account, Channel.WEB),
        )
        repo.save(complained)
    with engine.begin() as conn:
        singly = {c: CaseRepository(conn, book).get(c) for c in bulk.case_ids}
        together = CaseRepository(conn, book).get_many(
            [third, "no-such-case", first, second], for_update=True
        )
    assert set(together) == set(bulk.case_ids)
    for case_id, case in singly.items():
        assert together[case_id] == case
    assert len(together[first].payouts) == 1
    assert len(together[second].complaints) == 1


def test_save_many_writes_the_rows_save_writes(engine: Engine, book: PolicyBook) -> None:
    bulk = _bulk(engine, book, 4)
    one_by_one, together = bulk.case_ids[:2], bulk.case_ids[2:]
    with engine.begin() as conn:
        repo = CaseRepository(conn, book)
        for case_id in one_by_one:
            case = repo.get(case_id, for_update=True)
            case.settle(book, bulk.sandbox_now)
            repo.save(case)
    with engine.begin() as conn:
        repo = CaseRepository(conn, book)
        cases = repo.get_many(together, for_update=True)
        for case in cases.values():
            case.settle(book, bulk.sandbox_now)
        recorded = repo.save_many(list(cases.values()))
    assert {c: [p.key for p in paid] for c, paid in recorded.items()} == {
        c: [bulk.payout_key(c)] for c in together
    }
    with engine.connect() as conn:
        for table, drop in (
            (s.cases, ()),
            (s.clocks, ()),
            (s.decisions, ()),
            (s.audit_log, ()),
            (s.deadlines, ("claimed_by", "claimed_until")),
            (s.ledger_entries, ("id",)),
            (s.outbox, ("id",)),
        ):
            reference = _rows(conn, table, one_by_one[0], drop=drop)
            assert reference, table.name
            for case_id in (*one_by_one[1:], *together):
                assert _rows(conn, table, case_id, drop=drop) == reference, table.name
        balances = dict(
            conn.execute(
                select(s.account_balances.c.account, s.account_balances.c.balance).where(
                    s.account_balances.c.sandbox == "sb"
                )
            ).all()
        )
    assert balances[bulk.merchant] == -4 * SOLUTION_POINTS
    assert sum(v for k, v in balances.items() if k != bulk.merchant) == 4 * SOLUTION_POINTS


def test_save_many_of_a_case_changed_meanwhile_raises_concurrent_update(
    engine: Engine, book: PolicyBook
) -> None:
    bulk = _bulk(engine, book, 2)
    with engine.begin() as conn:
        repo = CaseRepository(conn, book)
        cases = repo.get_many(bulk.case_ids)
        conn.execute(
            update(s.cases)
            .where(s.cases.c.id == bulk.case_ids[0])
            .values(version=s.cases.c.version + 1)
        )
        for case in cases.values():
            case.settle(book, bulk.sandbox_now)
        with pytest.raises(ConcurrentUpdate):
            repo.save_many(list(cases.values()))


def test_x_1_save_many_refuses_a_payout_already_in_the_ledger(
    engine: Engine, book: PolicyBook
) -> None:
    bulk = _bulk(engine, book, 2)
    with engine.begin() as conn:
        repo = CaseRepository(conn, book)
        cases = repo.get_many(bulk.case_ids)
        for case in cases.values():
            case.settle(book, bulk.sandbox_now)
        # The first case's payout lands in the ledger after the chunk was loaded.
        conn.execute(insert(s.ledger_entries), payout_row(cases[bulk.case_ids[0]].payouts[0], "sb"))
        savepoint = conn.begin_nested()
        with pytest.raises(ConcurrentUpdate):
            repo.save_many(list(cases.values()))
        savepoint.rollback()
        keys = conn.execute(select(s.ledger_entries.c.key)).scalars().all()
    assert keys == [bulk.payout_key(bulk.case_ids[0])]


def _ledger_keys(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(s.ledger_entries.c.key)).scalars().all())


def test_a_chunk_that_cannot_be_saved_together_is_saved_case_by_case(
    engine: Engine, book: PolicyBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    bulk = _bulk(engine, book, 5)

    def refuse(self: CaseRepository, cases: Any) -> Any:
        raise ConcurrentUpdate("the batch could not be written")

    monkeypatch.setattr(CaseRepository, "save_many", refuse)
    report = handle_cases(
        services_on(engine, book=book), bulk.case_ids, now=bulk.sandbox_now, real_now=REAL_NOW
    )
    assert (report.cases, report.payouts, report.failed) == (5, 5, 0)
    assert _ledger_keys(engine) == sorted(bulk.payout_key(c) for c in bulk.case_ids)


def test_a_case_that_fails_is_retried_later_without_holding_back_its_chunk(
    engine: Engine, book: PolicyBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    bulk = _bulk(engine, book, 5)
    culprit = bulk.case_ids[2]
    settle = Case.settle

    def settle_or_fail(case: Case, book: PolicyBook, at: datetime) -> Any:
        if case.id == culprit:
            raise RuntimeError("this case cannot be settled")
        return settle(case, book, at)

    monkeypatch.setattr(Case, "settle", settle_or_fail)
    report = handle_cases(
        services_on(engine, book=book), bulk.case_ids, now=bulk.sandbox_now, real_now=REAL_NOW
    )
    assert (report.cases, report.payouts, report.failed) == (4, 4, 1)
    assert _ledger_keys(engine) == sorted(bulk.payout_key(c) for c in bulk.case_ids if c != culprit)
    with engine.connect() as conn:
        postponed = conn.execute(
            select(s.deadlines.c.attempts, s.deadlines.c.claimed_until).where(
                s.deadlines.c.case_id == culprit, s.deadlines.c.clock_id == "solution"
            )
        ).one()
    assert postponed.attempts == 1
    assert postponed.claimed_until > REAL_NOW + timedelta(seconds=1)


def test_x_1_a_payout_that_lands_in_the_ledger_while_its_chunk_is_handled_is_not_paid_again(
    engine: Engine, book: PolicyBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer pays one case after the chunk was loaded: the batch is refused as a
    whole, and case by case that one is found paid and the others are paid once."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: no one can write while the chunk is handled")
    bulk = _bulk(engine, book, 5)
    culprit = bulk.case_ids[2]
    with engine.connect() as conn:
        case = CaseRepository(conn, book).get(culprit)
    case.settle(book, bulk.sandbox_now)
    theirs = payout_row(case.payouts[0], "sb")
    get_many = CaseRepository.get_many

    def load_then_race(self: CaseRepository, ids: Any, **kwargs: Any) -> Any:
        loaded = get_many(self, ids, **kwargs)
        if culprit in loaded:
            with engine.begin() as other:
                other.execute(insert(s.ledger_entries), theirs)
        return loaded

    monkeypatch.setattr(CaseRepository, "get_many", load_then_race)
    report = handle_cases(
        services_on(engine, book=book), bulk.case_ids, now=bulk.sandbox_now, real_now=REAL_NOW
    )
    assert report.payouts == 4
    assert bulk.payout_key(culprit) not in report.payout_keys
    assert _ledger_keys(engine) == sorted(bulk.payout_key(c) for c in bulk.case_ids)


def test_a_chunk_loads_once_per_table_however_many_cases_it_holds(
    engine: Engine, book: PolicyBook
) -> None:
    bulk = _bulk(engine, book, 40)
    with statements_on(engine) as statements:
        report = handle_cases(
            services_on(engine, book=book), bulk.case_ids, now=bulk.sandbox_now, chunk=40
        )
    assert report.payouts == 40
    # Loads, writes and bookkeeping: a few dozen statements for the chunk, not ~17 per case.
    assert len(statements) < 25, statements
