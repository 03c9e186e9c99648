"""OH-3 dispatch on a real database (SQLite and PostgreSQL): the candidates' one query,
the day's load counted per world, capacity and closures as stored master data, and
hand-overs saved with their audit and reasons."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, select, text

from aftersales.adapters.db import schema as s
from aftersales.adapters.policy_files import load_policy_book
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Programme, Role
from aftersales.domain.policy import PolicyBook
from aftersales.services import cases as svc_cases
from aftersales.services import deadlines
from aftersales.services import dispatch as svc_dispatch
from aftersales.services import master_data as md
from aftersales.services.base import Services
from aftersales.services.time import FixedClock
from aftersales.testing import services_on
from tests.unit.services.test_dispatch import NOW, OPS, help_, load, provider

DAY = date(2026, 11, 24)


@pytest.fixture(scope="module")
def book() -> PolicyBook:
    return load_policy_book()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def services(engine: Engine, book: PolicyBook, clock: FixedClock) -> Services:
    svc = services_on(engine, clock, book)
    load(svc, "brand", {"id": "b1", "name": "明光", "hotline": "400-100-2000"})
    load(svc, "merchant", {"id": "s1", "name": "明光旗舰店"})
    load(svc, "buyer", {"id": "u1", "name": "张三"})
    lamp = {"id": "p1", "name": "吸顶灯", "brand_id": "b1", "category": "lighting"}
    load(svc, "product", {**lamp, "service_tags": ["scheduled_installation"]})
    return svc


def loads(engine: Engine) -> dict[tuple[str, str, str], int]:
    ld = s.provider_loads
    with engine.connect() as conn:
        rows = conn.execute(select(ld.c.provider_id, ld.c.day, ld.c.area_code, ld.c.dispatched))
        return {(r.provider_id, r.day.isoformat(), r.area_code): r.dispatched for r in rows}


def test_oh_3_the_choice_the_runner_up_and_the_reasons_are_stored_with_the_case(
    services: Services,
) -> None:
    load(services, "provider", provider("i-district"), provider("i-city", "330100"))
    case = help_(services, 1)
    stored = svc_cases.get_case(services, case.id)
    assert stored.assignee == "i-district"
    codes = [d.reason.code for d in stored.decisions if d.subject == "dispatch"]
    assert codes[:3] == ["oh.dispatched", "dispatch.chosen", "dispatch.runner_up"]
    runner_up = stored.decisions[[d.reason.code for d in stored.decisions].index(codes[2])]
    assert "i-city" in runner_up.reason.en and "OH-3" in runner_up.reason.zh


def test_oh_3_daily_capacity_is_counted_in_the_database_and_a_full_provider_skipped(
    services: Services, engine: Engine
) -> None:
    area = [{"area_code": "330100", "per_day": 5}]
    load(
        services,
        "provider",
        provider("i-near", daily_capacity=2, area_capacity=area),
        provider("i-far", "330000"),
    )
    assigned = [help_(services, n).assignee for n in range(1, 4)]
    assert assigned == ["i-near", "i-near", "i-far"]
    assert loads(engine) == {
        ("i-near", "2026-11-24", ""): 2,
        ("i-near", "2026-11-24", "330100"): 2,
        ("i-far", "2026-11-24", ""): 1,
    }
    third = svc_cases.get_case(services, _case_of(services, "oi3"))
    skipped = [d.reason for d in third.decisions if d.reason.code == "dispatch.skipped_capacity"]
    assert skipped and "daily capacity of 2" in skipped[0].en


def _case_of(services: Services, item: str) -> str:
    with services.uow() as uow:
        found = uow.reference.intake_item(item, Programme.ONE_CLICK_HELP).open_case
    assert found is not None
    return found


def test_oh_3_a_closure_in_the_database_skips_the_provider_on_those_days_only(
    services: Services, clock: FixedClock
) -> None:
    leave = {"first_day": "2026-11-23", "last_day": "2026-11-24", "reason": "年假"}
    load(services, "provider", provider("i-near", closures=[leave]))
    first = help_(services, 1)
    assert first.assignee == "s1"
    nobody = [d.reason for d in first.decisions if d.reason.code == "dispatch.nobody_qualified"]
    assert "closed or on leave that day" in nobody[0].en
    clock.advance(days=1)
    assert help_(services, 2).assignee == "i-near"


def test_oh_3_the_on_time_record_is_read_from_the_providers_clocks(
    services: Services, clock: FixedClock
) -> None:
    load(services, "provider", provider("i-a"))
    help_(services, 1)
    clock.advance(hours=2)  # OH-4 breached on i-a's case
    deadlines.tick(services, sandbox="live", now=clock.now(), worker_id="w1")
    with services.uow() as uow:
        (found,) = uow.reference.dispatch_candidates(
            services.book,
            areas=("330106", "330100", "330000"),
            category_id="lighting",
            service_tag="scheduled_installation",
            sandbox="live",
            day=DAY,
            record_since=NOW - timedelta(days=90),
        )
    assert (found.provider_id, found.met, found.breached) == ("i-a", 0, 1)
    assert type(found.met) is int and type(found.breached) is int  # sums come back as ints
    assert found.area_level == "district" and found.category_depth == 0
    assert [(c.area_code, c.per_day, c.used) for c in found.capacities] == [("", None, 1)]


def test_capacity_and_closures_are_stored_and_read_back_as_sent(services: Services) -> None:
    leave = {"first_day": "2026-12-01", "last_day": "2026-12-03", "reason": "培训"}
    area = [{"area_code": "330100", "per_day": 4}]
    record = provider("i-a", daily_capacity=9, area_capacity=area, closures=[leave])
    load(services, "provider", record)
    stored = md.get_record(services, "provider", "i-a", world=md.World())
    assert stored["daily_capacity"] == 9
    assert stored["area_capacity"] == area and stored["closures"] == [leave]
    assert [o.result for o in md.upsert(services, "provider", [record])] == ["unchanged"]
    load(services, "provider", provider("i-a"))  # the lists are whole: now none
    stored = md.get_record(services, "provider", "i-a", world=md.World())
    assert stored["daily_capacity"] is None and stored["closures"] == []


def test_hand_overs_are_saved_with_their_audit_and_reasons(services: Services) -> None:
    load(
        services,
        "provider",
        provider("i-a"),
        provider("i-b", "330100"),
        provider("i-c", "330000"),
    )
    case = help_(services, 1)
    svc_dispatch.decline(services, case.id, Actor(Role.PROVIDER, "i-a", Channel.WEB), "师傅生病")
    svc_dispatch.reassign(services, case.id, OPS, "i-c", "买家要求")
    stored = svc_cases.get_case(services, case.id)
    assert stored.assignee == "i-c" and stored.item.merchant_id == "s1"
    steps = [(e.action, e.actor_id, e.note) for e in stored.audit if e.action != "open"]
    assert steps[-4:] == [
        ("declined", "i-a", "师傅生病"),
        ("dispatch", "system", "i-b"),
        ("reassigned", "ops-1", "买家要求"),
        ("dispatch", "system", "i-c"),
    ]
    codes = [d.reason.code for d in stored.decisions]
    assert "dispatch.declined" in codes and "dispatch.reassigned" in codes


def test_oh_3_a_hand_over_gives_the_providers_counted_day_back_in_the_database(
    services: Services, engine: Engine, clock: FixedClock
) -> None:
    area = [{"area_code": "330100", "per_day": 3}]
    load(
        services,
        "provider",
        provider("i-a", daily_capacity=2, area_capacity=area),
        provider("i-b", "330100"),
    )
    case = help_(services, 1)
    assert case.assignee == "i-a"
    day = DAY.isoformat()
    assert loads(engine)[("i-a", day, "")] == 1 and loads(engine)[("i-a", day, "330100")] == 1
    clock.advance(days=1)  # declined the next day: the count comes off the day it was made
    svc_dispatch.decline(services, case.id, Actor(Role.PROVIDER, "i-a", Channel.WEB), "没空")
    counted = loads(engine)
    assert counted[("i-a", day, "")] == 0 and counted[("i-a", day, "330100")] == 0
    assert counted[("i-b", (DAY + timedelta(days=1)).isoformat(), "")] == 1
    svc_dispatch.reassign(services, case.id, OPS, "i-a", "买家要求")
    counted = loads(engine)
    assert counted[("i-b", (DAY + timedelta(days=1)).isoformat(), "")] == 0


def test_oh_3_a_providers_base_is_stored_and_its_distance_weighs_in_the_database(
    services: Services,
) -> None:
    load(services, "provider", provider("i-a", base_area="330109"), provider("i-b"))
    assert help_(services, 1).assignee == "i-a"  # nobody else names a base: i-a is nearer
    load(services, "provider", provider("i-b", base_area="330106"))
    assert md.get_record(services, "provider", "i-b", world=md.World())["base_area"] == "330106"
    assert help_(services, 2).assignee == "i-b"


def test_oh_3_a_shops_preferred_providers_are_stored_and_weigh_in_the_database(
    services: Services,
) -> None:
    load(services, "provider", provider("i-a"), provider("i-b"))
    load(services, "merchant", {"id": "s1", "name": "明光旗舰店", "preferred_providers": ["i-b"]})
    assert md.get_record(services, "merchant", "s1", world=md.World())["preferred_providers"] == [
        "i-b"
    ]
    assert help_(services, 1).assignee == "i-b"
    # The whole list is replaced: naming nobody takes the preference away.
    load(services, "merchant", {"id": "s1", "name": "明光旗舰店", "preferred_providers": []})
    assert help_(services, 2).assignee == "i-a"


def test_oh_3_racing_counts_of_one_providers_day_wait_and_count_on_from_each_other(
    engine: Engine,
) -> None:
    """What the service's capacity check rests on: the second of two uncommitted counts of
    the same provider's day waits for the first and returns the count after both."""
    from aftersales.adapters.db import dispatch as db_dispatch

    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time: there is no race to lose")
    where = {"sandbox": "live", "provider_id": "i-near", "day": DAY, "areas": ["330100"]}
    with engine.begin() as conn:
        conn.execute(s.providers.insert().values(id="i-near", name="i-near", kind="installer"))
    first = engine.connect()
    first.begin()
    assert db_dispatch.count_dispatch(first, **where) == {"": 1, "330100": 1}
    seen: list[dict[str, int]] = []

    def second() -> None:
        with engine.begin() as conn:
            seen.append(db_dispatch.count_dispatch(conn, **where))

    racer = threading.Thread(target=second)
    racer.start()
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    give_up = time.monotonic() + 30
    with engine.connect() as watcher:  # until the racer waits on the first's rows
        # PostgreSQL reads pg_stat_activity once per transaction: each look is a new one,
        # or the first look (taken before the racer got to the lock) is all we ever see.
        while not watcher.execute(waiting).scalar_one():
            watcher.rollback()
            assert time.monotonic() < give_up, "the second count never waited"
            time.sleep(0.01)
    assert not seen
    first.commit()
    first.close()
    racer.join(timeout=30)
    assert seen == [{"": 2, "330100": 2}]
