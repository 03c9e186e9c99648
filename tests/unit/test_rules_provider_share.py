"""Issue 15: who held each clock, and the provider's share of a breach it held.

The merchant pays the buyer exactly as the rules say (OH-5, SS-2); when a provider
held the clock at the instant it breached, the ledger also records the provider's
share as owed to the merchant, once, with a reason naming who held the clock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from aftersales.domain.cases import Case
from aftersales.domain.clocks import ClockStatus, Holding
from aftersales.domain.errors import LedgerError
from aftersales.domain.ledger import provider_share, share_key
from aftersales.domain.policy import PolicyBook, ProviderShare

from .builders import BRAND, CONSUMER, OPS, PHONE, PROVIDER, open_help, open_report, sh

MORNING = sh(2026, 11, 24, 10, 0)


def test_oh_5_provider_held_breach_records_the_providers_share_once_with_its_reason(
    book: PolicyBook,
) -> None:
    case = open_help(book, MORNING, assignee="installer-hz")
    case.settle(book, MORNING + timedelta(hours=2))
    case.settle(book, MORNING + timedelta(hours=3))  # settling again makes nothing more
    [payout] = case.payouts
    assert (payout.payer, payout.payee, payout.amount.value) == ("shop-1", "buyer-1", 5000)
    [share] = case.shares
    assert share.key == share_key(payout.key) and share.share_of == payout.key
    assert (share.payer, share.payee, share.amount.value) == ("installer-hz", "shop-1", 5000)
    assert share.rule == "OH-5" and not share.gates_complaints
    assert "installer-hz" in share.reason.zh and "installer-hz" in share.reason.en
    assert "OH-5" in share.reason.zh and "OH-5" in share.reason.en
    assert "100%" in share.reason.en
    assert case.clocks["solution"].holders == (
        Holding("provider", "installer-hz", MORNING, MORNING + timedelta(hours=1), "started"),
    )


def test_oh_5_merchant_held_breach_records_no_share(book: PolicyBook) -> None:
    case = open_help(book, MORNING, assignee="shop-1")  # OH-3: nobody covers, the merchant
    case.settle(book, MORNING + timedelta(hours=2))
    assert [p.payer for p in case.payouts] == ["shop-1"]
    assert case.shares == []
    assert [h.kind for h in case.clocks["solution"].holders] == ["merchant"]


def test_oh_3_after_the_provider_declined_the_merchant_holds_the_clock_and_owes_alone(
    book: PolicyBook,
) -> None:
    case = open_help(book, MORNING, assignee="installer-hz")
    declined = MORNING + timedelta(minutes=10)
    case.hand_over(book, "declined", "shop-1", declined, PROVIDER, "超出服务范围", to_merchant=True)
    case.settle(book, MORNING + timedelta(hours=2))
    assert [p.amount.value for p in case.payouts] == [5000]
    assert case.shares == []
    assert case.clocks["solution"].holders == (
        Holding("provider", "installer-hz", MORNING, declined, "started"),
        Holding("merchant", "shop-1", declined, MORNING + timedelta(hours=1), "declined"),
    )


def test_oh_3_a_clock_handed_to_a_provider_before_it_breached_is_the_providers_breach(
    book: PolicyBook,
) -> None:
    case = open_help(book, MORNING, assignee="shop-1")
    reassigned = MORNING + timedelta(minutes=20)
    case.hand_over(book, "reassigned", "installer-hz", reassigned, PROVIDER, "改派")
    case.settle(book, MORNING + timedelta(hours=2))
    [share] = case.shares
    assert share.payer == "installer-hz"
    assert [(h.kind, h.why) for h in case.clocks["solution"].holders] == [
        ("merchant", "started"),
        ("provider", "reassigned"),
    ]


def test_ss_2_a_clock_paused_for_the_buyer_is_the_buyers_period(book: PolicyBook) -> None:
    case = open_help(book, MORNING, assignee="installer-hz")
    paused, resumed = MORNING + timedelta(hours=3), MORNING + timedelta(hours=5)
    case.pause(book, "resolution", "buyer_unreachable", paused, PROVIDER)
    case.resume(book, "resolution", resumed, PROVIDER)
    holders = case.clocks["resolution"].holders
    assert [(h.kind, h.party, h.since, h.until, h.why) for h in holders] == [
        ("provider", "installer-hz", MORNING, paused, "started"),
        ("buyer", "buyer-1", paused, resumed, "buyer_unreachable"),
        ("provider", "installer-hz", resumed, None, "resumed"),
    ]


def test_a_clock_met_closes_its_last_period_where_it_stopped(book: PolicyBook) -> None:
    case = open_help(book, MORNING, assignee="installer-hz")
    solved = MORNING + timedelta(minutes=30)
    case.act(book, "give_solution", solved, PROVIDER, "明天上门")
    clock = case.clocks["solution"]
    assert clock.status is ClockStatus.MET
    assert clock.holders[-1].until == solved
    assert clock.holder_at(solved) == clock.holders[-1]


def test_the_share_is_the_policys_per_cent_of_the_penalty_rounded_down(book: PolicyBook) -> None:
    case = open_help(book, MORNING, assignee="installer-hz")
    case.settle(book, MORNING + timedelta(hours=2))
    [payout] = case.payouts
    half = provider_share(
        payout,
        percent=33,
        provider="installer-hz",
        merchant="shop-1",
        clock_name=case.shares[0].reason.params["clock"],  # type: ignore[arg-type]
        held_since=MORNING,
        at=MORNING + timedelta(hours=2),
        timezone="Asia/Shanghai",
    )
    assert half is not None and half.amount.value == 1650  # 5,000 × 33 % = 1,650
    nothing = provider_share(
        payout,
        percent=0,
        provider="installer-hz",
        merchant="shop-1",
        clock_name=case.shares[0].reason.params["clock"],  # type: ignore[arg-type]
        held_since=MORNING,
        at=MORNING,
        timezone="Asia/Shanghai",
    )
    assert nothing is None
    with pytest.raises(LedgerError, match="0 to 100"):
        provider_share(
            payout,
            percent=101,
            provider="p",
            merchant="m",
            clock_name=case.shares[0].reason.params["clock"],  # type: ignore[arg-type]
            held_since=MORNING,
            at=MORNING,
            timezone="Asia/Shanghai",
        )


def test_the_policy_loader_checks_the_share_per_cents(book: PolicyBook) -> None:
    assert ProviderShare().percent_for("OH-5") == 100
    assert ProviderShare(percent=80, by_rule={"SS-2": 50}).percent_for("SS-2") == 50
    assert ProviderShare(percent=80, by_rule={"SS-2": 50}).percent_for("OH-5") == 80
    with pytest.raises(ValueError, match="less than or equal to 100"):
        ProviderShare(percent=120)
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        ProviderShare(by_rule={"SS-2": -1})
    with pytest.raises(ValueError, match="is not a rule ID"):
        ProviderShare(by_rule={"not a rule": 50})
    policy = book.by_id("oh-2022")
    assert policy.provider_share.percent_for("SS-2") == 100


def _mail_in_held_by(book: PolicyBook, assignee: str) -> Case:
    reported = sh(2026, 9, 28, 10, 0)
    case = open_report(book, reported)
    case.assign(book, assignee, reported)
    case.act(book, "accept", reported + timedelta(hours=2), BRAND)
    case.act(book, "receive_item", reported + timedelta(days=3), BRAND)
    return case


def _upheld_feedback_complaint(book: PolicyBook, case: Case) -> None:
    received = case.clocks["feedback"].started_at
    assert received is not None
    case.settle(book, received + timedelta(days=31))
    complaint = case.file_complaint(
        book, "feedback", received + timedelta(days=31), CONSUMER, "一个月没消息"
    )
    case.decide_complaint(book, complaint.id, True, received + timedelta(days=32), OPS)


def test_nw_7_a_complaint_payout_on_a_clock_the_named_repairer_held_records_its_share(
    book: PolicyBook,
) -> None:
    case = _mail_in_held_by(book, "repairer-3p")  # the third party the brand names
    _upheld_feedback_complaint(book, case)
    [payout] = case.payouts
    assert (payout.rule, payout.payer, payout.amount.value) == ("NW-7", "shop-1", 10_000)
    assert [(s.payer, s.payee, s.amount.value, s.share_of) for s in case.shares] == [
        ("repairer-3p", "shop-1", 10_000, payout.key)
    ]


def test_nw_7_a_complaint_payout_on_a_clock_the_brand_held_records_no_share(
    book: PolicyBook,
) -> None:
    case = _mail_in_held_by(book, PHONE.brand_id)
    _upheld_feedback_complaint(book, case)
    assert [p.rule for p in case.payouts] == ["NW-7"]
    assert case.shares == []
    assert [h.kind for h in case.clocks["feedback"].holders] == ["brand"]
