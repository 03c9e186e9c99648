"""The installer's and the hotline agent's pages over HTTP, with the demo's real accounts.

The whole application (pages and API) on the embedded database, signed in through
the sign-in form: the installer sees whom to visit and where, books the visit and
gives a saved solution; the shop and other providers see the contact masked, in the
pages and in the API; the agent finds a caller by phone and adds to an open report.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from aftersales.bootstrap import Container, bootstrap
from aftersales.demo import dataset as data
from aftersales.demo.setup import DEMO_PASSWORDS, create_demo_sandbox, ensure_demo_accounts
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.entrypoints.api.app import create_app
from aftersales.services import cases as svc
from aftersales.services.time import FixedClock
from aftersales.settings import Settings

TEN_AM = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
BUYER_001_PHONE = "13853631572"
BUYER_001_ADDRESS = "浙江省杭州市西湖区文三路 90 号"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, TestClient]]:
    container = bootstrap(
        Settings(data_dir=tmp_path_factory.mktemp("field")), clock=FixedClock(TEN_AM)
    )
    ensure_demo_accounts(container)
    yield container, TestClient(create_app(container))
    container.close()


def _signed_in(app: TestClient, username: str, role: Role, lang: str = "zh") -> TestClient:
    client = TestClient(app.app)
    response = client.post("/login", data={"username": username, "password": DEMO_PASSWORDS[role]})
    assert response.status_code == 200, response.text
    client.get("/lang/" + lang)
    client.headers["X-CSRF-Token"] = _csrf(response.text)
    return client


def _csrf(html: str) -> str:
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def _lamp_case(container: Container, sandbox: str) -> str:
    create_demo_sandbox(container, sandbox, start=TEN_AM)
    return svc.request_help(
        container.services,
        order_item_id=f"{sandbox}.{data.ITEM_LAMP_HANGZHOU}",
        actor=Actor(Role.CONSUMER, data.DEMO_BUYER, Channel.HELP_BUTTON),
        failure="installation_late",
    ).case.id


def _post(client: TestClient, url: str, **form: str) -> object:
    token = client.headers["X-CSRF-Token"]
    return client.post(url, data={**form, "csrf_token": token}, follow_redirects=False)


def test_the_assigned_installer_sees_whom_to_visit_where_in_the_queue_and_on_the_case(
    world: tuple[Container, TestClient],
) -> None:
    container, app = world
    case_id = _lamp_case(container, "f-see")
    installer = _signed_in(app, "hz-install-01", Role.PROVIDER)
    queue = installer.get("/provider/queue").text
    line = queue.split(f'data-case="{case_id}"', 1)[1].split("</tr>", 1)[0]
    assert "买家 001" in line and f'href="tel:{BUYER_001_PHONE}"' in line
    assert BUYER_001_ADDRESS in line and "尚未约定" in line
    page = installer.get(f"/cases/{case_id}").text
    assert f"tel:{BUYER_001_PHONE}" in page and BUYER_001_ADDRESS in page
    assert "处理方 杭州安装服务站" in page  # the assignee by name, not its id
    decisions = page.split("时效判定与说明", 1)[1].split("</section>", 1)[0]
    assert "立即指派给服务方「杭州安装服务站」" in decisions  # OH-3, the provider by name
    assert "hz-install-01" not in decisions
    english = _signed_in(app, "hz-install-01", Role.PROVIDER, "en").get(f"/cases/{case_id}")
    assert "Customer and visit" in english.text and "not booked yet" in english.text
    assert "Provider 杭州安装服务站" not in english.text or "dispatched the case" in english.text


def test_the_shop_and_other_providers_see_the_contact_masked_in_pages_and_the_api(
    world: tuple[Container, TestClient],
) -> None:
    container, app = world
    case_id = _lamp_case(container, "f-mask")
    shop = _signed_in(app, data.MERCHANT_GUANGMING, Role.MERCHANT)
    page = shop.get(f"/cases/{case_id}").text
    assert BUYER_001_PHONE not in page and "138****1572" in page
    assert "浙江省杭州市西湖区" in page and "文三路" not in page
    assert "仅指派的服务方与平台运营可见" in page
    assert 'id="appointment-form"' not in page  # whoever books the visit calls the buyer
    queue = shop.get("/provider/queue").text
    assert BUYER_001_PHONE not in queue and "138****1572" in queue
    answer = shop.get(f"/api/v1/cases/{case_id}").json()
    assert answer["contact"] == {
        "name": "买***",
        "phone": "138****1572",
        "address": "浙江省杭州市西湖区",
        "area": "浙江省杭州市西湖区",
        "caller": "",
        "preferred_time": "",
        "masked": True,
    }
    assert BUYER_001_PHONE not in str(answer) and "文三路" not in str(answer)
    other = _signed_in(app, "dlv-south", Role.PROVIDER)
    assert other.get(f"/api/v1/cases/{case_id}").status_code == 404  # not theirs at all
    installer = _signed_in(app, "hz-install-01", Role.PROVIDER)
    mine = installer.get(f"/api/v1/cases/{case_id}").json()["contact"]
    assert mine["phone"] == BUYER_001_PHONE and mine["masked"] is False


def test_the_installer_books_the_visit_and_the_buyer_sees_it(
    world: tuple[Container, TestClient],
) -> None:
    container, app = world
    case_id = _lamp_case(container, "f-visit")
    installer = _signed_in(app, "hz-install-01", Role.PROVIDER)
    booked = _post(installer, f"/cases/{case_id}/appointment", visit_at="2026-11-24T15:30")
    assert booked.status_code == 303
    page = installer.get(f"/cases/{case_id}").text
    assert "2026-11-24 15:30" in page and "与买家约定上门时间：2026-11-24 15:30" in page
    queue = installer.get("/provider/queue").text
    assert "2026-11-24 15:30" in queue.split(f'data-case="{case_id}"', 1)[1].split("</tr>")[0]
    buyer = _signed_in(app, data.DEMO_BUYER, Role.CONSUMER)
    assert "2026-11-24 15:30" in buyer.get(f"/cases/{case_id}").text
    api = installer.post(
        f"/api/v1/cases/{case_id}/appointment", json={"at": "2026-11-25T09:00:00+08:00"}
    )
    assert api.status_code == 200, api.text
    assert api.json()["appointment_at"] == "2026-11-25T01:00:00+00:00"


@pytest.mark.parametrize(
    ("typed", "zh", "en"),
    [
        ("2026-11-24T09:00", "上门时间必须晚于现在。", "The visit must be later than now."),
        ("2026-11-24T23:30", "07:00–22:00", "between 07:00 and 22:00"),
        ("", "请填写上门的日期和时间。", "Enter the date and time of the visit."),
        ("明天上午", "无法识别这个时间", "This time cannot be read"),
    ],
)
def test_a_refused_visit_time_is_explained_beside_the_field_and_kept(
    world: tuple[Container, TestClient], typed: str, zh: str, en: str
) -> None:
    container, app = world
    case_id = _lamp_case(container, f"f-bad-{abs(hash(typed)) % 10_000}")
    for lang, words in (("zh", zh), ("en", en)):
        installer = _signed_in(app, "hz-install-01", Role.PROVIDER, lang)
        refused = _post(installer, f"/cases/{case_id}/appointment", visit_at=typed)
        assert refused.status_code == 422
        error = re.search(r'<p class="field-error" id="visit-error"[^>]*>([^<]+)</p>', refused.text)
        assert error and words in error.group(1)
        assert refused.text.count('class="field-error"') == 1
        assert f'value="{typed}"' in refused.text
    assert container.services and svc.get_case(container.services, case_id).appointment_at is None


def test_a_saved_solution_is_picked_when_giving_the_solution(
    world: tuple[Container, TestClient],
) -> None:
    container, app = world
    case_id = _lamp_case(container, "f-sol")
    installer = _signed_in(app, "hz-install-01", Role.PROVIDER)
    refused = _post(installer, "/provider/solutions", title="", body="今天下午上门安装")
    assert refused.status_code == 422
    assert "请填写标题。" in refused.text and "今天下午上门安装</textarea>" in refused.text
    saved = _post(installer, "/provider/solutions", title="当天上门", body="今天下午三点上门安装")
    assert saved.status_code == 303
    library = installer.get("/provider/solutions").text
    text_id = re.search(r'data-solution="([^"]+)"', library).group(1)  # type: ignore[union-attr]
    page = installer.get(f"/cases/{case_id}").text
    assert f'value="{text_id}" data-body="今天下午三点上门安装">当天上门</option>' in page
    given = _post(
        installer, f"/cases/{case_id}/act", action="give_solution", note="", solution_id=text_id
    )
    assert given.status_code == 303
    page = installer.get(f"/cases/{case_id}").text
    assert "给出了解决方案：今天下午三点上门安装" in page
    empty = _post(installer, f"/cases/{case_id}/act", action="resolve", note="")
    assert empty.status_code == 422 and "请填写说明" in empty.text
    shop = _signed_in(app, "dlv-south", Role.PROVIDER)
    assert "当天上门" not in shop.get("/provider/solutions").text  # each keeps its own


def test_exemption_choices_read_as_names_not_codes(world: tuple[Container, TestClient]) -> None:
    container, app = world
    case_id = _lamp_case(container, "f-pause")
    page = _signed_in(app, "hz-install-01", Role.PROVIDER).get(f"/cases/{case_id}").text
    options = re.findall(r'<option value="resolution:[^"]+">([^<]+)</option>', page)
    assert "48 小时内解决 · 买家改约" in options
    assert not any(o.startswith("resolution") for o in options)
    english = _signed_in(app, "hz-install-01", Role.PROVIDER, "en").get(f"/cases/{case_id}").text
    assert "Solve the problem within 48 hours · buyer rescheduled" in english


def test_the_agent_finds_the_caller_by_phone_and_adds_to_the_open_report(
    world: tuple[Container, TestClient],
) -> None:
    container, app = world
    create_demo_sandbox(container, "f-agent", start=TEN_AM)
    kettle = f"f-agent.{data.ITEM_KETTLE_SHANGHAI}"
    agent = _signed_in(app, "agent-017", Role.AGENT)
    desk = agent.get("/agent", params={"q": "138 4651 9612"}).text  # buyer-006 rings
    assert f'data-item="{kettle}"' in desk and "来电人的服务单" in desk
    assert "买家 买***" in desk  # the agent confirms who calls, and reads no more
    bad = _post(
        agent,
        "/agent/report",
        item_id=kettle,
        q="13846519612",
        caller="王先生",
        callback_phone="12345",
        description="烧水时跳闸",
    )
    assert bad.status_code == 422
    assert "回拨电话格式不对" in bad.text and "烧水时跳闸</textarea>" in bad.text
    assert 'value="王先生"' in bad.text
    filed = _post(
        agent,
        "/agent/report",
        item_id=kettle,
        q="13846519612",
        caller="王先生",
        callback_phone="021-6888 1234",
        description="烧水时跳闸",
    )
    assert filed.status_code == 303 and "noted" not in filed.headers["location"]
    case_id = filed.headers["location"].rsplit("/", 1)[-1]
    desk = agent.get("/agent", params={"q": "02168881234"}).text  # found by the callback number
    assert f'data-case="{case_id}"' in desk and "追加到该服务单" in desk
    again = _post(
        agent,
        "/agent/report",
        item_id=kettle,
        q="02168881234",
        caller="王先生",
        callback_phone="",
        description="又跳闸了，今天第三次",
    )
    assert again.status_code == 303 and again.headers["location"] == f"/cases/{case_id}?noted=1"
    page = agent.get(again.headers["location"]).text
    assert "来电内容已追加到这张服务单" in page
    history = page.split('id="history"', 1)[1]
    assert "热线坐席 017 记录来电：又跳闸了，今天第三次" in history  # by name, as a sentence
    assert "Hotline agent 017" not in history and "acc-" not in history
    assert "021-****1234" in page and "王**" in page  # the agent sees the contact masked
    english = _signed_in(app, "agent-017", Role.AGENT, "en").get(f"/cases/{case_id}").text
    assert "Hotline agent 017 noted a call: 又跳闸了，今天第三次" in english


def test_over_the_api_a_second_hotline_report_is_added_to_the_open_one(
    world: tuple[Container, TestClient],
) -> None:
    container, app = world
    create_demo_sandbox(container, "f-api", start=TEN_AM)
    kettle = f"f-api.{data.ITEM_KETTLE_SHANGHAI}"
    agent = _signed_in(app, "agent-017", Role.AGENT)
    refused = agent.post(
        "/api/v1/repair-reports",
        json={"order_item_id": kettle, "description": "跳闸", "callback_phone": "110"},
    )
    assert refused.status_code == 422 and "callback" in refused.json()["detail"]
    report = {"order_item_id": kettle, "description": "跳闸", "callback_phone": "13900001234"}
    first = agent.post("/api/v1/repair-reports", json=report)
    assert first.status_code == 201, first.text
    assert first.json()["noted"] is False
    again = agent.post(
        "/api/v1/repair-reports",
        json={**report, "description": "又跳闸了", "caller_name": "王先生"},
    )
    assert again.status_code == 200 and again.json()["noted"] is True
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["contact"]["phone"] == "139****1234"  # masked for the agent
    assert again.json()["history"][-1]["zh"] == "热线坐席 017 记录来电：又跳闸了"


def test_a_call_about_a_help_request_is_added_to_it_on_the_desk(
    world: tuple[Container, TestClient],
) -> None:
    container, app = world
    case_id = _lamp_case(container, "f-call")
    lamp = f"f-call.{data.ITEM_LAMP_HANGZHOU}"
    agent = _signed_in(app, "agent-017", Role.AGENT)
    desk = agent.get("/agent", params={"q": lamp}).text
    card = desk.split(f'data-item="{lamp}"', 1)[1].split("</li>", 1)[0]
    assert case_id in card and "追加到该服务单" in card  # no badge, but an open help request
    added = _post(
        agent,
        "/agent/report",
        item_id=lamp,
        q=lamp,
        caller="张先生",
        callback_phone="",
        description="买家来电：师傅还没联系我",
    )
    assert added.headers["location"] == f"/cases/{case_id}?noted=1"
    page = agent.get(added.headers["location"]).text
    assert "热线坐席 017 记录来电：买家来电：师傅还没联系我" in page
    installer = _signed_in(app, "hz-install-01", Role.PROVIDER)
    assert "师傅还没联系我" in installer.get(f"/cases/{case_id}").text
