"""Cross-cutting rules: X-1 exactly once, X-2 explanations, X-3 time, X-4 audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aftersales.domain.cases import Case
from aftersales.domain.clocks import Clock, ClockEnv, ClockStatus
from aftersales.domain.errors import LedgerError
from aftersales.domain.explain import TEMPLATES, Bilingual, Reason, placeholders, render
from aftersales.domain.ledger import balances, payout_key
from aftersales.domain.lifecycle import Role
from aftersales.domain.money import Amount, Unit
from aftersales.domain.policy import ClockDefinition, PolicyBook, Text

from .builders import BRAND, CONSUMER, OPS, PROVIDER, open_help, open_report, sh

MORNING = sh(2026, 11, 24, 10, 0)


def test_x_1_payout_key_is_one_per_case_clock_and_failure() -> None:
    assert (
        payout_key("c-1", "solution", "no_solution_in_time") == "c-1/solution/no_solution_in_time"
    )
    with pytest.raises(LedgerError):
        payout_key("c/1", "solution", "x")


def test_x_1_settling_again_and_again_pays_each_failure_once(book: PolicyBook) -> None:
    case = open_help(book, MORNING)
    for minutes in (61, 62, 120, 60 * 49, 60 * 50):
        case.settle(book, MORNING + timedelta(minutes=minutes))
    case.act(book, "resolve", MORNING + timedelta(hours=51), PROVIDER, "已解决")
    assert sorted(p.key for p in case.payouts) == [
        "c-1/resolution/installation_late",
        "c-1/solution/no_solution_in_time",
    ]
    assert len({p.key for p in case.payouts}) == len(case.payouts)


def test_x_1_every_payout_names_payer_payee_amount_rule_and_case(book: PolicyBook) -> None:
    case = open_help(book, MORNING)
    (payout,) = case.settle(book, MORNING + timedelta(hours=2))
    assert (payout.payer, payout.payee, payout.amount, payout.rule, payout.case_id) == (
        "shop-1",
        "buyer-1",
        Amount.points(5000),
        "OH-5",
        "c-1",
    )
    assert balances(case.payouts) == {
        ("buyer-1", Unit.POINTS): 5000,
        ("shop-1", Unit.POINTS): -5000,
    }


def test_x_2_every_template_renders_in_both_languages_citing_its_rule() -> None:
    for code in TEMPLATES:
        params = {
            name: Bilingual(f"〈{name}〉", f"<{name}>") for name in placeholders(code) - {"rule"}
        }
        reason = Reason(code, "OH-4", params)
        zh, en = render(reason, "zh"), render(reason, "en")
        assert "OH-4" in zh and "OH-4" in en, code
        assert zh != en, code
        assert all(f"〈{n}〉" in zh and f"<{n}>" in en for n in params), code


def test_x_2_every_decision_in_a_full_case_renders_and_survives_a_round_trip(
    book: PolicyBook,
) -> None:
    case = open_help(book, MORNING)
    case.settle(book, MORNING + timedelta(hours=2))
    case.file_complaint(book, "solution", MORNING + timedelta(hours=3), CONSUMER)
    case.pause(book, "resolution", "buyer_rescheduled", MORNING + timedelta(hours=4), PROVIDER)
    case.resume(book, "resolution", MORNING + timedelta(hours=6), PROVIDER)
    case.act(book, "resolve", MORNING + timedelta(hours=20), PROVIDER, "已安装")
    assert len(case.decisions) >= 8
    for decision in case.decisions:
        reason = decision.reason
        assert reason.rule in reason.zh and reason.rule in reason.en
        assert Reason.from_dict(reason.to_dict()) == reason


def test_x_3_business_time_clock_pauses_subtract_business_time_not_wall_seconds(
    book: PolicyBook,
) -> None:
    calendar = book.calendar("cn-business")  # Mon-Fri 09:00-18:00 with China's holidays
    definition = ClockDefinition(
        id="visit",
        rule="SS-2",
        name=Text(zh="上门", en="visit"),
        starts_on="initiated",
        stops_on=("resolved",),
        duration=timedelta(hours=8),
        basis="business",
        calendar="cn-business",
        pause_reasons=("buyer_rescheduled",),
        pause_rule="SS-2",
    )
    env = ClockEnv(definition, calendar, None, "Asia/Shanghai")
    clock = Clock("visit")
    clock.start(env, sh(2026, 9, 30, 14, 0))  # Wednesday before National Day
    # 4 h on Sep 30, closed for National Day Oct 1-7, then 4 h on Thursday Oct 8.
    assert clock.due_at == sh(2026, 10, 8, 13, 0)
    clock.pause(env, sh(2026, 9, 30, 16, 0), "buyer_rescheduled", Bilingual("改约", "rescheduled"))
    assert clock.remaining == timedelta(hours=6)
    clock.resume(env, sh(2026, 10, 9, 17, 0))  # one business hour left that day
    assert clock.due_at == sh(2026, 10, 10, 14, 0)  # Saturday Oct 10 is a working day (调休)
    assert clock.status is ClockStatus.RUNNING


def test_x_3_naive_datetimes_are_refused(book: PolicyBook) -> None:
    with pytest.raises(Exception, match=r"(?i)naive|timezone|offset"):
        book.calendar("wall").add(datetime(2026, 1, 1, 9), timedelta(hours=1))  # noqa: DTZ001


def test_x_3_instants_in_other_zones_mean_the_same_moment(book: PolicyBook) -> None:
    at_utc = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    case = open_help(book, at_utc)
    assert case.clocks["solution"].status is ClockStatus.RUNNING


def test_x_4_every_state_change_records_who_when_and_through_which_channel(
    book: PolicyBook,
) -> None:
    case = open_report(book, MORNING)
    case.act(book, "accept", MORNING + timedelta(hours=1), BRAND)
    case.act(book, "receive_item", MORNING + timedelta(days=2), BRAND)
    case.act(book, "give_feedback", MORNING + timedelta(days=5), BRAND, "已更换电池")
    case.act(book, "close", MORNING + timedelta(days=6), CONSUMER)
    rows = [
        (a.action, a.role, a.actor_id, a.channel.value, a.from_state, a.to_state)
        for a in case.audit
    ]
    assert rows == [
        ("open", Role.CONSUMER, "buyer-1", "web", None, "reported"),
        ("accept", Role.BRAND, "brand-phone", "web", "reported", "accepted"),
        ("receive_item", Role.BRAND, "brand-phone", "web", "accepted", "item_received"),
        ("give_feedback", Role.BRAND, "brand-phone", "web", "item_received", "feedback_given"),
        ("close", Role.CONSUMER, "buyer-1", "web", "feedback_given", "closed"),
    ]
    assert [a.at for a in case.audit] == sorted(a.at for a in case.audit)


def test_x_4_pauses_and_complaint_decisions_are_audited_too(book: PolicyBook) -> None:
    case = open_help(book, MORNING)
    case.pause(book, "resolution", "unsuitable_site", MORNING + timedelta(hours=1), PROVIDER)
    complaint = case.file_complaint(
        book, None, MORNING + timedelta(hours=2), CONSUMER, "师傅态度差"
    )
    case.decide_complaint(
        book, complaint.id, False, MORNING + timedelta(hours=3), OPS, "录音显示沟通正常"
    )
    assert [a.action for a in case.audit][-3:] == [
        "pause:resolution",
        "complain",
        "complaint_dismissed",
    ]


def test_x_events_are_collected_for_the_outbox(book: PolicyBook) -> None:
    case: Case = open_help(book, MORNING)
    case.settle(book, MORNING + timedelta(hours=2))
    kinds = [e.kind for e in case.pull_events()]
    assert kinds[:2] == ["case.opened", "clock.started"]
    assert "clock.breached" in kinds and "payout.made" in kinds
    assert case.pull_events() == []
