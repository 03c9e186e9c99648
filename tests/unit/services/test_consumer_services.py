"""The buyer's use cases on the in-memory adapter: the repair form's contact (NW-2b), a
buyer's and a brand's chats (NW-3), and the payouts of a page of cases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aftersales.adapters.memory import MemoryStore
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.errors import InvalidFields
from aftersales.services import cases as svc
from aftersales.services import views
from aftersales.services.base import Services
from aftersales.services.deadlines import tick
from aftersales.services.records import Scope
from aftersales.services.time import FixedClock
from tests.unit.services.world import BRAND, BUYER, FORM, START

FULL = svc.ServiceForm(
    contact_phone="138 0000 0000",
    address="浙江省杭州市西湖区文三路90号 3 单元",
    preferred_time="2026-11-25T14:00",
    required=frozenset({"phone", "address"}),
)


def test_nw_2b_the_form_contact_is_kept_beside_the_case_not_in_its_description(
    services: Services,
) -> None:
    opened = svc.report_repair(
        services, order_item_id="oi-phone", actor=FORM, description="不开机", form=FULL
    )
    assert opened.case.description == "不开机"
    contact = svc.contact_of(services, opened.case.id)
    assert contact is not None
    assert (contact.phone, contact.address, contact.preferred_time) == (
        "13800000000",
        "浙江省杭州市西湖区文三路90号 3 单元",
        "2026-11-25T14:00",
    )
    assert contact.given_by == "buyer-1" and contact.given_at == START


def test_nw_2b_every_problem_of_the_form_is_named_by_its_field_and_nothing_is_filed(
    services: Services, store: MemoryStore
) -> None:
    form = svc.ServiceForm(
        contact_phone="12345",
        address="",
        preferred_time="2026-11-24T09:00",  # an hour before now: passed
        required=frozenset({"phone", "address"}),
    )
    with pytest.raises(InvalidFields) as refused:
        svc.report_repair(
            services, order_item_id="oi-phone", actor=FORM, description=" ", form=form
        )
    assert refused.value.problems == {
        "description": "description.missing",
        "phone": "phone.invalid",
        "address": "address.missing",
        "preferred_time": "preferred_time.past",
    }
    assert "area code" in str(refused.value)  # the API's problem says it in words
    assert store.tables.cases == {} and store.tables.contacts == {}


def test_nw_2b_a_form_from_a_program_may_leave_the_contact_out(services: Services) -> None:
    opened = svc.report_repair(
        services,
        order_item_id="oi-phone",
        actor=FORM,
        description="屏幕闪烁",
        form=svc.ServiceForm(preferred_time="周末上午"),
    )
    contact = svc.contact_of(services, opened.case.id)
    assert contact is not None and contact.phone == "" and contact.preferred_time == "周末上午"
    bare = svc.report_repair(services, order_item_id="oi-phone", actor=FORM, description="again")
    assert bare.created is False  # the open report answers; its contact stays as it was
    assert svc.contact_of(services, opened.case.id) == contact


def test_nw_3_a_buyer_sees_their_chats_and_a_brand_its_own(
    services: Services, clock: FixedClock
) -> None:
    chat = Actor(Role.CONSUMER, "buyer-1", Channel.CHAT)
    first = svc.open_chat(services, order_item_id="oi-phone", actor=chat, text="怎么保修？")
    clock.advance(minutes=5)
    second = svc.open_chat(services, order_item_id="oi-lamp", actor=chat, text="灯不亮")
    assert [t.id for t in svc.chat_threads(services, buyer="buyer-1")] == [second, first]
    assert [t.id for t in svc.chat_threads(services, brand="brand-x")] == [second, first]
    assert svc.chat_threads(services, buyer="buyer-2") == []
    assert svc.chat_threads(services, brand="brand-other") == []
    assert [t.id for t in svc.chat_threads(services, order_item_id="oi-phone")] == [first]
    opened = svc.chat_to_report(services, first, BRAND)
    assert svc.chat_threads(services, order_item_id="oi-phone")[0].case_id == opened.case.id


def test_oh_5_the_payouts_of_a_page_of_cases_come_with_it(
    services: Services, clock: FixedClock
) -> None:
    case_id = svc.request_help(
        services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
    ).case.id
    clock.advance(minutes=61)
    tick(services, sandbox="live", now=clock.now(), worker_id="w")
    paid = views.payouts_of_cases(services, [case_id, "OH-none"])
    assert [(p.case_id, p.rule, p.amount, p.payee) for p in paid] == [
        (case_id, "OH-5", 5_000, "buyer-1")
    ]
    assert views.payouts_of_cases(services, []) == []
    lines = views.case_lines(services, Scope(Role.CONSUMER, "buyer-1"))
    assert [line.id for line in lines] == [case_id]
    assert paid[0].at == START + timedelta(minutes=61)  # when the engine found the breach
