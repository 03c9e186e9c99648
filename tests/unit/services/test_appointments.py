"""Appointment slots that become SS-2 commitments, on the in-memory adapter.

The installer in 杭州 takes visits Monday to Saturday 09:00-12:00 (two visits) and
14:00-18:00 (one visit). The world's clock stands at Tuesday 2026-11-24 10:00.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from aftersales.adapters.memory import MemoryStore, memory_services, upsert_buyers, upsert_providers
from aftersales.adapters.places import ChinaPlaces
from aftersales.domain.clocks import ClockStatus
from aftersales.domain.errors import Forbidden, IllegalTransition
from aftersales.domain.policy import PolicyBook
from aftersales.errors import InvalidFields
from aftersales.services import appointments as slots
from aftersales.services import cases as svc
from aftersales.services import events, master_data
from aftersales.services.base import Services
from aftersales.services.deadlines import tick
from aftersales.services.records import AppointmentChange, AppointmentRecord
from aftersales.services.time import FixedClock
from tests.unit.services.world import BUYER, INSTALLER, SH, START

MORNINGS = {"weekdays": [1, 2, 3, 4, 5, 6], "start": "09:00", "end": "12:00", "capacity": 2}
AFTERNOONS = {"weekdays": [1, 2, 3, 4, 5, 6], "start": "14:00", "end": "18:00", "capacity": 1}


def installer_store(store: MemoryStore, calendar: str = "wall") -> MemoryStore:
    upsert_buyers(store, [{"id": "buyer-1", "name": "张三丰", "phone": "138 5363 1572"}])
    upsert_providers(
        store,
        [
            {
                "id": "installer-hz",
                "name": "杭州安装一队",
                "kind": "installer",
                "brand_id": None,
                "calendar": calendar,
                "appointment_windows": [MORNINGS, AFTERNOONS],
            }
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


@pytest.fixture
def store(store: MemoryStore) -> MemoryStore:
    return installer_store(store)


def sh(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SH)


def open_help(services: Services) -> str:
    return svc.request_help(
        services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
    ).case.id


def decisions(services: Services, case_id: str) -> list[str]:
    return [d.reason.code for d in svc.get_case(services, case_id).decisions]


# ---------------------------------------------------------------- the slot search


def test_ss_2_slots_are_the_assigned_providers_windows_from_the_case_now_over_the_horizon(
    services: Services,
) -> None:
    case_id = open_help(services)
    offer = slots.case_slots(services, case_id, BUYER)
    assert offer.provider_id == "installer-hz"
    keys = [offer.key(s) for s in offer.slots]
    # 10:00 now, 2 hours' lead: this morning's window has begun; the afternoon is next.
    assert keys[:3] == [
        "2026-11-24T14:00/18:00",
        "2026-11-25T09:00/12:00",
        "2026-11-25T14:00/18:00",
    ]
    assert keys[-1] == "2026-12-08T09:00/12:00"  # 14 days ahead, 10:00 is past 09:00's start
    assert not any(s.starts_at.astimezone(SH).isoweekday() == 7 for s in offer.slots)


def test_ss_2_slots_skip_full_windows(services: Services) -> None:
    case_id = open_help(services)
    with services.uow() as uow:
        for other in ("other-1", "other-2"):
            uow.appointments.book(
                AppointmentRecord(
                    other, "live", "installer-hz", sh(25, 9), sh(25, 12), START, "consumer", "x"
                ),
                AppointmentChange(other, START, sh(25, 9), sh(25, 12), None, "consumer", "x"),
            )
        uow.commit()
    offer = slots.case_slots(services, case_id, BUYER)
    keys = [offer.key(s) for s in offer.slots]
    assert "2026-11-25T09:00/12:00" not in keys  # two of two taken
    assert "2026-11-25T14:00/18:00" in keys
    with pytest.raises(InvalidFields) as refused:
        slots.book_slot(services, case_id, "2026-11-25T09:00/12:00", BUYER)
    assert refused.value.problems == {"slot": "slot.not_offered"}


def test_ss_2_slots_skip_days_the_providers_calendar_does_not_work(
    store: MemoryStore, services: Services
) -> None:
    installer_store(store, calendar="cn-business")  # Monday to Friday
    case_id = open_help(services)
    offer = slots.case_slots(services, case_id, BUYER)
    days = {s.starts_at.astimezone(SH).date() for s in offer.slots}
    assert date(2026, 11, 28) not in days  # a Saturday window, but the calendar is shut
    assert date(2026, 11, 27) in days


def test_a_slot_that_is_not_one_is_refused_naming_the_field(services: Services) -> None:
    case_id = open_help(services)
    with pytest.raises(InvalidFields) as refused:
        slots.book_slot(services, case_id, "tomorrow morning", BUYER)
    assert refused.value.problems == {"slot": "slot.unreadable"}


def test_only_the_buyer_or_the_assigned_party_books(services: Services) -> None:
    case_id = open_help(services)
    stranger = replace(BUYER, id="buyer-2")
    with pytest.raises(Forbidden):
        slots.book_slot(services, case_id, "2026-11-25T09:00/12:00", stranger)
    with pytest.raises(Forbidden):
        slots.book_slot(
            services, case_id, "2026-11-25T09:00/12:00", replace(INSTALLER, id="installer-sh")
        )


# ---------------------------------------------------------------- the agreed day as a clock


def test_ss_2_booking_a_slot_starts_the_agreed_day_clock_due_at_23_59_59(
    services: Services,
) -> None:
    case_id = open_help(services)
    offer, changed = slots.book_slot(services, case_id, "2026-11-25T09:00/12:00", BUYER)
    assert changed and offer.booked is not None
    case = svc.get_case(services, case_id)
    clock = case.clocks["installation"]
    assert clock.status is ClockStatus.RUNNING
    assert clock.due_at == sh(25, 23, 59, 59)
    assert clock.reason is not None and clock.reason.rule == "SS-2"
    assert "23:59:59" in clock.reason.zh or "2026-11-25 23:59" in clock.reason.zh
    assert "appointment.booked" in decisions(services, case_id)
    assert case.appointment_at == sh(25, 9)


def test_ss_2_the_same_window_booked_again_changes_nothing(services: Services) -> None:
    case_id = open_help(services)
    slots.book_slot(services, case_id, "2026-11-25T09:00/12:00", BUYER)
    _, changed = slots.book_slot(services, case_id, "2026-11-25T09:00/12:00", INSTALLER)
    assert not changed
    with services.uow() as uow:
        assert len(uow.appointments.changes_of(case_id)) == 1


def test_ss_2_the_installer_on_the_phone_books_for_the_buyer(services: Services) -> None:
    case_id = open_help(services)
    slots.book_slot(services, case_id, "2026-11-26T14:00/18:00", INSTALLER)
    name, days = slots.provider_days(services, "installer-hz", INSTALLER, days=3)
    assert name == "杭州安装一队"
    thursday = next(d for d in days if d.day == date(2026, 11, 26))
    afternoon = next(w for w in thursday.windows if w.starts_at == sh(26, 14))
    assert afternoon.case_ids == (case_id,) and afternoon.left == 0


def test_ss_2_contact_clock_starts_when_a_case_opens_on_goods_already_signed_for(
    store: MemoryStore, services: Services
) -> None:
    item = store.tables.order_items["oi-lamp"]
    store.tables.order_items["oi-lamp"] = replace(item, delivered_on=date(2026, 11, 23))
    case = svc.request_help(
        services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
    ).case
    contact = case.clocks["contact"]
    assert contact.status is ClockStatus.RUNNING
    assert contact.due_at == START + timedelta(hours=24)


def test_ss_2_contact_clock_starts_on_the_signed_for_event_and_is_met_by_a_booking(
    book: PolicyBook, clock: FixedClock
) -> None:
    """Through the marketplace's own path: master data in, help pressed, then the goods
    signed for (order.signed_for), then a slot booked."""
    services = memory_services(book, clock, store=MemoryStore(), places=ChinaPlaces())
    for kind, record in (
        ("brand", {"id": "b1", "name": "星河"}),
        ("merchant", {"id": "m1", "name": "星河旗舰店"}),
        ("buyer", {"id": "u1"}),
        (
            "product",
            {
                "id": "p1",
                "name": "吸顶灯",
                "brand_id": "b1",
                "category": "lighting",
                "service_tags": ["scheduled_installation"],
            },
        ),
        (
            "provider",
            {
                "id": "installer-hz",
                "name": "杭州安装一队",
                "type": "installer",
                "coverage": [
                    {
                        "area_code": "330106",
                        "category": "lighting",
                        "service_tag": "scheduled_installation",
                    }
                ],
                "appointment_windows": [MORNINGS, AFTERNOONS],
            },
        ),
        (
            "order",
            {
                "id": "o1",
                "buyer_id": "u1",
                "merchant_id": "m1",
                "placed_at": "2026-11-20T10:00:00+08:00",
                "address": "浙江省杭州市西湖区文三路90号",
                "items": [{"id": "i1", "product_id": "p1", "paid_price_fen": 29_900}],
            },
        ),
    ):
        outcome = master_data.upsert(services, kind, [record])[0]
        assert outcome.result == "created", outcome
    buyer = replace(BUYER, id="u1")
    case_id = svc.request_help(
        services, order_item_id="i1", actor=buyer, failure="installation_late"
    ).case.id
    assert svc.get_case(services, case_id).clocks["contact"].status is ClockStatus.PENDING
    clock.at = START + timedelta(hours=2)
    signed = events.receive(
        services,
        {
            "id": "evt-signed",
            "type": "order.signed_for",
            "occurred_at": "2026-11-24T11:30:00+08:00",
            "data": {"order_id": "o1", "items": ["i1"], "signed_for_on": "2026-11-24"},
        },
    )
    assert signed.outcome == "applied", signed.message
    contact = svc.get_case(services, case_id).clocks["contact"]
    assert (contact.status, contact.due_at) == (ClockStatus.RUNNING, sh(25, 11, 30))
    assert contact.reason is not None and contact.reason.rule == "SS-2"
    slots.book_slot(services, case_id, "2026-11-25T14:00/18:00", buyer)
    assert svc.get_case(services, case_id).clocks["contact"].status is ClockStatus.MET


# ---------------------------------------------------------------- the buyer's reschedule


def test_ss_2_a_buyer_reschedule_pauses_the_clock_with_its_reason_and_moves_the_day(
    services: Services,
) -> None:
    case_id = open_help(services)
    slots.book_slot(services, case_id, "2026-11-25T09:00/12:00", BUYER)
    offer, _ = slots.book_slot(services, case_id, "2026-11-27T14:00/18:00", BUYER)
    case = svc.get_case(services, case_id)
    paused = [d.reason for d in case.decisions if d.reason.code == "clock.paused"]
    assert paused and paused[-1].rule == "SS-2"
    assert "买家改约" in paused[-1].zh and "buyer rescheduled" in paused[-1].en
    assert case.clocks["installation"].due_at == sh(27, 23, 59, 59)
    assert case.clocks["installation"].status is ClockStatus.RUNNING
    assert offer.reschedules_left == 1
    assert "appointment.rescheduled" in decisions(services, case_id)
    with services.uow() as uow:
        moves = uow.appointments.changes_of(case_id)
    assert [m.before for m in moves] == [None, sh(25, 9)]


def test_ss_2_reschedules_keep_within_the_policys_limits(
    services: Services, clock: FixedClock
) -> None:
    case_id = open_help(services)
    slots.book_slot(services, case_id, "2026-11-25T09:00/12:00", BUYER)
    slots.book_slot(services, case_id, "2026-11-26T09:00/12:00", BUYER)
    slots.book_slot(services, case_id, "2026-11-27T09:00/12:00", BUYER)
    with pytest.raises(IllegalTransition, match="at most 2 times"):
        slots.book_slot(services, case_id, "2026-11-28T09:00/12:00", BUYER)
    offer = slots.case_slots(services, case_id, BUYER)
    assert offer.slots == () and offer.refusal is not None
    assert offer.refusal.code == "appointment.reschedule_limit"


def test_ss_2_a_reschedule_comes_at_least_12_hours_before_the_window(
    services: Services, clock: FixedClock
) -> None:
    case_id = open_help(services)
    slots.book_slot(services, case_id, "2026-11-25T09:00/12:00", BUYER)
    clock.at = sh(24, 21, 30)  # 11.5 hours before the booked window
    with pytest.raises(IllegalTransition, match="at least 12 hours before"):
        slots.book_slot(services, case_id, "2026-11-26T09:00/12:00", BUYER)


# ---------------------------------------------------------------- the SS-2 penalty


def test_ss_2_a_missed_agreed_day_pays_the_ss_2_penalty_once(services: Services) -> None:
    case_id = open_help(services)
    slots.book_slot(services, case_id, "2026-11-25T09:00/12:00", BUYER)
    tick(services, sandbox="live", now=sh(26, 0, 0, 1), worker_id="w1")
    tick(services, sandbox="live", now=sh(26, 0, 0, 2), worker_id="w2")
    # OH-6's 48 hours, named 'installation late' by the request, breach on Thursday 10:00.
    tick(services, sandbox="live", now=sh(26, 11), worker_id="w1")
    case = svc.get_case(services, case_id)
    late = [p for p in case.payouts if p.failure == "installation_late"]
    assert [(p.clock_id, p.rule, p.amount.value) for p in late] == [("installation", "SS-2", 5000)]
    assert case.clocks["installation"].status is ClockStatus.BREACHED
    assert case.clocks["resolution"].status is ClockStatus.BREACHED
    assert "penalty.already_paid" in decisions(services, case_id)
    with services.uow() as uow:
        assert [p.key for p in uow.ledger.payouts() if p.failure == "installation_late"] == [
            late[0].key
        ]


def test_ss_2_a_missed_contact_pays_its_penalty_once(
    store: MemoryStore, services: Services
) -> None:
    item = store.tables.order_items["oi-lamp"]
    store.tables.order_items["oi-lamp"] = replace(item, delivered_on=date(2026, 11, 23))
    case_id = open_help(services)
    tick(services, sandbox="live", now=sh(25, 10, 0, 1), worker_id="w1")
    tick(services, sandbox="live", now=sh(25, 12), worker_id="w2")
    case = svc.get_case(services, case_id)
    contact = [p for p in case.payouts if p.failure == "contact_late"]
    assert [(p.clock_id, p.rule, p.amount.value) for p in contact] == [("contact", "SS-2", 5000)]
