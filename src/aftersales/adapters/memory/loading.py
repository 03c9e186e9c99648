"""Reference data into a memory store: what ``adapters/db/reference.py``'s upserts take.

Writes are upserts (writing the same rows twice changes nothing); a brand's
centres and a provider's coverage are replaced by what is written. Rows are the
same typed dicts the SQL functions take (``MerchantRow``, ``ProviderRow``,
``CoverageRow``, ``OrderRow``, ``OrderItemRow``), read here as mappings, and
brands and products are the domain's own objects. A row naming a brand,
merchant, provider, order or product the store does not hold is refused, as the
database's foreign keys refuse it.

:func:`load_dataset` loads a data set shaped like the demo's ``Dataset`` (its
rows and ``counts()``), resolving the addresses with the resolver given, as the
SQL ``load_dataset`` does. Each function writes in the unit of work open on the
store in the caller's call stack (its rows are part of that transaction), or
else in one of its own: a refused row leaves nothing of the call behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

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
from aftersales.domain.eligibility import Product, ServiceAddress
from aftersales.domain.policy import PolicyBook
from aftersales.errors import ConfigurationError, NotFound
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
            )
        return len(rows)


def _city_code(city: str) -> str:
    code = areas.city_code_named(city)
    if code is None:
        raise NotFound("city", city, "give a city of China by its name, e.g. 杭州市")
    return code


# ---------------------------------------------------------------- a whole data set


class AddressResolving(Protocol):
    def resolve_many(self, texts: Iterable[str]) -> Sequence[ServiceAddress | None]: ...


class DatasetRows(Protocol):
    """What the demo's ``Dataset`` holds (read-only, so its typed lists fit)."""

    @property
    def brands(self) -> Sequence[BrandAfterSales]: ...
    @property
    def merchants(self) -> Sequence[Row]: ...
    @property
    def providers(self) -> Sequence[Row]: ...
    @property
    def coverage(self) -> Sequence[Row]: ...
    @property
    def products(self) -> Sequence[Product]: ...
    @property
    def orders(self) -> Sequence[Row]: ...
    @property
    def order_items(self) -> Sequence[Row]: ...

    def counts(self) -> dict[str, int]: ...


@dataclass(frozen=True)
class LoadReport:
    counts: dict[str, int]
    unresolved_items: tuple[str, ...]  # order items whose address named no city


def load_dataset(
    store: MemoryStore, book: PolicyBook, dataset: DatasetRows, resolver: AddressResolving
) -> LoadReport:
    """Check ``dataset`` against ``book``'s catalogue, resolve its addresses, write it all."""
    _check_catalog(book, dataset)
    addresses = resolver.resolve_many([row["address_text"] for row in dataset.order_items])
    items = []
    unresolved = []
    for row, address in zip(dataset.order_items, addresses, strict=True):
        if address is None:
            unresolved.append(row["id"])
        parts = (
            (address.province, address.city, address.district, address.area_code)
            if address
            else (None,) * 4
        )
        names = ("province", "city", "district", "area_code")
        items.append({**row, **dict(zip(names, parts, strict=True))})
    with _writing(store):
        upsert_brands(store, dataset.brands)
        upsert_merchants(store, dataset.merchants)
        upsert_providers(store, dataset.providers, dataset.coverage)
        upsert_products(store, dataset.products)
        upsert_orders(store, dataset.orders)
        upsert_order_items(store, items)
    return LoadReport(dataset.counts(), tuple(unresolved))


def _check_catalog(book: PolicyBook, dataset: DatasetRows) -> None:
    """ConfigurationError naming the first category, tag, badge or calendar ``book`` lacks."""
    catalog = book.catalog
    categories = {c.id for c in catalog.categories}
    tags = {t.id for t in catalog.service_tags}
    badges = {b.id for b in catalog.badges}
    unknown = [
        f"product {p.id}: {kind} '{name}'"
        for p in dataset.products
        for kind, names, known in (
            ("category", {p.category_id}, categories),
            ("service tag", p.service_tags, tags),
            ("badge", p.badges, badges),
        )
        for name in sorted(names - known)
    ]
    unknown += [
        f"coverage of {c['provider_id']}: '{c['category_id']}' / '{c['service_tag']}'"
        for c in dataset.coverage
        if c["category_id"] not in categories or c["service_tag"] not in tags
    ]
    unknown += [
        f"provider {p['id']}: calendar '{p.get('calendar', 'wall')}'"
        for p in dataset.providers
        if p.get("calendar", "wall") not in book.calendars
    ]
    if unknown:
        raise ConfigurationError(
            f"the data set does not fit the policy catalogue: {unknown[0]} is unknown"
            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
        )
