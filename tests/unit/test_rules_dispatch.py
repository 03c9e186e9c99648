"""OH-3 dispatch as a decision (domain/dispatch.py): hard constraints, score, tie-break, reasons."""

from __future__ import annotations

from datetime import date

import pytest

from aftersales.domain.dispatch import Candidate, Capacity, Closure, DispatchPolicy, decide
from aftersales.domain.errors import PolicyError
from aftersales.domain.policy import PolicyBook, parse_document

SI = "scheduled_installation"
WARRANTY = "three_year_warranty"
DAY = date(2026, 11, 24)


@pytest.fixture
def policy(book: PolicyBook) -> DispatchPolicy:
    return book.dispatch


def near(provider: str, **facts: object) -> Candidate:
    """A provider registered on the item's own category for the address's district."""
    given: dict[str, object] = {"category_depth": 0, "area_level": "district", "fulfil": "on_site"}
    given.update(facts)
    return Candidate(provider_id=provider, **given)  # type: ignore[arg-type]


def test_oh_3_picks_the_qualified_provider_with_the_best_score_and_explains_the_runner_up(
    policy: DispatchPolicy,
) -> None:
    busy = near("a-busy", capacities=(Capacity(10, 8),))
    idle = near("b-idle", capacities=(Capacity(10, 1),))
    decision = decide(policy, [busy, idle], service_tag=SI, day=DAY)
    assert decision.provider_id == "b-idle"
    assert decision.runner_up is not None and decision.runner_up.provider_id == "a-busy"
    assert decision.chosen is not None and decision.chosen.score > decision.runner_up.score
    chosen, runner_up = decision.reasons[:2]
    assert (chosen.code, chosen.rule) == ("dispatch.chosen", "OH-3")
    assert "b-idle" in chosen.en and "b-idle" in chosen.zh and "(OH-3)" in chosen.en
    assert runner_up.code == "dispatch.runner_up"
    # The runner-up is named with the goal it lost on: the day's capacity left (20% vs 90%).
    assert "a-busy" in runner_up.en and "capacity left today (20% against 90%)" in runner_up.en
    assert "当日余量（20%，对方 90%）" in runner_up.zh and "OH-3" in runner_up.zh


def test_oh_3_the_nearest_category_and_the_most_specific_area_score_higher(
    policy: DispatchPolicy,
) -> None:
    ancestor = near("a-ancestor", category_depth=1)
    city = near("b-city", area_level="city")
    own = near("c-own")
    assert decide(policy, [ancestor, city, own], service_tag=SI, day=DAY).provider_id == "c-own"
    assert decide(policy, [ancestor, city], service_tag=SI, day=DAY).provider_id == "b-city"


def test_oh_3_an_on_time_record_counts_and_no_record_scores_the_policy_default(
    policy: DispatchPolicy,
) -> None:
    late = near("a-late", met=5, breached=5)
    unknown = near("b-new")
    decision = decide(policy, [late, unknown], service_tag=SI, day=DAY)
    assert decision.provider_id == "b-new"
    assert decision.chosen is not None
    assert decision.chosen.parts["on_time"] == policy.unknown_on_time
    assert "on-time record (50% against 90%)" in decision.reasons[1].en


def test_oh_3_equal_scores_go_by_fulfilment_world_then_lowest_id_whatever_the_order(
    policy: DispatchPolicy,
) -> None:
    rows = [near("zz"), near("mm"), near("aa", own_world=False)]
    for order in (rows, rows[::-1]):
        decision = decide(policy, order, service_tag=SI, day=DAY)
        assert decision.provider_id == "mm"
        assert decision.runner_up is not None and decision.runner_up.provider_id == "zz"
        assert "equal score" in decision.reasons[1].en


def test_oh_3_the_shops_preferred_provider_wins_among_equally_near_ones_and_says_so(
    policy: DispatchPolicy,
) -> None:
    decision = decide(
        policy, [near("a-other"), near("b-liked")], service_tag=SI, day=DAY, preferred={"b-liked"}
    )
    assert decision.provider_id == "b-liked"
    assert decision.chosen is not None and decision.chosen.parts["preferred"] == 1.0
    runner_up = decision.reasons[1]
    assert "a-other" in runner_up.en
    assert "the shop's preferred provider (0% against 100%)" in runner_up.en
    assert "商家首选（0%，对方 100%）" in runner_up.zh


def test_oh_3_a_preference_is_weighed_never_required_and_absent_when_the_shop_names_none(
    policy: DispatchPolicy,
) -> None:
    # Preferred but registered only for the whole province: the district's own provider
    # still wins on area precision, which weighs more.
    far = near("a-liked", area_level="province")
    decision = decide(policy, [far, near("b-near")], service_tag=SI, day=DAY, preferred={"a-liked"})
    assert decision.provider_id == "b-near"
    # A shop that names nobody: no such part in anyone's score or explanation.
    plain = decide(policy, [near("a"), near("b")], service_tag=SI, day=DAY)
    assert plain.chosen is not None and "preferred" not in plain.chosen.parts
    assert all("preferred" not in r.en for r in plain.reasons)


def test_oh_3_the_nearer_base_wins_among_equal_providers_and_the_reasons_give_the_km(
    policy: DispatchPolicy,
) -> None:
    close = near("b-close", base_area="330106", distance_km=0.0)
    away = near("a-away", base_area="330100", distance_km=30.0)
    decision = decide(policy, [away, close], service_tag=SI, day=DAY)
    assert decision.provider_id == "b-close"
    assert decision.chosen is not None and decision.chosen.parts["distance"] == 1.0
    # 30 km of the policy's 50: 40% left.
    assert decision.runner_up is not None
    assert decision.runner_up.parts["distance"] == pytest.approx(0.4)
    chosen, runner_up = decision.reasons[:2]
    assert "distance about 0 km 100%" in chosen.en and "距离约 0 公里 100%" in chosen.zh
    assert "a-away" in runner_up.en and "distance (40% against 100%)" in runner_up.en
    assert "距离（40%，对方 100%）" in runner_up.zh


def test_oh_3_distance_is_weighed_only_where_a_base_is_known_and_unknown_scores_the_default(
    policy: DispatchPolicy,
) -> None:
    # Beyond the reference distance scores nothing: below a provider whose base is unknown.
    far = near("a-far", base_area="110105", distance_km=1125.0)
    unknown = near("b-unknown")
    decision = decide(policy, [far, unknown], service_tag=SI, day=DAY)
    assert decision.provider_id == "b-unknown"
    assert decision.chosen is not None
    assert decision.chosen.parts["distance"] == policy.unknown_distance
    assert "distance unknown 50%" in decision.reasons[0].en
    # Nobody names a base: no such part in anyone's score or explanation.
    plain = decide(policy, [near("a"), near("b")], service_tag=SI, day=DAY)
    assert plain.chosen is not None and "distance" not in plain.chosen.parts
    assert all("distance" not in r.en for r in plain.reasons)


def test_oh_3_distance_never_outweighs_covering_the_district_itself(
    policy: DispatchPolicy,
) -> None:
    # Registered for the whole city but based in the address's own district, against a
    # provider registered for the district itself whose base is 40 km off.
    city_wide = near("a-city", area_level="city", distance_km=0.0)
    district = near("b-district", distance_km=40.0)
    assert decide(policy, [city_wide, district], service_tag=SI, day=DAY).provider_id == (
        "b-district"
    )


def test_oh_3_a_provider_at_capacity_is_skipped_and_the_explanation_says_so(
    policy: DispatchPolicy,
) -> None:
    full = near("a-full", capacities=(Capacity(3, 3),))
    spare = near("b-spare", category_depth=1, capacities=(Capacity(3, 0),))
    decision = decide(policy, [full, spare], service_tag=SI, day=DAY)
    assert decision.provider_id == "b-spare"
    (skipped,) = decision.skipped
    assert (skipped.provider_id, skipped.constraint) == ("a-full", "capacity")
    assert "a-full" in skipped.reason.en and "daily capacity of 3" in skipped.reason.en
    assert "每日容量 3 单" in skipped.reason.zh
    assert skipped.reason in decision.reasons
    assert decision.reasons[1].code == "dispatch.no_runner_up"


def test_oh_3_a_full_area_capacity_skips_the_provider_even_with_room_overall(
    policy: DispatchPolicy,
) -> None:
    area_full = near("a", capacities=(Capacity(50, 4), Capacity(2, 2, "330100")))
    decision = decide(policy, [area_full], service_tag=SI, day=DAY)
    assert decision.provider_id is None and decision.failing == "capacity"
    assert "in area 330100" in decision.skipped[0].reason.en


def test_oh_3_a_closed_provider_is_skipped_with_its_closure(policy: DispatchPolicy) -> None:
    leave = Closure(date(2026, 11, 23), date(2026, 11, 25), "team training")
    closed = near("a-closed", closures=(leave,))
    open_ = near("b-open", area_level="province")
    decision = decide(policy, [closed, open_], service_tag=SI, day=DAY)
    assert decision.provider_id == "b-open"
    (skipped,) = decision.skipped
    assert skipped.constraint == "calendar"
    assert "2026-11-23 to 2026-11-25 (team training)" in skipped.reason.en
    # The day after the closure it is back.
    later = decide(policy, [closed, open_], service_tag=SI, day=date(2026, 11, 26))
    assert later.provider_id == "a-closed"


def test_oh_3_fulfilment_the_service_does_not_accept_is_a_hard_constraint(
    policy: DispatchPolicy,
) -> None:
    by_post = near("a-post", fulfil="mail_in")
    assert decide(policy, [by_post], service_tag=SI, day=DAY).failing == "fulfilment"
    assert decide(policy, [by_post], service_tag=WARRANTY, day=DAY).provider_id == "a-post"
    # Where both are accepted, on site comes first at an equal score.
    on_site = near("b-site")
    assert decide(policy, [by_post, on_site], service_tag=WARRANTY, day=DAY).provider_id == (
        "b-site"
    )


@pytest.mark.parametrize(
    ("candidates", "constraint", "words"),
    [
        ([], "coverage", "no provider covers this category and service"),
        ([near("a", fulfil="in_store")], "fulfilment", "do not fulfil this service"),
        (
            [near("a", closures=(Closure(DAY, DAY, "holiday"),)), near("b", fulfil="mail_in")],
            "calendar",
            "closed or on leave that day",
        ),
        (
            [
                near("a", capacities=(Capacity(1, 1),)),
                near("b", closures=(Closure(DAY, DAY, "x"),)),
            ],
            "capacity",
            "used up that day's capacity",
        ),
    ],
)
def test_oh_3_no_qualified_provider_goes_to_the_merchant_naming_the_failing_constraint(
    policy: DispatchPolicy, candidates: list[Candidate], constraint: str, words: str
) -> None:
    decision = decide(policy, candidates, service_tag=SI, day=DAY)
    assert decision.provider_id is None and decision.failing == constraint
    reason = decision.reasons[0]
    assert reason.code == "dispatch.nobody_qualified"
    assert words in reason.en and "goes to the merchant (OH-3)" in reason.en
    assert "交给商家（OH-3）" in reason.zh


def test_oh_3_excluded_providers_are_left_out(policy: DispatchPolicy) -> None:
    decision = decide(policy, [near("a"), near("b")], service_tag=SI, day=DAY, excluded={"a"})
    assert decision.provider_id == "b" and decision.considered() == {"b"}


def test_oh_3_one_provider_many_rows_counts_once_with_its_best_row(
    policy: DispatchPolicy,
) -> None:
    rows = [near("a", area_level="province"), near("a"), near("a", category_depth=2)]
    decision = decide(policy, rows, service_tag=SI, day=DAY)
    assert decision.chosen is not None and decision.chosen.parts["area"] == 1.0
    assert decision.runner_up is None


def test_the_dispatch_policy_is_validated_like_the_others(book: PolicyBook) -> None:
    assert book.dispatch.rule == "OH-3" and book.dispatch.accepted(SI) == ("on_site",)
    with pytest.raises(PolicyError, match=r"weights\.load"):
        parse_document({"kind": "dispatch", "weights": {"load": -1}}, "dispatch.toml")
    with pytest.raises(PolicyError, match="listed twice"):
        parse_document({"kind": "dispatch", "fulfilment": {SI: ["on_site", "on_site"]}}, "d.toml")
