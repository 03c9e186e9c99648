"""Warning marks and notices: what a case tells whom, and when (docs/notifications.md).

A warning mark is armed on the clock's own time and fires once; a breach, a
payout, an assignment and a complaint decision each make a notice for the
people concerned, citing the rule (X-2).
"""

from __future__ import annotations

from datetime import timedelta

from aftersales.domain.clocks import Clock, ClockEnv
from aftersales.domain.explain import Bilingual
from aftersales.domain.lifecycle import Role
from aftersales.domain.notices import NoticeKind, Recipient
from aftersales.domain.policy import ClockDefinition, PolicyBook, Text

from .builders import CONSUMER, PROVIDER, open_help, sh

MORNING = sh(2026, 11, 24, 10, 0)


def _business_clock(book: PolicyBook) -> tuple[Clock, ClockEnv]:
    definition = ClockDefinition(
        id="visit",
        rule="SS-2",
        name=Text(zh="上门", en="visit"),
        starts_on="initiated",
        stops_on=("resolved",),
        duration=timedelta(hours=9),
        basis="business",
        calendar="cn-business",  # Mon-Fri 09:00-18:00
        pause_reasons=("buyer_rescheduled",),
        pause_rule="SS-2",
        warn_before=(timedelta(hours=2),),
        escalate_after=timedelta(minutes=30),
        escalate_to=("merchant",),
    )
    return Clock("visit"), ClockEnv(definition, book.calendar("cn-business"), None, "Asia/Shanghai")


def test_oh_4_marks_are_armed_30_and_10_minutes_before_the_hour_with_their_escalations(
    book: PolicyBook,
) -> None:
    case = open_help(book, MORNING)
    assert case.clocks["solution"].warnings == (
        ("30m", sh(2026, 11, 24, 10, 30)),
        ("30m>1", sh(2026, 11, 24, 10, 40)),
        ("10m", sh(2026, 11, 24, 10, 50)),
        ("30m>2", sh(2026, 11, 24, 10, 50)),
    )  # "10m>1" would fall at 11:00, the deadline itself: the breach notice speaks then
    rows = case.running_deadlines()
    assert rows["solution@30m"] == sh(2026, 11, 24, 10, 30)
    assert rows["resolution@6h"] == MORNING + timedelta(hours=42)


def test_x_3_a_business_clock_warns_in_business_time_not_wall_time(book: PolicyBook) -> None:
    clock, env = _business_clock(book)
    clock.start(env, sh(2026, 11, 26, 10, 0))  # Thursday: 8 h today, 1 h on Friday
    assert clock.due_at == sh(2026, 11, 27, 10, 0)
    # Two business hours before Friday 10:00 is Thursday 17:00 (not Friday 08:00, closed).
    assert clock.warnings[0] == ("2h", sh(2026, 11, 26, 17, 0))


def test_a_mark_fires_once_and_a_paused_clock_rearms_only_what_has_not_fired(
    book: PolicyBook,
) -> None:
    clock, env = _business_clock(book)
    clock.start(env, sh(2026, 11, 26, 10, 0))
    assert clock.fire_warnings(sh(2026, 11, 26, 17, 1)) == [("2h", sh(2026, 11, 26, 17, 0))]
    assert clock.fire_warnings(sh(2026, 11, 26, 17, 2)) == []
    clock.pause(env, sh(2026, 11, 26, 17, 10), "buyer_rescheduled", Bilingual("改约", "moved"))
    assert clock.warnings == ()  # disarmed with the deadline
    clock.resume(env, sh(2026, 11, 27, 9, 0))
    assert clock.warned == ("2h",) and clock.warnings == ()


def test_oh_4_a_warning_tells_the_assigned_provider_and_a_breach_tells_it_too(
    book: PolicyBook,
) -> None:
    case = open_help(book, MORNING)
    case.pull_notices()
    case.settle(book, MORNING + timedelta(minutes=31))
    (warning,) = case.pull_notices()
    assert warning.kind is NoticeKind.DUE_SOON and warning.mark == "30m"
    assert warning.to == Recipient((Role.PROVIDER, Role.MERCHANT), case.assignee)
    assert warning.at == MORNING + timedelta(minutes=30)
    assert "还剩 30 分" in warning.reason.zh and "(OH-4)" in warning.reason.en
    case.settle(book, MORNING + timedelta(minutes=61))
    kinds = [(n.kind, n.to.roles) for n in case.pull_notices()]
    assert (NoticeKind.BREACHED, (Role.PROVIDER, Role.MERCHANT)) in kinds
    assert (NoticeKind.PAYOUT, (Role.CONSUMER,)) in kinds  # OH-5: 5,000 points to the buyer


def test_a_solution_in_time_disarms_the_marks_and_nothing_more_is_told(
    book: PolicyBook,
) -> None:
    case = open_help(book, MORNING)
    case.act(book, "give_solution", MORNING + timedelta(minutes=20), PROVIDER, "明早九点上门")
    case.pull_notices()
    assert not [key for key in case.running_deadlines() if key.startswith("solution")]
    case.settle(book, MORNING + timedelta(hours=2))
    assert case.pull_notices() == []


def test_a_decided_complaint_tells_who_filed_it_and_the_shop(book: PolicyBook) -> None:
    case = open_help(book, MORNING)
    complaint = case.file_complaint(book, None, MORNING + timedelta(hours=2), CONSUMER, "态度差")
    case.pull_notices()
    ops = PROVIDER.__class__(Role.OPERATIONS, "ops-1", PROVIDER.channel)
    case.decide_complaint(book, complaint.id, False, MORNING + timedelta(hours=3), ops, "查无实据")
    told = case.pull_notices()
    assert [n.to.party for n in told] == [CONSUMER.id, case.item.merchant_id]
    assert all(n.kind is NoticeKind.COMPLAINT_DECIDED and "查无实据" in n.reason.zh for n in told)
