"""The buyer's main job in a real browser, at phone width: see what an item is entitled to,
file a repair with a photo and an address, chat with the brand, read the provider's plan,
see the points paid — each step's screenshot under ``test-results/<test>/``.

The server and browser are ``test_browser``'s: ``aftersales serve --demo`` on the
embedded database, the system's Chromium driven by Playwright.
"""

from __future__ import annotations

import re
from pathlib import Path

from aftersales.demo import dataset as data
from tests.e2e.test_browser import (
    LOGINS,
    PNG,
    _advance,
    _new_sandbox,
    _press_help,
    _signed_in,
    browser,
    chromium_path,
    server,
    shots,
)

__all__ = ["browser", "chromium_path", "server", "shots"]  # test_browser's fixtures

LOGINS["kettle brand"] = ("brand-xinghe", "demo-brand-2026")


def test_consumer_sees_eligibility_and_files_a_repair_with_photo_and_address(
    browser: object, server: str, shots: Path, tmp_path: Path
) -> None:
    _new_sandbox(browser, server, "bt-nw", "2026-11-24T10:00+08:00", shots)
    lamp_buyer = _signed_in(browser, server, "lamp buyer", phone=True)
    lamp_buyer.goto("/my/orders")
    card = lamp_buyer.locator(f"[id='item-bt-nw.{data.ITEM_LAMP_HANGZHOU}']")
    assert "OH-2" in card.locator(".covered").inner_text()  # the city is covered
    assert "1 小时" in card.locator(".commitment.applies").inner_text()  # 10:00: the hour holds
    assert "09:00–18:00" in card.locator(".window-notice").inner_text()
    card.screenshot(path=str(shots / "orders-lamp-card-phone-zh.png"))

    photo = tmp_path / "kettle.png"
    photo.write_bytes(PNG)
    buyer = _signed_in(browser, server, "kettle buyer", phone=True)
    buyer.goto("/my/orders")
    kettle = buyer.locator(f"[id='item-bt-nw.{data.ITEM_KETTLE_SHANGHAI}']")
    assert "保修至" in kettle.locator(".warranty").inner_text()  # NW-1 before pressing
    kettle.locator("a[href$='/repair']").click()
    buyer.wait_for_url(re.compile(r"/repair$"))
    buyer.fill("textarea[name=description]", "加热后自动断电，指示灯闪烁")
    buyer.fill("input[name=phone]", "12345")
    buyer.fill("textarea[name=address]", "上海市浦东新区世纪大道 100 号 27 楼")
    buyer.set_input_files("input[name=photos]", str(photo))
    buyer.click("form.repair button[type=submit]")
    buyer.wait_for_selector("#phone-error")
    assert buyer.locator(".field-error").count() == 1  # one problem, said once, beside its field
    assert buyer.input_value("textarea[name=description]") == "加热后自动断电，指示灯闪烁"
    buyer.screenshot(path=str(shots / "repair-refused-phone-zh.png"), full_page=True)
    buyer.fill("input[name=phone]", "138 0000 0006")
    buyer.fill("input[name=preferred_time]", "2026-11-25T14:00")
    buyer.set_input_files("input[name=photos]", str(photo))
    buyer.click("form.repair button[type=submit]")
    buyer.wait_for_url(re.compile(r"/cases/NW-"))
    contact = buyer.inner_text(".contact")
    assert "13800000006" in contact and "世纪大道 100 号" in contact
    assert "kettle.png" in buyer.inner_text("body") and "NW-4" in buyer.inner_text("body")
    buyer.screenshot(path=str(shots / "repair-case-phone-zh.png"), full_page=True)


def test_consumer_chats_with_the_brand_who_answers_live_and_files_the_report(
    browser: object, server: str, shots: Path
) -> None:
    _new_sandbox(browser, server, "bt-chat", "2026-11-24T10:00+08:00", shots)
    buyer = _signed_in(browser, server, "kettle buyer", phone=True)
    buyer.goto(f"/items/bt-chat.{data.ITEM_KETTLE_SHANGHAI}/chat")
    buyer.fill("textarea[name=text]", "水壶烧水时跳闸，是否在保修范围？")
    buyer.click("form.chat-start button[type=submit]")
    buyer.wait_for_url(re.compile(r"/chats/chat-"))
    chat_path = "/chats/" + str(buyer.url).rsplit("/chats/", 1)[1]

    brand = _signed_in(browser, server, "kettle brand")
    brand.goto("/chats")
    brand.click(f"a[href='{chat_path}']")
    brand.fill("textarea[name=text]", "在保修期内，我们安排上门检测。")
    brand.click("form.chat-send button[type=submit]")
    brand.wait_for_selector("text=安排上门检测")
    # The buyer's page shows the answer without a reload.
    buyer.wait_for_selector(".message.theirs >> text=安排上门检测", timeout=15_000)
    buyer.screenshot(path=str(shots / "chat-buyer-phone-zh.png"), full_page=True)
    brand.click("form.chat-report button[type=submit]")
    brand.wait_for_url(re.compile(r"/cases/NW-"))
    assert "水壶烧水时跳闸" in brand.inner_text(".description")
    brand.screenshot(path=str(shots / "chat-turned-into-report-zh.png"), full_page=True)


def test_consumer_reads_the_plan_and_sees_the_points_in_both_languages(
    browser: object, server: str, shots: Path
) -> None:
    ops = _new_sandbox(browser, server, "bt-plan", "2026-11-24T10:00+08:00", shots)
    buyer = _signed_in(browser, server, "lamp buyer", phone=True)
    case_id = _press_help(buyer, f"bt-plan.{data.ITEM_LAMP_HANGZHOU}")
    _advance(ops, "bt-plan", "61m")  # no solution within the hour: 5,000 points (OH-5)
    installer = _signed_in(browser, server, "installer")
    installer.goto(f"/cases/{case_id}")
    form = installer.locator("form.action:has(button[data-action=give_solution])")
    form.locator("textarea[name=note]").fill("今天 14:00 上门重新安装，请保持电话畅通")
    form.locator("button").click()
    installer.wait_for_load_state("networkidle")

    buyer.goto(f"/cases/{case_id}")
    plan = buyer.inner_text("#outcome .plan")
    assert "今天 14:00 上门重新安装" in plan and "杭州安装服务站" in plan
    buyer.screenshot(path=str(shots / "case-plan-phone-zh.png"), full_page=True)
    buyer.goto("/my/cases")
    line = buyer.locator(f"[data-case='{case_id}']")
    assert "求助中（已给出方案）" in line.inner_text() and "5,000 积分" in line.inner_text()
    buyer.screenshot(path=str(shots / "my-cases-phone-zh.png"), full_page=True)
    buyer.goto("/my/points")
    payout = buyer.locator(".payout").filter(has=buyer.locator(f"a[href='/cases/{case_id}']"))
    assert "支付 5,000 积分（¥50.00）" in payout.inner_text()
    buyer.screenshot(path=str(shots / "my-points-phone-zh.png"), full_page=True)
    buyer.goto("/my/points?lang=en")
    assert "pays 5,000 points (¥50.00)" in buyer.inner_text("body")
    buyer.screenshot(path=str(shots / "my-points-phone-en.png"), full_page=True)
    buyer.goto(f"/cases/{case_id}?lang=en")
    assert "The plan:" in buyer.inner_text("#outcome")
    buyer.screenshot(path=str(shots / "case-plan-phone-en.png"), full_page=True)
    # Withdrawing asks first, on a page of its own.
    buyer.goto(f"/cases/{case_id}?lang=zh")
    buyer.click("button[data-action=withdraw]")
    buyer.wait_for_selector("text=确定撤销这次求助吗")
    buyer.screenshot(path=str(shots / "withdraw-confirm-phone-zh.png"), full_page=True)
    buyer.click("text=不了，返回服务单")
    assert "求助中" in buyer.inner_text("#case-state")
