"""Large batches of master data on a real database: what is stored is what a small batch
(and the memory adapter) stores.

On PostgreSQL a write of ``COPY_FROM_ROWS`` rows or more goes by COPY (straight into
the table for new rows, through a staging table for the others); these tests load
batches above that size and read every record back.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from aftersales.adapters.db import master_data as sql_master
from aftersales.adapters.db import schema as s
from aftersales.adapters.memory import MemoryStore, memory_services
from aftersales.adapters.policy_files import load_policy_book
from aftersales.domain.policy import PolicyBook
from aftersales.services import master_data as md
from aftersales.services.base import Services
from aftersales.services.sandboxes import create_sandbox
from aftersales.services.time import FixedClock
from aftersales.testing import services_on

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
ORDERS = 240  # with their items, buyers and products: above COPY_FROM_ROWS
ADDRESSES = (
    "浙江省杭州市西湖区文三路 90 号",
    "上海浦东新区世纪大道 100 号",
    "广东省深圳市南山区深南大道 9999 号",
    "四川成都武侯区人民南路四段 11 号",
)


@pytest.fixture(scope="module")
def book() -> PolicyBook:
    return load_policy_book()


def catalogue() -> dict[str, list[dict[str, Any]]]:
    products = [
        {
            "id": f"p-{n:03d}",
            "name": f"吸顶灯 {n}",
            "brand_id": "b-1",
            "category": "lighting" if n % 2 else "家装/灯具灯饰/吸顶灯",
            "badges": ["national_warranty"] if n % 3 == 0 else [],
            "service_tags": ["scheduled_installation"],
            "warranty_months": 12 if n % 3 == 0 else None,
        }
        for n in range(120)
    ]
    buyers = [{"id": f"u-{n:03d}", "name": f"买家 {n}", "phone": "13800000000"} for n in range(150)]
    return {
        "brand": [{"id": "b-1", "name": "明光", "hotline": "400-100-2000"}],
        "merchant": [{"id": "s-1", "name": "明光旗舰店"}, {"id": "s-2", "name": "居家"}],
        "product": products,
        "buyer": buyers,
    }


def orders(count: int = ORDERS, *, first: int = 0, price: int = 100) -> list[dict[str, Any]]:
    found = []
    for n in range(first, first + count):
        placed = NOW - timedelta(days=30 + n % 200, minutes=n)
        items = [
            {
                "id": f"i-{n:04d}-{k}",
                "product_id": f"p-{(n + k) % 120:03d}",
                "paid_price_fen": price + n + k,
                "delivered_on": (placed + timedelta(days=3)).date().isoformat(),
                **({"address": ADDRESSES[(n + 1) % 4]} if k == 2 else {}),
            }
            for k in range(1 + n % 3)
        ]
        found.append(
            {
                "id": f"o-{n:04d}",
                "buyer_id": f"u-{n % 150:03d}",
                "merchant_id": f"s-{1 + n % 2}",
                "placed_at": placed.isoformat(),
                "address": ADDRESSES[n % 4],
                "contact_phone": "13900000000",
                "items": items,
            }
        )
    return found


def load(svc: Services) -> Counter[str]:
    """The catalogue, in live data."""
    results: Counter[str] = Counter()
    for kind, records in catalogue().items():
        results.update(o.result for o in md.upsert(svc, kind, records))
    return results


def results(svc: Services, kind: str, records: list[dict[str, Any]], **kw: Any) -> Counter[str]:
    return Counter(o.result for o in md.upsert(svc, kind, records, **kw))


def read_all(svc: Services, kind: str, world: md.World) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page, after = md.list_records(svc, kind, world=world, after=after, limit=500)
        found += page
        if after is None:
            return found


@pytest.fixture
def sql(engine: Engine, book: PolicyBook) -> Services:
    return services_on(engine, book=book, clock=FixedClock(NOW))


@pytest.fixture
def memory(book: PolicyBook) -> Services:
    return memory_services(book, FixedClock(NOW), store=MemoryStore())


def test_a_large_batch_is_stored_as_the_memory_adapter_stores_it(
    sql: Services, memory: Services
) -> None:
    assert ORDERS >= sql_master.COPY_FROM_ROWS
    for svc in (sql, memory):
        assert set(load(svc)) == {"created"}
        assert results(svc, "order", orders()) == {"created": ORDERS}
    for kind in ("product", "buyer", "order"):
        assert read_all(sql, kind, md.World()) == read_all(memory, kind, md.World()), kind


def test_a_large_batch_repeated_is_unchanged_and_a_changed_one_updated(
    sql: Services, engine: Engine
) -> None:
    load(sql)
    assert results(sql, "order", orders()) == {"created": ORDERS}
    assert results(sql, "order", orders()) == {"unchanged": ORDERS}
    # Half of them again with new prices (merged through the staging table), and new orders.
    changed = orders(ORDERS // 2, price=500) + orders(150, first=ORDERS)
    assert results(sql, "order", changed) == {"updated": ORDERS // 2, "created": 150}
    assert results(sql, "order", changed) == {"unchanged": ORDERS // 2 + 150}
    record = md.get_record(sql, "order", "o-0007", world=md.World())
    assert [i["paid_price_fen"] for i in record["items"]] == [500 + 7 + k for k in range(2)]
    with engine.connect() as conn:
        items = conn.execute(select(func.count()).select_from(s.order_items)).scalar_one()
    assert items == sum(len(o["items"]) for o in orders(ORDERS + 150))


def test_a_large_batch_in_a_sandbox_keeps_its_prefixed_ids(sql: Services) -> None:
    load(sql)
    create_sandbox(sql, sandbox_id="shop-test", start=NOW)
    world = md.World.of("shop-test")
    # The sandbox sells the live catalogue; its orders are its own.
    assert results(sql, "order", orders(), world=world) == {"created": ORDERS}
    stored = read_all(sql, "order", world)
    assert [o["id"] for o in stored] == [o["id"] for o in orders()]
    assert read_all(sql, "order", md.World()) == []
    live = results(sql, "order", orders())
    assert live == {"created": ORDERS}  # the same ids in live data are other orders


def test_rows_said_to_be_new_that_are_stored_meanwhile_are_merged(
    sql: Services, engine: Engine
) -> None:
    """Another transaction may store a record between the read and the write: the copy
    straight into the table fails on the key, and the rows are merged instead."""
    load(sql)
    buyers = [
        {
            "id": f"u-{n:03d}",
            "sandbox": "live",
            "active": True,
            "source_updated_at": None,
            "source_version": None,
            "name": f"改名 {n}",
            "phone": "13700000000",
            "digest": None,
        }
        for n in range(150)
    ]
    with sql.uow() as uow:
        uow.master.write("buyer", buyers, new=True)
        uow.commit()
    with engine.connect() as conn:
        names = {r.id: r.name for r in conn.execute(select(s.buyers.c.id, s.buyers.c.name))}
    assert names == {f"u-{n:03d}": f"改名 {n}" for n in range(150)}


def test_the_same_item_twice_in_one_write_keeps_the_last(sql: Services, engine: Engine) -> None:
    """Two new orders of a batch naming the same new item: the item ends in the later
    one, as a row-by-row upsert leaves it."""
    load(sql)
    batch = orders()
    batch[-1]["items"][0]["id"] = batch[0]["items"][0]["id"]
    assert results(sql, "order", batch) == {"created": ORDERS}
    with engine.connect() as conn:
        holder = conn.execute(
            select(s.order_items.c.order_id).where(s.order_items.c.id == batch[0]["items"][0]["id"])
        ).scalar_one()
    assert holder == batch[-1]["id"]
