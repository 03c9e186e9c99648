"""The buyer's working day in the pages, over HTTP on the embedded database: what an item is
entitled to before pressing anything, the repair form (NW-2b) and how it refuses, my cases,
my points, the case's plan and result as sentences, confirming a withdrawal, and chatting
with the brand (NW-3) until the brand turns the chat into a report (NW-2c).

The world (a demo sandbox at 10:00) and the fake sign-in are those of ``test_web_pages``.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aftersales.bootstrap import Container
from aftersales.demo import dataset as data
from aftersales.domain.lifecycle import Role
from aftersales.entrypoints.web import PAGE_ROLES, Viewer
from aftersales.entrypoints.web.pages import consumer as consumer_pages
from aftersales.services.sandboxes import advance_sandbox
from tests.e2e.test_web_pages import (
    KETTLE,
    LAMP,
    PNG,
    SANDBOX,
    VIEWERS,
    _client,
    _press_help,
    world,
)

__all__ = ["world"]  # the module's world, shared with test_web_pages' fixture

VIEWERS["ac-buyer"] = Viewer("acc-b5", "赵女士", Role.CONSUMER, "buyer-005", "csrf-b5")
VIEWERS["ac-brand"] = Viewer("acc-hf", "寒风客服", Role.BRAND, data.BRAND_HANFENG, "csrf-hf")
AIR_CON = f"{SANDBOX}.{data.ITEM_AC_WUHAN}"
World = tuple[Container, FastAPI]
RAW_CODES = ("give_solution", "resolved", "issued", "help_button", "service_form", ">consumer<")


def _card(page: str, item: str) -> str:
    return page.split(f'id="item-{item}"', 1)[1].split("</li>", 1)[0]


def _repair(client: TestClient, item: str = KETTLE, lang: str = "zh", **fields: str) -> object:
    form = {
        "description": "加热后自动断电",
        "phone": "138 0000 0006",
        "address": "上海市浦东新区世纪大道 100 号 8 楼",
        "preferred_time": "2026-11-25T14:00",
        "csrf_token": VIEWERS["kettle-buyer"].csrf_token,
        **fields,
    }
    return client.post(
        f"/items/{item}/repair?lang={lang}",
        data=form,
        files=[("photos", ("kettle.png", PNG, "image/png"))],
        follow_redirects=False,
    )


# ---------------------------------------------------------------- before pressing anything


def test_oh_2_oh_4_an_item_says_its_city_is_covered_and_the_window_of_the_hour(
    world: World,
) -> None:
    _, app = world
    zh = _card(_client(app, "buyer").get("/my/orders?lang=zh").text, LAMP)
    assert 'class="covered"' in zh and "杭州市" in zh and "OH-2" in zh
    assert 'class="window-notice"' in zh and "09:00–18:00" in zh and "OH-4" in zh
    assert f'href="/items/{LAMP}/chat"' in zh  # the brand can be asked first (NW-3)
    en = _card(_client(app, "buyer").get("/my/orders?lang=en").text, LAMP)
    assert "covered by one-click help" in en and "09:00–18:00" in en
    assert not re.search(r"[\u4e00-\u9fff]", en.replace("吸顶灯", "").split("<strong>", 2)[-1])


# ---------------------------------------------------------------- the repair form (NW-2b)


def test_nw_2b_the_form_keeps_the_phone_address_and_time_on_the_case_for_the_buyer(
    world: World,
) -> None:
    _, app = world
    buyer = _client(app, "kettle-buyer")
    response = _repair(buyer)
    assert response.status_code == 303, response.text
    page = buyer.get(response.headers["location"] + "?lang=zh").text
    contact = page.split('id="contact"', 1)[1].split("</dl>", 1)[0]
    assert "13800000006" in contact  # written back the one way a dialler takes it
    assert "世纪大道 100 号" in contact and "2026-11-25 14:00" in contact
    description = page.split('class="description"', 1)[1].split("</p>", 1)[0]
    assert "13800000006" not in description  # not in the text every party reads
    assert "kettle.png" in page


@pytest.mark.parametrize(
    ("lang", "sentence"),
    [
        ("zh", "电话号码格式不对"),
        ("en", "That is not a phone number we can call"),
    ],
)
def test_a_refused_form_keeps_what_was_typed_and_says_the_problem_once_beside_it(
    world: World, lang: str, sentence: str
) -> None:
    _, app = world
    buyer = _client(app, "ac-buyer")
    before = buyer.get("/my/cases").text.count('class="card my-case')
    response = buyer.post(
        f"/items/{AIR_CON}/repair?lang={lang}",
        data={
            "description": "不制冷，出风是热的",
            "phone": "12345",
            "address": "武汉市洪山区珞喻路 1 号",
            "preferred_time": "2020-01-01T09:00",
            "csrf_token": "csrf-b5",
        },
    )
    assert response.status_code == 422
    page = response.text
    assert page.count(sentence) == 1
    phone_field = page.split('name="phone"', 1)[1].split(">", 1)[0]
    assert 'value="12345"' in phone_field and 'aria-invalid="true"' in phone_field
    assert "不制冷，出风是热的" in page and "珞喻路 1 号" in page  # nothing typed is lost
    assert 'id="preferred_time-error"' in page  # a time that has passed
    assert 'id="address-error"' not in page and 'id="description-error"' not in page
    if lang == "zh":
        assert "Invalid request" not in page and "phone number" not in page
    assert buyer.get("/my/cases").text.count('class="card my-case') == before  # nothing filed


def test_a_photo_that_is_not_a_photo_is_named_beside_the_photo_field(world: World) -> None:
    _, app = world
    buyer = _client(app, "kettle-buyer")
    response = buyer.post(
        f"/items/{KETTLE}/repair",
        data={
            "description": "屏幕不亮",
            "phone": "0571-8888888",
            "address": "杭州市",
            "csrf_token": VIEWERS["kettle-buyer"].csrf_token,
        },
        files=[("photos", ("virus.exe", b"MZ\x90\x00 not a photo", "image/png"))],
    )
    assert response.status_code == 422
    error = response.text.split('id="photos-error"', 1)[1].split("</p>", 1)[0]
    assert "virus.exe" in error and "JPEG" in error
    assert 'value="0571-8888888"' in response.text


# ---------------------------------------------------------------- my cases, my points


def test_my_cases_list_open_and_closed_cases_with_state_deadline_and_payouts(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    container, app = world
    buyer = _client(app, "buyer")
    case_id = _press_help(buyer)
    advance_sandbox(container.services, SANDBOX, by=timedelta(minutes=61))  # OH-5 pays
    page = buyer.get("/my/cases?lang=zh").text
    line = page.split(f'data-case="{case_id}"', 1)[1].split("</li>", 1)[0]
    assert "求助中（已指派）" in line and "下一个截止时间" in line
    assert "5,000 积分" in line
    english = buyer.get("/my/cases?lang=en").text
    assert "open (dispatched)" in english and "Next deadline" in english
    for code in RAW_CODES:
        assert code not in english.split("<main>", 1)[1], code
    # Keyset pages: one line a page here, and every case once across the pages.
    monkeypatch.setattr(consumer_pages, "PAGE_SIZE", 1)
    seen, url = [], "/my/cases"
    while url:
        paged = buyer.get(url).text
        seen += re.findall(r'data-case="([^"]+)"', paged)
        found = re.search(r'class="next" href="([^"]+)"', paged)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert case_id in seen and len(seen) == len(set(seen)) >= 1


def test_my_points_show_the_balance_and_each_payout_with_its_reason_and_case(
    world: World,
) -> None:
    container, app = world
    buyer = _client(app, "buyer")
    case_id = _press_help(buyer)
    advance_sandbox(container.services, SANDBOX, by=timedelta(minutes=61))
    page = buyer.get("/my/points?lang=zh").text
    assert f'href="/cases/{case_id}"' in page
    assert "支付 5,000 积分（¥50.00）" in page and "OH-5" in page
    assert f"{SANDBOX}" in page.split('class="card balance"', 1)[1].split("</section>", 1)[0]
    english = buyer.get("/my/points?lang=en").text
    assert "pays 5,000 points (¥50.00) to the buyer account buyer-001" in english
    assert _client(app, "installer").get("/my/points").status_code == 403


def test_a_damaged_page_link_is_refused_in_the_page_language(world: World) -> None:
    _, app = world
    page = _client(app, "buyer").get("/my/cases", params={"after": "nonsense", "lang": "zh"})
    assert page.status_code == 400
    assert page.text.count("无法完成") == 2  # the tab's title and the heading, once each
    assert "damaged" not in page.text


# ---------------------------------------------------------------- the case page


def test_oh_4_oh_9_the_plan_and_the_resolution_are_sentences_on_the_buyer_page(
    world: World,
) -> None:
    _, app = world
    buyer = _client(app, "buyer")
    case_id = _press_help(buyer)
    installer = _client(app, "installer")
    for action, note in (
        ("give_solution", "明天上午 10 点上门重新安装"),
        ("resolve", "已重新安装并测试，灯具工作正常"),
    ):
        done = installer.post(
            f"/cases/{case_id}/act",
            data={"action": action, "note": note, "csrf_token": VIEWERS["installer"].csrf_token},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
    page = buyer.get(f"/cases/{case_id}?lang=zh").text
    outcome = page.split('id="outcome"', 1)[1].split("</section>", 1)[0]
    assert "服务方案：" in outcome and "明天上午 10 点上门重新安装" in outcome
    assert "处理结果：" in outcome and "灯具工作正常" in outcome
    assert "服务商 杭州安装服务站" in outcome  # the installer by name
    story = page.split('class="history"', 1)[1].split("</ol>", 1)[0]
    assert "提交了一键求助服务单" in story and "给出了解决方案" in story, story
    assert "give_solution" not in page.split("<main>", 1)[1].replace(
        'data-action="give_solution"', ""
    )


def test_withdrawing_asks_first_and_only_the_confirmed_step_withdraws(world: World) -> None:
    _, app = world
    buyer = _client(app, "buyer")
    case_id = _press_help(buyer)
    asked = buyer.post(
        f"/cases/{case_id}/act?lang=zh",
        data={"action": "withdraw", "csrf_token": VIEWERS["buyer"].csrf_token},
    )
    assert asked.status_code == 200 and "确定撤销这次求助吗" in asked.text
    assert 'name="confirmed" value="yes"' in asked.text
    assert "求助中" in buyer.get(f"/cases/{case_id}").text.split('id="case-state"', 1)[1][:40]
    done = buyer.post(
        f"/cases/{case_id}/act",
        data={"action": "withdraw", "confirmed": "yes", "csrf_token": VIEWERS["buyer"].csrf_token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "已撤销" in buyer.get(f"/cases/{case_id}?lang=zh").text


# ---------------------------------------------------------------- chat (NW-3, NW-2c)


def test_nw_2c_buyer_asks_the_brand_which_answers_and_turns_the_chat_into_a_report(
    world: World,
) -> None:
    _, app = world
    buyer = _client(app, "ac-buyer")
    brand = _client(app, "ac-brand")
    empty = buyer.post(f"/items/{AIR_CON}/chat", data={"text": "  ", "csrf_token": "csrf-b5"})
    assert empty.status_code == 422 and "请输入要发送的内容" in empty.text
    started = buyer.post(
        f"/items/{AIR_CON}/chat",
        data={"text": "空调不制冷，是否在保修范围？", "csrf_token": "csrf-b5"},
        follow_redirects=False,
    )
    assert started.status_code == 303
    chat = started.headers["location"]
    thread_id = chat.rsplit("/", 1)[-1]
    assert f'data-thread="{thread_id}"' in brand.get("/chats").text
    assert "空调不制冷" in brand.get(chat).text
    replied = brand.post(
        f"{chat}/messages",
        data={"text": "在保修期内，请转为报修单，我们安排上门检测。", "csrf_token": "csrf-hf"},
        follow_redirects=False,
    )
    assert replied.status_code == 303
    fresh = buyer.get(f"{chat}/messages").text  # what the page fetches to show it live
    assert "安排上门检测" in fresh
    assert _client(app, "other-buyer").get(chat).status_code == 404
    assert _client(app, "kettle-buyer").get(f"{chat}/messages").status_code == 404
    reported = brand.post(f"{chat}/report", data={"csrf_token": "csrf-hf"}, follow_redirects=False)
    assert reported.status_code == 303
    case_page = buyer.get(reported.headers["location"] + "?lang=zh").text
    description = case_page.split('class="description"', 1)[1].split("</p>", 1)[0]
    assert "空调不制冷" in description and "安排上门检测" not in description
    assert "NW-4" in case_page
    assert 'action="/chats/' + thread_id + '/report"' not in brand.get(chat).text  # done once


def test_the_buyer_pages_are_refused_to_the_roles_they_are_not_for(world: World) -> None:
    _, app = world
    pages = {"my_cases": "/my/cases", "my_points": "/my/points", "chats": "/chats"}
    one_of_each = {
        Role.CONSUMER: "buyer",
        Role.PROVIDER: "installer",
        Role.MERCHANT: "shop",
        Role.BRAND: "brand",
        Role.AGENT: "agent",
        Role.OPERATIONS: "ops",
    }
    for role, who in one_of_each.items():
        client = _client(app, who)
        for name, path in pages.items():
            expected = 200 if role in PAGE_ROLES[name] else 403
            assert client.get(path).status_code == expected, (who, path)
