"""One-click help (一键求助): OH-1 .. OH-9, one table or scenario per rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from aftersales.domain.cases import Case
from aftersales.domain.clocks import ClockStatus
from aftersales.domain.eligibility import Product, ServiceAddress, assess_one_click_help
from aftersales.domain.errors import EligibilityError, IllegalTransition
from aftersales.domain.lifecycle import Programme
from aftersales.domain.money import Amount
from aftersales.domain.policy import PolicyBook

from .builders import (
    CEILING_LAMP,
    CONSUMER,
    FLOOR_TILES,
    HANGZHOU,
    LHASA_COUNTY,
    PHONE,
    PROVIDER,
    SOFA,
    T_SHIRT,
    WARDROBE,
    item,
    open_help,
    sh,
)

MORNING = sh(2026, 11, 24, 10, 0)


@pytest.mark.parametrize(
    ("category", "tag", "eligible"),
    [
        ("lighting", "scheduled_installation", True),  # 灯具灯饰 + 预约安装
        ("electrical", "scheduled_installation", True),
        ("building-basic", "scheduled_installation", True),
        ("storage", "scheduled_installation", True),
        ("air-conditioner", "scheduled_installation", True),  # 家电 covers its descendants
        (
            "sofa",
            "scheduled_installation",
            False,
        ),  # furniture qualifies only with delivery+installation
        ("tiles", "delivery_into_home", True),  # 家装建材 + 送货入户
        ("sofa", "delivery_into_home", False),
        ("sofa", "delivery_with_installation", True),  # 家装家具 + 送货入户并安装
        ("lighting", "delivery_with_installation", False),
        ("wardrobe", "three_year_warranty", True),  # 家装 + 三年质保, any descendant
        ("home-textiles", "three_year_warranty", True),
        ("phone", "three_year_warranty", False),
        ("apparel", "scheduled_installation", False),
    ],
)
def test_oh_1_eligibility_by_service_tag_on_category_tree(
    book: PolicyBook, category: str, tag: str, eligible: bool
) -> None:
    product = Product("p", "测试商品", "b", category, service_tags=frozenset({tag}))
    decision = assess_one_click_help(book, item(product), MORNING)
    assert decision.eligible is eligible
    assert decision.reasons[0].rule == "OH-1"
    if eligible:
        assert decision.service_tag == tag
        assert decision.service_standard is not None


def test_oh_1_item_without_any_qualifying_service_is_refused_with_reason(book: PolicyBook) -> None:
    decision = assess_one_click_help(book, item(T_SHIRT), MORNING)
    assert not decision.eligible
    assert decision.reasons[0].code == "oh.no_qualifying_service"
    assert "OH-1" in decision.reasons[0].zh and "OH-1" in decision.reasons[0].en


def test_oh_1_asking_for_a_service_the_item_lacks_names_it(book: PolicyBook) -> None:
    decision = assess_one_click_help(
        book, item(CEILING_LAMP), MORNING, service_tag="three_year_warranty"
    )
    assert not decision.eligible
    assert decision.reasons[0].code == "oh.service_not_on_item"
    assert "三年质保" in decision.reasons[0].zh


@pytest.mark.parametrize(
    ("address", "eligible", "code"),
    [
        (HANGZHOU, True, "oh.city_covered"),
        (
            ServiceAddress("北京市朝阳区建国路 1 号", "北京市", "北京市", "朝阳区"),
            True,
            "oh.city_covered",
        ),
        (ServiceAddress("浙江杭州西湖区", "浙江省", "杭州", "西湖区"), True, "oh.city_covered"),
        (LHASA_COUNTY, False, "oh.city_not_covered"),
        (ServiceAddress("某地某处", None, None, None), False, "oh.address_unresolved"),
        (None, False, "oh.address_unresolved"),
    ],
)
def test_oh_2_coverage_by_resolved_city(
    book: PolicyBook, address: ServiceAddress | None, eligible: bool, code: str
) -> None:
    decision = assess_one_click_help(book, item(CEILING_LAMP, address=address), MORNING)
    assert decision.eligible is eligible
    assert decision.reasons[1].code == code
    assert decision.reasons[1].rule == "OH-2"


def test_oh_2_covered_city_list_has_over_a_hundred_cities(book: PolicyBook) -> None:
    version = book.city_lists["oh-cities"].in_force(MORNING)
    assert version is not None
    assert len(set(version.cities)) > 100


def test_oh_3_request_is_dispatched_at_the_moment_it_is_initiated(book: PolicyBook) -> None:
    case = open_help(book, MORNING)
    assert case.state == "dispatched"
    assert case.assignee == "installer-hz"
    dispatch = [d for d in case.decisions if d.subject == "dispatch"]
    assert dispatch[0].at == MORNING
    assert dispatch[0].reason.rule == "OH-3"
    assert "shop-1" in dispatch[0].reason.en  # the merchant stays liable
    kinds = [e.kind for e in case.pull_events()]
    assert kinds.index("case.opened") < kinds.index("case.dispatched")


def test_oh_3_merchant_stays_liable_so_the_merchant_pays_even_when_a_provider_handles_it(
    book: PolicyBook,
) -> None:
    case = open_help(book, MORNING, assignee="installer-hz")
    payouts = case.settle(book, MORNING + timedelta(hours=1, seconds=1))
    assert payouts[0].payer == "shop-1"


def test_oh_3_without_a_registered_provider_the_merchant_gets_the_request(book: PolicyBook) -> None:
    order_item = item(CEILING_LAMP)
    decision = assess_one_click_help(book, order_item, MORNING)
    case = Case.open(
        case_id="c-m",
        book=book,
        eligibility=decision,
        item=order_item,
        at=MORNING,
        actor=CONSUMER,
        failure="installation_late",
    )
    case.dispatch(book, "shop-1", MORNING, to_merchant=True)
    assert case.decisions[-1].reason.code == "oh.dispatched_to_merchant"


@pytest.mark.parametrize(
    ("hour", "minute", "second", "applies"),
    [
        (8, 59, 59, False),
        (9, 0, 0, True),  # start inclusive
        (12, 30, 0, True),
        (17, 59, 59, True),
        (18, 0, 0, False),  # end exclusive
        (18, 30, 0, False),
        (0, 0, 0, False),
        (23, 59, 59, False),
    ],
)
def test_oh_4_one_hour_commitment_only_for_requests_initiated_09_to_18(
    book: PolicyBook, hour: int, minute: int, second: int, applies: bool
) -> None:
    at = sh(2026, 11, 24, hour, minute, second)
    clock = open_help(book, at).clocks["solution"]
    if applies:
        assert clock.status is ClockStatus.RUNNING
        assert clock.due_at == at + timedelta(hours=1)
    else:
        assert clock.status is ClockStatus.NOT_APPLICABLE
        assert clock.due_at is None
        assert clock.reason is not None and clock.reason.rule == "OH-4"


def test_oh_4_window_holds_on_weekends_and_holidays_too(book: PolicyBook) -> None:
    for day in (sh(2026, 11, 28, 10), sh(2026, 10, 1, 10)):  # a Saturday; National Day
        assert open_help(book, day).clocks["solution"].status is ClockStatus.RUNNING


def test_oh_4_request_at_18_00_explains_why_there_is_no_one_hour_commitment(
    book: PolicyBook,
) -> None:
    clock = open_help(book, sh(2026, 11, 24, 18, 0)).clocks["solution"]
    assert clock.reason is not None
    assert "09:00–18:00" in clock.reason.zh and "OH-4" in clock.reason.zh
    assert "18:00:00" in clock.reason.en and "does not apply" in clock.reason.en


def test_oh_4_solution_at_exactly_one_hour_meets_the_commitment(book: PolicyBook) -> None:
    case = open_help(book, MORNING)
    case.act(book, "give_solution", MORNING + timedelta(hours=1), PROVIDER, "明天 9 点上门安装")
    assert case.clocks["solution"].status is ClockStatus.MET
    assert case.payouts == []


def test_oh_5_missing_the_one_hour_solution_pays_5000_points_automatically(
    book: PolicyBook,
) -> None:
    case = open_help(book, MORNING)
    assert case.settle(book, MORNING + timedelta(hours=1)) == []  # not yet past due
    payouts = case.settle(book, MORNING + timedelta(hours=1, microseconds=1))
    assert [p.amount for p in payouts] == [Amount.points(5000)]
    payout = payouts[0]
    assert (payout.payee, payout.payer, payout.rule) == ("buyer-1", "shop-1", "OH-5")
    assert "5,000 积分（¥50.00）" in payout.reason.zh
    assert "5,000 points (¥50.00)" in payout.reason.en


def test_oh_5_late_solution_still_pays_once(book: PolicyBook) -> None:
    case = open_help(book, MORNING)
    case.act(book, "give_solution", MORNING + timedelta(hours=2), PROVIDER, "下午上门")
    assert case.clocks["solution"].status is ClockStatus.BREACHED
    assert [p.amount.value for p in case.payouts] == [5000]
    case.settle(book, MORNING + timedelta(hours=3))
    assert len(case.payouts) == 1


def test_oh_5_no_payout_for_a_request_outside_the_window(book: PolicyBook) -> None:
    case = open_help(book, sh(2026, 11, 24, 18, 30))
    assert case.settle(book, sh(2026, 11, 24, 21, 0)) == []


@pytest.mark.parametrize(
    ("product", "failure", "points"),
    [
        (CEILING_LAMP, "installation_late", 5000),  # SS-2 (default figure)
        (CEILING_LAMP, "installation_refused", 10000),
        (FLOOR_TILES, "not_delivered_into_home", 30000),  # SS-1
        (FLOOR_TILES, "delivered_late", 5000),
        (SOFA, "not_delivered_into_home", 30000),  # SS-3 = SS-1 + SS-2
        (SOFA, "installation_late", 5000),
    ],
)
def test_oh_6_unresolved_after_48_hours_pays_the_service_standard_penalty(
    book: PolicyBook, product: Product, failure: str, points: int
) -> None:
    case = open_help(book, MORNING, order_item=item(product), failure=failure)
    case.act(book, "give_solution", MORNING + timedelta(minutes=30), PROVIDER, "预约周四上门")
    assert case.settle(book, MORNING + timedelta(hours=48)) == []
    payouts = case.settle(book, MORNING + timedelta(hours=48, seconds=1))
    assert [(p.clock_id, p.failure, p.amount.value) for p in payouts] == [
        ("resolution", failure, points)
    ]


def test_oh_6_resolution_at_exactly_48_hours_is_on_time(book: PolicyBook) -> None:
    case = open_help(book, MORNING)
    case.act(book, "give_solution", MORNING + timedelta(minutes=10), PROVIDER, "今天下午上门")
    case.act(book, "resolve", MORNING + timedelta(hours=48), PROVIDER, "已安装完毕，买家确认")
    assert case.clocks["resolution"].status is ClockStatus.MET
    assert case.payouts == []


def test_oh_6_a_request_must_name_a_failure_of_its_service_standard(book: PolicyBook) -> None:
    with pytest.raises(EligibilityError, match="installation_late"):
        open_help(book, MORNING, failure="not_delivered_into_home")  # the lamp's standard is SS-2
    order_item = item(CEILING_LAMP)
    decision = assess_one_click_help(book, order_item, MORNING)
    with pytest.raises(EligibilityError, match="must say what went wrong"):
        Case.open(
            case_id="x",
            book=book,
            eligibility=decision,
            item=order_item,
            at=MORNING,
            actor=CONSUMER,
        )


def test_oh_6_pause_for_an_exemption_moves_the_48_hour_deadline_by_the_paused_time(
    book: PolicyBook,
) -> None:
    case = open_help(book, MORNING)
    case.pause(book, "resolution", "buyer_rescheduled", MORNING + timedelta(hours=10), PROVIDER)
    assert case.clocks["resolution"].status is ClockStatus.PAUSED
    assert case.settle(book, MORNING + timedelta(hours=60)) == [
        p for p in case.payouts if p.clock_id == "resolution"
    ]
    case.resume(book, "resolution", MORNING + timedelta(hours=34), PROVIDER)
    assert case.clocks["resolution"].due_at == MORNING + timedelta(hours=48 + 24)


def test_oh_7_complaint_about_a_paid_failure_is_refused_with_the_reason(book: PolicyBook) -> None:
    case = open_help(book, MORNING)
    case.settle(book, MORNING + timedelta(hours=2))
    complaint = case.file_complaint(
        book, "solution", MORNING + timedelta(hours=3), CONSUMER, "一直没人理"
    )
    assert complaint.status == "refused"
    assert complaint.reason.rule == "OH-7"
    assert "不再受理" in complaint.reason.zh and "no longer" not in complaint.reason.en
    assert "is not accepted" in complaint.reason.en


def test_oh_7_service_must_still_be_performed_after_the_payout(book: PolicyBook) -> None:
    case = open_help(book, MORNING)
    case.settle(book, MORNING + timedelta(hours=2))
    case.file_complaint(book, "solution", MORNING + timedelta(hours=3), CONSUMER)
    case.act(book, "give_solution", MORNING + timedelta(hours=4), PROVIDER, "今晚上门")
    case.act(book, "resolve", MORNING + timedelta(hours=20), PROVIDER, "已安装")
    assert case.state == "resolved"
    assert len(case.payouts) == 1


def test_oh_7_complaint_before_any_payout_is_not_gated(book: PolicyBook) -> None:
    case = open_help(book, MORNING)
    complaint = case.file_complaint(book, "solution", MORNING + timedelta(minutes=20), CONSUMER)
    assert complaint.status == "refused"
    assert complaint.reason.code == "complaint.refused_not_due"


@pytest.mark.parametrize(
    ("at", "policy_id", "clock_ids"),
    [
        (sh(2022, 1, 9, 23, 59, 59), "oh-2020", {"response", "solution"}),
        # An installation item also carries SS-2's contact and agreed-day clocks.
        (
            sh(2022, 1, 10, 0, 0, 0),
            "oh-2022",
            {"solution", "resolution", "contact", "installation"},
        ),
        (
            sh(2026, 11, 24, 10, 0, 0),
            "oh-2022",
            {"solution", "resolution", "contact", "installation"},
        ),
    ],
)
def test_oh_8_case_is_judged_under_the_version_in_force_when_initiated(
    book: PolicyBook, at: object, policy_id: str, clock_ids: set[str]
) -> None:
    case = open_help(book, at, order_item=item(CEILING_LAMP, purchased_on=date(2021, 6, 1)))  # type: ignore[arg-type]
    assert case.policy_id == policy_id
    assert set(case.clocks) == clock_ids


def test_oh_8_earlier_version_responds_in_1_hour_and_solves_in_24(book: PolicyBook) -> None:
    start = sh(2021, 12, 1, 10)
    case = open_help(book, start, order_item=item(CEILING_LAMP, purchased_on=date(2021, 6, 1)))
    assert case.clocks["response"].due_at == start + timedelta(hours=1)
    assert case.clocks["solution"].due_at == start + timedelta(hours=24)
    case.act(book, "respond", start + timedelta(minutes=20), PROVIDER)
    assert case.clocks["response"].status is ClockStatus.MET


def test_oh_8_policy_version_change_does_not_touch_open_cases(book: PolicyBook) -> None:
    start = sh(2022, 1, 9, 17, 0)
    case = open_help(book, start, order_item=item(CEILING_LAMP, purchased_on=date(2021, 6, 1)))
    case.settle(book, sh(2022, 1, 10, 18, 0))  # judged after the new version took effect
    assert case.policy_id == "oh-2020"
    assert {p.clock_id for p in case.payouts} == {"response", "solution"}


def test_oh_9_request_stays_open_until_resolved_with_a_note_the_buyer_sees(
    book: PolicyBook,
) -> None:
    case = open_help(book, MORNING)
    assert case.is_open and case.lifecycle.states[case.state][0].startswith("求助中")
    with pytest.raises(IllegalTransition, match="note is required"):
        case.act(book, "resolve", MORNING + timedelta(hours=1), PROVIDER)
    case.act(book, "resolve", MORNING + timedelta(minutes=50), PROVIDER, "已上门安装，灯具工作正常")
    assert case.state == "resolved" and not case.is_open
    assert case.lifecycle.states["resolved"][0] == "完结"
    assert case.audit[-1].note == "已上门安装，灯具工作正常"
    with pytest.raises(IllegalTransition, match="allowed only from"):
        case.act(book, "give_solution", MORNING + timedelta(hours=2), PROVIDER, "再来一次")


def test_oh_9_resolving_stops_every_running_clock(book: PolicyBook) -> None:
    case = open_help(book, MORNING)
    case.act(book, "resolve", MORNING + timedelta(minutes=40), PROVIDER, "电话指导后已解决")
    started = [c for c in case.clocks.values() if c.status is not ClockStatus.PENDING]
    assert {c.status for c in started} == {ClockStatus.MET}
    assert case.next_due() is None


def test_oh_national_warranty_only_products_are_not_one_click_help(book: PolicyBook) -> None:
    assert not assess_one_click_help(book, item(replace(PHONE)), MORNING).eligible
    assert (
        assess_one_click_help(book, item(WARDROBE), MORNING).programme is Programme.ONE_CLICK_HELP
    )
