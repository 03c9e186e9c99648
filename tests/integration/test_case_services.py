"""The case lifecycle through the services, on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, insert, select

from aftersales.adapters.attachments import AttachmentRejected, DiskAttachmentStore
from aftersales.adapters.db import schema as s
from aftersales.adapters.policy_files import load_policy_book
from aftersales.domain.cases import Actor
from aftersales.domain.clocks import ClockStatus
from aftersales.domain.errors import EligibilityError, IllegalTransition
from aftersales.domain.lifecycle import Channel, Role
from aftersales.domain.policy import PolicyBook
from aftersales.errors import CaseNotFound
from aftersales.services import cases as svc
from aftersales.services.deadlines import tick
from aftersales.services.sandboxes import advance_sandbox, create_sandbox
from aftersales.services.time import FixedClock
from aftersales.testing import services_on

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 24, 10, 0, tzinfo=SH)
BUYER = Actor(Role.CONSUMER, "buyer-1", Channel.HELP_BUTTON)
FORM = Actor(Role.CONSUMER, "buyer-1", Channel.SERVICE_FORM)
AGENT = Actor(Role.AGENT, "agent-9", Channel.HOTLINE)
INSTALLER = Actor(Role.PROVIDER, "installer-hz", Channel.WEB)
BRAND = Actor(Role.BRAND, "brand-x", Channel.WEB)
OPS = Actor(Role.OPERATIONS, "ops-1", Channel.WEB)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(scope="module")
def book() -> PolicyBook:
    return load_policy_book()


def _seed(engine: Engine, sandbox: str = "live") -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(s.brands).values(
                id="brand-x", name="星河", hotline="400-800-0000", exclusions=[]
            )
        )
        conn.execute(insert(s.merchants).values(id="shop-1", name="家居旗舰店"))
        conn.execute(
            insert(s.products),
            [
                {
                    "id": "lamp",
                    "name": "吸顶灯",
                    "brand_id": "brand-x",
                    "category_id": "lighting",
                    "badges": [],
                    "service_tags": ["scheduled_installation"],
                    "warranty_months": None,
                },
                {
                    "id": "phone",
                    "name": "手机",
                    "brand_id": "brand-x",
                    "category_id": "phone",
                    "badges": ["national_warranty"],
                    "service_tags": [],
                    "warranty_months": 12,
                },
            ],
        )
        conn.execute(
            insert(s.orders).values(
                id="o1",
                sandbox=sandbox,
                buyer_account="buyer-1",
                merchant_id="shop-1",
                placed_at=START - timedelta(days=20),
            )
        )
        address = {
            "address_text": "浙江省杭州市西湖区文三路90号",
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
        }
        conn.execute(
            insert(s.order_items),
            [
                {
                    "id": "oi-lamp",
                    "order_id": "o1",
                    "product_id": "lamp",
                    "paid_price_fen": 29_900,
                    "purchased_on": date(2026, 11, 4),
                    **address,
                },
                {
                    "id": "oi-phone",
                    "order_id": "o1",
                    "product_id": "phone",
                    "paid_price_fen": 399_900,
                    "purchased_on": date(2026, 3, 1),
                    **address,
                },
            ],
        )


@pytest.fixture
def services(engine: Engine, book: PolicyBook) -> svc.Services:
    _seed(engine)
    return services_on(engine, FixedClock(START), book)


def _clock(services: svc.Services) -> FixedClock:
    assert isinstance(services.clock, FixedClock)
    return services.clock


def test_oh_3_help_request_is_stored_dispatched_and_reloads_equal(
    engine: Engine, services: svc.Services
) -> None:
    opened = svc.request_help(
        services,
        order_item_id="oi-lamp",
        actor=BUYER,
        failure="installation_late",
        description="灯不亮",
    )
    assert opened.created
    reloaded = svc.get_case(services, opened.case.id)
    assert (
        reloaded.state == "dispatched" and reloaded.assignee == "shop-1"
    )  # no provider registered: the merchant
    assert reloaded.clocks["solution"].due_at == START + timedelta(hours=1)
    assert [d.reason.code for d in reloaded.decisions] == [
        d.reason.code for d in opened.case.decisions
    ]
    assert [(a.action, a.channel) for a in reloaded.audit] == [
        ("open", Channel.HELP_BUTTON),
        ("dispatch", Channel.SYSTEM),
    ]
    with engine.connect() as conn:
        kinds = [r.kind for r in conn.execute(select(s.outbox.c.kind).order_by(s.outbox.c.id))]
        deadlines = (
            conn.execute(select(s.deadlines.c.clock_id).order_by(s.deadlines.c.clock_id))
            .scalars()
            .all()
        )
    assert kinds[0] == "case.opened" and "case.dispatched" in kinds
    assert deadlines == [
        "resolution",
        "resolution@6h",
        "resolution@6h>1",
        "resolution@6h>2",
        "solution",
        "solution@10m",
        "solution@30m",
        "solution@30m>1",
        "solution@30m>2",
    ]  # each clock's deadline, and its warning marks with their escalations


def test_oh_3_second_click_returns_the_open_request(services: svc.Services) -> None:
    first = svc.request_help(
        services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
    )
    second = svc.request_help(
        services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
    )
    assert not second.created and second.case.id == first.case.id


def test_oh_3_concurrent_clicks_open_one_request(engine: Engine, services: svc.Services) -> None:
    results: list[str] = []
    errors: list[BaseException] = []

    def click() -> None:
        try:
            results.append(
                svc.request_help(
                    services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
                ).case.id
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(results)) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.cases)).scalar() == 1


def test_oh_5_worker_pays_the_missed_hour_once_and_explains_it(
    engine: Engine, services: svc.Services, book: PolicyBook
) -> None:
    case_id = svc.request_help(
        services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
    ).case.id
    assert (
        tick(services, sandbox="live", now=START + timedelta(hours=1), worker_id="w").payouts == 0
    )
    first = tick(services, sandbox="live", now=START + timedelta(minutes=61), worker_id="w")
    again = tick(services, sandbox="live", now=START + timedelta(minutes=90), worker_id="w")
    assert (first.payouts, first.points_paid, again.payouts) == (1, 5000, 0)
    assert svc.balances_of(services) == {("buyer-1", "points"): 5000, ("shop-1", "points"): -5000}
    case = svc.get_case(services, case_id)
    assert case.clocks["solution"].status is ClockStatus.BREACHED
    assert "5,000 points (¥50.00)" in case.payouts[0].reason.en
    with engine.connect() as conn:
        remaining = conn.execute(select(s.deadlines.c.clock_id)).scalars().all()
    # The breached clock's rows are gone; only the 48-hour one is armed, with its marks.
    assert sorted(remaining) == [
        "resolution",
        "resolution@6h",
        "resolution@6h>1",
        "resolution@6h>2",
    ]


def test_oh_7_complaint_after_payout_is_refused_and_stored(
    services: svc.Services, book: PolicyBook
) -> None:
    case_id = svc.request_help(
        services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
    ).case.id
    tick(services, sandbox="live", now=START + timedelta(hours=2), worker_id="w")
    _clock(services).advance(hours=3)
    complaint = svc.file_complaint(services, case_id, "solution", BUYER, "没人联系")
    assert complaint.status == "refused" and complaint.reason.rule == "OH-7"
    assert svc.get_case(services, case_id).complaints[0].reason.rule == "OH-7"


def test_oh_6_pause_moves_the_stored_deadline(engine: Engine, services: svc.Services) -> None:
    case_id = svc.request_help(
        services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
    ).case.id
    _clock(services).advance(hours=2)
    svc.pause_clock(services, case_id, "resolution", "buyer_rescheduled", INSTALLER)
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(s.deadlines.c.clock_id).where(s.deadlines.c.clock_id == "resolution")
            ).first()
            is None
        )
    _clock(services).advance(hours=10)
    svc.resume_clock(services, case_id, "resolution", INSTALLER)
    with engine.connect() as conn:
        due = conn.execute(
            select(s.deadlines.c.due_at).where(s.deadlines.c.clock_id == "resolution")
        ).scalar_one()
    assert due == START + timedelta(hours=58)


@pytest.mark.parametrize("actor", [AGENT, FORM])
def test_nw_2_reports_by_hotline_and_form_record_channel_and_answer_within_24h(
    services: svc.Services, actor: Actor
) -> None:
    opened = svc.report_repair(
        services, order_item_id="oi-phone", actor=actor, description="屏幕闪烁"
    )
    assert opened.case.channel is actor.channel and opened.case.assignee == "brand-x"
    _clock(services).advance(hours=5)
    case = svc.act(services, opened.case.id, "accept", BRAND, "请寄回")
    assert case.clocks["response"].status is ClockStatus.MET


def test_nw_2_hotline_reports_are_filed_by_an_agent(services: svc.Services) -> None:
    with pytest.raises(svc.InvalidRequest, match="hotline agent"):
        svc.report_repair(
            services,
            order_item_id="oi-phone",
            actor=Actor(Role.CONSUMER, "b", Channel.HOTLINE),
            description="x",
        )


def test_nw_2_chat_becomes_a_report_carrying_the_conversation(services: svc.Services) -> None:
    chat = Actor(Role.CONSUMER, "buyer-1", Channel.CHAT)
    thread = svc.open_chat(services, order_item_id="oi-phone", actor=chat, text="手机充不进电")
    svc.post_chat_message(
        services, thread, Actor(Role.BRAND, "brand-x", Channel.CHAT), "请问是原装充电器吗？"
    )
    svc.post_chat_message(services, thread, chat, "是原装的，换了线也不行")
    opened = svc.chat_to_report(services, thread, chat)
    assert opened.case.channel is Channel.CHAT
    assert opened.case.description == "手机充不进电\n是原装的，换了线也不行"
    assert svc.chat_to_report(services, thread, chat).case.id == opened.case.id
    assert len(svc.chat_messages(services, thread)) == 3


def test_nw_7_upheld_complaint_pays_10000_points_through_the_ledger(services: svc.Services) -> None:
    case_id = svc.report_repair(
        services, order_item_id="oi-phone", actor=FORM, description="不开机"
    ).case.id
    _clock(services).advance(hours=2)
    svc.act(services, case_id, "accept", BRAND, "寄回检测")
    _clock(services).advance(days=2)
    svc.act(services, case_id, "receive_item", BRAND)
    _clock(services).advance(days=31)
    complaint = svc.file_complaint(services, case_id, "feedback", FORM, "一个月没消息")
    assert complaint.status == "pending"
    decided = svc.decide_complaint(services, case_id, complaint.id, True, OPS, "平台无反馈记录")
    assert decided.status == "upheld"
    assert svc.balances_of(services) == {
        ("buyer-1", "points"): 10_000,
        ("shop-1", "points"): -10_000,
    }


def test_nw_6_out_of_warranty_quote_is_stored(services: svc.Services, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            s.order_items.update()
            .where(s.order_items.c.id == "oi-phone")
            .values(purchased_on=date(2024, 1, 1))
        )
    case_id = svc.report_repair(
        services, order_item_id="oi-phone", actor=FORM, description="电池鼓包"
    ).case.id
    svc.act(services, case_id, "accept", BRAND, "可付费维修")
    svc.issue_quote(services, case_id, 25_000, BRAND)
    svc.answer_quote(services, case_id, True, FORM)
    case = svc.get_case(services, case_id)
    assert case.in_warranty is False and case.quote is not None and case.quote.status == "accepted"


def test_illegal_actions_are_refused_and_change_nothing(services: svc.Services) -> None:
    case_id = svc.request_help(
        services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
    ).case.id
    with pytest.raises(IllegalTransition, match="note is required"):
        svc.act(services, case_id, "resolve", INSTALLER)
    with pytest.raises(EligibilityError, match=r"not eligible for one_click_help.*OH-1"):
        svc.request_help(
            services, order_item_id="oi-phone", actor=BUYER, failure="installation_late"
        )
    with pytest.raises(CaseNotFound):
        svc.act(services, "OH-nope", "resolve", INSTALLER, "x")
    assert svc.get_case(services, case_id).state == "dispatched"


def test_attachments_are_checked_by_content_and_stored_once(
    services: svc.Services, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    store = DiskAttachmentStore(tmp_path / "files", max_bytes=1000)
    services = dataclasses.replace(services, files=store)
    case_id = svc.request_help(
        services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
    ).case.id
    first = svc.add_attachment(
        services,
        data=PNG,
        filename="fault.png",
        declared_type="image/png",
        actor=BUYER,
        case_id=case_id,
    )
    second = svc.add_attachment(
        services,
        data=PNG,
        filename="again.png",
        declared_type=None,
        actor=BUYER,
        case_id=case_id,
    )
    assert first.storage_key == second.storage_key and store.open(first.storage_key) == PNG
    assert len(svc.attachments_of(services, case_id)) == 2
    with pytest.raises(AttachmentRejected, match="not a photo or PDF"):
        svc.add_attachment(
            services,
            data=b"MZ\x90\x00",
            filename="virus.exe",
            declared_type=None,
            actor=BUYER,
        )
    with pytest.raises(AttachmentRejected, match="limit is 1,000 bytes"):
        svc.add_attachment(
            services,
            data=PNG + b"\x00" * 2000,
            filename="big.png",
            declared_type=None,
            actor=BUYER,
        )
    with pytest.raises(AttachmentRejected, match="says it is image/jpeg"):
        svc.add_attachment(
            services, data=PNG, filename="x.jpg", declared_type="image/jpeg", actor=BUYER
        )


def test_sandbox_plays_out_48_hours_in_one_call_and_keeps_live_balances_apart(
    engine: Engine, book: PolicyBook
) -> None:
    _seed(engine, sandbox="play")
    clock = FixedClock(START)
    create_sandbox(services_on(engine, clock), sandbox_id="play", start=START)
    services = services_on(engine, clock, book)
    svc.request_help(services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late")
    sandbox, report = advance_sandbox(
        services_on(engine, book=book), "play", by=timedelta(hours=49)
    )
    assert report.payouts == 2 and sandbox.now == START + timedelta(hours=49)
    payouts = svc.payouts_of(services, sandbox="play")
    assert [(p.clock_id, p.at) for p in payouts] == [
        ("solution", START + timedelta(hours=1, microseconds=1)),
        ("resolution", START + timedelta(hours=48, microseconds=1)),
    ]
    assert svc.balances_of(services, sandbox="play")[("buyer-1", "points")] == 10_000
    assert svc.balances_of(services) == {}
