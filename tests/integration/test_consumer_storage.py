"""The buyer's records on SQLite and PostgreSQL: the repair form's contact (NW-2b), chats
listed by buyer, brand and item (NW-3), and the payouts of a page of cases — the same
answers the in-memory adapter gives in ``tests/unit/services/test_consumer_services.py``."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from sqlalchemy import Engine, Table, func, select

from aftersales.adapters.db import schema as s
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.errors import InvalidFields
from aftersales.services import cases as svc
from aftersales.services import views
from aftersales.services.deadlines import tick
from aftersales.services.records import FormContact
from aftersales.services.time import FixedClock
from tests.integration.test_case_services import BRAND, BUYER, FORM, START, book, services

__all__ = ["book", "services"]  # the fixtures of test_case_services, used here too

CHAT = Actor(Role.CONSUMER, "buyer-1", Channel.CHAT)


def _count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_nw_2b_the_contact_is_stored_with_the_report_and_read_back_as_given(
    services: svc.Services,
) -> None:
    form = svc.ServiceForm(
        contact_phone="(0571)88888888",
        address="浙江省杭州市西湖区文三路90号 3 单元 501",
        preferred_time="2026-11-25T14:00",
        required=frozenset({"phone", "address"}),
    )
    opened = svc.report_repair(
        services, order_item_id="oi-phone", actor=FORM, description="不开机", form=form
    )
    contact = svc.contact_of(services, opened.case.id)
    assert contact == FormContact(
        opened.case.id,
        "0571-88888888",
        "浙江省杭州市西湖区文三路90号 3 单元 501",
        "2026-11-25T14:00",
        START,
        "buyer-1",
    )
    assert contact.given_at.utcoffset() == timedelta(0) or contact.given_at.tzinfo == UTC
    assert svc.contact_of(services, "NW-none") is None
    with services.uow() as uow:  # a second contact for the case replaces the first
        uow.contacts.put(FormContact(opened.case.id, "13800000000", "新地址", "", START, "agent"))
        uow.commit()
    again = svc.contact_of(services, opened.case.id)
    assert again is not None and (again.phone, again.address) == ("13800000000", "新地址")


def test_nw_2b_a_refused_form_writes_neither_case_nor_contact(
    engine: Engine, services: svc.Services
) -> None:
    form = svc.ServiceForm(contact_phone="0571-888", required=frozenset({"phone", "address"}))
    with pytest.raises(InvalidFields) as refused:
        svc.report_repair(
            services, order_item_id="oi-phone", actor=FORM, description="不开机", form=form
        )
    assert refused.value.problems == {"phone": "phone.invalid", "address": "address.missing"}
    assert _count(engine, s.cases) == 0 and _count(engine, s.case_contacts) == 0


def test_nw_3_chats_are_listed_by_buyer_brand_and_item_newest_first(
    services: svc.Services,
) -> None:
    clock = services.clock
    assert isinstance(clock, FixedClock)
    first = svc.open_chat(services, order_item_id="oi-phone", actor=CHAT, text="怎么保修？")
    clock.advance(minutes=5)
    second = svc.open_chat(services, order_item_id="oi-lamp", actor=CHAT, text="灯不亮")
    assert [t.id for t in svc.chat_threads(services, buyer="buyer-1")] == [second, first]
    assert [t.id for t in svc.chat_threads(services, brand="brand-x")] == [second, first]
    assert [t.id for t in svc.chat_threads(services, order_item_id="oi-phone")] == [first]
    assert svc.chat_threads(services, buyer="buyer-2") == []
    assert [t.id for t in svc.chat_threads(services, limit=1)] == [second]
    opened = svc.chat_to_report(services, first, BRAND)
    (linked,) = svc.chat_threads(services, order_item_id="oi-phone")
    assert linked.case_id == opened.case.id and linked.buyer_account == "buyer-1"


def test_oh_5_the_payouts_of_a_page_of_cases(services: svc.Services) -> None:
    case_id = svc.request_help(
        services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
    ).case.id
    tick(services, sandbox="live", now=START + timedelta(minutes=61), worker_id="w")
    paid = views.payouts_of_cases(services, [case_id, "OH-none"])
    assert [(p.case_id, p.rule, p.amount, p.payee) for p in paid] == [
        (case_id, "OH-5", 5_000, "buyer-1")
    ]
    assert "OH-5" in paid[0].explanation("en")
    assert views.payouts_of_cases(services, []) == []
