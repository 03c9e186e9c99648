"""Small builders for domain tests: products, order items, actors and opened cases."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from aftersales.domain.cases import Actor, Case
from aftersales.domain.eligibility import (
    OrderItem,
    Product,
    ServiceAddress,
    assess_national_warranty,
    assess_one_click_help,
)
from aftersales.domain.lifecycle import Channel, Role
from aftersales.domain.policy import PolicyBook

SHANGHAI = ZoneInfo("Asia/Shanghai")


def sh(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """An instant given in Asia/Shanghai wall time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


CEILING_LAMP = Product(
    "p-lamp",
    "吸顶灯 LED 48W",
    "brand-light",
    "lighting",
    service_tags=frozenset({"scheduled_installation"}),
)
SOFA = Product(
    "p-sofa",
    "真皮沙发 三人位",
    "brand-sofa",
    "sofa",
    service_tags=frozenset({"delivery_with_installation"}),
)
FLOOR_TILES = Product(
    "p-tiles",
    "抛光砖 800x800",
    "brand-tile",
    "tiles",
    service_tags=frozenset({"delivery_into_home"}),
)
WARDROBE = Product(
    "p-wardrobe",
    "整体衣柜",
    "brand-wood",
    "wardrobe",
    service_tags=frozenset({"three_year_warranty"}),
)
AIR_CONDITIONER = Product(
    "p-ac",
    "变频空调 1.5 匹",
    "brand-cool",
    "air-conditioner",
    badges=frozenset({"national_warranty"}),
    service_tags=frozenset({"scheduled_installation"}),
    warranty_months=36,
)
PHONE = Product(
    "p-phone",
    "智能手机 X1",
    "brand-phone",
    "phone",
    badges=frozenset({"national_warranty"}),
    warranty_months=12,
)
T_SHIRT = Product("p-shirt", "纯棉T恤", "brand-wear", "apparel")

HANGZHOU = ServiceAddress("浙江省杭州市西湖区文三路 90 号", "浙江省", "杭州市", "西湖区")
LHASA_COUNTY = ServiceAddress("西藏自治区阿里地区噶尔县", "西藏自治区", "阿里地区", "噶尔县")

CONSUMER = Actor(Role.CONSUMER, "buyer-1", Channel.WEB, "王女士")
AGENT = Actor(Role.AGENT, "agent-7", Channel.HOTLINE, "坐席 7 号")
BRAND = Actor(Role.BRAND, "brand-phone", Channel.WEB)
PROVIDER = Actor(Role.PROVIDER, "installer-hz", Channel.WEB)
OPS = Actor(Role.OPERATIONS, "ops-1", Channel.WEB)


def item(
    product: Product,
    *,
    price_fen: int = 99_900,
    purchased_on: date = date(2026, 3, 1),
    address: ServiceAddress | None = HANGZHOU,
    item_id: str = "oi-1",
) -> OrderItem:
    return OrderItem(
        id=item_id,
        order_id="o-1",
        buyer_account="buyer-1",
        merchant_id="shop-1",
        product=product,
        paid_price_fen=price_fen,
        purchased_on=purchased_on,
        address=address,
    )


def open_help(
    book: PolicyBook,
    at: datetime,
    *,
    order_item: OrderItem | None = None,
    failure: str = "installation_late",
    overcharge_fen: int | None = None,
    case_id: str = "c-1",
    assignee: str = "installer-hz",
) -> Case:
    """A one-click-help request initiated at ``at`` and dispatched at once (OH-3)."""
    order_item = order_item or item(CEILING_LAMP)
    decision = assess_one_click_help(book, order_item, at)
    assert decision.eligible, [r.en for r in decision.reasons]
    case = Case.open(
        case_id=case_id,
        book=book,
        eligibility=decision,
        item=order_item,
        at=at,
        actor=Actor(Role.CONSUMER, "buyer-1", Channel.HELP_BUTTON),
        failure=failure,
        overcharge_fen=overcharge_fen,
    )
    case.dispatch(book, assignee, at)
    return case


def open_report(
    book: PolicyBook,
    at: datetime,
    *,
    order_item: OrderItem | None = None,
    actor: Actor = CONSUMER,
    case_id: str = "c-nw",
) -> Case:
    """A national-warranty repair report made at ``at``."""
    order_item = order_item or item(PHONE, purchased_on=date(2026, 3, 1))
    decision = assess_national_warranty(book, order_item, at)
    assert decision.eligible, [r.en for r in decision.reasons]
    return Case.open(
        case_id=case_id,
        book=book,
        eligibility=decision,
        item=order_item,
        at=at,
        actor=actor,
        description="开机后屏幕闪烁",
    )
