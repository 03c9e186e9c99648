"""SS-2 in a real browser (Chromium, Playwright): the buyer books a visit window offered on
the case page, the installer sees it in the day view, and the booking shows on both sides.

Against ``aftersales serve --demo``, signed in through the sign-in form with the fixtures
of :mod:`tests.e2e.test_browser`; at phone width (390 px), in Chinese and in English,
with a screenshot of each step under ``test-results/<test>/``.
"""

from __future__ import annotations

from pathlib import Path

from aftersales.demo import dataset as data
from tests.e2e import test_browser as browsing
from tests.e2e.test_browser import _new_sandbox, _press_help, _signed_in

chromium_path = browsing.chromium_path
browser = browsing.browser
server = browsing.server
shots = browsing.shots


def test_ss_2_the_buyer_books_an_offered_slot_and_the_installer_sees_it_in_the_day_view(
    browser: object, server: str, shots: Path
) -> None:
    _new_sandbox(browser, server, "bs-slot", "2026-11-24T10:00+08:00", shots)
    buyer = _signed_in(browser, server, "lamp buyer", phone=True)
    case_id = _press_help(buyer, f"bs-slot.{data.ITEM_LAMP_HANGZHOU}")
    assert buyer.inner_text("#booked-slot-none")
    offered = buyer.locator("#slot-choice option")
    assert offered.count() > 10  # two windows a day over 14 days, some already begun
    buyer.screenshot(path=str(shots / "case-slots-zh-390.png"), full_page=True)
    buyer.select_option("#slot-choice", value="2026-11-25T14:00/18:00")
    buyer.click("#slot-submit")
    buyer.wait_for_selector("#booked-slot")
    assert buyer.inner_text("#booked-slot") == "11-25 周三 14:00–18:00"
    clocks = buyer.inner_text("table.clocks")
    assert "约定日 23:59:59 前完成安装" in clocks and "2026-11-25 23:59" in clocks
    buyer.screenshot(path=str(shots / "case-booked-zh-390.png"), full_page=True)
    width = buyer.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the case page scrolls sideways at 390 px ({width} px wide)"

    installer = _signed_in(browser, server, "installer", phone=True)
    installer.goto("/provider/queue")
    assert installer.locator("#days-link").count() == 1
    installer.goto("/provider/days?sandbox=bs-slot")
    day = installer.locator("section.day[data-day='2026-11-25']")
    row = day.locator("tr[data-window='14:00']")
    assert case_id in row.inner_text()
    assert "1 / 2" in row.inner_text()
    installer.screenshot(path=str(shots / "days-zh-390.png"), full_page=True)
    width = installer.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the day view scrolls sideways at 390 px ({width} px wide)"
    row.locator(f"a.booked-case:has-text('{case_id}')").click()
    installer.wait_for_selector("#booked-slot")
    assert installer.inner_text("#booked-slot") == "11-25 周三 14:00–18:00"

    installer.goto("/provider/days?sandbox=bs-slot&lang=en")
    english = installer.inner_text("section.day[data-day='2026-11-25']")
    assert "Wed 25 Nov" in english and case_id in english
    installer.screenshot(path=str(shots / "days-en-390.png"), full_page=True)
    buyer.goto(f"/cases/{case_id}?lang=en")
    assert buyer.inner_text("#booked-slot") == "Wed 25 Nov 14:00–18:00"
    buyer.screenshot(path=str(shots / "case-booked-en-390.png"), full_page=True)
