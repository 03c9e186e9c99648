"""Field work on the in-memory adapter: who sees the customer's contact, the agreed visit,
saved solution texts, the history as sentences, and the hotline desk (NW-2a, OH-4, X-4)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from aftersales.adapters.memory import MemoryStore, upsert_buyers, upsert_orders, upsert_providers
from aftersales.domain.cases import Actor
from aftersales.domain.contacts import mask_phone, normalise_phone
from aftersales.domain.errors import Forbidden, IllegalTransition
from aftersales.domain.lifecycle import Channel, Role
from aftersales.errors import InvalidRequest, NotFound
from aftersales.services import cases as svc
from aftersales.services import solutions, views
from aftersales.services.base import Services
from aftersales.services.records import Scope
from aftersales.services.time import FixedClock
from tests.unit.services.world import AGENT, BUYER, INSTALLER, MERCHANT, OPS, SH, START

OTHER_INSTALLER = Actor(Role.PROVIDER, "installer-sh", Channel.WEB)
BUYER_PHONE = "13853631572"


@pytest.fixture
def store(store: MemoryStore) -> MemoryStore:
    """The base world, plus buyer-1's name and phone, and installers in 杭州 and 上海."""
    upsert_buyers(store, [{"id": "buyer-1", "name": "张三丰", "phone": "138 5363 1572"}])
    upsert_providers(
        store,
        [
            {"id": "installer-hz", "name": "杭州安装一队", "kind": "installer", "brand_id": None},
            {"id": "installer-sh", "name": "上海安装", "kind": "installer", "brand_id": None},
        ],
        [
            {
                "provider_id": "installer-hz",
                "city": "杭州市",
                "category_id": "lighting",
                "service_tag": "scheduled_installation",
            }
        ],
    )
    return store


def _help(services: Services) -> str:
    return svc.request_help(
        services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
    ).case.id


# ---------------------------------------------------------------- contacts


def test_phones_are_mainland_mobiles_or_landlines_with_an_area_code() -> None:
    assert normalise_phone("138 5363 1572") == BUYER_PHONE
    assert normalise_phone("+86 138-5363-1572") == BUYER_PHONE
    assert normalise_phone("0571-8888 1234") == "0571-88881234"
    assert normalise_phone("010 88881234") == "010-88881234"
    assert normalise_phone("0571-88881234 转 12") == "0571-88881234-12"
    for wrong in ("12345", "8888 1234", "1385363157", "0108888123", "phone", "23853631572"):
        assert normalise_phone(wrong) is None, wrong
    assert mask_phone(BUYER_PHONE) == "138****1572"
    assert mask_phone("0571-88881234") == "0571-****1234"


def test_the_assigned_installer_and_operations_see_the_contact_others_see_it_masked(
    services: Services,
) -> None:
    case_id = _help(services)

    def contact(role: Role, party: str | None) -> tuple[str, str, str, bool]:
        c = views.case_contacts(services, Scope(role, party), [case_id])[case_id].contact
        return c.name, c.phone, c.address, c.masked

    whole = ("张三丰", "138 5363 1572", "浙江省杭州市西湖区文三路90号", False)
    assert contact(Role.PROVIDER, "installer-hz") == whole  # assigned (OH-3)
    assert contact(Role.OPERATIONS, None) == whole
    assert contact(Role.CONSUMER, "buyer-1") == whole  # their own
    masked = ("张**", "138****1572", "浙江省杭州市西湖区", True)
    assert contact(Role.PROVIDER, "installer-sh") == masked
    assert contact(Role.MERCHANT, "shop-1") == masked  # liable, but not making the visit
    assert contact(Role.BRAND, "brand-x") == masked
    assert contact(Role.AGENT, None) == masked


def test_phones_written_in_a_description_are_masked_for_those_who_may_not_see_contacts(
    services: Services,
) -> None:
    opened = svc.report_repair(
        services,
        order_item_id="oi-phone",
        actor=AGENT,
        description="屏幕闪烁，请打 139 0000 1234 联系",
        caller_name="张小姐",
        callback_phone="0571-88881234",
    )
    case = svc.get_case(services, opened.case.id)
    brand = views.case_view(services, Scope(Role.BRAND, "brand-x"), case)  # assigned (NW-4)
    assert "139 0000 1234" in brand.report["description"]
    assert brand.contact is not None and brand.contact.phone == "0571-88881234"
    assert brand.contact.caller == "张小姐"
    shop = views.case_view(services, Scope(Role.MERCHANT, "shop-1"), case)
    assert "139 0000 1234" not in str(shop.as_json())
    assert "139****1234" in shop.report["description"]
    assert shop.contact is not None and shop.contact.phone == "0571-****1234"
    assert shop.contact.caller == "张**"
    assert "0571-88881234" not in str(shop.as_json())


# ---------------------------------------------------------------- the visit


def test_the_assigned_installer_books_the_visit_and_a_change_is_recorded(
    services: Services, clock: FixedClock
) -> None:
    case_id = _help(services)
    first = datetime(2026, 11, 25, 10, 0, tzinfo=SH)
    svc.set_appointment(services, case_id, first, INSTALLER)
    clock.advance(minutes=5)
    later = datetime(2026, 11, 25, 14, 30, tzinfo=SH)
    case = svc.set_appointment(services, case_id, later, INSTALLER)
    assert case.appointment_at == later
    assert svc.get_case(services, case_id).appointment_at == later
    stored = views.case_contacts(services, Scope(Role.CONSUMER, "buyer-1"), [case_id])
    assert stored[case_id].appointment_at == later  # the buyer sees it
    case = svc.get_case(services, case_id)
    history = views.case_view(services, Scope(Role.CONSUMER, "buyer-1"), case).history
    booked = [h for h in history if h["action"] == "appointment"]
    assert [h["zh"] for h in booked] == [
        "服务方 杭州安装一队 与买家约定上门时间：2026-11-25 10:00",
        "服务方 杭州安装一队 与买家约定上门时间：2026-11-25 14:30",
    ]
    assert (
        booked[1]["en"]
        == "Provider 杭州安装一队 booked the visit with the buyer for 2026-11-25 14:30"
    )


@pytest.mark.parametrize(
    ("when", "why"),
    [
        (START - timedelta(minutes=1), "later than now"),
        (START + timedelta(days=91), "within 90 days"),
        (datetime(2026, 11, 25, 23, 0, tzinfo=SH), "between 07:00 and 22:00"),
    ],
)
def test_a_visit_in_the_past_too_far_ahead_or_at_night_is_refused(
    services: Services, when: datetime, why: str
) -> None:
    case_id = _help(services)
    with pytest.raises(IllegalTransition, match=why):
        svc.set_appointment(services, case_id, when, INSTALLER)
    assert svc.get_case(services, case_id).appointment_at is None


def test_only_the_assigned_party_or_operations_book_the_visit(services: Services) -> None:
    case_id = _help(services)
    tomorrow = datetime(2026, 11, 25, 10, 0, tzinfo=SH)
    for stranger in (OTHER_INSTALLER, MERCHANT, BUYER):
        with pytest.raises(Forbidden):
            svc.set_appointment(services, case_id, tomorrow, stranger)
    assert svc.set_appointment(services, case_id, tomorrow, OPS).appointment_at == tomorrow


# ---------------------------------------------------------------- saved solutions


def test_each_provider_keeps_its_own_solution_texts(services: Services) -> None:
    kept = solutions.save_text(
        services,
        role=Role.PROVIDER,
        owner="installer-hz",
        title="明早上门",
        body="明早九点上门安装",
    )
    solutions.save_text(
        services, role=Role.PROVIDER, owner="installer-hz", title="等配件", body="配件已订"
    )
    solutions.save_text(
        services, role=Role.PROVIDER, owner="installer-sh", title="上海", body="今天下午到"
    )
    assert [t.title for t in solutions.texts_of(services, "installer-hz")] == ["明早上门", "等配件"]
    changed = solutions.save_text(
        services,
        role=Role.PROVIDER,
        owner="installer-hz",
        title="明早上门",
        body="明早十点上门",
        text_id=kept.id,
    )
    assert changed.body == "明早十点上门" and changed.created_at == kept.created_at
    with pytest.raises(NotFound):  # another provider's text is not there for it
        solutions.delete_text(services, role=Role.PROVIDER, owner="installer-sh", text_id=kept.id)
    solutions.delete_text(services, role=Role.PROVIDER, owner="installer-hz", text_id=kept.id)
    assert [t.title for t in solutions.texts_of(services, "installer-hz")] == ["等配件"]
    assert [t.title for t in solutions.texts_of(services, "installer-sh")] == ["上海"]


def test_an_empty_or_overlong_solution_text_is_refused_and_buyers_keep_none(
    services: Services,
) -> None:
    with pytest.raises(InvalidRequest, match="title is empty"):
        solutions.save_text(services, role=Role.PROVIDER, owner="installer-hz", title=" ", body="x")
    with pytest.raises(InvalidRequest, match="longer than 1000"):
        solutions.save_text(
            services, role=Role.PROVIDER, owner="installer-hz", title="t", body="长" * 1001
        )
    with pytest.raises(Forbidden):
        solutions.save_text(services, role=Role.CONSUMER, owner="buyer-1", title="t", body="b")
    assert solutions.texts_of(services, "installer-hz") == []


# ---------------------------------------------------------------- history


def test_the_history_names_people_and_shops_and_reads_as_sentences(services: Services) -> None:
    case_id = _help(services)
    svc.act(services, case_id, "give_solution", INSTALLER, "明早九点上门")
    svc.pause_clock(services, case_id, "resolution", "buyer_rescheduled", INSTALLER)
    case = svc.get_case(services, case_id)
    history = views.case_view(services, Scope(Role.OPERATIONS), case).history
    assert [h["zh"] for h in history] == [
        "买家 张三丰 通过一键求助提交了一键求助服务单",
        "平台 将服务单指派给 杭州安装一队",
        "服务方 杭州安装一队 给出了解决方案：明早九点上门",
        "服务方 杭州安装一队 以「买家改约」为由暂停了「48 小时内解决」计时",
    ]
    assert (
        history[3]["en"]
        == 'Provider 杭州安装一队 paused "Solve the problem within 48 hours": buyer rescheduled'
    )
    shop = views.case_view(services, Scope(Role.MERCHANT, "shop-1"), case).history
    assert shop[0]["zh"] == "买家 张** 通过一键求助提交了一键求助服务单"


# ---------------------------------------------------------------- the hotline desk


def test_an_agent_finds_the_caller_by_phone_name_account_order_or_item(
    services: Services, store: MemoryStore
) -> None:
    upsert_orders(
        store,
        [
            {
                "id": "o9",
                "buyer_account": "buyer-9",
                "merchant_id": "shop-1",
                "placed_at": START - timedelta(days=2),
                "contact_phone": "0571-8888 1234",
            }
        ],
    )

    def found(text: str, scope: Scope | None = None) -> set[str]:
        return {r["id"] for r in views.find_orders_for_caller(services, text, scope=scope)}

    both = {"oi-lamp", "oi-phone"}
    assert found("13853631572") == both  # the buyer's phone, written without spaces
    assert found("+86 138 5363 1572") == both
    assert found("张三丰") == both
    assert found("buyer-1") == both and found("o1") == both and found("oi-lamp") == {"oi-lamp"}
    assert found("057188881234") == set()  # o9 has no items
    assert found("brand-y", Scope(Role.AGENT, "brand-y")) == set()
    assert found("buyer-1", Scope(Role.AGENT, "brand-nobody")) == set()  # another brand's line
    rows = views.find_orders_for_caller(services, "13853631572")
    assert {r["buyer_name"] for r in rows} == {"张**"}  # the agent confirms, reads no more


def test_a_callback_number_finds_the_report_it_was_given_on(services: Services) -> None:
    svc.report_repair(
        services,
        order_item_id="oi-phone",
        actor=AGENT,
        description="开不了机",
        callback_phone="139-0000-1234",
    )
    assert [r["id"] for r in views.find_orders_for_caller(services, "13900001234")] == ["oi-phone"]


def test_a_report_on_an_item_with_an_open_report_is_added_to_it_not_lost(
    services: Services, clock: FixedClock
) -> None:
    first = svc.report_repair(
        services, order_item_id="oi-phone", actor=AGENT, description="屏幕闪烁"
    )
    assert first.created and not first.noted
    other_agent = Actor(Role.AGENT, "agent-2", Channel.HOTLINE)
    assert not views.may_see_case(services, Scope(Role.AGENT, None, "agent-2"), first.case.id)
    clock.advance(minutes=30)
    again = svc.report_repair(
        services,
        order_item_id="oi-phone",
        actor=other_agent,
        description="还是闪，今天开始完全黑屏",
        caller_name="李四",
        callback_phone="13900001234",
    )
    assert again.noted and not again.created and again.case.id == first.case.id
    case = svc.get_case(services, first.case.id)
    assert case.audit[-1].action == "note" and case.audit[-1].note == "还是闪，今天开始完全黑屏"
    assert case.callback_phone == "13900001234" and case.caller_name == "李四"
    # The agent who added the caller's words may now open the case.
    assert views.may_see_case(services, Scope(Role.AGENT, None, "agent-2"), first.case.id)
    history = views.case_view(services, Scope(Role.OPERATIONS), case).history
    assert history[-1]["zh"] == "热线坐席 agent-2 记录来电：还是闪，今天开始完全黑屏"


def test_a_bad_callback_number_is_refused_and_nothing_is_written(services: Services) -> None:
    with pytest.raises(InvalidRequest, match="0571-88881234"):
        svc.report_repair(
            services,
            order_item_id="oi-phone",
            actor=AGENT,
            description="屏幕闪烁",
            callback_phone="12345",
        )
    assert views.case_lines(services, Scope(Role.OPERATIONS)) == []


def test_the_callers_cases_open_and_closed_are_listed_for_the_agent(services: Services) -> None:
    lamp = _help(services)
    svc.act(services, lamp, "withdraw", BUYER)
    phone = svc.report_repair(
        services, order_item_id="oi-phone", actor=AGENT, description="屏幕闪烁"
    ).case.id
    lines = views.cases_of_callers(services, Scope(Role.AGENT, None, "agent-9"), ["buyer-1"])
    assert {line.id: line.is_open for line in lines} == {lamp: False, phone: True}
    on_brand_line = views.cases_of_callers(services, Scope(Role.AGENT, "brand-y"), ["buyer-1"])
    assert on_brand_line == []


def test_a_call_about_a_help_request_is_added_to_it_with_the_callback_number(
    services: Services,
) -> None:
    case_id = _help(services)
    case = svc.add_caller_note(
        services,
        case_id,
        AGENT,
        "买家来电催促安装",
        caller_name="张先生",
        callback_phone="0571 8888 1234",
    )
    assert case.audit[-1].action == "note" and case.callback_phone == "0571-88881234"
    assert views.may_see_case(services, Scope(Role.AGENT, None, AGENT.id), case_id)
    with pytest.raises(InvalidRequest, match="callback"):
        svc.add_caller_note(services, case_id, AGENT, "再次来电", callback_phone="0000")
    with pytest.raises(Forbidden):
        svc.add_caller_note(services, case_id, INSTALLER, "来电")
    with pytest.raises(IllegalTransition, match="empty"):
        svc.add_caller_note(services, case_id, AGENT, "  ")
    assert [e.action for e in svc.get_case(services, case_id).audit].count("note") == 1
