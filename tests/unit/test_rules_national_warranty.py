"""National joint warranty (全国联保): NW-1 .. NW-8, one table or scenario per rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from aftersales.domain.brands import BrandAfterSales, ServiceCentre
from aftersales.domain.cases import Actor, Case
from aftersales.domain.clocks import ClockStatus
from aftersales.domain.eligibility import add_months, assess_national_warranty, warranty_last_day
from aftersales.domain.errors import EligibilityError, IllegalTransition
from aftersales.domain.explain import Bilingual
from aftersales.domain.lifecycle import Channel, Role
from aftersales.domain.money import Amount
from aftersales.domain.policy import PolicyBook

from .builders import (
    AGENT,
    AIR_CONDITIONER,
    BRAND,
    CONSUMER,
    OPS,
    PHONE,
    T_SHIRT,
    item,
    open_report,
    sh,
)

REPORTED = sh(2026, 11, 24, 10, 0)


@pytest.mark.parametrize(
    ("purchased_on", "months", "reported_on", "in_warranty"),
    [
        (date(2026, 3, 1), 12, date(2027, 2, 28), True),  # last covered day
        (date(2026, 3, 1), 12, date(2027, 3, 1), False),  # first day out
        (date(2024, 2, 29), 12, date(2025, 2, 28), True),  # leap day: Feb 28 still covered
        (date(2024, 2, 29), 12, date(2025, 3, 1), False),
        (date(2024, 2, 29), 48, date(2028, 2, 28), True),
        (date(2026, 1, 31), 1, date(2026, 2, 28), True),  # month-end rolls over, no day lost
        (date(2026, 1, 31), 1, date(2026, 3, 1), False),
        (date(2025, 12, 31), 12, date(2026, 12, 30), True),  # year end
        (date(2025, 12, 31), 12, date(2026, 12, 31), False),
    ],
)
def test_nw_1_warranty_period_counts_calendar_months_from_purchase(
    book: PolicyBook, purchased_on: date, months: int, reported_on: date, in_warranty: bool
) -> None:
    product = replace(PHONE, warranty_months=months)
    at = datetime(reported_on.year, reported_on.month, reported_on.day, 12, tzinfo=REPORTED.tzinfo)
    decision = assess_national_warranty(book, item(product, purchased_on=purchased_on), at)
    assert decision.eligible
    assert decision.in_warranty is in_warranty
    assert ("out_of_warranty" in decision.flags) is (not in_warranty)
    assert decision.reasons[0].rule == "NW-1"


def test_nw_1_warranty_day_is_judged_in_local_time(book: PolicyBook) -> None:
    # 2027-02-28 23:30 in Shanghai is 15:30 UTC the same day, 2027-03-01 00:30 is still Feb 28 in UTC.
    order_item = item(PHONE, purchased_on=date(2026, 3, 1))
    assert assess_national_warranty(book, order_item, sh(2027, 2, 28, 23, 30)).in_warranty is True
    assert assess_national_warranty(book, order_item, sh(2027, 3, 1, 0, 30)).in_warranty is False


def test_nw_1_only_badged_products_may_use_the_national_warranty(book: PolicyBook) -> None:
    decision = assess_national_warranty(book, item(T_SHIRT), REPORTED)
    assert not decision.eligible
    assert decision.reasons[0].code == "nw.not_badged"
    with pytest.raises(EligibilityError, match="not eligible"):
        Case.open(
            case_id="x",
            book=book,
            eligibility=decision,
            item=item(T_SHIRT),
            at=REPORTED,
            actor=CONSUMER,
        )


def test_nw_1_badged_product_without_a_warranty_period_cannot_be_judged(book: PolicyBook) -> None:
    decision = assess_national_warranty(book, item(replace(PHONE, warranty_months=None)), REPORTED)
    assert not decision.eligible and decision.reasons[0].code == "nw.no_warranty_period"


def test_nw_1_add_months_never_loses_the_last_day_of_a_short_month() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 3, 1)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 3, 1)
    assert add_months(date(2024, 2, 29), 48) == date(2028, 2, 29)
    assert warranty_last_day(date(2026, 3, 15), 24) == date(2028, 3, 14)


@pytest.mark.parametrize(
    ("actor", "channel"),
    [
        (AGENT, Channel.HOTLINE),  # (a) hotline agent files for the caller
        (
            Actor(Role.CONSUMER, "buyer-1", Channel.SERVICE_FORM),
            Channel.SERVICE_FORM,
        ),  # (b) service form
        (
            Actor(Role.CONSUMER, "buyer-1", Channel.CHAT),
            Channel.CHAT,
        ),  # (c) chat turned into a report
    ],
)
def test_nw_2_each_report_records_its_channel_and_who_filed_it(
    book: PolicyBook, actor: Actor, channel: Channel
) -> None:
    case = open_report(book, REPORTED, actor=actor)
    assert case.channel is channel
    assert case.opened_by == actor.id
    assert (case.audit[0].role, case.audit[0].channel) == (actor.role, channel)


def test_nw_3_brand_after_sales_info_lists_service_centres_by_city() -> None:
    info = BrandAfterSales(
        brand_id="brand-phone",
        name="X1 手机",
        hotline="400-800-1234",
        warranty_terms=Bilingual("整机保修一年", "One-year warranty on the whole device"),
        exclusions=(Bilingual("人为损坏不在保修范围内", "Damage by misuse is not covered"),),
        centres=(
            ServiceCentre("杭州西湖服务中心", "杭州市", "文三路 1 号", "0571-8888"),
            ServiceCentre("上海徐汇服务中心", "上海市", "漕溪北路 2 号", "021-6666"),
        ),
    )
    assert [c.name for c in info.centres_in("杭州")] == ["杭州西湖服务中心"]
    assert info.centres_in("北京市") == ()
    assert info.cities == ("杭州市", "上海市")


@pytest.mark.parametrize(
    ("action", "state"),
    [("accept", "accepted"), ("reject", "rejected"), ("request_info", "info_requested")],
)
def test_nw_4_any_response_within_24_hours_meets_the_commitment(
    book: PolicyBook, action: str, state: str
) -> None:
    case = open_report(book, REPORTED)
    assert case.clocks["response"].due_at == REPORTED + timedelta(hours=24)
    case.act(book, action, REPORTED + timedelta(hours=24), BRAND, "已受理，请寄回检测")
    assert case.state == state
    assert case.clocks["response"].status is ClockStatus.MET


def test_nw_4_no_response_in_24_hours_breaches_without_automatic_payout(book: PolicyBook) -> None:
    case = open_report(book, REPORTED)
    assert case.settle(book, REPORTED + timedelta(hours=24, seconds=1)) == []
    assert case.clocks["response"].status is ClockStatus.BREACHED
    assert case.decisions[-1].reason.code == "penalty.none_defined"


def test_nw_4_24_hours_are_wall_clock_even_over_a_holiday(book: PolicyBook) -> None:
    case = open_report(book, sh(2026, 9, 30, 20, 0))
    assert case.clocks["response"].due_at == sh(2026, 10, 1, 20, 0)


def _mail_in(book: PolicyBook, received: datetime) -> Case:
    case = open_report(book, received - timedelta(days=3))
    case.act(book, "accept", received - timedelta(days=3, hours=-2), BRAND)
    case.act(book, "receive_item", received, BRAND)
    return case


def test_nw_5_feedback_clock_starts_when_the_accepted_item_is_received(book: PolicyBook) -> None:
    received = sh(2026, 11, 24, 15, 0)
    case = _mail_in(book, received)
    assert case.clocks["feedback"].started_at == received
    assert case.clocks["feedback"].due_at == received + timedelta(days=30)


def test_nw_5_thirty_days_across_national_day_are_calendar_days(book: PolicyBook) -> None:
    received = sh(2026, 9, 20, 10, 0)
    case = _mail_in(book, received)
    assert case.clocks["feedback"].due_at == sh(2026, 10, 20, 10, 0)


def test_nw_5_feedback_on_the_last_instant_is_on_time_one_second_later_is_not(
    book: PolicyBook,
) -> None:
    received = sh(2026, 12, 15, 9, 0)  # across the year end
    on_time = _mail_in(book, received)
    on_time.act(book, "give_feedback", received + timedelta(days=30), BRAND, "检测完成，更换主板中")
    assert on_time.clocks["feedback"].status is ClockStatus.MET
    late = _mail_in(book, received)
    late.act(book, "give_feedback", received + timedelta(days=30, seconds=1), BRAND, "检测完成")
    assert late.clocks["feedback"].status is ClockStatus.BREACHED


def test_nw_5_receiving_the_item_before_accepting_the_report_is_refused(book: PolicyBook) -> None:
    case = open_report(book, REPORTED)
    with pytest.raises(IllegalTransition, match="allowed only from: accepted"):
        case.act(book, "receive_item", REPORTED + timedelta(hours=1), BRAND)


def test_nw_6_in_warranty_brand_pays_shipping(book: PolicyBook) -> None:
    decision = assess_national_warranty(book, item(PHONE, purchased_on=date(2026, 3, 1)), REPORTED)
    assert decision.shipping is not None
    assert (decision.shipping.shipping_payer, decision.shipping.repair_fee_payer) == (
        "brand",
        "brand",
    )
    assert decision.reasons[1].rule == "NW-6" and "brand" in decision.reasons[1].en


def test_nw_6_out_of_warranty_consumer_pays_and_must_accept_a_quote_first(book: PolicyBook) -> None:
    old_phone = item(PHONE, purchased_on=date(2024, 1, 5))
    decision = assess_national_warranty(book, old_phone, REPORTED)
    assert decision.shipping is not None and decision.shipping.quote_required
    assert (decision.shipping.shipping_payer, decision.shipping.repair_fee_payer) == (
        "consumer",
        "consumer",
    )
    case = open_report(book, REPORTED, order_item=old_phone)
    case.act(book, "accept", REPORTED + timedelta(hours=1), BRAND)
    with pytest.raises(IllegalTransition, match="quote"):
        case.act(book, "mark_repaired", REPORTED + timedelta(days=2), BRAND, "已更换屏幕")
    case.issue_quote(book, 35_000, REPORTED + timedelta(hours=2), BRAND)
    case.answer_quote(book, True, REPORTED + timedelta(hours=3), CONSUMER)
    case.act(book, "mark_repaired", REPORTED + timedelta(days=2), BRAND, "已更换屏幕")
    assert case.state == "repaired"
    quote_reasons = [d.reason for d in case.decisions if d.subject == "quote"]
    assert "¥350.00" in quote_reasons[0].zh and quote_reasons[1].code == "nw.quote_accepted"


def test_nw_6_quotes_are_only_for_out_of_warranty_repairs(book: PolicyBook) -> None:
    case = open_report(book, REPORTED)
    case.act(book, "accept", REPORTED + timedelta(hours=1), BRAND)
    with pytest.raises(IllegalTransition, match="out-of-warranty"):
        case.issue_quote(book, 10_000, REPORTED + timedelta(hours=2), BRAND)


def test_nw_7_upheld_complaint_about_missing_feedback_pays_10000_points_once(
    book: PolicyBook,
) -> None:
    received = sh(2026, 10, 1, 10, 0)
    case = _mail_in(book, received)
    assert case.settle(book, received + timedelta(days=31)) == []  # no automatic payout
    complaint = case.file_complaint(
        book, "feedback", received + timedelta(days=31), CONSUMER, "一个月没消息"
    )
    assert complaint.status == "pending" and complaint.reason.rule == "NW-7"
    decided = case.decide_complaint(book, complaint.id, True, received + timedelta(days=32), OPS)
    assert decided.status == "upheld"
    assert [(p.amount, p.rule, p.payee, p.payer) for p in case.payouts] == [
        (Amount.points(10_000), "NW-7", "buyer-1", "shop-1")
    ]
    second = case.file_complaint(book, "feedback", received + timedelta(days=33), CONSUMER)
    assert second.status == "pending"
    case.decide_complaint(book, second.id, True, received + timedelta(days=34), OPS)
    assert len(case.payouts) == 1  # the same failure is paid once


def test_nw_7_report_never_accepted_gets_no_payout_and_goes_to_the_merchant(
    book: PolicyBook,
) -> None:
    case = open_report(book, REPORTED)
    case.settle(book, REPORTED + timedelta(days=40))
    complaint = case.file_complaint(book, "response", REPORTED + timedelta(days=40), CONSUMER)
    assert complaint.status == "routed"
    assert (
        complaint.reason.code == "complaint.routed_not_accepted" and complaint.reason.rule == "NW-7"
    )
    assert case.payouts == []


def test_nw_7_feedback_given_in_time_leaves_nothing_to_complain_about(book: PolicyBook) -> None:
    received = sh(2026, 11, 2, 10, 0)
    case = _mail_in(book, received)
    case.act(book, "give_feedback", received + timedelta(days=10), BRAND, "维修中")
    complaint = case.file_complaint(book, "feedback", received + timedelta(days=31), CONSUMER)
    assert complaint.status == "refused" and complaint.reason.code == "complaint.refused_met"


def test_nw_7_dismissing_needs_a_reason_and_pays_nothing(book: PolicyBook) -> None:
    received = sh(2026, 10, 1, 10, 0)
    case = _mail_in(book, received)
    complaint = case.file_complaint(book, "feedback", received + timedelta(days=31), CONSUMER)
    with pytest.raises(IllegalTransition, match="say why"):
        case.decide_complaint(book, complaint.id, False, received + timedelta(days=32), OPS)
    case.decide_complaint(
        book, complaint.id, False, received + timedelta(days=32), OPS, "已线下反馈并有记录"
    )
    assert complaint.status == "dismissed" and case.payouts == []


def test_nw_7_only_operations_decide_complaints(book: PolicyBook) -> None:
    received = sh(2026, 10, 1, 10, 0)
    case = _mail_in(book, received)
    complaint = case.file_complaint(book, "feedback", received + timedelta(days=31), CONSUMER)
    with pytest.raises(IllegalTransition, match="only operations"):
        case.decide_complaint(book, complaint.id, True, received + timedelta(days=32), BRAND)


def test_nw_8_brand_declines_an_uncovered_fault_with_a_reason_the_consumer_sees(
    book: PolicyBook,
) -> None:
    case = open_report(book, REPORTED, order_item=item(AIR_CONDITIONER))
    with pytest.raises(IllegalTransition, match="note is required"):
        case.act(book, "reject", REPORTED + timedelta(hours=2), BRAND)
    case.act(
        book, "reject", REPORTED + timedelta(hours=2), BRAND, "外机进水属人为损坏，不在保修范围"
    )
    assert case.state == "rejected"
    assert case.audit[-1].note == "外机进水属人为损坏，不在保修范围"
    assert case.clocks["response"].status is ClockStatus.MET


def test_nw_8_statutory_rights_are_named_when_the_warranty_does_not_apply(book: PolicyBook) -> None:
    reason = assess_national_warranty(book, item(T_SHIRT), REPORTED).reasons[0]
    assert "法定权利" in reason.zh and "statutory rights" in reason.en


def test_nw_only_the_brand_side_may_accept_a_report(book: PolicyBook) -> None:
    case = open_report(book, REPORTED)
    with pytest.raises(IllegalTransition, match="consumer may not"):
        case.act(book, "accept", REPORTED + timedelta(hours=1), CONSUMER)
