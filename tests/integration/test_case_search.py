"""Operations' case search on SQLite and PostgreSQL: every filter, keyset paging with the
count, one world at a time (live by default), and the parties' names beside their ids."""

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
from aftersales.errors import NotFound
from aftersales.services import cases as svc
from aftersales.services import views
from aftersales.services.records import CaseFilter, Scope
from aftersales.services.sandboxes import advance_sandbox
from aftersales.services.time import FixedClock
from aftersales.settings import Settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
TEN_AM = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
OPS = Scope(Role.OPERATIONS)
BOX = "s1"


@pytest.fixture
def container(engine: Engine, database_url: str, tmp_path: Path) -> Container:
    built = bootstrap(
        Settings(data_dir=tmp_path, database_url=database_url), clock=FixedClock(TEN_AM)
    )
    create_demo_sandbox(built, BOX, start=TEN_AM)
    create_demo_sandbox(built, "s2", start=TEN_AM)
    return built


def _help(container: Container, item: str, buyer: str, sandbox: str = BOX) -> str:
    opened = svc.request_help(
        container.services,
        order_item_id=f"{sandbox}.{item}",
        actor=Actor(Role.CONSUMER, buyer, Channel.HELP_BUTTON),
        failure="installation_late" if "lamp" in item else "not_delivered_into_home",
    )
    return opened.case.id


def _ids(container: Container, scope: Scope = OPS, **filters: object) -> list[str]:
    found = views.case_search(container.services, scope, CaseFilter(sandbox=BOX, **filters))  # type: ignore[arg-type]
    assert found.total == len(found.lines)
    return [c.id for c in found.lines]


@pytest.fixture
def cases(container: Container) -> dict[str, str]:
    lamp = _help(container, data.ITEM_LAMP_HANGZHOU, data.DEMO_BUYER)
    advance_sandbox(container.services, BOX, by=timedelta(minutes=5))
    tiles = _help(container, data.ITEM_TILES_GUANGZHOU, "buyer-002")
    advance_sandbox(container.services, BOX, by=timedelta(minutes=5))
    sofa = _help(container, data.ITEM_SOFA_CHENGDU, "buyer-003")
    other_world = _help(container, data.ITEM_LAMP_HANGZHOU, data.DEMO_BUYER, sandbox="s2")
    return {"lamp": lamp, "tiles": tiles, "sofa": sofa, "s2": other_world}


def test_a_case_is_found_by_its_id_order_item_buyer_name_and_phone(
    container: Container, cases: dict[str, str]
) -> None:
    lamp = cases["lamp"]
    assert _ids(container, text=lamp) == [lamp]
    assert _ids(container, text=data.ITEM_LAMP_HANGZHOU) == [lamp]  # the bare id finds the copy
    assert _ids(container, text="order-lamp-hangzhou") == [lamp]
    assert _ids(container, text=data.DEMO_BUYER) == [lamp]
    assert _ids(container, text="买家 001") == [lamp]
    assert _ids(container, text="138 5363 1572") == [lamp]  # spaces in a phone are ignored
    assert _ids(container, text="买家") == [cases["sofa"], cases["tiles"], lamp]  # a name's start
    assert _ids(container, text="50%_") == []  # LIKE wildcards are taken literally


def test_each_filter_narrows_to_the_matching_cases(
    container: Container, cases: dict[str, str]
) -> None:
    lamp, tiles, sofa = cases["lamp"], cases["tiles"], cases["sofa"]
    assert _ids(container, merchant=data.MERCHANT_GUANGMING) == [lamp]
    assert _ids(container, brand=data.BRAND_SHIJI) == [tiles]
    assert _ids(container, provider=data.PROVIDER_HANGZHOU_LIGHTING) == [lamp]
    assert _ids(container, city="成都市") == [sofa]
    assert _ids(container, programme="one_click_help") == [sofa, tiles, lamp]
    assert _ids(container, programme="national_warranty") == []
    assert _ids(container, state="dispatched", merchant=data.MERCHANT_SHIJI) == [tiles]
    assert _ids(container, clock_state="running") == [sofa, tiles, lamp]
    assert _ids(container, clock_state="breached") == []
    # The sandbox clock stands at 10:10: the lamp's 1-hour clock falls due at 11:00.
    assert _ids(container, due_within=timedelta(minutes=50)) == [lamp]
    assert _ids(container, due_within=timedelta(minutes=55)) == [tiles, lamp]
    advance_sandbox(container.services, BOX, by=timedelta(minutes=51))  # 11:01: lamp breached
    assert _ids(container, clock_state="breached") == [lamp]


def test_lists_show_one_world_live_by_default(container: Container, cases: dict[str, str]) -> None:
    live = views.case_search(container.services, OPS, CaseFilter())
    assert (live.total, live.lines) == (0, [])
    other = views.case_search(container.services, OPS, CaseFilter(sandbox="s2"))
    assert [c.id for c in other.lines] == [cases["s2"]]
    with pytest.raises(NotFound):
        views.case_search(container.services, OPS, CaseFilter(sandbox="nowhere"))


def test_pages_follow_each_other_with_the_whole_count(
    container: Container, cases: dict[str, str]
) -> None:
    f = CaseFilter(sandbox=BOX)
    first = views.case_search(container.services, OPS, f, limit=2)
    assert (first.total, first.more) == (3, True)
    last = first.lines[-1]
    second = views.case_search(container.services, OPS, f, limit=2, after=(last.opened_at, last.id))
    assert (second.total, second.more) == (3, False)
    assert [c.id for c in first.lines + second.lines] == [
        cases["sofa"],
        cases["tiles"],
        cases["lamp"],
    ]
    assert [c.id for c in views.all_cases(container.services, OPS, f)] == [
        c.id for c in first.lines + second.lines
    ]


def test_lines_carry_the_parties_names(container: Container, cases: dict[str, str]) -> None:
    (line,) = views.case_search(
        container.services, OPS, CaseFilter(sandbox=BOX, text=cases["lamp"])
    ).lines
    assert line.buyer_name == "买家 001"
    assert line.merchant_name and line.merchant_name != line.merchant
    assert line.assignee_name and line.assignee_name != line.assignee
    assert line.brand == data.BRAND_GUANGMING and line.brand_name
    assert line.order_item_id == f"{BOX}.{data.ITEM_LAMP_HANGZHOU}"
    assert line.next_due == TEN_AM + timedelta(hours=1)


def test_a_merchant_or_brand_finds_only_its_own_cases(
    container: Container, cases: dict[str, str]
) -> None:
    shop = Scope(Role.MERCHANT, data.MERCHANT_GUANGMING)
    assert _ids(container, shop) == [cases["lamp"]]
    assert _ids(container, shop, text=cases["tiles"]) == []  # another shop's case is not found
    assert _ids(container, shop, merchant=data.MERCHANT_SHIJI) == []
    assert _ids(container, Scope(Role.BRAND, data.BRAND_SHIJI)) == [cases["tiles"]]


def test_the_breach_board_lists_running_clocks_nearest_first(
    container: Container, cases: dict[str, str]
) -> None:
    board = views.breach_board(container.services, OPS, sandbox=BOX)
    assert [q.case.id for q in board][:3] == [cases["lamp"], cases["tiles"], cases["sofa"]]
    assert board[0].seconds_left == 50 * 60
    assert [q.due_at for q in board] == sorted(q.due_at for q in board)
    assert views.breach_board(container.services, OPS) == []  # live: nothing running
