"""Reference data: brands, merchants, providers and their coverage, products, orders.

Plain functions over a SQLAlchemy Core :class:`~sqlalchemy.Connection`; they run
in the caller's transaction and never commit. Writes are upserts (writing the
same data twice changes nothing), done as one executemany per table. A brand's
service centres and a provider's coverage are *replaced* by what is written:
the list given is the whole list.

Brands and products are written and read as the domain's own objects
(:class:`BrandAfterSales`, :class:`Product`); the other tables, which have no
domain type, take the typed rows below.

Dispatch routing (OH-3): :func:`find_provider` is the decision of
:mod:`aftersales.adapters.db.dispatch`'s candidates without a day (no calendar, no load).

The module is a little over 500 lines because it holds both directions for each
reference table (upsert and load), which change together with the schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, NotRequired, TypedDict

from sqlalchemy import Connection, Select, String, any_, bindparam, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from aftersales.adapters import areas
from aftersales.adapters.db import dispatch
from aftersales.adapters.db import schema as s
from aftersales.adapters.db.driver import Prepared, one_of
from aftersales.adapters.db.schema import LIVE
from aftersales.domain.brands import BrandAfterSales, ServiceCentre
from aftersales.domain.dispatch import decide
from aftersales.domain.eligibility import OrderItem, Product, ServiceAddress
from aftersales.domain.explain import Bilingual
from aftersales.domain.policy import PolicyBook, normalise_city
from aftersales.errors import NotFound

__all__ = [
    "CoverageRow",
    "MerchantRow",
    "NotFound",
    "OrderItemRow",
    "OrderRow",
    "ProviderRow",
    "brand_after_sales",
    "city_spellings",
    "find_provider",
    "load_order_item",
    "order_items_of_buyer",
    "upsert_brands",
    "upsert_merchants",
    "upsert_order_items",
    "upsert_orders",
    "upsert_products",
    "upsert_providers",
]


# ---------------------------------------------------------------- rows


class MerchantRow(TypedDict):
    id: str
    name: str


class ProviderRow(TypedDict):
    id: str
    name: str
    kind: str  # brand_centre | installer | delivery | repairer
    brand_id: str | None
    calendar: NotRequired[str]  # a calendar of calendars.toml; default "wall"
    phone: NotRequired[str]


class CoverageRow(TypedDict):
    """OH-3: the provider serves ``service_tag`` on ``category_id`` (and below) in ``city``."""

    provider_id: str
    city: str
    category_id: str
    service_tag: str


class OrderRow(TypedDict):
    id: str
    buyer_account: str
    merchant_id: str
    placed_at: datetime  # aware
    sandbox: NotRequired[str]


class OrderItemRow(TypedDict):
    id: str
    order_id: str
    product_id: str
    paid_price_fen: int
    purchased_on: date
    delivered_on: date | None
    address_text: str
    # Resolved from address_text (adapters.addresses); None where it could not be.
    province: NotRequired[str | None]
    city: NotRequired[str | None]
    district: NotRequired[str | None]
    area_code: NotRequired[str | None]


# ---------------------------------------------------------------- writing


def _upsert(conn: Connection, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT (primary key) DO UPDATE, as one executemany."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    keys = [c.name for c in table.primary_key.columns]
    others = {
        c.name: statement.excluded[c.name]
        for c in table.columns
        if c.name not in keys and c.name in rows[0]
    }
    if others:
        statement = statement.on_conflict_do_update(index_elements=keys, set_=others)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    conn.execute(statement, list(rows))


def _unique(rows: Iterable[dict[str, Any]], key: str = "id") -> list[dict[str, Any]]:
    """Rows with the last one winning per key: one statement must not touch a row twice."""
    by_key: dict[Any, dict[str, Any]] = {}
    for row in rows:
        by_key[row[key]] = row
    return list(by_key.values())


def upsert_brands(conn: Connection, brands: Iterable[BrandAfterSales]) -> int:
    """Write brands (NW-3 after-sales information); their centres replace the stored ones."""
    brand_list = list({b.brand_id: b for b in brands}.values())
    if not brand_list:
        return 0
    _upsert(
        conn,
        s.brands,
        [
            {
                "id": b.brand_id,
                "name": b.name,
                "hotline": b.hotline,
                "warranty_terms_zh": b.warranty_terms.zh,
                "warranty_terms_en": b.warranty_terms.en,
                "exclusions": [{"zh": e.zh, "en": e.en} for e in b.exclusions],
            }
            for b in brand_list
        ],
    )
    ids = [b.brand_id for b in brand_list]
    conn.execute(delete(s.service_centres).where(s.service_centres.c.brand_id.in_(ids)))
    centres = [
        {
            "brand_id": b.brand_id,
            "name": c.name,
            "city": c.city,
            "address": c.address,
            "phone": c.phone,
            "hours": c.hours,
        }
        for b in brand_list
        for c in b.centres
    ]
    if centres:
        conn.execute(s.service_centres.insert(), centres)
    return len(brand_list)


def upsert_merchants(conn: Connection, merchants: Iterable[MerchantRow]) -> int:
    rows = _unique({"id": m["id"], "name": m["name"]} for m in merchants)
    _upsert(conn, s.merchants, rows)
    return len(rows)


def upsert_providers(
    conn: Connection, providers: Iterable[ProviderRow], coverage: Iterable[CoverageRow]
) -> int:
    """Write providers; the coverage given replaces all stored coverage of those providers.

    Coverage rows must name providers in ``providers`` (or already stored ones).
    """
    rows = _unique(
        {
            "id": p["id"],
            "name": p["name"],
            "kind": p["kind"],
            "brand_id": p["brand_id"],
            "calendar": p.get("calendar", "wall"),
            "phone": p.get("phone", ""),
        }
        for p in providers
    )
    _upsert(conn, s.providers, rows)
    coverage_rows: list[CoverageRow] = list(
        {
            (c["provider_id"], c["city"], c["category_id"], c["service_tag"]): c for c in coverage
        }.values()
    )
    replaced: list[str] = sorted(
        {str(r["id"]) for r in rows} | {c["provider_id"] for c in coverage_rows}
    )
    if replaced:
        conn.execute(
            delete(s.provider_coverage).where(s.provider_coverage.c.provider_id.in_(replaced))
        )
    if coverage_rows:
        conn.execute(s.provider_coverage.insert(), coverage_by_code(coverage_rows))
    return len(rows)


def coverage_by_code(rows: Iterable[CoverageRow]) -> list[dict[str, Any]]:
    """Coverage rows naming a city, as stored: by the city's administrative code, on site."""
    stored: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for c in rows:
        code = areas.city_code_named(c["city"])
        if code is None:
            raise NotFound("city", c["city"], "give a city of China by its name, e.g. 杭州市")
        place = areas.area(code)
        stored[(c["provider_id"], code, c["category_id"], c["service_tag"])] = {
            "provider_id": c["provider_id"],
            "area_code": code,
            "area_name": place.name,
            "area_level": place.level,
            "category_id": c["category_id"],
            "service_tag": c["service_tag"],
            "fulfil": "on_site",
            "sandbox": LIVE,
        }
    return list(stored.values())


def upsert_products(conn: Connection, products: Iterable[Product]) -> int:
    rows = _unique(
        {
            "id": p.id,
            "name": p.name,
            "brand_id": p.brand_id,
            "category_id": p.category_id,
            "badges": sorted(p.badges),
            "service_tags": sorted(p.service_tags),
            "warranty_months": p.warranty_months,
        }
        for p in products
    )
    _upsert(conn, s.products, rows)
    return len(rows)


def upsert_orders(conn: Connection, orders: Iterable[OrderRow]) -> int:
    rows = _unique(
        {
            "id": o["id"],
            "sandbox": o.get("sandbox", LIVE),
            "buyer_account": o["buyer_account"],
            "merchant_id": o["merchant_id"],
            "placed_at": o["placed_at"],
        }
        for o in orders
    )
    _upsert(conn, s.orders, rows)
    return len(rows)


def upsert_order_items(conn: Connection, items: Iterable[OrderItemRow]) -> int:
    """Write order items with their address text and, where known, its resolved parts."""
    rows = _unique(
        {
            "id": i["id"],
            "order_id": i["order_id"],
            "product_id": i["product_id"],
            "paid_price_fen": i["paid_price_fen"],
            "purchased_on": i["purchased_on"],
            "delivered_on": i["delivered_on"],
            "address_text": i["address_text"],
            "province": i.get("province"),
            "city": i.get("city"),
            "district": i.get("district"),
            "area_code": i.get("area_code") or areas.code_for(i.get("city"), i.get("district")),
        }
        for i in items
    )
    _upsert(conn, s.order_items, rows)
    return len(rows)


# ---------------------------------------------------------------- reading


_oi, _o, _p = s.order_items, s.orders, s.products
# An order item's own columns with its order's, and its product's with the
# entitlements the item was sold with (its snapshot; the product's own columns
# only for an item stored before snapshots were kept), named as
# order_item_from_row reads them.
_ITEM_COLUMNS = (
    _oi.c.id.label("item_id"),
    _oi.c.order_id,
    _o.c.buyer_account,
    _o.c.merchant_id,
    _oi.c.paid_price_fen,
    _oi.c.purchased_on,
    _oi.c.delivered_on,
    _oi.c.address_text,
    _oi.c.province,
    _oi.c.city,
    _oi.c.district,
    _oi.c.area_code,
    _oi.c.entitled_on,
    _oi.c.status,
)
_PRODUCT_COLUMNS = (
    _p.c.id.label("product_id"),
    _p.c.name.label("product_name"),
    func.coalesce(_oi.c.brand_id, _p.c.brand_id).label("brand_id"),
    func.coalesce(_oi.c.category_id, _p.c.category_id).label("category_id"),
    func.coalesce(_oi.c.badges, _p.c.badges).label("badges"),
    func.coalesce(_oi.c.service_tags, _p.c.service_tags).label("service_tags"),
    case((_oi.c.entitled_on.is_not(None), _oi.c.warranty_months), else_=_p.c.warranty_months).label(
        "warranty_months"
    ),
)


def order_item_query() -> Select[Any]:
    """Order items with their order and product, one row each."""
    return select(*_ITEM_COLUMNS, *_PRODUCT_COLUMNS).select_from(
        _oi.join(_o, _oi.c.order_id == _o.c.id).join(_p, _oi.c.product_id == _p.c.id)
    )


def product_from_row(row: Any) -> Product:
    """The product as the item was sold: its name, and the entitlements of the row."""
    return Product(
        id=row.product_id,
        name=row.product_name,
        brand_id=row.brand_id,
        category_id=row.category_id,
        badges=frozenset(row.badges or ()),
        service_tags=frozenset(row.service_tags or ()),
        warranty_months=row.warranty_months,
    )


def order_item_from_row(row: Any, product: Product | None = None) -> OrderItem:
    """The order item of a row of :func:`order_item_query`."""
    if product is None:
        product = product_from_row(row)
    address = (
        ServiceAddress(row.address_text, row.province, row.city, row.district, row.area_code)
        if row.address_text or row.city
        else None
    )
    return OrderItem(
        id=row.item_id,
        order_id=row.order_id,
        buyer_account=row.buyer_account,
        merchant_id=row.merchant_id,
        product=product,
        paid_price_fen=row.paid_price_fen,
        purchased_on=row.purchased_on,
        address=address,
        delivered_on=row.delivered_on,
        entitled_on=row.entitled_on,
        status=row.status,
    )


_ORDER_ITEM_BY_ID = order_item_query().where(s.order_items.c.id == bindparam("item_id"))


_ITEMS_BY_IDS = Prepared.per_dialect(
    lambda pg: order_item_query().where(one_of(_oi.c.id, "ids", pg=pg))
)


def load_order_items(conn: Connection, ids: Sequence[str]) -> dict[str, OrderItem]:
    """Several order items by id, in one query."""
    if not ids:
        return {}
    rows = _ITEMS_BY_IDS.rows(conn, {"ids": list(ids)})
    return {r.item_id: order_item_from_row(r) for r in rows}


def among(conn: Connection, column: Any, values: Sequence[str]) -> Any:
    """``column IN values``; on PostgreSQL ``= ANY(array)``, one statement text for any count
    (an IN list of n placeholders is a new statement for the driver to parse each time)."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(String)))
    return column.in_(values)


def _intake_query() -> Select[Any]:
    """:func:`order_item_query` plus the order's sandbox, its clock, the open case and the
    shop's preferred providers (OH-3 dispatch weighs them)."""
    c = s.cases
    open_case = (
        select(c.c.id)
        .where(
            c.c.order_item_id == _oi.c.id,
            c.c.programme == bindparam("programme"),
            c.c.is_open,
        )
        .order_by(c.c.opened_at)
        .limit(1)
        .scalar_subquery()
    )
    sb = s.sandboxes
    return (
        select(
            *_ITEM_COLUMNS,
            *_PRODUCT_COLUMNS,
            _o.c.sandbox,
            sb.c.now.label("sandbox_now"),
            open_case.label("open_case"),
            s.merchants.c.preferred_providers,
        )
        .select_from(
            _oi.join(_o, _oi.c.order_id == _o.c.id)
            .join(_p, _oi.c.product_id == _p.c.id)
            .outerjoin(sb, sb.c.id == _o.c.sandbox)
            .outerjoin(s.merchants, s.merchants.c.id == _o.c.merchant_id)
        )
        .where(_oi.c.id == bindparam("item_id"))
    )


_INTAKE = Prepared(_intake_query())


def load_intake_item(conn: Connection, order_item_id: str, programme: str) -> Any:
    """The row of :func:`_intake_query` for the item (NotFound if there is none)."""
    row = _INTAKE.first(conn, {"item_id": order_item_id, "programme": programme})
    if row is None:
        raise NotFound("order item", order_item_id)
    return row


def load_order_item(conn: Connection, order_item_id: str) -> OrderItem:
    """The order item with its order (buyer, merchant) and product; NotFound if there is none."""
    row = conn.execute(_ORDER_ITEM_BY_ID, {"item_id": order_item_id}).one_or_none()
    if row is None:
        raise NotFound("order item", order_item_id)
    return order_item_from_row(row)


_ITEMS_OF_BUYER = (
    order_item_query()
    .where(s.orders.c.buyer_account == bindparam("buyer"))
    .order_by(s.order_items.c.purchased_on.desc(), s.order_items.c.id)
)
_ITEMS_OF_BUYER_IN_SANDBOX = _ITEMS_OF_BUYER.where(s.orders.c.sandbox == bindparam("sandbox"))


def order_items_of_buyer(
    conn: Connection, buyer_account: str, *, sandbox: str | None = None
) -> list[OrderItem]:
    """Everything ``buyer_account`` bought, newest purchase first (all sandboxes unless given)."""
    if sandbox is None:
        rows = conn.execute(_ITEMS_OF_BUYER, {"buyer": buyer_account})
    else:
        rows = conn.execute(
            _ITEMS_OF_BUYER_IN_SANDBOX, {"buyer": buyer_account, "sandbox": sandbox}
        )
    return [order_item_from_row(row) for row in rows]


def brand_after_sales(conn: Connection, brand_id: str) -> BrandAfterSales:
    """NW-3: the brand's hotline, warranty terms, exclusions and centres (by city, then name)."""
    brand = conn.execute(select(s.brands).where(s.brands.c.id == brand_id)).one_or_none()
    if brand is None:
        raise NotFound("brand", brand_id)
    sc = s.service_centres
    rows = conn.execute(
        select(sc.c.id, sc.c.name, sc.c.city, sc.c.address, sc.c.phone, sc.c.hours).where(
            sc.c.brand_id == brand_id
        )
    ).all()
    # Sorted here rather than by ORDER BY, so the order does not hang on the
    # database's collation of Chinese text: the same on SQLite and PostgreSQL.
    centres = sorted(rows, key=lambda c: (c.city, c.name, c.id))
    return BrandAfterSales(
        brand_id=brand.id,
        name=brand.name,
        hotline=brand.hotline,
        warranty_terms=Bilingual(brand.warranty_terms_zh, brand.warranty_terms_en),
        exclusions=tuple(Bilingual(e["zh"], e["en"]) for e in brand.exclusions or ()),
        centres=tuple(
            ServiceCentre(name=c.name, city=c.city, address=c.address, phone=c.phone, hours=c.hours)
            for c in centres
        ),
    )


# ---------------------------------------------------------------- dispatch routing (OH-3)


def city_spellings(city: str) -> tuple[str, ...]:
    """The ways a city may be written: as written, bare, and with its 市 (or 地区) suffix."""
    bare = normalise_city(city)
    return tuple(dict.fromkeys((city.strip(), bare, bare + "市", bare + "地区")))


def find_provider(
    conn: Connection,
    book: PolicyBook,
    *,
    areas: Sequence[str],
    category_id: str,
    service_tag: str,
    sandbox: str = LIVE,
) -> str | None:
    """OH-3: the provider :func:`aftersales.domain.dispatch.decide` chooses for ``service_tag``
    on an item of ``category_id`` at an address lying in ``areas`` (administrative codes,
    most specific first), with no day's calendar or load considered. None: the merchant.
    """
    found = dispatch.candidates(
        conn,
        book,
        areas=areas,
        category_id=category_id,
        service_tag=service_tag,
        sandbox=sandbox,
        day=None,
        record_since=None,
    )
    return decide(book.dispatch, found, service_tag=service_tag, day=None).provider_id
