"""The installer's and the hotline agent's main jobs in a real browser (Chromium, Playwright).

Against ``aftersales serve --demo``, signed in with the demo's accounts through the
sign-in form, as in :mod:`tests.e2e.test_browser` (whose fixtures these reuse). Each
step saves a screenshot under ``test-results/<test>/``, in Chinese and in English, and
the installer's pages at phone width (390 px) as an installer on the road sees them.
"""

from __future__ import annotations

import re
from pathlib import Path

from aftersales.demo import dataset as data
from tests.e2e import test_browser as browsing
from tests.e2e.test_browser import _new_sandbox, _press_help, _signed_in

# The browser tests' fixtures, by the same names: Chromium, the demo server, the shots folder.
chromium_path = browsing.chromium_path
browser = browsing.browser
server = browsing.server
shots = browsing.shots

BUYER_001_PHONE = "13853631572"
BUYER_006_PHONE = "13846519612"


def test_installer_sees_the_address_books_the_visit_and_solves_with_a_saved_text(
    browser: object, server: str, shots: Path
) -> None:
    _new_sandbox(browser, server, "bf-inst", "2026-11-24T10:00+08:00", shots)
    buyer = _signed_in(browser, server, "lamp buyer", phone=True)
    case_id = _press_help(buyer, f"bf-inst.{data.ITEM_LAMP_HANGZHOU}")

    installer = _signed_in(browser, server, "installer", phone=True)
    installer.goto("/provider/queue")
    line = installer.locator(f"tr.queue-line[data-case='{case_id}']")
    assert BUYER_001_PHONE in line.inner_text() and "文三路 90 号" in line.inner_text()
    installer.screenshot(path=str(shots / "queue-zh-390.png"), full_page=True)

    # A saved solution, kept once and picked on every case.
    installer.goto("/provider/solutions")
    installer.fill("#new-solution input[name=title]", "当天下午上门")
    installer.fill("#new-solution textarea[name=body]", "已电话联系买家，今天下午三点半上门安装。")
    installer.click("#new-solution button[type=submit]")
    installer.wait_for_selector("li[data-solution]")
    installer.screenshot(path=str(shots / "solutions-zh-390.png"), full_page=True)

    installer.goto(f"/cases/{case_id}")
    assert installer.inner_text("#contact-phone") == BUYER_001_PHONE
    assert "文三路 90 号" in installer.inner_text("#contact-address")
    installer.fill("#appointment-form input[name=visit_at]", "2026-11-24T15:30")
    installer.click("#appointment-form button[type=submit]")
    installer.wait_for_selector("#appointment:has-text('2026-11-24 15:30')")

    solution_form = installer.locator("form.action:has(button[data-action='give_solution'])")
    solution_form.locator("select[name=solution_id]").select_option(label="当天下午上门")
    note = solution_form.locator("textarea[name=note]")
    assert note.input_value() == "已电话联系买家，今天下午三点半上门安装。"  # filled, editable
    solution_form.locator("button[data-action='give_solution']").click()
    installer.wait_for_selector("#history li[data-action='give_solution']")
    installer.screenshot(path=str(shots / "case-solution-zh-390.png"), full_page=True)

    resolve = installer.locator("form.action:has(button[data-action='resolve'])")
    resolve.locator("textarea[name=note]").fill("已安装完毕，灯具工作正常。")
    resolve.locator("button[data-action='resolve']").click()
    installer.wait_for_selector("#history li[data-action='resolve']")
    history = installer.inner_text("#history")
    assert "与买家约定上门时间：2026-11-24 15:30" in history
    assert "给出了解决方案：已电话联系买家" in history
    assert "完结了求助：已安装完毕" in history
    installer.screenshot(path=str(shots / "case-resolved-zh-390.png"), full_page=True)

    installer.goto(f"/cases/{case_id}?lang=en")
    english = installer.inner_text("#history")
    assert "booked the visit with the buyer for 2026-11-24 15:30" in english
    assert "resolved the request: 已安装完毕" in english
    assert installer.locator("#slots").count() == 0  # a closed case offers no visit window
    installer.set_viewport_size({"width": 1280, "height": 900})
    installer.screenshot(path=str(shots / "case-resolved-en.png"), full_page=True)

    # The buyer reads the agreed visit and what was done, in sentences.
    buyer.goto(f"/cases/{case_id}")
    assert "2026-11-24 15:30" in buyer.inner_text("#appointment")
    assert "完结了求助：已安装完毕" in buyer.inner_text("#history")
    buyer.screenshot(path=str(shots / "buyer-case-zh-390.png"), full_page=True)


def test_agent_finds_the_caller_by_phone_and_adds_to_the_open_report(
    browser: object, server: str, shots: Path
) -> None:
    _new_sandbox(browser, server, "bf-agent", "2026-11-24T10:00+08:00", shots)
    kettle = f"bf-agent.{data.ITEM_KETTLE_SHANGHAI}"
    agent = _signed_in(browser, server, "agent")
    agent.goto("/agent")
    agent.fill("input[name=q]", "138 4651 9612")  # buyer-006 rings from their phone
    agent.click("form.search button[type=submit]")
    card = agent.locator(f"li[data-item='{kettle}']")
    card.wait_for()
    agent.screenshot(path=str(shots / "desk-found-zh.png"), full_page=True)

    card.locator("input[name=caller]").fill("王先生")
    card.locator("input[name=callback_phone]").fill("12345")
    card.locator("textarea[name=description]").fill("烧水时跳闸")
    card.locator("button[type=submit]").click()
    card = agent.locator(f"li[data-item='{kettle}']")
    assert "回拨电话格式不对" in card.inner_text()
    assert card.locator("textarea[name=description]").input_value() == "烧水时跳闸"  # kept
    agent.screenshot(path=str(shots / "desk-refused-zh.png"), full_page=True)
    card.locator("input[name=callback_phone]").fill("021-6888 1234")
    card.locator("button[type=submit]").click()
    agent.wait_for_url(re.compile(r"/cases/NW-"))
    case_id = str(agent.url).rsplit("/", 1)[-1]

    # The caller rings again: the desk shows the open report, and the call is added to it.
    agent.goto(f"/agent?q={BUYER_006_PHONE}")
    assert agent.locator(f"#caller-cases tr[data-case='{case_id}']").count() == 1
    card = agent.locator(f"li[data-item='{kettle}']")
    assert case_id in card.locator(".open-report").inner_text()
    card.locator("textarea[name=description]").fill("又跳闸了，今天第三次")
    card.locator("button[type=submit]").click()
    agent.wait_for_url(re.compile(rf"/cases/{case_id}\?noted=1"))
    assert "来电内容已追加到这张服务单" in agent.inner_text("#noted")
    assert "热线坐席 017 记录来电：又跳闸了，今天第三次" in agent.inner_text("#history")
    agent.screenshot(path=str(shots / "case-noted-zh.png"), full_page=True)
    agent.goto(f"/agent?q={BUYER_006_PHONE}&lang=en")
    assert "The caller's cases" in agent.inner_text("body")
    agent.screenshot(path=str(shots / "desk-en.png"), full_page=True)
    agent.goto(f"/cases/{case_id}")
    assert "Hotline agent 017 noted a call" in agent.inner_text("#history")
    agent.screenshot(path=str(shots / "case-noted-en.png"), full_page=True)
