"""The parties' screens on the in-memory adapter: scoping per role, orderings, paging,
compliance and balances (``adapters/db/read_models.py`` answers the same on SQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from aftersales.adapters.memory import (
    MemoryStore,
    upsert_brands,
    upsert_merchants,
    upsert_order_items,
    upsert_orders,
    upsert_products,
    upsert_providers,
)
from aftersales.domain.brands import BrandAfterSales
from aftersales.domain.cases import Actor
from aftersales.domain.eligibility import Product
from aftersales.domain.explain import Bilingual
from aftersales.domain.lifecycle import Channel, Role
from aftersales.errors import InvalidRequest, NotFound
from aftersales.services import cases as svc
from aftersales.services import views
from aftersales.services.base import Services
from aftersales.services.deadlines import tick
from aftersales.services.records import Scope
from aftersales.services.sandboxes import advance_sandbox, create_sandbox
from aftersales.services.time import FixedClock
from tests.unit.services.world import (
    AGENT,
    BUYER,
    FORM,
    INSTALLER,
    LAMP,
    OPS,
    START,
    item_row,
    seed,
)

SHANGHAI_ADDRESS = {
    "address_text": "上海市浦东新区世纪大道100号",
    "province": "上海市",
    "city": "上海市",
    "district": "浦东新区",
}
BUYER_2 = Actor(Role.CONSUMER, "buyer-2", Channel.HELP_BUTTON)
DAY = (START - timedelta(days=1), START + timedelta(days=3))


@pytest.fixture
def store(store: MemoryStore) -> MemoryStore:
    """The base world, plus: an installer covering 杭州; a second lamp of ``buyer-1``;
    ``buyer-2`` with brand-y's lamp from shop-2 in 上海, where nobody covers lighting."""
    upsert_brands(store, [BrandAfterSales("brand-y", "月光", "400-800-0001", Bilingual("", ""))])
    upsert_merchants(store, [{"id": "shop-2", "name": "灯饰专营店"}])
    upsert_products(
        store, [Product("lamp-y", "壁灯", "brand-y", "lighting", service_tags=LAMP.service_tags)]
    )
    upsert_providers(
        store,
        [{"id": "installer-hz", "name": "杭州安装", "kind": "installer", "brand_id": None}],
        [
            {
                "provider_id": "installer-hz",
                "city": "杭州市",
                "category_id": "lighting",
                "service_tag": "scheduled_installation",
            }
        ],
    )
    upsert_orders(
        store,
        [
            {
                "id": "o2",
                "buyer_account": "buyer-2",
                "merchant_id": "shop-2",
                "placed_at": START - timedelta(days=3),
            }
        ],
    )
    upsert_order_items(
        store,
        [
            item_row("oi-lamp-2", "o1", "lamp", date(2026, 11, 5)),
            {
                **item_row("oi-lamp-sh", "o2", "lamp-y", date(2026, 11, 20), **SHANGHAI_ADDRESS),
                "paid_price_fen": 9_900,
            },
        ],
    )
    return store


def _help(services: Services, item: str, buyer: Actor = BUYER) -> str:
    return svc.request_help(
        services, order_item_id=item, actor=buyer, failure="installation_late"
    ).case.id


def _seen(
    services: Services, role: Role, party: str | None, account: str | None = None
) -> set[str]:
    return {line.id for line in views.case_lines(services, Scope(role, party, account))}


def test_each_party_sees_only_its_own_cases(services: Services) -> None:
    lamp = _help(services, "oi-lamp")
    lamp_sh = _help(services, "oi-lamp-sh", BUYER_2)
    phone = svc.report_repair(
        services, order_item_id="oi-phone", actor=AGENT, description="屏幕闪烁"
    ).case.id
    everything = {lamp, lamp_sh, phone}
    assert _seen(services, Role.CONSUMER, "buyer-1") == {lamp, phone}
    assert _seen(services, Role.CONSUMER, "buyer-2") == {lamp_sh}
    assert _seen(services, Role.CONSUMER, None) == set()
    assert _seen(services, Role.PROVIDER, "installer-hz") == {lamp}
    assert _seen(services, Role.MERCHANT, "shop-1") == {lamp, phone}
    assert _seen(services, Role.MERCHANT, "shop-2") == {lamp_sh}
    assert _seen(services, Role.BRAND, "brand-x") == {lamp, phone}
    assert _seen(services, Role.BRAND, "brand-y") == {lamp_sh}
    assert _seen(services, Role.AGENT, "brand-y") == {lamp_sh}  # on brand-y's 400 line
    assert _seen(services, Role.AGENT, None, "agent-9") == {phone}  # the report they filed
    assert _seen(services, Role.AGENT, None, "agent-1") == set()
    assert _seen(services, Role.OPERATIONS, None) == everything
    assert _seen(services, Role.SYSTEM, None) == set()
    assert views.may_see_case(services, Scope(Role.CONSUMER, "buyer-1"), lamp)
    assert not views.may_see_case(services, Scope(Role.CONSUMER, "buyer-2"), lamp)
    assert not views.may_see_case(services, Scope(Role.OPERATIONS), "OH-nope")


def test_case_lines_are_newest_first_with_their_next_deadline_and_page_on_opened_at_and_id(
    services: Services, clock: FixedClock
) -> None:
    first = _help(services, "oi-lamp")
    clock.advance(minutes=5)
    second = _help(services, "oi-lamp-2")
    third = _help(services, "oi-lamp-sh", BUYER_2)  # the same instant: id breaks the tie
    ops = Scope(Role.OPERATIONS)
    lines = views.case_lines(services, ops)
    assert [line.id for line in lines] == [*sorted([second, third]), first]
    assert lines[-1].next_due == START + timedelta(hours=1)  # the 1-hour solution clock
    assert (lines[-1].product, lines[-1].buyer, lines[-1].city) == ("吸顶灯", "buyer-1", "杭州市")
    page = views.case_lines(services, ops, limit=2)
    rest = views.case_lines(services, ops, after=(page[-1].opened_at, page[-1].id))
    assert [line.id for line in page + rest] == [line.id for line in lines]
    assert views.case_lines(services, ops, sandbox="elsewhere") == []


def test_open_only_leaves_out_closed_cases(services: Services, clock: FixedClock) -> None:
    case_id = svc.report_repair(
        services, order_item_id="oi-phone", actor=FORM, description="不开机"
    ).case.id
    brand = Actor(Role.BRAND, "brand-x", Channel.WEB)
    svc.act(services, case_id, "reject", brand, "人为损坏，不在保修范围")
    ops = Scope(Role.OPERATIONS)
    assert [line.is_open for line in views.case_lines(services, ops)] == [False]
    assert views.case_lines(services, ops, open_only=True) == []
    assert views.open_cases_of_items(services, ["oi-phone"]) == []


def test_provider_queue_puts_the_case_nearest_to_breach_first_across_sandbox_clocks(
    services: Services, store: MemoryStore
) -> None:
    seed(store, sandbox="a", prefix="a.")
    create_sandbox(services, sandbox_id="a", start=START)
    later = _help(services, "oi-lamp")
    urgent = _help(services, "a.oi-lamp")
    advance_sandbox(services, "a", by=timedelta(minutes=50))
    queue = views.provider_queue(services, Scope(Role.PROVIDER, "installer-hz"), live_now=START)
    assert [line.case.id for line in queue] == [urgent, later]
    assert [line.case.sandbox for line in queue] == ["a", "live"]
    assert queue[0].clock_id == "solution" and queue[0].seconds_left == pytest.approx(600)
    assert queue[1].seconds_left == pytest.approx(3600)
    assert (
        views.provider_queue(
            services, Scope(Role.PROVIDER, "installer-hz"), live_now=START, limit=1
        )
        == queue[:1]
    )
    assert views.provider_queue(services, Scope(Role.PROVIDER, "other"), live_now=START) == []


def test_payout_lines_show_each_partys_payouts_newest_first_and_page(services: Services) -> None:
    mine = _help(services, "oi-lamp")
    theirs = _help(services, "oi-lamp-sh", BUYER_2)
    tick(services, sandbox="live", now=START + timedelta(minutes=61), worker_id="w")
    lines = views.payout_lines(services, Scope(Role.OPERATIONS))
    assert {line.case_id for line in lines} == {mine, theirs}
    assert lines[0].entry_id > lines[1].entry_id  # the same instant: the later entry first
    assert [
        line.case_id for line in views.payout_lines(services, Scope(Role.CONSUMER, "buyer-2"))
    ] == [theirs]
    assert views.payout_lines(services, Scope(Role.MERCHANT, "shop-1"))[0].payer == "shop-1"
    page = views.payout_lines(services, Scope(Role.OPERATIONS), limit=1)
    rest = views.payout_lines(
        services, Scope(Role.OPERATIONS), after=(page[0].at, page[0].entry_id)
    )
    assert page + rest == lines
    assert "OH-5" in lines[0].explanation("en") and lines[0].amount == 5000
    assert views.payout_lines(services, Scope(Role.OPERATIONS), sandbox="elsewhere") == []


def test_compliance_counts_met_breached_running_and_points_by_provider_and_by_clock(
    services: Services, clock: FixedClock
) -> None:
    missed = _help(services, "oi-lamp")
    kept = _help(services, "oi-lamp-2")
    clock.advance(minutes=10)
    svc.act(services, kept, "give_solution", INSTALLER, "明天上午 10 点上门")
    tick(services, sandbox="live", now=START + timedelta(minutes=61), worker_id="w")
    ops = Scope(Role.OPERATIONS)
    by_provider = views.compliance(services, ops, by="provider", start=DAY[0], end=DAY[1])
    (row,) = by_provider.rows
    assert (row.key, row.met, row.breached, row.running, row.points_paid) == (
        "installer-hz",
        1,
        1,
        2,
        5_000,
    )
    assert row.rate == 0.5 and by_provider.total.judged == 2
    per_clock = views.compliance(services, ops, by="clock", start=DAY[0], end=DAY[1])
    assert [r.key for r in per_clock.rows] == ["solution", "resolution"]  # judged first
    solution = per_clock.rows[0]
    assert (solution.met, solution.breached, solution.points_paid) == (1, 1, 5_000)
    by_city = views.compliance(services, ops, by="city", start=DAY[0], end=DAY[1])
    assert [r.key for r in by_city.rows] == ["杭州市"]
    later = views.compliance(
        services, ops, by="provider", start=DAY[1], end=DAY[1] + timedelta(days=1)
    )
    assert later.rows == []
    assert (
        views.compliance(
            services, Scope(Role.MERCHANT, "shop-2"), by="provider", start=DAY[0], end=DAY[1]
        ).rows
        == []
    )
    with pytest.raises(InvalidRequest, match="group by one of provider, city"):
        views.compliance(services, ops, by="colour", start=DAY[0], end=DAY[1])
    assert missed != kept


def test_compliance_adds_a_missing_and_an_empty_key_into_one_row_not_one_over_the_other(
    services: Services, store: MemoryStore
) -> None:
    _help(services, "oi-lamp")
    _help(services, "oi-lamp-2")
    items = store.tables.order_items  # one item lost its city, the other has it blank
    items["oi-lamp"] = replace(items["oi-lamp"], city=None)
    items["oi-lamp-2"] = replace(items["oi-lamp-2"], city="")
    by_city = views.compliance(
        services, Scope(Role.OPERATIONS), by="city", start=DAY[0], end=DAY[1]
    )
    assert [(row.key, row.running) for row in by_city.rows] == [("—", 4)]


def test_balances_are_everyones_for_operations_and_ones_own_otherwise(
    services: Services, store: MemoryStore
) -> None:
    _help(services, "oi-lamp")
    tick(services, sandbox="live", now=START + timedelta(minutes=61), worker_id="w")
    everyone = views.balances(services, Scope(Role.OPERATIONS))
    assert [(b.account, b.balance) for b in everyone] == [
        ("buyer-1", 5000),
        ("installer-hz", -5000),  # issue 15: it held the clock, so it owes the shop its share
        ("shop-1", 0),  # OH-5: the merchant pays the buyer, and is owed the share
    ]
    assert [b.balance for b in views.balances(services, Scope(Role.PROVIDER, "installer-hz"))] == [
        -5000
    ]
    assert [b.balance for b in views.balances(services, Scope(Role.CONSUMER, "buyer-1"))] == [5000]
    assert views.balances(services, Scope(Role.CONSUMER, None)) == []
    assert views.balances(services, Scope(Role.OPERATIONS), sandbox="elsewhere") == []


def test_pending_complaints_open_cases_and_live_figures(
    services: Services, clock: FixedClock
) -> None:
    phone = svc.report_repair(
        services, order_item_id="oi-phone", actor=FORM, description="不开机"
    ).case.id
    brand = Actor(Role.BRAND, "brand-x", Channel.WEB)
    clock.advance(hours=2)
    svc.act(services, phone, "accept", brand, "寄回检测")
    clock.advance(days=2)
    svc.act(services, phone, "receive_item", brand)
    clock.advance(days=31)
    complaint = svc.file_complaint(services, phone, "feedback", FORM, "一个月没消息")
    lamp = _help(services, "oi-lamp")
    (pending,) = views.pending_complaints(services)
    assert (pending.id, pending.case_id, pending.text) == (complaint.id, phone, "一个月没消息")
    assert {c.id for c in views.open_cases_of_items(services, ["oi-phone", "oi-lamp"])} == {
        phone,
        lamp,
    }
    assert views.open_cases_of_items(services, []) == []
    clock.advance(hours=2)
    tick(services, sandbox="live", now=clock.now(), worker_id="w")
    figures = views.live_figures(services)
    assert figures.open_cases == {"national_warranty": 1, "one_click_help": 1}
    assert figures.payouts == {"OH-5": (1, 5000)}
    svc.decide_complaint(services, phone, complaint.id, False, OPS, "已反馈")
    assert views.pending_complaints(services) == []


def test_reference_reads_for_hotline_agents_and_buyers(
    services: Services, store: MemoryStore
) -> None:
    assert [b.id for b in views.brands(services)] == ["brand-x", "brand-y"]
    centres = views.brand_after_sales(services, "brand-x").centres
    assert [c.city for c in centres] == ["上海市", "杭州市"]  # by city, then name
    with pytest.raises(NotFound, match="no brand with id 'brand-z'"):
        views.brand_after_sales(services, "brand-z")
    by_buyer = views.find_orders_for_caller(services, "buyer-1")
    assert [r["id"] for r in by_buyer] == ["oi-lamp-2", "oi-lamp", "oi-phone"]  # newest first
    assert (
        by_buyer[0]["service_tags"] == ["scheduled_installation"]
        and by_buyer[0]["sandbox"] == "live"
    )
    assert [r["id"] for r in views.find_orders_for_caller(services, " o2 ")] == ["oi-lamp-sh"]
    assert [r["id"] for r in views.find_orders_for_caller(services, "oi-phone")] == ["oi-phone"]
    assert views.find_orders_for_caller(services, "  ") == []
    seed(store, sandbox="a", prefix="a.")
    items = views.items_of_buyer(services, "buyer-1")
    assert {sandbox for _, sandbox in items} == {"live", "a"}
    assert views.buyer_of_item(services, "oi-lamp-sh") == "buyer-2"
    assert views.buyer_of_item(services, "oi-nope") is None


def test_a_partys_view_without_a_party_sees_no_case(services: Services) -> None:
    """A provider scope with no provider id must not see every case nobody holds."""
    _help(services, "oi-lamp")
    for role in (Role.CONSUMER, Role.PROVIDER, Role.MERCHANT, Role.BRAND):
        assert _seen(services, role, None) == set()
