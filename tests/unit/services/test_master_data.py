"""Master data by the marketplace's ids (services/master_data.py) on the memory adapter.

Each kind: created, replaced, patched, an older update ignored, a repeat a no-op,
deactivated; entitlements snapshotted per order item (NW-1, OH-1); worlds kept
apart; a shop's token loading only its own; bad records refused field by field
with nothing of them written.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from aftersales.adapters.memory import MemoryStore, memory_services
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.domain.policy import PolicyBook
from aftersales.errors import Forbidden, NotFound
from aftersales.services import cases as svc_cases
from aftersales.services import master_data as md
from aftersales.services.base import Services
from aftersales.services.sandboxes import advance_sandbox, create_sandbox
from aftersales.services.time import FixedClock
from tests.unit.services.world import START

SI = "scheduled_installation"
ADDRESS = "浙江省杭州市西湖区文三路 90 号"


@pytest.fixture
def services(book: PolicyBook) -> Services:
    """Services on an empty store (no seeded rows): everything here is loaded as records."""
    return memory_services(book, FixedClock(START), store=MemoryStore())


def load(services: Services, kind: str, *records: dict[str, Any], **options: Any) -> list[str]:
    return [o.result for o in md.upsert(services, kind, list(records), **options)]


LIVE_DATA = md.World()


def catalogue(services: Services, world: md.World = LIVE_DATA) -> None:
    """A brand, a shop, a buyer, an installer covering 西湖区, a lamp sold with installation."""
    assert load(
        services, "brand", {"id": "b1", "name": "明光", "hotline": "400-100-2000"}, world=world
    ) == ["created"]
    assert load(services, "merchant", {"id": "s1", "name": "明光旗舰店"}, world=world) == [
        "created"
    ]
    assert load(services, "buyer", {"id": "u1", "name": "张三"}, world=world) == ["created"]
    installer = {
        "id": "i1",
        "name": "西湖安装",
        "type": "installer",
        "coverage": [{"area_code": "330106", "category": "lighting", "service_tag": SI}],
    }
    assert load(services, "provider", installer, world=world) == ["created"]
    lamp = {
        "id": "p1",
        "name": "吸顶灯",
        "brand_id": "b1",
        "category": "lighting",
        "service_tags": [SI],
    }
    assert load(services, "product", lamp, world=world) == ["created"]


def order(**changes: Any) -> dict[str, Any]:
    record = {
        "id": "o1",
        "buyer_id": "u1",
        "merchant_id": "s1",
        "placed_at": "2026-11-20T10:00:00+08:00",
        "address": ADDRESS,
        "items": [{"id": "oi1", "product_id": "p1", "paid_price": "299.00"}],
    }
    return {**record, **changes}


# ---------------------------------------------------------------- every kind


@pytest.mark.parametrize(
    ("kind", "record", "change"),
    [
        ("brand", {"id": "b9", "name": "星河", "hotline": "400-1"}, {"hotline": "400-2"}),
        ("merchant", {"id": "s9", "name": "星河店"}, {"name": "星河官方店"}),
        ("buyer", {"id": "u9", "name": "李四", "phone": "13800000000"}, {"phone": "13900000000"}),
        ("provider", {"id": "i9", "name": "修理铺", "type": "repairer"}, {"contact": "王师傅"}),
        (
            "product",
            {"id": "p9", "name": "台灯", "brand_id": "b1", "category": "lighting"},
            {"warranty_months": 12},
        ),
    ],
)
def test_each_kind_is_created_replaced_patched_deactivated_and_repeats_change_nothing(
    services: Services, kind: str, record: dict[str, Any], change: dict[str, Any]
) -> None:
    catalogue(services)
    assert load(services, kind, record) == ["created"]
    assert load(services, kind, record) == ["unchanged"]
    assert load(services, kind, {**record, **change}) == ["updated"]
    stored = md.get_record(services, kind, record["id"], world=md.World())
    assert all(stored[k] == v for k, v in change.items())
    patched = md.patch_record(services, kind, record["id"], {"active": False}, world=md.World())
    assert patched.result == "updated"
    stored = md.get_record(services, kind, record["id"], world=md.World())
    assert stored["active"] is False and all(stored[k] == v for k, v in change.items())


def test_an_order_is_created_with_its_items_and_a_repeat_is_unchanged(services: Services) -> None:
    catalogue(services)
    assert load(services, "order", order()) == ["created"]
    assert load(services, "order", order()) == ["unchanged"]
    stored = md.get_record(services, "order", "o1", world=md.World())
    (item,) = stored["items"]
    assert item["paid_price_fen"] == 29_900 and item["purchased_on"] == "2026-11-20"
    assert item["area"] == {
        "province": "浙江省",
        "city": "杭州市",
        "district": "西湖区",
        "code": "330106",
    }


def test_an_older_update_than_the_stored_one_is_ignored_and_says_so(services: Services) -> None:
    catalogue(services)
    newer = {"id": "s1", "name": "明光旗舰店 2", "updated_at": "2026-11-22T10:00:00+08:00"}
    older = {"id": "s1", "name": "明光旗舰店 1", "updated_at": "2026-11-21T10:00:00+08:00"}
    assert load(services, "merchant", newer) == ["updated"]
    (outcome,) = md.upsert(services, "merchant", [older])
    assert outcome.result == "stale" and "2026-11-22" in outcome.message
    assert md.get_record(services, "merchant", "s1", world=md.World())["name"] == "明光旗舰店 2"


def test_versions_order_updates_as_times_do(services: Services) -> None:
    catalogue(services)
    assert load(services, "merchant", {"id": "s1", "name": "v5", "version": 5}) == ["updated"]
    assert load(services, "merchant", {"id": "s1", "name": "v4", "version": 4}) == ["stale"]
    assert load(services, "merchant", {"id": "s1", "name": "v6", "version": 6}) == ["updated"]


# ---------------------------------------------------------------- entitlements (NW-1, OH-1)


def test_nw_1_oh_1_an_item_keeps_the_entitlements_it_was_sold_with(services: Services) -> None:
    catalogue(services)
    load(services, "order", order())
    # The shop later stops offering installation with the lamp, and moves its category.
    changed = {"id": "p1", "name": "吸顶灯", "brand_id": "b1", "category": "electrical"}
    assert load(services, "product", changed) == ["updated"]
    item = md.get_record(services, "order", "o1", world=md.World())["items"][0]
    assert item["entitlements"]["service_tags"] == [SI]
    assert item["entitlements"]["category"] == "lighting"
    assert item["entitlements"]["as_of"] == "2026-11-20"
    buyer = Actor(Role.CONSUMER, "u1", Channel.HELP_BUTTON)
    opened = svc_cases.request_help(
        services, order_item_id="oi1", actor=buyer, failure="installation_late"
    )
    assert opened.eligibility is not None and opened.eligibility.eligible
    first = opened.eligibility.reasons[0]
    assert (first.code, first.rule) == ("entitlements.snapshot", "OH-1")
    assert "2026-11-20" in first.render("en") and "2026-11-20" in first.render("zh")


def test_an_item_cannot_change_product(services: Services) -> None:
    catalogue(services)
    load(
        services, "product", {"id": "p2", "name": "台灯", "brand_id": "b1", "category": "lighting"}
    )
    load(services, "order", order())
    moved = order(items=[{"id": "oi1", "product_id": "p2", "paid_price_fen": 100}])
    (outcome,) = md.upsert(services, "order", [moved])
    assert outcome.result == "refused" and "cannot change product" in outcome.message


# ---------------------------------------------------------------- dispatch by area (OH-3)


def test_oh_3_the_installer_covering_the_district_gets_the_request(services: Services) -> None:
    catalogue(services)
    load(services, "order", order())
    buyer = Actor(Role.CONSUMER, "u1", Channel.HELP_BUTTON)
    opened = svc_cases.request_help(
        services, order_item_id="oi1", actor=buyer, failure="installation_late"
    )
    assert opened.case.assignee == "i1"


def test_oh_3_a_deactivated_installer_is_not_dispatched_to(services: Services) -> None:
    catalogue(services)
    load(services, "order", order())
    md.patch_record(services, "provider", "i1", {"active": False}, world=md.World())
    buyer = Actor(Role.CONSUMER, "u1", Channel.HELP_BUTTON)
    opened = svc_cases.request_help(
        services, order_item_id="oi1", actor=buyer, failure="installation_late"
    )
    assert opened.case.assignee == "s1"  # nobody else covers it: the merchant


# ---------------------------------------------------------------- worlds


def test_a_sandbox_holds_its_own_catalogue_and_never_touches_live_data(services: Services) -> None:
    catalogue(services)
    create_sandbox(services, sandbox_id="try", start=START)
    box = md.World.of("try")
    # The same ids in the sandbox are the sandbox's own records.
    assert load(services, "merchant", {"id": "s1", "name": "试用店"}, world=box) == ["created"]
    assert md.get_record(services, "merchant", "s1", world=md.World())["name"] == "明光旗舰店"
    assert md.get_record(services, "merchant", "s1", world=box)["name"] == "试用店"
    # The sandbox reads through to live records it does not hold (the live lamp, buyer).
    assert load(services, "order", order(), world=box) == ["created"]
    with pytest.raises(NotFound):
        md.get_record(services, "order", "o1", world=md.World())
    items, _ = md.list_records(services, "order", world=box)
    assert [i["id"] for i in items] == ["o1"] and items[0]["merchant_id"] == "s1"


def test_oh_5_a_sandbox_order_is_dispatched_and_paid_on_the_sandbox_clock(
    services: Services,
) -> None:
    create_sandbox(services, sandbox_id="try", start=START)
    box = md.World.of("try")
    catalogue(services, box)
    load(services, "order", order(), world=box)
    buyer = Actor(Role.CONSUMER, "try.u1", Channel.HELP_BUTTON)
    opened = svc_cases.request_help(
        services, order_item_id="try.oi1", actor=buyer, failure="installation_late"
    )
    assert opened.case.assignee == "try.i1"
    _, report = advance_sandbox(services, "try", by=timedelta(hours=1, minutes=1))
    assert report.payouts == 1


# ---------------------------------------------------------------- a shop's token


def test_a_shops_token_loads_its_own_records_only(services: Services) -> None:
    catalogue(services)
    load(services, "merchant", {"id": "s2", "name": "别家店"})
    mine, theirs = md.Scope(merchant="s1"), md.Scope(merchant="s2")
    lamp = {"id": "p5", "name": "壁灯", "brand_id": "b1", "category": "lighting"}
    assert load(services, "product", lamp, scope=mine) == ["created"]
    assert md.get_record(services, "product", "p5", world=md.World())["owner"] == "s1"
    (other,) = md.upsert(services, "product", [{**lamp, "name": "改名"}], scope=theirs)
    assert other.result == "refused" and "another shop" in other.message
    (foreign,) = md.upsert(services, "order", [order(merchant_id="s2")], scope=mine)
    assert foreign.result == "refused" and "own orders" in foreign.message
    with pytest.raises(Forbidden):
        md.upsert(services, "brand", [{"id": "b2", "name": "x"}], scope=mine)
    (known,) = md.upsert(services, "buyer", [{"id": "u1", "name": "改"}], scope=mine)
    assert known.result == "refused"
    assert load(services, "buyer", {"id": "u2", "name": "新客"}, scope=mine) == ["created"]


# ---------------------------------------------------------------- bad records


@pytest.mark.parametrize(
    ("kind", "record", "field", "words"),
    [
        (
            "product",
            {"id": "p7", "name": "灯", "brand_id": "b1", "category": "lightning"},
            "category",
            "nearest known",
        ),
        (
            "product",
            {"id": "p7", "name": "灯", "brand_id": "nope", "category": "lighting"},
            "brand_id",
            "load it first",
        ),
        (
            "order",
            order(items=[{"id": "x", "product_id": "p1", "paid_price": "-1"}]),
            "items",
            "negative",
        ),
        (
            "order",
            order(
                items=[
                    {
                        "id": "x",
                        "product_id": "p1",
                        "paid_price_fen": 1,
                        "purchased_on": "2027-01-01",
                    }
                ]
            ),
            "items.0.purchased_on",
            "future",
        ),
        ("order", order(address="不知道在哪里"), "items.0.address", "不知道在哪里"),
        ("order", order(merchant_id="nope"), "merchant_id", "load it first"),
        ("order", {"id": "o2", "buyer_id": "u1"}, "merchant_id", "required"),
        ("merchant", {"id": "s3", "name": 5}, "name", "string"),
        ("merchant", {"id": "s 3", "name": "x"}, "id", "usable id"),
        ("merchant", {"id": "s3", "name": "a\x00b"}, "name", "U+0000"),
        (
            "provider",
            {
                "id": "i3",
                "name": "x",
                "type": "installer",
                "coverage": [{"area_code": "999999", "category": "lighting", "service_tag": SI}],
            },
            "coverage.0.area_code",
            "administrative code",
        ),
    ],
)
def test_a_bad_record_is_refused_naming_the_field_and_nothing_of_it_is_written(
    services: Services, kind: str, record: dict[str, Any], field: str, words: str
) -> None:
    catalogue(services)
    good = {"id": "s-good", "name": "好店"}
    outcomes = md.upsert(services, kind, [record]) + md.upsert(services, "merchant", [good])
    refused, kept = outcomes
    assert refused.result == "refused", refused
    assert any(e["field"].startswith(field) and words in e["message"] for e in refused.errors), (
        refused.errors
    )
    assert kept.result == "created"
    if refused.id:
        with pytest.raises(NotFound):
            md.get_record(services, kind, refused.id, world=md.World())


def test_an_id_twice_in_one_batch_refuses_the_second(services: Services) -> None:
    (first, second) = md.upsert(
        services, "merchant", [{"id": "s5", "name": "a"}, {"id": "s5", "name": "b"}]
    )
    assert (first.result, second.result) == ("created", "refused")
    assert "twice" in second.message


def test_a_dry_run_writes_nothing_and_says_what_would_happen(services: Services) -> None:
    catalogue(services)
    outcomes = md.upsert(
        services,
        "merchant",
        [{"id": "s1", "name": "新名字"}, {"id": "s8", "name": "新店"}],
        dry_run=True,
    )
    assert [o.result for o in outcomes] == ["updated", "created"]
    assert md.get_record(services, "merchant", "s1", world=md.World())["name"] == "明光旗舰店"
    with pytest.raises(NotFound):
        md.get_record(services, "merchant", "s8", world=md.World())


def test_lists_page_by_cursor_in_id_order(services: Services) -> None:
    load(services, "merchant", *({"id": f"m{n:02d}", "name": f"店{n}"} for n in range(7)))
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = md.list_records(
            services, "merchant", world=md.World(), after=cursor, limit=3
        )
        seen += [r["id"] for r in page]
        if cursor is None:
            break
    assert seen == [f"m{n:02d}" for n in range(7)]
