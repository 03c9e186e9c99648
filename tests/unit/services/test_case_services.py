"""The case lifecycle through the services on the in-memory adapter (as
``tests/integration/test_case_services.py`` plays it on SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest

from aftersales.adapters.attachments import AttachmentRejected
from aftersales.adapters.memory import (
    MemoryFileStore,
    MemoryStore,
    memory_services,
    upsert_order_items,
    upsert_providers,
)
from aftersales.domain.cases import Actor
from aftersales.domain.clocks import ClockStatus
from aftersales.domain.errors import EligibilityError, Forbidden, IllegalTransition
from aftersales.domain.lifecycle import Channel, Role
from aftersales.domain.policy import PolicyBook
from aftersales.errors import (
    AlreadyExists,
    CaseNotFound,
    InvalidRequest,
    NotFound,
    SandboxNotFound,
)
from aftersales.services import cases as svc
from aftersales.services.base import Services
from aftersales.services.cases import EmptyComplaint
from aftersales.services.deadlines import tick
from aftersales.services.sandboxes import (
    advance_sandbox,
    create_sandbox,
    get_sandbox,
    reset_sandbox,
)
from aftersales.services.time import FixedClock
from tests.unit.services.world import (
    AGENT,
    BRAND,
    BUYER,
    FORM,
    INSTALLER,
    OPS,
    PNG,
    START,
    item_row,
    seed,
)


def _help(services: Services, item: str = "oi-lamp") -> str:
    return svc.request_help(
        services, order_item_id=item, actor=BUYER, failure="installation_late"
    ).case.id


def _deadlines(store: MemoryStore) -> list[str]:
    """The clocks' own deadline rows (warning marks, "<clock>@<mark>", left out)."""
    return sorted(clock_id for _, clock_id in store.tables.deadlines if "@" not in clock_id)


# ---------------------------------------------------------------- one-click help


def test_oh_3_help_request_is_stored_dispatched_and_reloads_equal(
    services: Services, store: MemoryStore
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
    assert reloaded.state == "dispatched" and reloaded.assignee == "shop-1"  # nobody covers 杭州
    assert reloaded.clocks["solution"].due_at == START + timedelta(hours=1)
    assert [d.reason.code for d in reloaded.decisions] == [
        d.reason.code for d in opened.case.decisions
    ]
    assert [(a.action, a.channel) for a in reloaded.audit] == [
        ("open", Channel.HELP_BUTTON),
        ("dispatch", Channel.SYSTEM),
    ]
    kinds = [row.kind for row in store.tables.outbox.values()]
    assert kinds[0] == "case.opened" and "case.dispatched" in kinds
    assert _deadlines(store) == ["resolution", "solution"]
    marks = sorted(key for _, key in store.tables.deadlines if "@" in key)
    assert marks == [
        "resolution@6h",
        "resolution@6h>1",
        "resolution@6h>2",
        "solution@10m",
        "solution@30m",
        "solution@30m>1",
        "solution@30m>2",
    ]


def test_oh_3_the_provider_covering_the_city_gets_the_request(
    services: Services, store: MemoryStore
) -> None:
    upsert_providers(
        store,
        [{"id": "installer-hz", "name": "杭州安装", "kind": "installer", "brand_id": None}],
        [
            {
                "provider_id": "installer-hz",
                "city": "杭州",  # the coverage row may leave out 市
                "category_id": "lighting",
                "service_tag": "scheduled_installation",
            }
        ],
    )
    assert svc.get_case(services, _help(services)).assignee == "installer-hz"


def test_oh_3_second_click_returns_the_open_request(services: Services) -> None:
    first = _help(services)
    second = svc.request_help(
        services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
    )
    assert not second.created and second.case.id == first


def test_oh_3_concurrent_clicks_open_one_request(services: Services, store: MemoryStore) -> None:
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(_help(services))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and len(set(results)) == 1
    assert len(store.tables.cases) == 1


def test_oh_5_worker_pays_the_missed_hour_once_and_explains_it(
    services: Services, store: MemoryStore
) -> None:
    case_id = _help(services)
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
    assert _deadlines(store) == ["resolution"]  # the breached clock's row is gone


def test_oh_7_complaint_after_payout_is_refused_and_stored(
    services: Services, clock: FixedClock
) -> None:
    case_id = _help(services)
    tick(services, sandbox="live", now=START + timedelta(hours=2), worker_id="w")
    clock.advance(hours=3)
    complaint = svc.file_complaint(services, case_id, "solution", BUYER, "没人联系")
    assert complaint.status == "refused" and complaint.reason.rule == "OH-7"
    assert svc.get_case(services, case_id).complaints[0].reason.rule == "OH-7"


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_a_complaint_without_text_is_refused_and_nothing_is_kept(
    services: Services, store: MemoryStore, text: str
) -> None:
    case_id = _help(services)
    before = (len(store.tables.complaints), len(store.tables.outbox))
    with pytest.raises(EmptyComplaint, match="a complaint needs its text"):
        svc.file_complaint(services, case_id, "solution", BUYER, text)
    assert (len(store.tables.complaints), len(store.tables.outbox)) == before
    assert svc.get_case(services, case_id).complaints == []


def test_oh_6_pause_moves_the_stored_deadline(
    services: Services, store: MemoryStore, clock: FixedClock
) -> None:
    case_id = _help(services)
    clock.advance(hours=2)
    svc.pause_clock(services, case_id, "resolution", "buyer_rescheduled", INSTALLER)
    assert (case_id, "resolution") not in store.tables.deadlines
    clock.advance(hours=10)
    svc.resume_clock(services, case_id, "resolution", INSTALLER)
    assert store.tables.deadlines[(case_id, "resolution")].due_at == START + timedelta(hours=58)


# ---------------------------------------------------------------- national warranty


@pytest.mark.parametrize("actor", [AGENT, FORM])
def test_nw_2_reports_by_hotline_and_form_record_channel_and_answer_within_24h(
    services: Services, clock: FixedClock, actor: Actor
) -> None:
    opened = svc.report_repair(
        services, order_item_id="oi-phone", actor=actor, description="屏幕闪烁"
    )
    assert opened.case.channel is actor.channel and opened.case.assignee == "brand-x"
    clock.advance(hours=5)
    case = svc.act(services, opened.case.id, "accept", BRAND, "请寄回")
    assert case.clocks["response"].status is ClockStatus.MET


def test_nw_2_hotline_reports_are_filed_by_an_agent(services: Services) -> None:
    with pytest.raises(svc.InvalidRequest, match="hotline agent"):
        svc.report_repair(
            services,
            order_item_id="oi-phone",
            actor=Actor(Role.CONSUMER, "b", Channel.HOTLINE),
            description="x",
        )


def test_nw_2c_chat_becomes_a_report_carrying_the_conversation(services: Services) -> None:
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
    assert svc.chat_thread(services, thread).case_id == opened.case.id
    assert len(svc.chat_messages(services, thread)) == 3
    with pytest.raises(NotFound, match="no chat with id 'chat-nope'"):
        svc.chat_messages(services, "chat-nope")


def test_nw_7_upheld_complaint_pays_10000_points_through_the_ledger(
    services: Services, clock: FixedClock
) -> None:
    case_id = svc.report_repair(
        services, order_item_id="oi-phone", actor=FORM, description="不开机"
    ).case.id
    clock.advance(hours=2)
    svc.act(services, case_id, "accept", BRAND, "寄回检测")
    clock.advance(days=2)
    svc.act(services, case_id, "receive_item", BRAND)
    clock.advance(days=31)
    complaint = svc.file_complaint(services, case_id, "feedback", FORM, "一个月没消息")
    assert complaint.status == "pending"
    decided = svc.decide_complaint(services, case_id, complaint.id, True, OPS, "平台无反馈记录")
    assert decided.status == "upheld"
    assert svc.balances_of(services) == {
        ("buyer-1", "points"): 10_000,
        ("shop-1", "points"): -10_000,
    }


def test_nw_6_out_of_warranty_quote_is_stored(services: Services, store: MemoryStore) -> None:
    upsert_order_items(store, [item_row("oi-phone", "o1", "phone", date(2024, 1, 1))])
    case_id = svc.report_repair(
        services, order_item_id="oi-phone", actor=FORM, description="电池鼓包"
    ).case.id
    svc.act(services, case_id, "accept", BRAND, "可付费维修")
    svc.issue_quote(services, case_id, 25_000, BRAND)
    svc.answer_quote(services, case_id, True, FORM)
    case = svc.get_case(services, case_id)
    assert case.in_warranty is False and case.quote is not None and case.quote.status == "accepted"


# ---------------------------------------------------------------- refusals change nothing


def test_illegal_actions_are_refused_and_change_nothing(
    services: Services, store: MemoryStore
) -> None:
    case_id = _help(services)
    before = (store.tables.cases[case_id], len(store.tables.outbox))
    with pytest.raises(IllegalTransition, match="note is required"):
        svc.act(services, case_id, "resolve", INSTALLER)
    with pytest.raises(EligibilityError, match=r"not eligible for one_click_help.*OH-1"):
        svc.request_help(
            services, order_item_id="oi-phone", actor=BUYER, failure="installation_late"
        )
    with pytest.raises(CaseNotFound):
        svc.act(services, "OH-nope", "resolve", INSTALLER, "x")
    with pytest.raises(NotFound, match="order item"):
        _help(services, "oi-nope")
    assert (store.tables.cases[case_id], len(store.tables.outbox)) == before
    assert svc.get_case(services, case_id).state == "dispatched"


@pytest.mark.parametrize(
    ("command", "role"),
    [
        ("request_help", Role.PROVIDER),
        ("report_repair", Role.MERCHANT),
        ("pause_clock", Role.CONSUMER),
        ("file_complaint", Role.BRAND),
        ("decide_complaint", Role.CONSUMER),
        ("resolve", Role.CONSUMER),
    ],
)
def test_the_access_table_refuses_a_role_with_forbidden_and_changes_nothing(
    services: Services, store: MemoryStore, command: str, role: Role
) -> None:
    case_id = _help(services)
    actor = Actor(role, "someone", Channel.WEB)
    before = (dict(store.tables.cases), len(store.tables.outbox), len(store.tables.complaints))
    attempts = {
        "request_help": lambda: svc.request_help(
            services, order_item_id="oi-lamp", actor=actor, failure="installation_late"
        ),
        "report_repair": lambda: svc.report_repair(
            services, order_item_id="oi-phone", actor=actor, description="x"
        ),
        "pause_clock": lambda: svc.pause_clock(services, case_id, "resolution", "x", actor),
        "file_complaint": lambda: svc.file_complaint(services, case_id, "solution", actor),
        "decide_complaint": lambda: svc.decide_complaint(services, case_id, "c", True, actor),
        "resolve": lambda: svc.act(services, case_id, "resolve", actor, "done"),
    }
    with pytest.raises(Forbidden, match=f"a {role.value} may not do this"):
        attempts[command]()
    after = (dict(store.tables.cases), len(store.tables.outbox), len(store.tables.complaints))
    assert after == before


# ---------------------------------------------------------------- attachments


def test_attachments_are_checked_by_content_and_stored_once(
    services: Services, files: MemoryFileStore
) -> None:
    case_id = _help(services)
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
        filename="C:\\photos\\again.png",
        declared_type=None,
        actor=BUYER,
        case_id=case_id,
    )
    assert first.storage_key == second.storage_key and files.open(first.storage_key) == PNG
    assert len(files) == 1 and second.filename == "again.png"
    assert [a.id for a in svc.attachments_of(services, case_id)] == sorted([first.id, second.id])
    with pytest.raises(AttachmentRejected, match="not a photo or PDF"):
        svc.add_attachment(
            services, data=b"MZ\x90\x00", filename="virus.exe", declared_type=None, actor=BUYER
        )
    with pytest.raises(AttachmentRejected, match="limit is 1,000 bytes"):
        svc.add_attachment(
            services, data=PNG + b"\x00" * 2000, filename="big.png", declared_type=None, actor=BUYER
        )
    with pytest.raises(AttachmentRejected, match="says it is image/jpeg"):
        svc.add_attachment(
            services, data=PNG, filename="x.jpg", declared_type="image/jpeg", actor=BUYER
        )
    with pytest.raises(CaseNotFound):
        svc.add_attachment(
            services, data=PNG, filename="x.png", declared_type=None, actor=BUYER, case_id="OH-nope"
        )
    with pytest.raises(FileNotFoundError):
        files.open("00/missing")
    with pytest.raises(AttachmentRejected, match="invalid attachment key"):
        files.open("../etc/passwd")


def test_services_without_a_file_store_say_so(book: PolicyBook, store: MemoryStore) -> None:
    bare = memory_services(book, FixedClock(START), store=store)
    with pytest.raises(RuntimeError, match="without a file store"):
        svc.add_attachment(bare, data=PNG, filename="x.png", declared_type=None, actor=BUYER)


# ---------------------------------------------------------------- sandboxes


def test_sandbox_plays_out_48_hours_in_one_call_and_keeps_live_balances_apart(
    book: PolicyBook,
) -> None:
    store = MemoryStore()
    seed(store, sandbox="play")
    clock = FixedClock(START)
    services = memory_services(book, clock, store=store)
    create_sandbox(services, sandbox_id="play", start=START)
    _help(services)
    sandbox, report = advance_sandbox(services, "play", by=timedelta(hours=49))
    assert report.payouts == 2 and sandbox.now == START + timedelta(hours=49)
    assert get_sandbox(services, "play").now == sandbox.now
    assert [(p.clock_id, p.at) for p in svc.payouts_of(services, sandbox="play")] == [
        ("solution", START + timedelta(hours=1, microseconds=1)),
        ("resolution", START + timedelta(hours=48, microseconds=1)),
    ]
    assert svc.balances_of(services, sandbox="play")[("buyer-1", "points")] == 10_000
    assert svc.balances_of(services) == {} and svc.payouts_of(services) == []
    assert clock.now() == START  # the live clock never moved


def test_a_sandbox_started_over_loses_its_cases_and_payouts_but_keeps_its_orders(
    services: Services, store: MemoryStore
) -> None:
    create_sandbox(services, sandbox_id="again", start=START)
    seed(store, sandbox="again", prefix="again.")
    live_case = _help(services)
    case_id = _help(services, "again.oi-lamp")
    advance_sandbox(services, "again", by=timedelta(hours=2))  # OH-5 pays in the sandbox
    assert svc.balances_of(services, sandbox="again")
    sandbox, removed = reset_sandbox(services, "again", start=START)
    assert (sandbox.now, removed) == (START, 1)
    assert svc.balances_of(services, sandbox="again") == {}
    assert svc.payouts_of(services, sandbox="again") == []
    with pytest.raises(CaseNotFound):
        svc.get_case(services, case_id)
    assert "again.oi-lamp" in store.tables.order_items  # the orders stay, to be played again
    assert svc.get_case(services, live_case).is_open  # live data is untouched
    assert _help(services, "again.oi-lamp") != case_id  # and the day can start over


def test_a_sandbox_id_is_taken_once_and_an_unknown_one_is_named(services: Services) -> None:
    create_sandbox(services, sandbox_id="play", start=START)
    with pytest.raises(AlreadyExists, match="sandbox 'play' already exists"):
        create_sandbox(services, sandbox_id="play")
    with pytest.raises(SandboxNotFound, match="no sandbox with id 'elsewhere'"):
        advance_sandbox(services, "elsewhere", by=timedelta(hours=1))


def test_a_request_in_a_sandbox_that_does_not_exist_is_refused_and_leaves_nothing(
    book: PolicyBook,
) -> None:
    store = MemoryStore()
    seed(store, sandbox="ghost")
    with pytest.raises(SandboxNotFound):
        _help(memory_services(book, FixedClock(START), store=store))
    assert store.tables.cases == {} and store.tables.outbox == {}


def test_a_sandbox_clock_cannot_be_moved_past_the_times_the_platform_takes(
    services: Services,
) -> None:
    create_sandbox(services, sandbox_id="far", start=START)
    ten_years = timedelta(days=3650)
    allowed = (datetime(2200, 1, 1, tzinfo=START.tzinfo) - START) // ten_years
    for _ in range(allowed):  # each move is allowed; the sum of them is not
        advance_sandbox(services, "far", by=ten_years)
    with pytest.raises(InvalidRequest, match="2200-01-01"):
        advance_sandbox(services, "far", by=ten_years)
    assert get_sandbox(services, "far").now == START + allowed * ten_years  # where it stopped
