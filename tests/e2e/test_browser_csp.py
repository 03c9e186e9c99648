"""Under the Content-Security-Policy the pages still work: each role's main pages, opened in
Chromium against `aftersales serve --demo`, report no policy violation, and the script
behaviours the pages ask for by data- attributes run.

Chromium is the system's, as in :mod:`tests.e2e.test_browser` (skip without it, fail when
``AFTERSALES_REQUIRE_BROWSER=1``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.serving import serving
from tests.e2e.test_browser import CHROMIUM_ARGS, LOGINS, chromium_path

playwright_api = pytest.importorskip("playwright.sync_api")

__all__ = ["chromium_path"]

PAGES = {
    "lamp buyer": ["/my/orders", "/my/cases", "/my/points", "/notifications", "/chats"],
    "installer": ["/provider/queue", "/provider/solutions"],
    "shop": ["/partner"],
    "agent": ["/agent"],
    "ops": [
        "/ops",
        "/ops/cases",
        "/ops/breaching",
        "/ops/complaints",
        "/ops/payouts",
        "/ops/sandboxes",
        "/ops/imports",
        "/brands",
        "/docs",
        "/redoc",
    ],
}
LOGINS_HERE = {**LOGINS, "shop": ("shop-guangming", "demo-shop-2026")}
# Records every violation the page reports (added before any page script runs).
LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("csp") / "data", "--demo") as base:
        yield base


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.mark.parametrize("who", sorted(PAGES))
def test_each_roles_pages_load_without_a_policy_violation(
    browser: object, server: str, who: str
) -> None:
    context = browser.new_context(base_url=server, locale="zh-CN")  # type: ignore[attr-defined]
    context.add_init_script(LISTEN)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    username, password = LOGINS_HERE[who]
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, page.content()
    seen: dict[str, list[str]] = {}
    for path in PAGES[who]:
        answer = page.goto(path)
        assert answer is not None and answer.status < 400, (path, answer and answer.status)
        page.wait_for_load_state("networkidle")
        violations = page.evaluate("window.__violations")
        if violations:
            seen[path] = violations
    csp_console = [m for m in console if "Content Security Policy" in m]
    assert seen == {} and csp_console == [], (seen, csp_console)
    context.close()


def test_the_compliance_chart_draws_and_the_world_picker_submits_under_the_policy(
    browser: object, server: str
) -> None:
    context = browser.new_context(base_url=server, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    username, password = LOGINS["ops"]
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto("/ops")
    page.wait_for_selector("#compliance-chart canvas")  # ECharts ran from its static file
    page.goto("/ops/payouts")
    options = page.eval_on_selector_all(
        "select[data-autosubmit] option", "els => els.map(e => e.value)"
    )
    assert len(options) > 1, options  # live data and the demo's sandbox
    with page.expect_navigation():  # choosing a world reloads the page, by app.js
        page.select_option("select[data-autosubmit]", options[-1])
    assert f"sandbox={options[-1]}" in page.url
    context.close()


def test_deleting_a_saved_solution_still_asks_first_under_the_policy(
    browser: object, server: str
) -> None:
    context = browser.new_context(base_url=server, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    username, password = LOGINS["installer"]
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto("/provider/solutions")
    page.fill("#new-solution input[name=title]", "先问再删")
    page.fill("#new-solution textarea[name=body]", "删除前应当先确认。")
    page.click("#new-solution button[type=submit]")
    card = page.locator("li[data-solution]:has(input[value='先问再删'])")
    card.wait_for()
    asked: list[str] = []

    def answer(dialog: object, accept: bool) -> None:
        asked.append(dialog.message)  # type: ignore[attr-defined]
        dialog.accept() if accept else dialog.dismiss()  # type: ignore[attr-defined]

    page.once("dialog", lambda d: answer(d, False))
    card.locator("form[data-confirm] button").click()
    assert len(asked) == 1 and card.count() == 1  # dismissed: kept
    page.once("dialog", lambda d: answer(d, True))
    with page.expect_navigation():
        card.locator("form[data-confirm] button").click()
    assert len(asked) == 2
    assert page.locator("li[data-solution]:has(input[value='先问再删'])").count() == 0
    context.close()
