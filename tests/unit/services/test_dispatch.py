"""OH-3 dispatch and hand-overs through the services, on the memory adapter.

Providers come in as master data (coverage, daily capacity, closures), the help
request is opened by the buyer, and what the case records is asserted: who has
it, the decision's reasons in zh and en, the audit of each hand-over, and that
the merchant stays liable.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import datetime
from typing import Any

import pytest

from aftersales.adapters.memory import MemoryStore, memory_services
from aftersales.domain.cases import Actor, Case
from aftersales.domain.lifecycle import Channel, Role
from aftersales.domain.policy import PolicyBook
from aftersales.errors import Forbidden, InvalidFields
from aftersales.services import cases as svc_cases
from aftersales.services import deadlines
from aftersales.services import dispatch as svc_dispatch
from aftersales.services import master_data as md
from aftersales.services.base import Services
from aftersales.services.time import FixedClock
from tests.unit.services.world import SH

SI = "scheduled_installation"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=SH)  # a Tuesday, inside OH-4's window
BUYER = Actor(Role.CONSUMER, "u1", Channel.HELP_BUTTON)
OPS = Actor(Role.OPERATIONS, "ops-1", Channel.WEB)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def services(book: PolicyBook, clock: FixedClock) -> Services:
    svc = memory_services(book, clock, store=MemoryStore())
    load(svc, "brand", {"id": "b1", "name": "明光", "hotline": "400-100-2000"})
    load(svc, "merchant", {"id": "s1", "name": "明光旗舰店"})
    load(svc, "buyer", {"id": "u1", "name": "张三"})
    lamp = {"id": "p1", "name": "吸顶灯", "brand_id": "b1", "category": "lighting"}
    load(svc, "product", {**lamp, "service_tags": [SI]})
    return svc


def load(services: Services, kind: str, *records: dict[str, Any]) -> None:
    outcomes = md.upsert(services, kind, list(records))
    assert [o.result for o in outcomes] != ["refused"], outcomes[0].errors


def provider(
    pid: str, area: str = "330106", category: str = "lighting", **more: Any
) -> dict[str, Any]:
    return {
        "id": pid,
        "name": pid,
        "type": "installer",
        "coverage": [{"area_code": area, "category": category, "service_tag": SI}],
        **more,
    }


def order(services: Services, n: int) -> str:
    """Order ``o<n>`` with one lamp to 西湖区; returns the item's id."""
    load(
        services,
        "order",
        {
            "id": f"o{n}",
            "buyer_id": "u1",
            "merchant_id": "s1",
            "placed_at": "2026-11-20T10:00:00+08:00",
            "address": "浙江省杭州市西湖区文三路 90 号",
            "items": [{"id": f"oi{n}", "product_id": "p1", "paid_price": "299.00"}],
        },
    )
    return f"oi{n}"


def help_(services: Services, n: int) -> Case:
    item = order(services, n)
    return svc_cases.request_help(
        services, order_item_id=item, actor=BUYER, failure="installation_late"
    ).case


def reasons(case: Case) -> list[str]:
    return [d.reason.code for d in case.decisions if d.subject == "dispatch"]


def test_oh_3_dispatch_records_the_choice_and_the_runner_up_on_the_case(
    services: Services,
) -> None:
    load(services, "provider", provider("i-district"), provider("i-city", "330100"))
    case = help_(services, 1)
    assert case.assignee == "i-district"
    stored = svc_cases.get_case(services, case.id)
    assert reasons(stored)[:3] == ["oh.dispatched", "dispatch.chosen", "dispatch.runner_up"]
    runner_up = next(d.reason for d in stored.decisions if d.reason.code == "dispatch.runner_up")
    assert "i-city" in runner_up.en and "area precision (50% against 100%)" in runner_up.en
    assert "区域精确度" in runner_up.zh


def test_oh_3_a_provider_at_its_daily_capacity_is_skipped_and_the_case_says_so(
    services: Services,
) -> None:
    load(
        services,
        "provider",
        provider("i-near", daily_capacity=1),
        provider("i-city", "330100"),
    )
    assert help_(services, 1).assignee == "i-near"
    second = help_(services, 2)
    assert second.assignee == "i-city"
    skipped = next(
        d.reason for d in second.decisions if d.reason.code == "dispatch.skipped_capacity"
    )
    assert "i-near" in skipped.en and "daily capacity of 1" in skipped.en
    assert "2026-11-24" in skipped.zh


def test_oh_3_a_full_area_capacity_counts_only_cases_in_that_area(services: Services) -> None:
    load(
        services,
        "provider",
        provider("i-near", area_capacity=[{"area_code": "330100", "per_day": 1}]),
    )
    assert help_(services, 1).assignee == "i-near"
    # Its one case a day in 杭州 is used: the next goes to the merchant, naming capacity.
    second = help_(services, 2)
    assert second.assignee == "s1"
    nobody = next(
        d.reason for d in second.decisions if d.reason.code == "dispatch.nobody_qualified"
    )
    assert "used up that day's capacity" in nobody.en


def test_oh_3_a_closed_provider_is_skipped_and_capacity_comes_back_the_next_day(
    services: Services, clock: FixedClock
) -> None:
    leave = {"first_day": "2026-11-24", "last_day": "2026-11-24", "reason": "年假"}
    load(services, "provider", provider("i-near", closures=[leave]), provider("i-far", "330000"))
    case = help_(services, 1)
    assert case.assignee == "i-far"
    closed = next(d.reason for d in case.decisions if d.reason.code == "dispatch.skipped_closed")
    assert "2026-11-24 to 2026-11-24 (年假)" in closed.en
    clock.advance(days=1)
    assert help_(services, 2).assignee == "i-near"


def test_oh_3_nobody_qualified_goes_to_the_merchant_naming_the_failing_constraint(
    services: Services,
) -> None:
    leave = {"first_day": "2026-11-20", "last_day": "2026-12-01", "reason": "停业整顿"}
    load(services, "provider", provider("i-near", closures=[leave]))
    case = help_(services, 1)
    assert case.assignee == "s1"
    nobody = next(d.reason for d in case.decisions if d.reason.code == "dispatch.nobody_qualified")
    assert "closed or on leave that day" in nobody.en and "当天都在休息或停业" in nobody.zh


def test_oh_3_a_provider_declines_with_a_reason_and_the_next_qualified_gets_it(
    services: Services,
) -> None:
    load(services, "provider", provider("i-a"), provider("i-b", "330100"))
    case = help_(services, 1)
    assert case.assignee == "i-a"
    with pytest.raises(Forbidden):
        svc_dispatch.decline(services, case.id, Actor(Role.PROVIDER, "i-b", Channel.WEB), "忙")
    with pytest.raises(InvalidFields) as refused:
        svc_dispatch.decline(services, case.id, Actor(Role.PROVIDER, "i-a", Channel.WEB), " ")
    assert refused.value.problems == {"reason": "reason.missing"}
    declined = svc_dispatch.decline(
        services, case.id, Actor(Role.PROVIDER, "i-a", Channel.WEB), "师傅生病"
    )
    assert declined.assignee == "i-b" and declined.item.merchant_id == "s1"
    stored = svc_cases.get_case(services, case.id)
    audit = [(e.action, e.role, e.actor_id, e.note) for e in stored.audit][-2:]
    assert audit == [
        ("declined", Role.PROVIDER, "i-a", "师傅生病"),
        ("dispatch", Role.SYSTEM, "system", "i-b"),
    ]
    handed = next(d.reason for d in stored.decisions if d.reason.code == "dispatch.declined")
    assert "'i-a' declined" in handed.en and "师傅生病" in handed.zh
    assert "the merchant 's1' remains liable (OH-3)" in handed.en
    # The second provider declines too: nobody else qualifies, never back to i-a.
    again = svc_dispatch.decline(services, case.id, Actor(Role.PROVIDER, "i-b", Channel.WEB), "远")
    assert again.assignee == "s1"


def test_oh_3_a_declined_case_gives_the_providers_day_back_so_it_can_take_another(
    services: Services,
) -> None:
    load(services, "provider", provider("i-a", daily_capacity=1), provider("i-b", "330100"))
    first = help_(services, 1)
    assert first.assignee == "i-a"
    assert help_(services, 2).assignee == "i-b"  # i-a's one case of the day is used
    svc_dispatch.decline(services, first.id, Actor(Role.PROVIDER, "i-a", Channel.WEB), "没空")
    # It no longer holds the first request, so its day has room again.
    assert help_(services, 3).assignee == "i-a"
    # Handing back the same case never counts it twice off the day.
    fourth = help_(services, 4)
    assert fourth.assignee == "i-b"
    skipped = next(
        d.reason for d in fourth.decisions if d.reason.code == "dispatch.skipped_capacity"
    )
    assert "i-a" in skipped.en


def test_oh_3_a_reassigned_case_leaves_the_old_providers_area_capacity_free(
    services: Services,
) -> None:
    per_area = [{"area_code": "330100", "per_day": 1}]
    load(services, "provider", provider("i-a", area_capacity=per_area), provider("i-b", "330100"))
    case = help_(services, 1)
    assert case.assignee == "i-a"
    svc_dispatch.reassign(services, case.id, OPS, "i-b", "买家要求")
    assert help_(services, 2).assignee == "i-a"


def test_oh_3_operations_reassign_to_a_named_provider_that_qualifies(services: Services) -> None:
    load(
        services, "provider", provider("i-a"), provider("i-b", "330100"), provider("i-x", "110000")
    )
    case = help_(services, 1)
    with pytest.raises(Forbidden):
        svc_dispatch.reassign(
            services, case.id, Actor(Role.MERCHANT, "s1", Channel.WEB), "i-b", "x"
        )
    with pytest.raises(InvalidFields) as refused:
        svc_dispatch.reassign(services, case.id, OPS, "i-x", "北京的师傅")
    assert refused.value.problems == {"provider_id": "provider.coverage"}
    with pytest.raises(InvalidFields) as refused:
        svc_dispatch.reassign(services, case.id, OPS, "i-a", "同一家")
    assert refused.value.problems == {"provider_id": "provider.already_assigned"}
    moved = svc_dispatch.reassign(services, case.id, OPS, "i-b", "买家要求")
    assert moved.assignee == "i-b"
    stored = svc_cases.get_case(services, case.id)
    assert [(e.action, e.actor_id, e.note) for e in stored.audit][-2:] == [
        ("reassigned", "ops-1", "买家要求"),
        ("dispatch", "system", "i-b"),
    ]
    handed = next(d.reason for d in stored.decisions if d.reason.code == "dispatch.reassigned")
    assert "from 'i-a' to 'i-b'" in handed.en and "remains liable" in handed.en


def test_oh_3_reassigning_to_a_provider_at_capacity_is_refused_naming_it(
    services: Services,
) -> None:
    load(services, "provider", provider("i-a"), provider("i-full", "330100", daily_capacity=0))
    case = help_(services, 1)
    with pytest.raises(InvalidFields) as refused:
        svc_dispatch.reassign(services, case.id, OPS, "i-full", "试试")
    assert refused.value.problems == {"provider_id": "provider.capacity"}
    assert "daily capacity of 0" in str(refused.value)


def replacing(services: Services) -> Services:
    """The services under a dispatch policy that replaces a provider missing its plan."""
    book = copy.copy(services.book)
    book.dispatch = book.dispatch.model_copy(update={"replace_on_missed_plan": True})
    return dataclasses.replace(services, book=book)


def test_oh_4_a_missed_plan_leaves_the_provider_on_it_unless_the_policy_says_replace(
    services: Services, clock: FixedClock
) -> None:
    assert services.book.dispatch.replace_on_missed_plan is False  # the shipped default
    load(services, "provider", provider("i-a"), provider("i-b", "330100"))
    case = help_(services, 1)
    clock.advance(hours=2)
    deadlines.tick(services, sandbox="live", now=clock.now(), worker_id="w1")
    assert svc_cases.get_case(services, case.id).assignee == "i-a"


def test_oh_4_a_missed_plan_replaces_the_provider_by_policy_and_the_merchant_stays_liable(
    services: Services, clock: FixedClock
) -> None:
    services = replacing(services)
    load(services, "provider", provider("i-a", daily_capacity=1), provider("i-b", "330100"))
    case = help_(services, 1)
    assert case.assignee == "i-a"
    clock.advance(hours=1, minutes=1)
    report = deadlines.tick(services, sandbox="live", now=clock.now(), worker_id="w1")
    assert report.payouts == 1  # OH-5, paid by the merchant as before
    stored = svc_cases.get_case(services, case.id)
    assert stored.assignee == "i-b"
    replaced = next(d.reason for d in stored.decisions if d.reason.code == "dispatch.replaced")
    assert "'i-a' missed its 1-hour plan (OH-4)" in replaced.en and "仍承担责任" in replaced.zh
    assert [(e.action, e.role) for e in stored.audit][-2:] == [
        ("replaced", Role.SYSTEM),
        ("dispatch", Role.SYSTEM),
    ]
    (payout,) = stored.payouts
    assert payout.payer == "s1"
    # The replaced provider's day is given back: with a capacity of one it takes the next.
    assert help_(services, 2).assignee == "i-a"


def test_oh_4_a_replacement_never_goes_back_to_a_provider_that_declined_the_case(
    services: Services, clock: FixedClock
) -> None:
    # The worker settles cases loaded without their history: the decline is still seen.
    services = replacing(services)
    load(services, "provider", provider("i-a"), provider("i-b", "330100"))
    case = help_(services, 1)
    svc_dispatch.decline(services, case.id, Actor(Role.PROVIDER, "i-a", Channel.WEB), "没空")
    clock.advance(hours=1, minutes=1)
    deadlines.tick(services, sandbox="live", now=clock.now(), worker_id="w1")
    stored = svc_cases.get_case(services, case.id)
    assert stored.assignee == "i-b"
    assert "dispatch.replaced" not in reasons(stored)


def test_oh_4_a_missed_plan_with_nobody_else_qualified_leaves_the_provider_on_it(
    services: Services, clock: FixedClock
) -> None:
    services = replacing(services)
    load(services, "provider", provider("i-a"))
    case = help_(services, 1)
    clock.advance(hours=2)
    deadlines.tick(services, sandbox="live", now=clock.now(), worker_id="w1")
    assert svc_cases.get_case(services, case.id).assignee == "i-a"


def test_capacity_and_closures_are_master_data_read_back_as_sent(services: Services) -> None:
    leave = {"first_day": "2026-12-01", "last_day": "2026-12-03", "reason": "培训"}
    area = [{"area_code": "330100", "per_day": 4}]
    load(
        services,
        "provider",
        provider("i-a", daily_capacity=9, area_capacity=area, closures=[leave]),
    )
    stored = md.get_record(services, "provider", "i-a", world=md.World())
    assert stored["daily_capacity"] == 9
    assert stored["area_capacity"] == area and stored["closures"] == [leave]
    overlapping = {**leave, "first_day": "2026-12-03", "last_day": "2026-12-04"}
    (outcome,) = md.upsert(services, "provider", [provider("i-a", closures=[leave, overlapping])])
    assert outcome.result == "refused"
    assert outcome.errors[0]["field"] == "closures" and "overlaps" in outcome.errors[0]["message"]
    backwards = {**leave, "last_day": "2026-11-30"}
    (outcome,) = md.upsert(services, "provider", [provider("i-a", closures=[backwards])])
    assert outcome.result == "refused" and "closures.0" in outcome.errors[0]["field"]
    (outcome,) = md.upsert(
        services,
        "provider",
        [provider("i-a", area_capacity=[{"area_code": "999999", "per_day": 1}])],
    )
    assert outcome.result == "refused"
    assert outcome.errors[0]["field"] == "area_capacity.0.area_code"


def test_oh_3_a_shops_preferred_providers_are_master_data_and_dispatch_weighs_them(
    services: Services,
) -> None:
    # Equal in every other way, i-a would win on the lowest id.
    load(services, "provider", provider("i-a"), provider("i-b"))
    load(services, "merchant", {"id": "s1", "name": "明光旗舰店", "preferred_providers": ["i-b"]})
    stored = md.get_record(services, "merchant", "s1", world=md.World())
    assert stored["preferred_providers"] == ["i-b"]
    case = help_(services, 1)
    assert case.assignee == "i-b"
    runner_up = next(d.reason for d in case.decisions if d.reason.code == "dispatch.runner_up")
    assert "i-a" in runner_up.en
    assert "the shop's preferred provider (0% against 100%)" in runner_up.en


def test_oh_3_a_providers_base_is_master_data_and_dispatch_weighs_its_distance(
    services: Services,
) -> None:
    # Equal in every other way, i-a would win on the lowest id; i-b is based in the
    # address's own district (西湖区), i-a in 萧山区 across the river.
    load(services, "provider", provider("i-a", base_area="330109"), provider("i-b"))
    load(services, "provider", provider("i-b", base_area="330106"))
    assert md.get_record(services, "provider", "i-b", world=md.World())["base_area"] == "330106"
    case = help_(services, 1)
    assert case.assignee == "i-b"
    chosen = next(d.reason for d in case.decisions if d.reason.code == "dispatch.chosen")
    assert "distance about 0 km 100%" in chosen.en
    runner_up = next(d.reason for d in case.decisions if d.reason.code == "dispatch.runner_up")
    assert "i-a" in runner_up.en and "distance (" in runner_up.en
    (refused,) = md.upsert(services, "provider", [provider("i-c", base_area="999999")])
    assert refused.result == "refused"
    assert refused.errors[0]["field"] == "base_area"
    assert "not a Chinese administrative code" in refused.errors[0]["message"]


def test_oh_3_a_racing_dispatch_that_took_the_last_place_first_is_counted_back_and_decided_again(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Capacity is judged on what was committed when the candidates were read: here a
    racing dispatch takes i-near's one place after that read. Counting finds it went
    over, counts it back, and the fresh decision skips i-near as full."""
    from aftersales.adapters.memory.stores import MemoryReference

    load(services, "provider", provider("i-near", daily_capacity=1), provider("i-city", "330100"))
    item = order(services, 1)
    read = MemoryReference.dispatch_candidates
    stale: list[bool] = []

    def racing(self: MemoryReference, *args: Any, **kwargs: Any) -> Any:
        found = read(self, *args, **kwargs)
        if not stale:  # the first read: then the racer commits its dispatch to i-near
            stale.append(True)
            self._t.loads[("live", "i-near", NOW.date(), "")] = 1
        return found

    monkeypatch.setattr(MemoryReference, "dispatch_candidates", racing)
    case = svc_cases.request_help(
        services, order_item_id=item, actor=BUYER, failure="installation_late"
    ).case
    assert case.assignee == "i-city"
    assert "dispatch.skipped_capacity" in reasons(case)
    with services.uow() as uow:  # i-near keeps the racer's one case, no more
        assert uow.reference.count_dispatch(
            sandbox="live", provider_id="i-near", day=NOW.date(), areas=()
        ) == {"": 2}


def test_oh_3_a_click_that_loses_the_race_to_open_the_request_gives_its_dispatch_back(
    services: Services,
) -> None:
    """Two clicks race: the loser decided and counted a dispatch before it found the item's
    request already open. It answers with that request, and when its request's unit of work
    commits, the provider's day counts the one case it holds, not two."""
    load(services, "provider", provider("i-a", daily_capacity=2))
    item = order(services, 1)
    with services.uow() as uow:  # what the losing click read before the winner committed
        stale = dataclasses.replace(
            uow.reference.intake_item(item, svc_cases.Programme.ONE_CLICK_HELP), open_case=None
        )
    winner = svc_cases.request_help(
        services, order_item_id=item, actor=BUYER, failure="installation_late"
    )
    with services.uow() as request:  # one unit of work per HTTP request, committed at its end
        loser = svc_cases.request_help(
            services.bound(request),
            order_item_id=item,
            actor=BUYER,
            failure="installation_late",
            known=stale,
        )
        request.commit()
    assert not loser.created and loser.case.id == winner.case.id
    with services.uow() as uow:  # one more case counted now shows i-a's day had one
        assert uow.reference.count_dispatch(
            sandbox="live", provider_id="i-a", day=NOW.date(), areas=()
        ) == {"": 2}
