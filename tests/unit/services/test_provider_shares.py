"""Issue 15 through the services, on the in-memory adapter: SS-2's clocks held by the
installer, the buyer's reschedule as the buyer's period, and the share once.

The installer in 杭州 takes visits Monday to Saturday (see test_appointments.py);
the world's clock stands at Tuesday 2026-11-24 10:00.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from aftersales.adapters.memory import MemoryStore
from aftersales.domain.clocks import ClockStatus
from aftersales.services import appointments as slots
from aftersales.services import cases as svc
from aftersales.services.base import Services
from aftersales.services.deadlines import tick
from aftersales.services.time import FixedClock
from tests.unit.services.test_appointments import installer_store
from tests.unit.services.world import BUYER, SH


@pytest.fixture
def store(store: MemoryStore) -> MemoryStore:
    return installer_store(store)


def sh(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SH)


def test_ss_2_provider_held_missed_agreed_day_records_the_providers_share_once(
    services: Services,
) -> None:
    case_id = svc.request_help(
        services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
    ).case.id
    slots.book_slot(services, case_id, "2026-11-25T09:00/12:00", BUYER)
    for worker, now in (("w1", sh(26, 0, 0, 1)), ("w2", sh(26, 0, 0, 2)), ("w1", sh(26, 11))):
        tick(services, sandbox="live", now=now, worker_id=worker)
    case = svc.get_case(services, case_id)
    [late] = [p for p in case.payouts if p.clock_id == "installation"]
    assert (late.rule, late.payer, late.payee, late.amount.value) == (
        "SS-2",
        case.item.merchant_id,
        case.item.buyer_account,
        5000,
    )
    installation = [s for s in case.shares if s.share_of == late.key]
    assert [(s.payer, s.payee, s.amount.value, s.rule) for s in installation] == [
        ("installer-hz", case.item.merchant_id, 5000, "SS-2")
    ]
    assert "installer-hz" in installation[0].reason.zh
    assert "SS-2" in installation[0].reason.en
    # Every share names a payout of the case, and no payout has two.
    assert sorted(s.share_of for s in case.shares) == sorted(
        {s.share_of for s in case.shares} & {p.key for p in case.payouts}
    )
    with services.uow() as uow:
        balances = uow.ledger.balances()
    assert balances[("installer-hz", "points")] == -sum(s.amount.value for s in case.shares)


def test_ss_2_a_buyers_reschedule_is_recorded_as_the_buyers_period(
    services: Services, clock: FixedClock
) -> None:
    case_id = svc.request_help(
        services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
    ).case.id
    slots.book_slot(services, case_id, "2026-11-25T09:00/12:00", BUYER)
    clock.at = sh(24, 11)
    slots.book_slot(services, case_id, "2026-11-27T14:00/18:00", BUYER)
    installation = svc.get_case(services, case_id).clocks["installation"]
    assert installation.status is ClockStatus.RUNNING
    assert [(h.kind, h.party, h.since, h.why) for h in installation.holders] == [
        ("provider", "installer-hz", sh(24, 10), "started"),
        ("buyer", "buyer-1", sh(24, 11), "buyer_rescheduled"),
        ("provider", "installer-hz", sh(24, 11), "resumed"),
    ]
