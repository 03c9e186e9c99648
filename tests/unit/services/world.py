"""The small world the service tests play in: actors, products and :func:`seed`.

One brand with two service centres, one shop, a lamp (one-click help, 杭州)
and a phone (national warranty) bought by ``buyer-1``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aftersales.adapters.memory import (
    MemoryStore,
    upsert_brands,
    upsert_merchants,
    upsert_order_items,
    upsert_orders,
    upsert_products,
)
from aftersales.domain.brands import BrandAfterSales, ServiceCentre
from aftersales.domain.cases import Actor
from aftersales.domain.eligibility import Product
from aftersales.domain.explain import Bilingual
from aftersales.domain.lifecycle import Channel, Role
from aftersales.services.records import LIVE

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 24, 10, 0, tzinfo=SH)
BUYER = Actor(Role.CONSUMER, "buyer-1", Channel.HELP_BUTTON)
FORM = Actor(Role.CONSUMER, "buyer-1", Channel.SERVICE_FORM)
AGENT = Actor(Role.AGENT, "agent-9", Channel.HOTLINE)
INSTALLER = Actor(Role.PROVIDER, "installer-hz", Channel.WEB)
MERCHANT = Actor(Role.MERCHANT, "shop-1", Channel.WEB)
BRAND = Actor(Role.BRAND, "brand-x", Channel.WEB)
OPS = Actor(Role.OPERATIONS, "ops-1", Channel.WEB)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

LAMP = Product(
    "lamp", "吸顶灯", "brand-x", "lighting", service_tags=frozenset({"scheduled_installation"})
)
PHONE = Product(
    "phone", "手机", "brand-x", "phone", badges=frozenset({"national_warranty"}), warranty_months=12
)
HANGZHOU = {
    "address_text": "浙江省杭州市西湖区文三路90号",
    "province": "浙江省",
    "city": "杭州市",
    "district": "西湖区",
}


def item_row(
    item_id: str, order_id: str, product: str, purchased_on: date, **address: str
) -> dict[str, object]:
    return {
        "id": item_id,
        "order_id": order_id,
        "product_id": product,
        "paid_price_fen": 29_900 if product == "lamp" else 399_900,
        "purchased_on": purchased_on,
        "delivered_on": None,
        **(address or HANGZHOU),
    }


def seed(store: MemoryStore, *, sandbox: str = LIVE, prefix: str = "") -> None:
    """The brand, shop, products and ``buyer-1``'s order (item ids prefixed with ``prefix``)."""
    upsert_brands(
        store,
        [
            BrandAfterSales(
                "brand-x",
                "星河",
                "400-800-0000",
                Bilingual("整机保修一年", "One year on the whole device"),
                centres=(
                    ServiceCentre("星河杭州中心", "杭州市", "文三路 2 号", "0571-1"),
                    ServiceCentre("星河上海中心", "上海市", "世纪大道 1 号", "021-1"),
                ),
            )
        ],
    )
    upsert_merchants(store, [{"id": "shop-1", "name": "家居旗舰店"}])
    upsert_products(store, [LAMP, PHONE])
    upsert_orders(
        store,
        [
            {
                "id": f"{prefix}o1",
                "sandbox": sandbox,
                "buyer_account": "buyer-1",
                "merchant_id": "shop-1",
                "placed_at": START - timedelta(days=20),
            }
        ],
    )
    upsert_order_items(
        store,
        [
            item_row(f"{prefix}oi-lamp", f"{prefix}o1", "lamp", date(2026, 11, 4)),
            item_row(f"{prefix}oi-phone", f"{prefix}o1", "phone", date(2026, 3, 1)),
        ],
    )
