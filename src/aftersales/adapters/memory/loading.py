"""Reference data into a memory store: what ``adapters/db/reference.py``'s upserts take.

Writes are upserts (writing the same rows twice changes nothing); a brand's
centres and a provider's coverage are replaced by what is written. Rows are the
same typed dicts the SQL functions take (``MerchantRow``, ``ProviderRow``,
``CoverageRow``, ``OrderRow``, ``OrderItemRow``), read here as mappings, and
brands and products are the domain's own objects. A row naming a brand,
merchant, provider, order or product the store does not hold is refused, as the
database's foreign keys refuse it.

These are for tests that set up a few rows by hand; marketplace data (the
demo's too) goes through the ``MasterData`` port. Each function writes in the unit of work open on the
store in the caller's call stack (its rows are part of that transaction), or
else in one of its own: a refused row leaves nothing of the call behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from aftersales.adapters import areas
from aftersales.adapters.memory.state import (
    ItemRecord,
    MemoryStore,
    OrderRecord,
    ProviderRecord,
    utc,
)
from aftersales.adapters.memory.uow import unit_of_work_factory
from aftersales.domain.brands import BrandAfterSales
from aftersales.domain.eligibility import Product
from aftersales.domain.slots import windows_from_json
from aftersales.errors import NotFound
from aftersales.services.records import LIVE

Row = Mapping[str, Any]


@contextmanager
def _writing(store: MemoryStore) -> Iterator[None]:
    """In the unit of work open on ``store`` in this call stack, else in one of its own."""
    with unit_of_work_factory(store)() as uow:
        yield
        uow.commit()  # left to the caller's unit of work, if one is open


def _last_per_id(rows: Iterable[Row]) -> list[Row]:
    return list({row["id"]: row for row in rows}.values())


def _require(table: Mapping[str, object], what: str, key: str | None) -> None:
    if key is not None and key not in table:
        raise NotFound(what, key, "load it first")


def upsert_brands(store: MemoryStore, brands: Iterable[BrandAfterSales]) -> int:
    """NW-3 after-sales information; a brand's centres are replaced by the ones given."""
    with _writing(store):
        unique = {b.brand_id: b for b in brands}
        store.tables.brands.update(unique)
        return len(unique)


def upsert_merchants(store: MemoryStore, merchants: Iterable[Row]) -> int:
    with _writing(store):
        rows = _last_per_id(merchants)
        store.tables.merchants.update({row["id"]: row["name"] for row in rows})
        return len(rows)


def upsert_buyers(store: MemoryStore, buyers: Iterable[Row]) -> int:
    """Buyers by their marketplace account id, with the name and phone the marketplace gave."""
    with _writing(store):
        rows = _last_per_id(buyers)
        store.tables.buyers.update(
            {row["id"]: (row.get("name", ""), row.get("phone", "")) for row in rows}
        )
        return len(rows)


def upsert_providers(store: MemoryStore, providers: Iterable[Row], coverage: Iterable[Row]) -> int:
    """Providers; the coverage given replaces all coverage of those providers (OH-3)."""
    with _writing(store):
        t = store.tables
        rows = _last_per_id(providers)
        for row in rows:
            _require(t.brands, "brand", row["brand_id"])
            t.providers[row["id"]] = ProviderRecord(
                row["name"],
                row["kind"],
                row["brand_id"],
                row.get("calendar", "wall"),
                row.get("phone", ""),
                windows=windows_from_json(row.get("appointment_windows")),
            )
        covered = {
            (
                c["provider_id"],
                _city_code(c["city"]),
                c["category_id"],
                c["service_tag"],
                "on_site",
            ): LIVE
            for c in coverage
        }
        for provider_id, *_ in covered:
            _require(t.providers, "provider", provider_id)
        replaced = {row["id"] for row in rows} | {key[0] for key in covered}
        t.coverage = {key: w for key, w in t.coverage.items() if key[0] not in replaced}
        t.coverage.update(covered)
        return len(rows)


def upsert_products(store: MemoryStore, products: Iterable[Product]) -> int:
    with _writing(store):
        unique = {p.id: p for p in products}
        for product in unique.values():
            _require(store.tables.brands, "brand", product.brand_id)
        store.tables.products.update(unique)
        return len(unique)


def upsert_orders(store: MemoryStore, orders: Iterable[Row]) -> int:
    with _writing(store):
        t = store.tables
        rows = _last_per_id(orders)
        for row in rows:
            _require(t.merchants, "merchant", row["merchant_id"])
            t.orders[row["id"]] = OrderRecord(
                row.get("sandbox", LIVE),
                row["buyer_account"],
                row["merchant_id"],
                utc(row["placed_at"]),
                row.get("contact_phone", ""),
            )
        return len(rows)


def upsert_order_items(store: MemoryStore, items: Iterable[Row]) -> int:
    """Order items with their address text and, where known, its resolved parts."""
    with _writing(store):
        t = store.tables
        rows = _last_per_id(items)
        for row in rows:
            _require(t.orders, "order", row["order_id"])
            _require(t.products, "product", row["product_id"])
            t.order_items[row["id"]] = ItemRecord(
                order_id=row["order_id"],
                product_id=row["product_id"],
                paid_price_fen=row["paid_price_fen"],
                purchased_on=row["purchased_on"],
                delivered_on=row["delivered_on"],
                address_text=row["address_text"],
                province=row.get("province"),
                city=row.get("city"),
                district=row.get("district"),
                area_code=row.get("area_code")
                or areas.code_for(row.get("city"), row.get("district")),
                contact_phone=row.get("contact_phone", ""),
            )
        return len(rows)


def _city_code(city: str) -> str:
    code = areas.city_code_named(city)
    if code is None:
        raise NotFound("city", city, "give a city of China by its name, e.g. 杭州市")
    return code
