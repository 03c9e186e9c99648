"""Sample cases that show every commitment at work, played on the domain alone.

Each scenario opens a case at a fixed instant, lets time pass, and returns the
case so a caller can print its decisions. Nothing here reads the real clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
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
BUYER = Actor(Role.CONSUMER, "buyer-li", Channel.HELP_BUTTON, "李女士")
INSTALLER = Actor(Role.PROVIDER, "hz-install-01", Channel.WEB, "杭州安装服务站")
BRAND = Actor(Role.BRAND, "brand-xinghe", Channel.WEB, "星河电器售后")
OPERATIONS = Actor(Role.OPERATIONS, "ops-zhang", Channel.WEB, "平台客服小张")
ADDRESS = ServiceAddress("浙江省杭州市西湖区文三路 90 号", "浙江省", "杭州市", "西湖区")

LAMP = Product(
    "lamp-48w",
    "LED 吸顶灯 48W",
    "brand-guangming",
    "lighting",
    service_tags=frozenset({"scheduled_installation"}),
)
TILES = Product(
    "tile-800",
    "抛光砖 800×800",
    "brand-shiji",
    "tiles",
    service_tags=frozenset({"delivery_into_home"}),
)
KETTLE = Product(
    "kettle-k1",
    "星河 智能电热水壶 K1",
    "brand-xinghe",
    "small-kitchen",
    badges=frozenset({"national_warranty"}),
    warranty_months=12,
)


@dataclass(frozen=True)
class Scenario:
    key: str
    title_zh: str
    title_en: str
    play: Callable[[PolicyBook], Case]


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def _item(product: Product, item_id: str, price_fen: int = 29_900) -> OrderItem:
    return OrderItem(
        item_id,
        "order-" + item_id,
        "buyer-li",
        "shop-jiaju",
        product,
        price_fen,
        date(2026, 9, 1),
        ADDRESS,
    )


def _help(book: PolicyBook, case_id: str, item: OrderItem, at: datetime, failure: str) -> Case:
    decision = assess_one_click_help(book, item, at)
    case = Case.open(
        case_id=case_id,
        book=book,
        eligibility=decision,
        item=item,
        at=at,
        actor=BUYER,
        failure=failure,
    )
    case.dispatch(book, INSTALLER.id, at)
    return case


DAY = date(2026, 11, 24)


def one_hour_missed(book: PolicyBook) -> Case:
    case = _help(book, "OH-1000", _item(LAMP, "lamp-1"), _at(DAY, 10), "installation_late")
    case.settle(book, _at(DAY, 11, 1))  # nobody answered for 61 minutes
    case.settle(book, _at(DAY, 11, 30))  # settling again pays nothing more
    case.act(book, "give_solution", _at(DAY, 11, 40), INSTALLER, "今天 15:00 上门安装")
    case.act(book, "resolve", _at(DAY, 15, 30), INSTALLER, "已安装并通电测试正常")
    return case


def evening_request(book: PolicyBook) -> Case:
    case = _help(book, "OH-1001", _item(LAMP, "lamp-2"), _at(DAY, 18, 30), "installation_late")
    case.act(book, "give_solution", _at(DAY + timedelta(days=1), 9, 20), INSTALLER, "明天上午上门")
    case.act(book, "resolve", _at(DAY + timedelta(days=1), 11, 0), INSTALLER, "已上门安装完毕")
    return case


def forty_eight_hours_missed(book: PolicyBook) -> Case:
    case = _help(
        book,
        "OH-1002",
        _item(TILES, "tiles-1", 860_000),
        _at(DAY, 9, 15),
        "not_delivered_into_home",
    )
    case.act(book, "give_solution", _at(DAY, 9, 40), INSTALLER, "改约明天送货上楼")
    case.settle(book, _at(DAY + timedelta(days=2), 9, 16))
    return case


def mail_in_without_feedback(book: PolicyBook) -> Case:
    item = OrderItem(
        "kettle-1",
        "order-kettle-1",
        "buyer-li",
        "shop-xinghe",
        KETTLE,
        39_900,
        date(2026, 6, 18),
        ADDRESS,
    )
    reported = _at(date(2026, 9, 25), 20, 10)
    hotline = Actor(Role.AGENT, "agent-017", Channel.HOTLINE, "400 热线 017 号坐席")
    case = Case.open(
        case_id="NW-2000",
        book=book,
        eligibility=assess_national_warranty(book, item, reported),
        item=item,
        at=reported,
        actor=hotline,
        description="加热后自动断电，指示灯闪烁",
    )
    case.act(book, "accept", _at(date(2026, 9, 26), 9, 5), BRAND, "请寄回检测")
    case.act(book, "receive_item", _at(date(2026, 9, 29), 14, 0), BRAND)
    complaint = case.file_complaint(
        book, "feedback", _at(date(2026, 10, 30), 10, 0), BUYER, "寄修一个多月没有任何消息"
    )
    case.decide_complaint(
        book, complaint.id, True, _at(date(2026, 10, 30), 16, 0), OPERATIONS, "平台无反馈记录"
    )
    return case


def complaint_after_payout(book: PolicyBook) -> Case:
    case = _help(book, "OH-1003", _item(LAMP, "lamp-3"), _at(DAY, 14), "installation_late")
    case.settle(book, _at(DAY, 15, 5))
    case.file_complaint(book, "solution", _at(DAY, 16), BUYER, "一个多小时没人联系我")
    return case


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "oh-1h",
        "10:00 发起的一键求助，1 小时内未给出方案",
        "Help at 10:00, no solution within 1 hour",
        one_hour_missed,
    ),
    Scenario(
        "oh-evening",
        "18:30 发起的一键求助，不适用 1 小时承诺",
        "Help at 18:30: no 1-hour commitment",
        evening_request,
    ),
    Scenario(
        "oh-48h",
        "48 小时未解决，按服务标准赔付",
        "Unsolved after 48 hours: service-standard penalty",
        forty_eight_hours_missed,
    ),
    Scenario(
        "nw-feedback",
        "寄修 30 天无反馈，投诉成立赔付",
        "Mail-in with no feedback for 30 days: upheld complaint",
        mail_in_without_feedback,
    ),
    Scenario(
        "oh-complaint",
        "已赔付后再投诉，按 OH-7 不予受理",
        "Complaint after a payout, refused under OH-7",
        complaint_after_payout,
    ),
)
