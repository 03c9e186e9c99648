"""The in-memory adapter itself: transactions, X-1, deadline claims, loading reference data.

What ``tests/integration`` checks of the SQL adapters, checked of the fake, so a
service test on it means what it would mean on a database.
"""

from __future__ import annotations

import ast
import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import aftersales
import aftersales.adapters.memory as memory_adapter
from aftersales.adapters.memory import (
    MemoryStore,
    MemoryUnitOfWork,
    memory_services,
    upsert_orders,
)
from aftersales.adapters.memory.cases import MemoryCases
from aftersales.adapters.memory.state import LedgerRecord
from aftersales.demo import dataset as demo
from aftersales.domain.cases import Case
from aftersales.domain.policy import PolicyBook
from aftersales.errors import ConcurrentUpdate, ConfigurationError, NotFound
from aftersales.services import cases as svc
from aftersales.services.base import Services
from aftersales.services.deadlines import claim_due, handle_cases, next_due
from aftersales.services.master_data import World
from aftersales.services.ports import UnitOfWork
from aftersales.services.records import LIVE, Sandbox
from aftersales.services.sandboxes import create_sandbox
from aftersales.services.time import FixedClock
from tests.unit.services.world import BUYER, START, seed

REAL_NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # a worker's own clock
LEASE = timedelta(seconds=30)


def _help(services: Services, item: str = "oi-lamp") -> str:
    return svc.request_help(
        services, order_item_id=item, actor=BUYER, failure="installation_late"
    ).case.id


# ---------------------------------------------------------------- the unit of work


def test_leaving_the_outermost_block_without_commit_undoes_its_writes(
    services: Services, store: MemoryStore
) -> None:
    with services.uow() as uow:
        create_sandbox(services.bound(uow), sandbox_id="gone", start=START)
        assert uow.sandboxes.exists("gone")
    assert "gone" not in store.tables.sandboxes


def test_a_use_case_called_inside_an_open_unit_of_work_commits_with_it_or_not_at_all(
    services: Services, store: MemoryStore
) -> None:
    with services.uow() as uow:
        case_id = _help(services)  # the factory hands it the open unit: its commit is nested
        assert uow.cases.find_sandbox(case_id) == "live"
    assert store.tables.cases == {} and store.tables.outbox == {}
    with services.uow() as uow:
        case_id = _help(services)
        uow.commit()
    assert list(store.tables.cases) == [case_id]


def test_writes_after_a_commit_are_undone_unless_committed_again(
    services: Services, store: MemoryStore
) -> None:
    with services.uow() as uow:
        create_sandbox(services, sandbox_id="kept", start=START)
        uow.commit()
        create_sandbox(services, sandbox_id="dropped", start=START)
    assert sorted(store.tables.sandboxes) == ["kept"]


def test_a_savepoint_undoes_only_its_own_block(services: Services, store: MemoryStore) -> None:
    def fail_after_creating(uow: UnitOfWork, sandbox_id: str) -> None:
        with uow.savepoint():
            create_sandbox(services, sandbox_id=sandbox_id, start=START)
            raise RuntimeError("undo the block")

    with services.uow() as uow:
        create_sandbox(services, sandbox_id="before", start=START)
        with pytest.raises(RuntimeError, match="undo the block"):
            fail_after_creating(uow, "inside")
        with uow.savepoint():
            create_sandbox(services, sandbox_id="after", start=START)
        uow.commit()
    assert sorted(store.tables.sandboxes) == ["after", "before"]


def test_rollback_undoes_what_was_not_committed_and_the_unit_goes_on(
    services: Services, store: MemoryStore
) -> None:
    with services.uow() as uow:
        create_sandbox(services, sandbox_id="dropped", start=START)
        uow.rollback()
        create_sandbox(services, sandbox_id="kept", start=START)
        uow.commit()
    assert sorted(store.tables.sandboxes) == ["kept"]


def test_a_unit_of_work_used_outside_its_block_says_so(store: MemoryStore) -> None:
    uow = MemoryUnitOfWork(store)
    with pytest.raises(RuntimeError, match="outside its 'with' block"):
        uow.commit()
    with pytest.raises(RuntimeError, match="outside its 'with' block"), uow.savepoint():
        pass


def test_a_unit_of_work_left_on_another_thread_releases_the_store(
    services: Services, store: MemoryStore
) -> None:
    """As an HTTP dependency may enter on one worker thread and leave on another."""
    uow = services.uow()
    uow.__enter__()
    create_sandbox(services.bound(uow), sandbox_id="kept", start=START)
    uow.commit()
    leaving = threading.Thread(target=uow.__exit__, args=(None, None, None))
    leaving.start()
    leaving.join()
    with services.uow() as again:  # would wait forever if the store were still held
        assert again.sandboxes.exists("kept")


def test_a_second_unit_of_work_inside_an_open_one_is_refused_rather_than_waiting_forever(
    services: Services, store: MemoryStore
) -> None:
    with services.uow(), pytest.raises(RuntimeError, match="another unit of work"):
        MemoryUnitOfWork(store).__enter__()


def test_units_of_work_on_other_threads_wait_their_turn(
    services: Services, store: MemoryStore
) -> None:
    order: list[str] = []
    with services.uow() as uow:
        other = threading.Thread(target=lambda: order.append(_help(services)))
        other.start()
        other.join(timeout=0.05)
        assert other.is_alive() and order == []  # waiting for the store
        create_sandbox(services.bound(uow), sandbox_id="first", start=START)
        uow.commit()
    other.join()
    assert len(order) == 1 and "first" in store.tables.sandboxes


def test_instants_come_back_in_utc_as_from_the_database(services: Services) -> None:
    case = svc.get_case(services, _help(services))
    assert case.opened_at == START and case.opened_at.tzinfo is UTC
    assert case.clocks["solution"].due_at is not None
    assert case.clocks["solution"].due_at.tzinfo is UTC
    naive = START.replace(tzinfo=None)
    with services.uow() as uow, pytest.raises(ValueError, match="naive datetime"):
        uow.sandboxes.add(Sandbox("naive", "naive", naive, naive))


# ---------------------------------------------------------------- saving cases


def test_a_case_saved_by_someone_else_since_it_was_loaded_is_refused(
    services: Services, store: MemoryStore, book: PolicyBook
) -> None:
    case_id = _help(services)
    with services.uow() as uow:
        mine, theirs = MemoryCases(store), MemoryCases(store)
        case, other = mine.get(case_id), theirs.get(case_id)
        other.settle(book, START + timedelta(minutes=61))
        theirs.save(other)
        case.settle(book, START + timedelta(minutes=61))
        with pytest.raises(ConcurrentUpdate, match="changed by someone else"):
            mine.save(case)
        uow.commit()
    assert len(store.tables.ledger) == 1


def test_x_1_a_payout_already_in_the_ledger_is_refused_and_nothing_is_written(
    services: Services, store: MemoryStore, book: PolicyBook
) -> None:
    case_id = _help(services)
    with services.uow():
        repo = MemoryCases(store)
        cases = repo.get_many([case_id, "OH-unknown"])
        assert list(cases) == [case_id]  # an unknown id is simply absent
        cases[case_id].settle(book, START + timedelta(minutes=61))
        (payout,) = cases[case_id].payouts
        # Another writer's entry for the same failure lands after the chunk was loaded.
        store.tables.ledger[99] = LedgerRecord(99, "live", payout, payout.reason.to_dict())
        store.tables.ledger_keys[payout.key] = 99
        before = (dict(store.tables.cases), dict(store.tables.ledger), dict(store.tables.balances))
        with pytest.raises(ConcurrentUpdate, match="a payout of this batch is already in the"):
            repo.save_many(list(cases.values()))
        with pytest.raises(ConcurrentUpdate, match=f"payout {payout.key} is already in the"):
            repo.save(cases[case_id])
        after = (dict(store.tables.cases), dict(store.tables.ledger), dict(store.tables.balances))
        assert after == before


def test_a_chunk_that_cannot_be_saved_together_is_saved_case_by_case(
    book: PolicyBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, services = _due_cases(book, 3)

    def refuse(self: MemoryCases, cases: Any) -> Any:
        raise ConcurrentUpdate("the batch could not be written")

    monkeypatch.setattr(MemoryCases, "save_many", refuse)
    report = handle_cases(services, sorted(store.tables.cases), now=_now(store), real_now=REAL_NOW)
    assert (report.cases, report.payouts, report.failed) == (3, 3, 0)
    assert len(store.tables.ledger) == 3


def test_a_case_that_fails_is_retried_later_without_holding_back_its_chunk(
    book: PolicyBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, services = _due_cases(book, 3)
    culprit = sorted(store.tables.cases)[1]
    settle = Case.settle

    def settle_or_fail(case: Case, book: PolicyBook, at: datetime) -> Any:
        if case.id == culprit:
            raise RuntimeError("this case cannot be settled")
        return settle(case, book, at)

    monkeypatch.setattr(Case, "settle", settle_or_fail)
    report = handle_cases(services, sorted(store.tables.cases), now=_now(store), real_now=REAL_NOW)
    assert (report.cases, report.payouts, report.failed) == (2, 2, 1)
    postponed = store.tables.deadlines[(culprit, "solution")]
    assert postponed.attempts == 1 and postponed.claimed_until is not None
    assert postponed.claimed_until > REAL_NOW + timedelta(seconds=1)


# ---------------------------------------------------------------- deadline claims


def _due_cases(book: PolicyBook, count: int) -> tuple[MemoryStore, Services]:
    """``count`` help requests in sandbox ``sb`` whose 1-hour clock is 2 minutes overdue."""
    store = MemoryStore()
    services = memory_services(book, FixedClock(START), store=store)
    create_sandbox(services, sandbox_id="sb", start=START)
    for n in range(count):
        seed(store, sandbox="sb", prefix=f"{n}.")
        _help(services, f"{n}.oi-lamp")
    with services.uow() as uow:
        uow.sandboxes.set_now("sb", START + timedelta(minutes=62))
        uow.commit()
    return store, services


def _now(store: MemoryStore) -> datetime:
    return store.tables.sandboxes["sb"].now


def test_a_claimed_deadline_is_not_claimed_again_until_its_lease_lapses_on_the_real_clock(
    book: PolicyBook,
) -> None:
    store, services = _due_cases(book, 3)
    claim = dict(sandbox="sb", now=_now(store), limit=10, lease=LEASE)
    assert sorted(claim_due(services, worker_id="a", real_now=REAL_NOW, **claim)) == sorted(
        store.tables.cases
    )
    assert claim_due(services, worker_id="b", real_now=REAL_NOW + LEASE / 2, **claim) == []
    later = REAL_NOW + LEASE + timedelta(seconds=1)  # the sandbox clock has not moved
    assert len(claim_due(services, worker_id="b", real_now=later, **claim)) == 3


def test_a_worker_does_not_wake_for_deadlines_held_under_another_workers_lease(
    book: PolicyBook,
) -> None:
    store, services = _due_cases(book, 2)
    first_due = START + timedelta(minutes=30)  # the 30-minute warning mark of the hour
    claim_due(
        services,
        sandbox="sb",
        now=_now(store),
        worker_id="other",
        limit=1,
        lease=LEASE,
        real_now=REAL_NOW,
    )
    assert next_due(services, sandbox="sb") == first_due
    assert next_due(services, sandbox="sb", real_now=REAL_NOW) == first_due
    # Per case: two clocks, the warning marks of each (30m, 10m; 6h) and their escalations.
    assert len(store.tables.deadlines) == 2 * 9
    claim_due(
        services,
        sandbox="sb",
        now=_now(store),
        worker_id="o",
        limit=9,
        lease=LEASE,
        real_now=REAL_NOW,
    )
    assert next_due(services, sandbox="sb", real_now=REAL_NOW) == START + timedelta(hours=42)
    assert next_due(services, sandbox="sb", real_now=REAL_NOW + LEASE) == first_due


# ---------------------------------------------------------------- reference data


def test_the_demo_data_set_loads_into_memory_and_plays_its_well_known_items(
    book: PolicyBook,
) -> None:
    store = MemoryStore()
    services = memory_services(book, FixedClock(START), store=store)
    report = demo.load_demo(services, orders_into=World.of(LIVE))
    catalogue, orders = demo.catalogue_records(), demo.order_records()
    assert report.count("order") == len(orders) and report.count("product") == sum(
        r["kind"] == "product" for r in catalogue
    )
    assert len(store.tables.order_items) == sum(len(o["items"]) for o in orders)
    again = demo.load_demo(services, orders_into=World.of(LIVE))  # upserts: no change
    assert {kind: set(results) for kind, results in again.results.items()} == {
        kind: {"unchanged"} for kind in report.results
    }
    opened = svc.request_help(
        services,
        order_item_id=demo.ITEM_LAMP_HANGZHOU,
        actor=replace(BUYER, id=demo.DEMO_BUYER),
        failure="installation_late",
    )
    assert opened.case.assignee == demo.PROVIDER_HANGZHOU_LIGHTING  # OH-3
    lhasa = svc.request_help(
        services,
        order_item_id=demo.ITEM_TILES_LHASA,
        actor=replace(BUYER, id="x"),
        failure="not_delivered_into_home",
    )
    assert lhasa.case.assignee == lhasa.case.item.merchant_id  # nobody delivers there


def test_a_demo_record_the_catalogue_does_not_know_is_refused_and_nothing_is_kept(
    book: PolicyBook, tmp_path: Path
) -> None:
    records = demo.catalogue_records()
    product = next(r for r in records if r["kind"] == "product")
    product["category"] = "no-such-category"
    lines = (json.dumps(r, ensure_ascii=False) for r in records)
    (tmp_path / "catalogue.ndjson").write_text("\n".join(lines), encoding="utf-8")
    store = MemoryStore()
    with pytest.raises(ConfigurationError, match="unknown category 'no-such-category'"):
        demo.load_demo(memory_services(book, FixedClock(START), store=store), folder=tmp_path)
    assert store.tables.brands == {} and store.tables.products == {}


def test_a_row_naming_what_is_not_loaded_is_refused_as_a_foreign_key_would(
    store: MemoryStore,
) -> None:
    with pytest.raises(NotFound, match="no merchant with id 'shop-9'"):
        upsert_orders(
            store,
            [{"id": "o9", "buyer_account": "b", "merchant_id": "shop-9", "placed_at": START}],
        )


def test_a_load_that_is_refused_leaves_nothing_behind(store: MemoryStore) -> None:
    rows = [
        {"id": "o8", "buyer_account": "b", "merchant_id": "shop-1", "placed_at": START},
        {"id": "o9", "buyer_account": "b", "merchant_id": "shop-9", "placed_at": START},
    ]
    with pytest.raises(NotFound):
        upsert_orders(store, rows)
    assert "o8" not in store.tables.orders


# ---------------------------------------------------------------- the adapter's imports


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _source(module: str) -> Path | None:
    """The file of an ``aftersales`` module (or package), None for anything else."""
    base = Path(aftersales.__file__).parent.joinpath(*module.split(".")[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if module.startswith("aftersales") and candidate.is_file():
            return candidate
    return None


def test_the_memory_adapter_imports_no_sqlalchemy_not_even_through_its_imports() -> None:
    seen: set[str] = set()
    outside: set[str] = set()
    todo = [
        f"aftersales.adapters.memory.{p.stem}"
        for p in Path(memory_adapter.__file__).parent.glob("*.py")
    ]
    while todo:
        module = todo.pop()
        path = _source(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        for name in _imports(path):
            if name.startswith("aftersales"):
                todo.append(name)
            else:
                outside.add(name.split(".")[0])
    assert "aftersales.adapters.attachments" in seen  # the shared checks
    assert not {m for m in seen if m.startswith(("aftersales.adapters.db", "aftersales.demo"))}
    assert not outside & {"sqlalchemy", "psycopg", "sqlite3", "alembic"}
