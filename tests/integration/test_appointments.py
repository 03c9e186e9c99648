"""Appointment slots on SQLite and PostgreSQL (SS-2): the provider's windows as master
data loaded them, bookings counted against capacity, the buyer's reschedule kept in the
history, and a missed agreed day paid once through the deadline worker's settlement."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from aftersales.adapters.db import schema as s
from aftersales.bootstrap import Container
from aftersales.demo import dataset as data
from aftersales.domain.cases import Actor
from aftersales.domain.clocks import ClockStatus
from aftersales.domain.lifecycle import Channel, Role
from aftersales.services import appointments
from aftersales.services import cases as svc
from aftersales.services.deadlines import tick
from tests.integration.test_field_views import SHANGHAI, TEN_AM, _help, container

BUYER = Actor(Role.CONSUMER, data.DEMO_BUYER, Channel.WEB)
INSTALLER = Actor(Role.PROVIDER, "hz-install-01", Channel.WEB)
__all__ = ["container"]  # the demo sandbox "f" at 10:00, as the field views' tests have it


def test_ss_2_a_booked_window_counts_against_its_capacity_and_keeps_its_history(
    container: Container, engine: Engine
) -> None:
    services = container.services
    case_id = _help(container)
    offer = appointments.case_slots(services, case_id, BUYER)
    assert offer.provider_id == "hz-install-01"
    keys = {offer.key(slot): slot.left for slot in offer.slots}
    assert keys["2026-11-25T09:00/12:00"] == 3
    appointments.book_slot(services, case_id, "2026-11-25T09:00/12:00", BUYER)
    _, again = appointments.book_slot(services, case_id, "2026-11-25T09:00/12:00", INSTALLER)
    assert not again  # the same window: nothing changes
    offer = appointments.case_slots(services, case_id, BUYER)
    assert {offer.key(x): x.left for x in offer.slots}["2026-11-25T09:00/12:00"] == 2
    appointments.book_slot(services, case_id, "2026-11-26T14:00/18:00", BUYER)
    with engine.connect() as conn:
        row = conn.execute(select(s.appointments).where(s.appointments.c.case_id == case_id)).one()
        moves = conn.execute(
            select(func.count()).where(s.appointment_changes.c.case_id == case_id)
        ).scalar_one()
    assert (row.starts_at, row.reschedules, moves) == (
        datetime(2026, 11, 26, 14, tzinfo=SHANGHAI),
        1,
        2,
    )
    case = svc.get_case(services, case_id)
    assert case.clocks["installation"].due_at == datetime(2026, 11, 26, 23, 59, 59, tzinfo=SHANGHAI)
    assert any(
        d.reason.code == "clock.paused" and d.reason.params.get("reason") is not None
        for d in case.decisions
    )
    _, days = appointments.provider_days(
        services, "hz-install-01", INSTALLER, first=TEN_AM.date(), days=3, sandbox="f"
    )
    booked = [(w.starts_at, w.case_ids) for d in days for w in d.windows if w.case_ids]
    assert booked == [(datetime(2026, 11, 26, 14, tzinfo=SHANGHAI), (case_id,))]


def test_ss_2_a_missed_agreed_day_pays_the_ss_2_penalty_once(
    container: Container, engine: Engine
) -> None:
    services = container.services
    case_id = _help(container)
    appointments.book_slot(services, case_id, "2026-11-25T09:00/12:00", BUYER)
    after_day = datetime(2026, 11, 26, 0, 0, 1, tzinfo=SHANGHAI)
    for worker, now in (
        ("w1", after_day),
        ("w2", after_day),
        ("w1", after_day + timedelta(days=1)),
    ):
        tick(services, sandbox="f", now=now, worker_id=worker, real_now=now)
    case = svc.get_case(services, case_id)
    assert case.clocks["installation"].status is ClockStatus.BREACHED
    with engine.connect() as conn:
        paid = conn.execute(
            select(s.ledger_entries.c.rule, s.ledger_entries.c.amount)
            .where(s.ledger_entries.c.case_id == case_id)
            .where(s.ledger_entries.c.failure == "installation_late")
        ).all()
    assert [tuple(p) for p in paid] == [("SS-2", 5000)]
