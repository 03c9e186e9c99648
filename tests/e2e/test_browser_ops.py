"""Operations' main job in a real browser (Chromium driven by Playwright), against
``aftersales serve --demo``: find cases with the filters, export them, watch the board of
clocks about to breach, and decide a complaint with the case's evidence beside it.

Screenshots go under ``test-results/<test>/`` as in ``test_browser.py``, whose
fixtures and helpers these tests share.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aftersales.bootstrap import Container, bootstrap
from aftersales.demo import dataset as data
from aftersales.demo.setup import create_demo_sandbox
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.services import cases as svc
from aftersales.services.sandboxes import advance_sandbox
from aftersales.settings import Settings
from tests.e2e.serving import serving
from tests.e2e.test_browser import (  # noqa: F401
    PNG,
    _press_help,
    _signed_in,
    browser,
    chromium_path,
    playwright_api,
    shots,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BOX = "bt-ops"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browser-ops") / "data"


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    with serving(data_dir, "--demo") as base:
        yield base


@pytest.fixture(scope="module")
def beside(server: str, data_dir: Path) -> Iterator[Container]:
    """The same database, opened beside the server: what other people did meanwhile."""
    container = bootstrap(Settings(data_dir=data_dir), migrate=False)
    create_demo_sandbox(container, BOX, start=datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI))
    yield container
    container.close()


def test_operations_find_a_case_by_the_buyers_name_and_export_the_list(
    browser: object,  # noqa: F811
    server: str,
    beside: Container,
    shots: Path,  # noqa: F811
) -> None:
    buyer = _signed_in(browser, server, "lamp buyer")
    case_id = _press_help(buyer, f"{BOX}.{data.ITEM_LAMP_HANGZHOU}")
    ops = _signed_in(browser, server, "ops")
    ops.goto("/ops/cases")  # type: ignore[attr-defined]
    ops.select_option("select[name=sandbox]", BOX)  # type: ignore[attr-defined]
    ops.fill("input[name=q]", "买家 001")  # type: ignore[attr-defined]
    ops.click("form[role=search] button[type=submit]")  # type: ignore[attr-defined]
    ops.wait_for_selector(f"tr[data-case='{case_id}']")  # type: ignore[attr-defined]
    assert ops.locator("tr[data-case]").count() == 1  # type: ignore[attr-defined]
    row = ops.inner_text(f"tr[data-case='{case_id}']")  # type: ignore[attr-defined]
    assert "光明灯饰官方旗舰店" in row and "杭州安装服务站" in row and "求助中" in row
    ops.screenshot(path=str(shots / "ops-case-search.png"), full_page=True)  # type: ignore[attr-defined]
    with ops.expect_download() as download:  # type: ignore[attr-defined]
        ops.click("a.export")  # type: ignore[attr-defined]
    saved = Path(download.value.path())
    body = saved.read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("服务单号,数据范围,服务,状态")
    assert case_id in text and "买家 001" in text
    phone = _signed_in(browser, server, "ops", phone=True)
    phone.goto(f"/ops/cases?sandbox={BOX}")  # type: ignore[attr-defined]
    phone.screenshot(path=str(shots / "ops-case-search-phone.png"), full_page=True)  # type: ignore[attr-defined]


def test_the_board_shows_the_clock_nearest_to_breach_first(
    browser: object,  # noqa: F811
    server: str,
    beside: Container,
    shots: Path,  # noqa: F811
) -> None:
    # A request of its own, so the board has a running clock whichever test ran before.
    svc.request_help(
        beside.services,
        order_item_id=f"{BOX}.{data.ITEM_TILES_GUANGZHOU}",
        actor=Actor(Role.CONSUMER, "buyer-002", Channel.HELP_BUTTON),
        failure="not_delivered_into_home",
    )
    advance_sandbox(beside.services, BOX, by=timedelta(minutes=50))
    ops = _signed_in(browser, server, "ops")
    ops.goto(f"/ops/breaching?sandbox={BOX}")  # type: ignore[attr-defined]
    first = ops.locator("tr.queue-line").first  # type: ignore[attr-defined]
    assert "warning" in (first.get_attribute("class") or "")
    assert "1 小时内给出解决方案" in first.inner_text()
    ops.screenshot(path=str(shots / "ops-breach-board.png"), full_page=True)  # type: ignore[attr-defined]


def test_operations_decide_a_complaint_with_the_cases_evidence_beside_it(
    browser: object,  # noqa: F811
    server: str,
    beside: Container,
    shots: Path,  # noqa: F811
) -> None:
    s = beside.services
    form = Actor(Role.CONSUMER, "buyer-006", Channel.SERVICE_FORM)
    kettle = svc.report_repair(
        s, order_item_id=f"{BOX}.{data.ITEM_KETTLE_SHANGHAI}", actor=form, description="跳闸"
    ).case.id
    svc.add_attachment(
        s, data=PNG, filename="插座.png", declared_type="image/png", actor=form, case_id=kettle
    )
    brand = Actor(Role.BRAND, data.BRAND_XINGHE, Channel.WEB)
    svc.act(s, kettle, "accept", brand, "请寄回检测")
    svc.act(s, kettle, "receive_item", brand)
    advance_sandbox(s, BOX, by=timedelta(days=31))
    complaint = svc.file_complaint(s, kettle, "feedback", form, "寄修一个多月没有任何消息")
    ops = _signed_in(browser, server, "ops")
    ops.goto("/ops/complaints")  # type: ignore[attr-defined]
    card = ops.locator(f"[data-complaint='{complaint.id}']")  # type: ignore[attr-defined]
    text = card.inner_text()
    assert "受理寄修后 30 天内反馈" in text and "已违约" in text  # the clock, breached (NW-5)
    assert "品牌 星河电器 受理了报修" in text  # what happened, as sentences
    assert card.locator("ul.thumbs img").count() == 1  # the buyer's photo
    ops.screenshot(path=str(shots / "ops-complaint.png"), full_page=True)  # type: ignore[attr-defined]
    card.locator("input[name=note]").fill("平台上没有任何反馈记录")
    card.locator("button[name=uphold][value=yes]").click()
    ops.wait_for_url(f"**/cases/{kettle}")  # type: ignore[attr-defined]
    assert "10,000 积分" in ops.inner_text("body")  # type: ignore[attr-defined]
    assert svc.get_case(s, kettle).complaints[0].status == "upheld"
