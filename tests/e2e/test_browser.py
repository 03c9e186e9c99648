"""The web application in a real browser (Chromium driven by Playwright), against `aftersales serve`.

The server is the README's main job: ``aftersales serve --demo`` on the embedded
database. Each test signs in with a demo account through the login form, acts
as that person would, and saves a screenshot under ``test-results/<test>/``.

Chromium is the system's (Debian's ``chromium`` package); Playwright does not
download a browser. Without it these tests skip, or fail when
``AFTERSALES_REQUIRE_BROWSER=1`` (CI sets it).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from aftersales.demo import dataset as data
from tests.e2e.serving import serving

playwright_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "test-results"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

# Demo accounts, as the README lists them.
LOGINS = {
    "lamp buyer": ("buyer-001", "demo-buyer-2026"),
    "kettle buyer": ("buyer-006", "demo-buyer-2026"),
    "installer": ("hz-install-01", "demo-provider-2026"),
    "ops": ("ops", "demo-ops-2026"),
    "agent": ("agent-017", "demo-agent-2026"),
}


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def chromium_path() -> str:
    found = _chromium()
    if found is None:
        message = "Chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("AFTERSALES_REQUIRE_BROWSER", "") not in ("", "0"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("browser") / "data", "--demo") as base:
        yield base


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    folder = RESULTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _signed_in(browser: object, base: str, who: str, *, phone: bool = False) -> object:
    options = {"viewport": {"width": 390, "height": 844}} if phone else {}
    context = browser.new_context(base_url=base, locale="zh-CN", **options)  # type: ignore[attr-defined]
    page = context.new_page()
    username, password = LOGINS[who]
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, page.content()
    return page


def _new_sandbox(browser: object, base: str, sandbox: str, start: str, shots: Path) -> object:
    """Operations create a sandbox with its own copy of the demo orders, on the clock page."""
    ops = _signed_in(browser, base, "ops")
    ops.goto("/ops/sandboxes")
    ops.fill("input[name=sandbox_id]", sandbox)
    ops.fill("input[name=start]", start)
    ops.click("form[action='/ops/sandboxes'] button[type=submit]")
    ops.wait_for_selector(f"tr[data-sandbox='{sandbox}']")
    return ops


def _advance(ops: object, sandbox: str, by: str) -> None:
    row = f"tr[data-sandbox='{sandbox}']"
    ops.goto("/ops/sandboxes")
    ops.fill(f"{row} input[name=by]", by)
    ops.click(f"{row} button[type=submit]")
    ops.wait_for_selector(row)


def _press_help(page: object, item_id: str) -> str:
    page.goto("/my/orders")
    page.click(f"[id='item-{item_id}'] .help-button")
    page.wait_for_url(re.compile(r"/cases/"))
    return str(page.url).rsplit("/", 1)[-1]


def test_consumer_files_a_repair_through_the_form_with_a_photo(
    browser: object, server: str, shots: Path, tmp_path: Path
) -> None:
    _new_sandbox(browser, server, "bt-form", "2026-11-24T09:30+08:00", shots)
    photo = tmp_path / "kettle.png"
    photo.write_bytes(PNG)
    page = _signed_in(browser, server, "kettle buyer", phone=True)
    page.goto(f"/items/bt-form.{data.ITEM_KETTLE_SHANGHAI}/repair")
    page.fill("textarea[name=description]", "加热后自动断电，指示灯闪烁")
    page.fill("input[name=phone]", "138 0000 0006")
    page.set_input_files("input[name=photos]", str(photo))
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/cases/NW-"))
    body = page.inner_text("body")
    assert "加热后自动断电" in body
    assert "kettle.png" in body
    assert "NW-4" in body  # the 24-hour response clock is running
    page.screenshot(path=str(shots / "repair-case.png"), full_page=True)


def test_help_at_10_missed_hour_pays_5000_points_with_its_explanation(
    browser: object, server: str, shots: Path
) -> None:
    ops = _new_sandbox(browser, server, "bt-help", "2026-11-24T10:00+08:00", shots)
    buyer = _signed_in(browser, server, "lamp buyer", phone=True)
    case_id = _press_help(buyer, f"bt-help.{data.ITEM_LAMP_HANGZHOU}")
    assert "OH-4" in buyer.inner_text("body")
    assert buyer.locator(".payout").count() == 0
    # The provider does nothing; operations move the sandbox clock 61 minutes on.
    _advance(ops, "bt-help", "61m")
    ops.screenshot(path=str(shots / "sandbox-advanced.png"), full_page=True)
    buyer.goto(f"/cases/{case_id}")
    payout = buyer.locator(".payout")
    assert payout.count() == 1
    text = payout.inner_text()
    assert "5,000 积分" in text and "OH-5" in text
    assert "支付 5,000 积分（¥50.00）" in text
    buyer.screenshot(path=str(shots / "case-with-payout.png"), full_page=True)
    buyer.goto(f"/cases/{case_id}?lang=en")
    assert "pays 5,000 points (¥50.00) to the buyer account buyer-001" in buyer.inner_text(
        ".payout"
    )


def test_provider_queue_shows_the_most_urgent_case_first(
    browser: object, server: str, shots: Path
) -> None:
    ops = _new_sandbox(browser, server, "bt-q1", "2026-11-24T10:00+08:00", shots)
    _new_sandbox(browser, server, "bt-q2", "2026-11-24T10:00+08:00", shots)
    buyer = _signed_in(browser, server, "lamp buyer")
    later = _press_help(buyer, f"bt-q2.{data.ITEM_LAMP_HANGZHOU}")
    urgent = _press_help(buyer, f"bt-q1.{data.ITEM_LAMP_HANGZHOU}")
    _advance(ops, "bt-q1", "50m")  # 10 minutes left on the 1-hour solution clock (OH-4)
    installer = _signed_in(browser, server, "installer", phone=True)
    installer.goto("/provider/queue")
    order = installer.eval_on_selector_all("tr.queue-line", "rows => rows.map(r => r.dataset.case)")
    assert order.index(urgent) < order.index(later)
    assert order[0] == urgent
    first = installer.locator("tr.queue-line").first
    assert "warning" in (first.get_attribute("class") or "")
    installer.screenshot(path=str(shots / "provider-queue.png"), full_page=True)
