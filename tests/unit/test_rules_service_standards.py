"""Service standards referenced by OH-6: SS-1 .. SS-5 penalty schedules."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aftersales.domain.errors import LedgerError
from aftersales.domain.ledger import penalty_amount
from aftersales.domain.money import Amount
from aftersales.domain.policy import PolicyBook

from .builders import (
    CEILING_LAMP,
    CONSUMER,
    FLOOR_TILES,
    PROVIDER,
    SOFA,
    WARDROBE,
    item,
    open_help,
    sh,
)

MORNING = sh(2026, 11, 24, 10, 0)


def _failure(book: PolicyBook, standard_id: str, failure_id: str):  # type: ignore[no-untyped-def]
    standards = book.service_standards
    return next(
        f for f in standards.failures_of(standards.by_id(standard_id)) if f.id == failure_id
    )


@pytest.mark.parametrize(
    ("failure", "points", "source"),
    [("not_delivered_into_home", 30_000, "public"), ("delivered_late", 5_000, "public")],
)
def test_ss_1_delivery_into_the_home_penalties(
    book: PolicyBook, failure: str, points: int, source: str
) -> None:
    penalty = _failure(book, "SS-1", failure)
    assert penalty_amount(penalty, paid_price_fen=500_000)[0] == Amount.points(points)
    assert penalty.source == source


@pytest.mark.parametrize(
    ("failure", "points"), [("installation_late", 5_000), ("installation_refused", 10_000)]
)
def test_ss_2_installation_default_penalties_are_configurable_defaults(
    book: PolicyBook, failure: str, points: int
) -> None:
    penalty = _failure(book, "SS-2", failure)
    assert penalty_amount(penalty, paid_price_fen=0)[0] == Amount.points(points)
    assert penalty.source == "default"


def test_ss_2_overcharge_is_refunded_plus_the_same_amount_again(book: PolicyBook) -> None:
    penalty = _failure(book, "SS-2", "installation_overcharged")
    amount, figures = penalty_amount(penalty, paid_price_fen=99_900, overcharge_fen=8_000)
    assert amount == Amount.fen(16_000)
    assert figures["overcharge"] == "¥80.00"
    with pytest.raises(LedgerError, match="overcharged amount"):
        penalty_amount(penalty, paid_price_fen=99_900)


def test_ss_2_overcharge_case_pays_refund_plus_same_after_48_hours(book: PolicyBook) -> None:
    case = open_help(book, MORNING, failure="installation_overcharged", overcharge_fen=12_000)
    case.act(book, "give_solution", MORNING + timedelta(minutes=5), PROVIDER, "核实收费中")
    payouts = case.settle(book, MORNING + timedelta(hours=49))
    assert [p.amount for p in payouts] == [Amount.fen(24_000)]
    assert "¥120.00" in payouts[0].reason.zh and "¥240.00" in payouts[0].reason.en


def test_ss_2_exemptions_pause_the_resolution_clock(book: PolicyBook) -> None:
    standard = book.service_standards.by_id("SS-2")
    assert set(standard.exemptions) == {
        "buyer_unreachable",
        "buyer_rescheduled",
        "buyer_cancelled",
        "address_out_of_range",
        "unsuitable_site",
    }
    case = open_help(book, MORNING)
    case.pause(book, "resolution", "buyer_unreachable", MORNING + timedelta(hours=1), PROVIDER)
    reason = case.clocks["resolution"].reason
    assert reason is not None and reason.rule == "SS-2"
    assert "买家无法联系" in reason.zh and "47 hours" in reason.en


def test_ss_3_delivery_with_installation_combines_ss_1_and_ss_2(book: PolicyBook) -> None:
    standards = book.service_standards
    ids = {f.id for f in standards.failures_of(standards.by_id("SS-3"))}
    assert ids == {
        "not_delivered_into_home",
        "delivered_late",
        "contact_late",
        "installation_late",
        "installation_refused",
        "installation_overcharged",
    }
    case = open_help(book, MORNING, order_item=item(SOFA), failure="delivered_late")
    assert case.failure == "delivered_late"


@pytest.mark.parametrize(
    ("price_fen", "points"),
    [
        (0, 0),
        (99, 14),  # ¥0.99 -> 14.85 points, rounded down
        (100_000, 15_000),  # ¥1,000
        (666_666, 99_999),  # ¥6,666.66 -> 99,999.9
        (666_667, 100_000),  # reaches the cap
        (1_000_000, 100_000),  # ¥10,000 -> 150,000, capped at 100,000
    ],
)
def test_ss_4_three_year_warranty_pays_15_points_per_yuan_capped_at_100000(
    book: PolicyBook, price_fen: int, points: int
) -> None:
    penalty = _failure(book, "SS-4", "warranty_not_provided")
    assert penalty_amount(penalty, paid_price_fen=price_fen)[0] == Amount.points(points)


def test_ss_4_wardrobe_unsolved_in_48_hours_pays_per_yuan(book: PolicyBook) -> None:
    wardrobe = item(WARDROBE, price_fen=1_299_900)  # ¥12,999 -> 194,985 points, capped
    case = open_help(book, MORNING, order_item=wardrobe, failure="warranty_not_provided")
    case.act(book, "give_solution", MORNING + timedelta(minutes=30), PROVIDER, "安排师傅上门")
    payouts = case.settle(book, MORNING + timedelta(hours=48, seconds=1))
    assert payouts[0].amount == Amount.points(100_000)
    assert "194,985" in payouts[0].reason.en and "100,000" in payouts[0].reason.zh


def test_ss_5_after_a_service_standard_payout_the_same_failure_is_not_a_complaint(
    book: PolicyBook,
) -> None:
    case = open_help(book, MORNING, order_item=item(FLOOR_TILES), failure="not_delivered_into_home")
    case.act(book, "give_solution", MORNING + timedelta(minutes=30), PROVIDER, "改约明天送货上楼")
    case.settle(book, MORNING + timedelta(hours=50))
    complaint = case.file_complaint(
        book, "resolution", MORNING + timedelta(hours=51), CONSUMER, "没有送货上楼"
    )
    assert complaint.status == "refused"
    assert complaint.reason.rule == "SS-5"
    assert "SS-1" in complaint.reason.en  # cites the standard that paid


def test_ss_penalties_of_the_lamp_follow_its_installation_standard(book: PolicyBook) -> None:
    assert (
        open_help(book, MORNING, order_item=item(CEILING_LAMP)).service_tag
        == "scheduled_installation"
    )
