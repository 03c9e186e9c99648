"""Read models behind the parties' screens: who sees which case, the queue order, compliance."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from aftersales.bootstrap import Container, bootstrap
from aftersales.demo import dataset as data
from aftersales.demo.setup import create_demo_sandbox
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.errors import InvalidRequest
from aftersales.services import cases as svc
from aftersales.services import views
from aftersales.services.sandboxes import advance_sandbox
from aftersales.services.time import FixedClock
from aftersales.settings import Settings
from aftersales.testing import services_on

SHANGHAI = ZoneInfo("Asia/Shanghai")
TEN_AM = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
DAY = (TEN_AM - timedelta(days=1), TEN_AM + timedelta(days=3))


@pytest.fixture
def container(engine: Engine, database_url: str, tmp_path: Path) -> Container:
    # ``engine`` has migrated the database; the container opens its own on the same URL.
    built = bootstrap(
        Settings(data_dir=tmp_path, database_url=database_url), clock=FixedClock(TEN_AM)
    )
    create_demo_sandbox(built, "a", start=TEN_AM)
    create_demo_sandbox(built, "b", start=TEN_AM)
    return built


def _help(container: Container, sandbox: str, item: str, buyer: str) -> str:
    opened = svc.request_help(
        container.services,
        order_item_id=f"{sandbox}.{item}",
        actor=Actor(Role.CONSUMER, buyer, Channel.HELP_BUTTON),
        failure="installation_late" if "lamp" in item else "not_delivered_into_home",
    )
    return opened.case.id


def test_each_party_sees_only_its_own_cases(container: Container) -> None:
    lamp = _help(container, "a", data.ITEM_LAMP_HANGZHOU, data.DEMO_BUYER)
    tiles = _help(container, "a", data.ITEM_TILES_GUANGZHOU, "buyer-002")
    engine = container.engine

    def seen(role: Role, party: str | None) -> set[str]:
        return {c.id for c in views.case_lines(services_on(engine), views.Scope(role, party))}

    assert seen(Role.CONSUMER, data.DEMO_BUYER) == {lamp}
    assert seen(Role.CONSUMER, "buyer-002") == {tiles}
    assert seen(Role.PROVIDER, "hz-install-01") == {lamp}
    assert seen(Role.MERCHANT, data.MERCHANT_GUANGMING) == {lamp}
    assert seen(Role.BRAND, data.BRAND_SHIJI) == {tiles}
    assert seen(Role.OPERATIONS, None) == {lamp, tiles}
    assert seen(Role.SYSTEM, None) == set()
    assert (
        views.may_see_case(services_on(engine), views.Scope(Role.CONSUMER, "buyer-002"), lamp)
        is False
    )


def test_queue_puts_the_case_nearest_to_breach_first_across_sandbox_clocks(
    container: Container,
) -> None:
    later = _help(container, "b", data.ITEM_LAMP_HANGZHOU, data.DEMO_BUYER)
    urgent = _help(container, "a", data.ITEM_LAMP_HANGZHOU, data.DEMO_BUYER)
    advance_sandbox(container.services, "a", by=timedelta(minutes=50))
    queue = views.provider_queue(
        container.services, views.Scope(Role.PROVIDER, "hz-install-01"), live_now=TEN_AM
    )
    assert [line.case.id for line in queue] == [urgent, later]
    assert queue[0].clock_id == "solution"
    assert queue[0].seconds_left == pytest.approx(10 * 60, abs=1)
    assert queue[1].seconds_left == pytest.approx(60 * 60, abs=1)


def test_compliance_counts_met_breached_and_points_by_provider(container: Container) -> None:
    missed = _help(container, "a", data.ITEM_LAMP_HANGZHOU, data.DEMO_BUYER)
    kept = _help(container, "b", data.ITEM_LAMP_HANGZHOU, data.DEMO_BUYER)
    installer = Actor(Role.PROVIDER, "hz-install-01", Channel.WEB)
    svc.act(container.services, kept, "give_solution", installer, "明天上午 10 点上门")
    advance_sandbox(container.services, "a", by=timedelta(minutes=61))
    advance_sandbox(container.services, "b", by=timedelta(minutes=61))
    result = views.compliance(
        container.services, views.Scope(Role.OPERATIONS), by="provider", start=DAY[0], end=DAY[1]
    )
    row = next(r for r in result.rows if r.key == "hz-install-01")
    # One solution in time, one missed (OH-4); the solution in time also met SS-2's
    # "contact within 24 h of signing for the goods" (the demo's lamp is signed for).
    assert (row.met, row.breached) == (2, 1)
    assert row.running == 3  # both 48-hour clocks still run (OH-6), and one SS-2 contact
    assert row.points_paid == 5_000  # OH-5, once
    assert row.rate == pytest.approx(2 / 3)
    per_clock = views.compliance(
        container.services, views.Scope(Role.OPERATIONS), by="clock", start=DAY[0], end=DAY[1]
    )
    solution = next(r for r in per_clock.rows if r.key == "solution")
    assert (solution.met, solution.breached, solution.points_paid) == (1, 1, 5_000)
    assert missed != kept
    with pytest.raises(InvalidRequest, match="group by one of"):
        views.compliance(
            container.services, views.Scope(Role.OPERATIONS), by="colour", start=DAY[0], end=DAY[1]
        )


def test_names_come_from_the_party_tables_before_an_account_of_the_same_id(
    container: Container,
) -> None:
    from aftersales.services.accounts import create_account

    services = container.services
    # A shop's account by the shop's id, and an agent known only by their username.
    create_account(
        services,
        username=data.MERCHANT_SHIJI,
        password="a long enough password",
        role=Role.MERCHANT,
        name="店铺账号",
        party=data.MERCHANT_SHIJI,
    )
    create_account(
        services,
        username="agent-li",
        password="a long enough password",
        role=Role.AGENT,
        name="李客服",
    )
    known = views.names(
        services,
        [data.MERCHANT_SHIJI, data.PROVIDER_HANGZHOU_LIGHTING, data.DEMO_BUYER, "agent-li", "x"],
    )
    assert known[data.MERCHANT_SHIJI] != "店铺账号"  # the shop's own name wins
    assert known["agent-li"] == "李客服"
    assert data.PROVIDER_HANGZHOU_LIGHTING in known and data.DEMO_BUYER in known
    assert "x" not in known
