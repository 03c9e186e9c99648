"""Master data on a real database (SQLite, and PostgreSQL when configured): every kind's
life, orders included; older updates ignored; entitlements kept per item (NW-1, OH-1);
a sandbox's records apart from live ones; dispatch by district (OH-3)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.errors import NotFound
from aftersales.services import cases as svc_cases
from aftersales.services import master_data as md
from aftersales.services.base import Services
from aftersales.services.sandboxes import create_sandbox
from aftersales.services.time import FixedClock
from aftersales.testing import services_on
from tests.unit.services.test_master_data import SI, catalogue, load, order
from tests.unit.services.world import START

LIVE_DATA = md.World()


@pytest.fixture
def services(engine: Engine) -> Services:
    return services_on(engine, FixedClock(START))


@pytest.mark.parametrize(
    ("kind", "record", "change"),
    [
        ("brand", {"id": "b9", "name": "星河", "hotline": "400-1"}, {"hotline": "400-2"}),
        ("merchant", {"id": "s9", "name": "星河店"}, {"name": "星河官方店"}),
        ("buyer", {"id": "u9", "name": "李四"}, {"phone": "13900000000"}),
        (
            "provider",
            {
                "id": "i9",
                "name": "修理铺",
                "type": "repairer",
                "coverage": [{"area_code": "330100", "category": "lighting", "service_tag": SI}],
            },
            {"contact": "王师傅"},
        ),
        (
            "product",
            {"id": "p9", "name": "台灯", "brand_id": "b1", "category": "lighting"},
            {"warranty_months": 12},
        ),
        ("order", order(id="o9"), {"contact_phone": "13800000000"}),
    ],
)
def test_each_kind_lives_through_create_replace_patch_stale_repeat_and_deactivate(
    services: Services, kind: str, record: dict[str, Any], change: dict[str, Any]
) -> None:
    catalogue(services)
    if kind == "order":
        record = {**record, "items": [{**record["items"][0], "id": "oi9"}]}
    dated = {**record, "updated_at": "2026-11-22T10:00:00+08:00"}
    assert load(services, kind, dated) == ["created"]
    assert load(services, kind, dated) == ["unchanged"]
    older = {**record, **change, "updated_at": "2026-11-21T10:00:00+08:00"}
    assert load(services, kind, older) == ["stale"]
    newer = {**record, **change, "updated_at": "2026-11-23T10:00:00+08:00"}
    assert load(services, kind, newer) == ["updated"]
    stored = md.get_record(services, kind, record["id"], world=LIVE_DATA)
    assert all(stored[k] == v for k, v in change.items())
    assert (
        md.patch_record(services, kind, record["id"], {"active": False}, world=LIVE_DATA).result
        == "updated"
    )
    stored = md.get_record(services, kind, record["id"], world=LIVE_DATA)
    assert stored["active"] is False and all(stored[k] == v for k, v in change.items())
    if kind == "provider":
        assert stored["coverage"][0]["area_name"] == "杭州市"


def test_nw_1_oh_1_an_item_keeps_what_it_was_sold_with_and_is_dispatched_by_district(
    services: Services,
) -> None:
    catalogue(services)
    assert load(services, "order", order()) == ["created"]
    lamp = {"id": "p1", "name": "吸顶灯", "brand_id": "b1", "category": "electrical"}
    assert load(services, "product", lamp) == ["updated"]
    item = md.get_record(services, "order", "o1", world=LIVE_DATA)["items"][0]
    assert item["entitlements"]["service_tags"] == [SI]
    buyer = Actor(Role.CONSUMER, "u1", Channel.HELP_BUTTON)
    opened = svc_cases.request_help(
        services, order_item_id="oi1", actor=buyer, failure="installation_late"
    )
    assert opened.case.assignee == "i1"
    assert opened.eligibility is not None
    assert opened.eligibility.reasons[0].code == "entitlements.snapshot"


def test_a_sandbox_keeps_its_records_apart_and_reads_live_ones_through(
    services: Services,
) -> None:
    catalogue(services)
    create_sandbox(services, sandbox_id="try", start=START)
    box = md.World.of("try")
    assert load(services, "merchant", {"id": "s1", "name": "试用店"}, world=box) == ["created"]
    assert load(services, "order", order(), world=box) == ["created"]
    assert md.get_record(services, "merchant", "s1", world=LIVE_DATA)["name"] == "明光旗舰店"
    with pytest.raises(NotFound):
        md.get_record(services, "order", "o1", world=LIVE_DATA)
    items, cursor = md.list_records(services, "order", world=box)
    assert [i["id"] for i in items] == ["o1"] and cursor is None
    assert items[0]["items"][0]["id"] == "oi1"
