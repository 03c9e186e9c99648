"""The notification centre over HTTP, with real accounts and sessions on the embedded database.

What a person does there: read their notifications in Chinese or English (sentences,
not codes), see the badge change without reloading (the conditional poll), acknowledge
one, mark all read, and choose channels — a refused form keeps what was typed and
says what is wrong beside each field. The API answers the same things as JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
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
from aftersales.services.sandboxes import advance_sandbox
from aftersales.services.time import FixedClock
from aftersales.settings import Settings

TEN_AM = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SB = "np"
LAMP = f"{SB}.{data.ITEM_LAMP_HANGZHOU}"  # buyer-001's lamp, installed by hz-install-01
RAW_CODES = re.compile(r"\b(case_assigned|due_soon|complaint_decided|no_solution_in_time)\b")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, TestClient]]:
    container = bootstrap(
        Settings(data_dir=tmp_path_factory.mktemp("notify-pages")), clock=FixedClock(TEN_AM)
    )
    ensure_demo_accounts(container)
    create_demo_sandbox(container, SB, start=TEN_AM)
    yield container, TestClient(create_app(container))
    container.close()


def _signed_in(client: TestClient, username: str, role: Role) -> tuple[TestClient, str]:
    session = TestClient(client.app)
    page = session.post("/login", data={"username": username, "password": DEMO_PASSWORDS[role]})
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return session, token


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)[^>]*>.*?</\1>", "", html, flags=re.S))


def test_the_installer_reads_the_assignment_and_the_warning_in_either_language(
    world: tuple[Container, TestClient],
) -> None:
    container, client = world
    installer, csrf = _signed_in(client, "hz-install-01", Role.PROVIDER)
    before = installer.get("/notifications/badge.json")
    assert before.status_code == 200 and before.headers["ETag"]
    unchanged = installer.get(
        "/notifications/badge.json", headers={"If-None-Match": before.headers["ETag"]}
    )
    assert unchanged.status_code == 304  # the poll costs nothing while nothing changes

    case_id = svc.request_help(
        container.services,
        order_item_id=LAMP,
        actor=Actor(Role.CONSUMER, data.DEMO_BUYER, Channel.HELP_BUTTON),
        failure="installation_late",
    ).case.id
    advance_sandbox(container.services, SB, by=timedelta(minutes=31))

    badge = installer.get(
        "/notifications/badge.json", headers={"If-None-Match": before.headers["ETag"]}
    )
    assert badge.status_code == 200
    assert badge.json()["unread"] == before.json()["unread"] + 2
    assert (
        case_id in badge.json()["newest"]["text"] and badge.json()["newest"]["kind"] == "即将到期"
    )

    zh = _text(installer.get("/notifications?lang=zh").text)
    assert "已指派给您处理" in zh and "还剩 30 分" in zh and f"沙盒 {SB}" in zh
    assert not RAW_CODES.search(zh)
    assert not re.search(r"\b(due|assigned|sandbox|breached|solution|Acknowledge)\b", zh)
    en = _text(installer.get("/notifications?lang=en").text)
    assert "has been assigned to you" in en and "30 min from now" in en
    assert not RAW_CODES.search(en)
    fragment = installer.get("/notifications?fragment=list")
    assert fragment.text.lstrip().startswith('<div id="notification-list"')

    api = installer.get("/api/v1/notifications").json()
    warning = next(n for n in api["items"] if n["kind"] == "due_soon" and n["case_id"] == case_id)
    assert warning["mark"] == "30m" and warning["text"]["rule"] == "OH-4"
    acked = installer.post(
        f"/notifications/{warning['id']}/ack", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert acked.status_code == 303
    after = installer.get("/api/v1/notifications").json()
    assert next(n for n in after["items"] if n["id"] == warning["id"])["acked_at"]

    refused = installer.post(f"/notifications/{warning['id']}/ack", data={"csrf_token": "x"})
    assert refused.status_code == 403
    read = installer.post("/notifications/read", data={"csrf_token": csrf}, follow_redirects=False)
    assert read.status_code == 303
    assert installer.get("/api/v1/notifications").json()["unread"] == 0


def test_nobody_acknowledges_someone_elses_notification(
    world: tuple[Container, TestClient],
) -> None:
    _, client = world
    installer, _ = _signed_in(client, "hz-install-01", Role.PROVIDER)
    mine = installer.get("/api/v1/notifications").json()["items"]
    if not mine:
        pytest.skip("the installer has nothing yet (runs after the scenario above)")
    buyer, csrf = _signed_in(client, data.DEMO_BUYER, Role.CONSUMER)
    answer = buyer.post(f"/notifications/{mine[0]['id']}/ack", data={"csrf_token": csrf})
    assert answer.status_code == 404
    assert "没有找到" in _text(answer.text) or "找不到" in _text(answer.text)


def test_a_refused_channel_form_keeps_what_was_typed_and_says_why_beside_each_field(
    world: tuple[Container, TestClient],
) -> None:
    _, client = world
    shop, csrf = _signed_in(client, data.MERCHANT_GUANGMING, Role.MERCHANT)
    form = {
        "csrf_token": csrf,
        "email": "shop-at-example",
        "email_on": "1",
        "phone": "12345",
        "sms_on": "1",
        "language": "zh",
    }
    refused = shop.post("/notifications/preferences", data=form)
    assert refused.status_code == 422
    html = refused.text
    assert 'value="shop-at-example"' in html and 'value="12345"' in html
    assert html.count("邮箱地址格式不对") == 1 and html.count("短信只能发到中国大陆手机号") == 1
    assert shop.get("/api/v1/notifications/preferences").json()["email"] is None

    english = shop.post("/notifications/preferences?lang=en", data=form)
    assert "not an email address" in english.text and "邮箱地址格式不对" not in english.text

    saved = shop.post(
        "/notifications/preferences",
        data={**form, "email": "shop@example.com", "phone": "138-0013-8000"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and "saved=1" in saved.headers["location"]
    kept = shop.get("/api/v1/notifications/preferences").json()
    assert (kept["email"], kept["phone"], kept["sms_on"]) == (
        "shop@example.com",
        "13800138000",
        True,
    )
    bad = shop.put(
        "/api/v1/notifications/preferences",
        json={"email": "x", "email_on": True},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad.status_code == 422 and "email" in bad.text
