"""Reference data on a real database: the demo data set, order items, brands, dispatch (OH-3)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Engine, Table, func, select

from aftersales.adapters import areas
from aftersales.adapters.addresses import AddressResolver
from aftersales.adapters.db import reference as ref
from aftersales.adapters.db import schema as s
from aftersales.adapters.policy_files import load_policy_book
from aftersales.demo import dataset as demo
from aftersales.demo.dataset import Dataset, build_dataset, load_dataset
from aftersales.domain.brands import ServiceCentre
from aftersales.domain.eligibility import (
    OrderItem,
    assess_national_warranty,
    assess_one_click_help,
)
from aftersales.domain.lifecycle import Programme
from aftersales.domain.policy import PolicyBook

SI = "scheduled_installation"
DEMO_NOON = datetime.combine(demo.DEMO_TODAY, time(12), tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(scope="module")
def book() -> PolicyBook:
    return load_policy_book()


@pytest.fixture(scope="module")
def resolver() -> AddressResolver:
    return AddressResolver()


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return build_dataset()


@pytest.fixture
def conn(
    engine: Engine, book: PolicyBook, dataset: Dataset, resolver: AddressResolver
) -> Iterator[Connection]:
    """A connection to a database holding the demo data set (committed)."""
    with engine.begin() as loading:
        report = load_dataset(loading, book, dataset, resolver)
    assert report.unresolved_items == ()
    with engine.connect() as connection:
        yield connection
        connection.rollback()


def covered_cities(book: PolicyBook) -> tuple[str, ...]:
    version = book.city_lists["oh-cities"].in_force(DEMO_NOON)
    assert version is not None
    return version.cities


def count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


# ---------------------------------------------------------------- the data set


def test_demo_data_is_deterministic_and_keeps_its_well_known_ids() -> None:
    first, again, other = build_dataset(), build_dataset(), build_dataset(seed=7)
    assert first == again
    assert first.order_items != other.order_items
    for data in (first, other):
        item_ids = {i["id"] for i in data.order_items}
        assert {
            demo.ITEM_LAMP_HANGZHOU,
            demo.ITEM_TILES_GUANGZHOU,
            demo.ITEM_KETTLE_SHANGHAI,
            demo.ITEM_PHONE_OUT_OF_WARRANTY,
            demo.ITEM_LAMP_NGARI,
            demo.ITEM_TILES_LHASA,
        } <= item_ids


def test_demo_data_is_big_enough_to_play_with(dataset: Dataset) -> None:
    counts = dataset.counts()
    assert counts["brands"] >= 6 and counts["merchants"] >= 4
    assert counts["buyers"] >= 30 and counts["order_items"] >= 60
    assert {p.brand_id for p in dataset.products} <= {b.brand_id for b in dataset.brands}
    assert all(b.hotline.startswith("400-") and len(b.cities) >= 1 for b in dataset.brands)
    assert sum(len(b.cities) >= 3 for b in dataset.brands) >= 6


def test_regions_name_every_covered_city(book: PolicyBook) -> None:
    """The demo's region table spells every covered city as the policy list does (OH-2)."""
    listed = [city for region in demo.REGIONS for city in region.cities]
    assert len(listed) == len(set(listed))
    assert set(listed) == set(covered_cities(book))


def test_load_writes_every_row_and_loading_again_changes_nothing(
    engine: Engine, book: PolicyBook, dataset: Dataset, resolver: AddressResolver
) -> None:
    tables = (
        s.brands,
        s.service_centres,
        s.merchants,
        s.providers,
        s.provider_coverage,
        s.products,
        s.orders,
        s.order_items,
    )
    with engine.begin() as conn:
        report = load_dataset(conn, book, dataset, resolver)
        first = {t.name: count(conn, t) for t in tables}
    with engine.begin() as conn:
        load_dataset(conn, book, dataset, resolver)
        again = {t.name: count(conn, t) for t in tables}
    assert first == again
    counts = report.counts
    assert first == {
        "brands": counts["brands"],
        "service_centres": counts["service_centres"],
        "merchants": counts["merchants"],
        "providers": counts["providers"],
        "provider_coverage": counts["coverage"],
        "products": counts["products"],
        "orders": counts["orders"],
        "order_items": counts["order_items"],
    }


def test_addresses_are_stored_with_the_city_they_were_written_for(
    conn: Connection, dataset: Dataset
) -> None:
    rows = conn.execute(select(s.order_items.c.id, s.order_items.c.city)).all()
    stored = {row.id: row.city for row in rows}
    assert {k: stored[k] for k in dataset.intended_cities} == dataset.intended_cities
    assert stored[demo.ITEM_LAMP_NGARI] == "阿里地区"
    assert stored[demo.ITEM_TILES_KASHGAR] == "喀什地区"


# ---------------------------------------------------------------- order items


def test_load_order_item_round_trips_to_the_domain_object(
    conn: Connection, dataset: Dataset, resolver: AddressResolver
) -> None:
    products = {p.id: p for p in dataset.products}
    orders = {o["id"]: o for o in dataset.orders}
    for row in dataset.order_items:
        order = orders[row["order_id"]]
        expected = OrderItem(
            id=row["id"],
            order_id=row["order_id"],
            buyer_account=order["buyer_account"],
            merchant_id=order["merchant_id"],
            product=products[row["product_id"]],
            paid_price_fen=row["paid_price_fen"],
            purchased_on=row["purchased_on"],
            address=resolver.resolve(row["address_text"]),
            delivered_on=row["delivered_on"],
        )
        assert ref.load_order_item(conn, row["id"]) == expected


def test_an_unknown_order_item_is_named_in_the_error(conn: Connection) -> None:
    with pytest.raises(ref.NotFound, match="no order item with id 'item-nope'") as caught:
        ref.load_order_item(conn, "item-nope")
    assert caught.value.key == "item-nope"


def test_order_items_of_a_buyer_newest_first(conn: Connection, dataset: Dataset) -> None:
    items = ref.order_items_of_buyer(conn, demo.DEMO_BUYER)
    ids = {item.id for item in items}
    assert {demo.ITEM_LAMP_HANGZHOU, demo.ITEM_TSHIRT} <= ids
    assert all(item.buyer_account == demo.DEMO_BUYER for item in items)
    assert [i.purchased_on for i in items] == sorted((i.purchased_on for i in items), reverse=True)
    orders_of_buyer = {o["id"] for o in dataset.orders if o["buyer_account"] == demo.DEMO_BUYER}
    assert ids == {i["id"] for i in dataset.order_items if i["order_id"] in orders_of_buyer}
    assert ref.order_items_of_buyer(conn, demo.DEMO_BUYER, sandbox="sbx-none") == []
    assert ref.order_items_of_buyer(conn, "buyer-nobody") == []


def test_well_known_items_play_the_rules_they_are_named_for(
    conn: Connection, book: PolicyBook
) -> None:
    lamp = ref.load_order_item(conn, demo.ITEM_LAMP_HANGZHOU)
    assert assess_one_click_help(book, lamp, DEMO_NOON).eligible
    ngari = assess_one_click_help(book, ref.load_order_item(conn, demo.ITEM_LAMP_NGARI), DEMO_NOON)
    assert not ngari.eligible and ngari.reasons[-1].code == "oh.city_not_covered"
    assert assess_one_click_help(
        book, ref.load_order_item(conn, demo.ITEM_TILES_GUANGZHOU), DEMO_NOON
    ).eligible
    kettle = assess_national_warranty(
        book, ref.load_order_item(conn, demo.ITEM_KETTLE_SHANGHAI), DEMO_NOON
    )
    assert kettle.eligible and kettle.in_warranty
    for old in (demo.ITEM_PHONE_OUT_OF_WARRANTY, demo.ITEM_LAPTOP_OUT_OF_WARRANTY):
        decision = assess_national_warranty(book, ref.load_order_item(conn, old), DEMO_NOON)
        assert decision.eligible and decision.in_warranty is False
    shirt = ref.load_order_item(conn, demo.ITEM_TSHIRT)
    assert not assess_one_click_help(book, shirt, DEMO_NOON).eligible
    assert not assess_national_warranty(book, shirt, DEMO_NOON).eligible


# ---------------------------------------------------------------- dispatch (OH-3)


def find(
    conn: Connection, book: PolicyBook, *, city: str, category_id: str, service_tag: str
) -> str | None:
    """OH-3 dispatch for an address in ``city`` (given by name, as a buyer writes it)."""
    where = areas.containing(areas.city_code_named(city))
    return ref.find_provider(
        conn, book, areas=where, category_id=category_id, service_tag=service_tag
    )


def add_provider(conn: Connection, provider_id: str, *coverage: tuple[str, str, str]) -> None:
    ref.upsert_providers(
        conn,
        [{"id": provider_id, "name": provider_id, "kind": "installer", "brand_id": None}],
        [
            {"provider_id": provider_id, "city": city, "category_id": category, "service_tag": tag}
            for city, category, tag in coverage
        ],
    )


def test_oh_3_the_provider_on_the_nearest_category_wins(conn: Connection, book: PolicyBook) -> None:
    # A provider on an ancestor category with a lower id does not beat the nearer one.
    add_provider(conn, "aaa-ancestor", ("杭州市", "home-building", SI), ("杭州市", "home", SI))
    found = find(conn, book, city="杭州市", category_id="lighting", service_tag=SI)
    assert found == demo.PROVIDER_HANGZHOU_LIGHTING
    found = find(conn, book, city="杭州市", category_id="air-conditioner", service_tag=SI)
    assert found == demo.PROVIDER_HANFENG_CENTRE


def test_oh_3_falls_back_to_the_nearest_ancestor_category(
    conn: Connection, book: PolicyBook
) -> None:
    # 宁波 has no lighting specialist: the regional installer on 家装建材 takes it.
    found = find(conn, book, city="宁波市", category_id="lighting", service_tag=SI)
    assert found == demo.PROVIDER_EAST_INSTALLER
    # A tile goes to the delivery team registered on 家装建材.
    found = find(conn, book, city="广州市", category_id="tiles", service_tag="delivery_into_home")
    assert found == "dlv-south"
    # Nearer beats farther even two levels up: home-building (1) over home (2).
    add_provider(conn, "aaa-home", ("宁波市", "home", SI))
    found = find(conn, book, city="宁波市", category_id="lighting", service_tag=SI)
    assert found == demo.PROVIDER_EAST_INSTALLER


def test_oh_3_equally_near_providers_go_to_the_lowest_id(
    conn: Connection, book: PolicyBook
) -> None:
    add_provider(conn, "zz-lights", ("宁波市", "lighting", SI))
    add_provider(conn, "mm-lights", ("宁波市", "lighting", SI))
    found = find(conn, book, city="宁波市", category_id="lighting", service_tag=SI)
    assert found == "mm-lights"


def test_oh_3_city_names_match_with_or_without_their_suffix(
    conn: Connection, book: PolicyBook
) -> None:
    add_provider(conn, "aa-wenzhou", ("温州", "lighting", SI))  # stored without 市
    for city in ("温州市", "温州", " 温州市 "):
        found = find(conn, book, city=city, category_id="lighting", service_tag=SI)
        assert found == "aa-wenzhou"
    found = find(conn, book, city="杭州", category_id="lighting", service_tag=SI)
    assert found == demo.PROVIDER_HANGZHOU_LIGHTING


def test_oh_3_nobody_registered_means_the_merchant(conn: Connection, book: PolicyBook) -> None:
    # Outside the covered cities nobody is registered at all.
    for city in ("阿里地区", "喀什地区", "大理市"):
        assert find(conn, book, city=city, category_id="lighting", service_tag=SI) is None
    # 拉萨 is covered, but on purpose nobody delivers building materials there.
    for city in demo.DELIVERY_GAP_CITIES:
        found = find(conn, book, city=city, category_id="tiles", service_tag="delivery_into_home")
        assert found is None
        assert find(conn, book, city=city, category_id="lighting", service_tag=SI)
    # A service nobody offers on that branch of the tree.
    found = find(conn, book, city="杭州市", category_id="phone", service_tag="delivery_into_home")
    assert found is None


def test_oh_3_every_covered_city_has_an_installer_in_the_demo(
    conn: Connection, book: PolicyBook
) -> None:
    cities = covered_cities(book)
    assert len(cities) > 100
    policy = book.in_force(Programme.ONE_CLICK_HELP, DEMO_NOON)
    for rule in policy.eligibility.services:
        for category in rule.categories:
            gaps = [
                city
                for city in cities
                if find(conn, book, city=city, category_id=category, service_tag=rule.tag) is None
            ]
            gap_cities = demo.DELIVERY_GAP_CITIES if rule.tag == "delivery_into_home" else ()
            expected = [city for city in cities if city in gap_cities]
            assert gaps == expected, (rule.tag, category)
    # The same answer, city by city, from find_provider itself.
    for city in cities:
        for category in ("lighting", "electrical", "storage", "appliances"):
            assert find(conn, book, city=city, category_id=category, service_tag=SI), (
                city,
                category,
            )


def test_replacing_coverage_and_centres(conn: Connection, dataset: Dataset) -> None:
    ref.upsert_providers(
        conn,
        [{"id": "hz-install-01", "name": "杭州安装服务站", "kind": "installer", "brand_id": None}],
        [],
    )
    pc = s.provider_coverage
    rows = conn.execute(select(func.count()).where(pc.c.provider_id == "hz-install-01"))
    assert rows.scalar_one() == 0
    xinghe = next(b for b in dataset.brands if b.brand_id == demo.BRAND_XINGHE)
    ref.upsert_brands(conn, [replace(xinghe, hotline="400-000-9999", centres=xinghe.centres[:1])])
    stored = ref.brand_after_sales(conn, demo.BRAND_XINGHE)
    assert stored.hotline == "400-000-9999" and len(stored.centres) == 1


# ---------------------------------------------------------------- brands (NW-3)


def test_nw_3_brand_after_sales_lists_centres_by_city(conn: Connection, dataset: Dataset) -> None:
    written = next(b for b in dataset.brands if b.brand_id == demo.BRAND_XINGHE)
    info = ref.brand_after_sales(conn, demo.BRAND_XINGHE)
    assert (info.name, info.hotline) == ("星河电器", written.hotline)
    assert info.warranty_terms == written.warranty_terms
    assert info.exclusions == written.exclusions
    # Centres come grouped by city (then name), and are the ones written.
    assert [c.city for c in info.centres] == sorted(c.city for c in info.centres)
    assert sorted(info.centres, key=lambda c: (c.city, c.name)) == sorted(
        written.centres, key=lambda c: (c.city, c.name)
    )
    assert set(info.cities) == set(written.cities) and len(info.cities) >= 10
    beijing = info.centres_in("北京")
    assert len(beijing) == 2 and all(isinstance(c, ServiceCentre) for c in beijing)
    assert all(c.city == "北京市" and c.phone.startswith("010-") for c in beijing)
    assert info.centres_in("拉萨市") == ()


def test_nw_3_an_unknown_brand_is_named_in_the_error(conn: Connection) -> None:
    with pytest.raises(ref.NotFound, match="no brand with id 'brand-nope'"):
        ref.brand_after_sales(conn, "brand-nope")
