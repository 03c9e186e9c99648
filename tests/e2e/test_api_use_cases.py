"""The API's use cases beyond intake: paging, pauses, quotes, chat, attachments, balances,
policies and sandboxes — each driven over HTTP with a bearer token, as a system would."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from aftersales.bootstrap import Container, bootstrap
from aftersales.demo import dataset as data
from aftersales.demo.setup import create_demo_sandbox, ensure_demo_accounts
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.entrypoints.api.app import create_app
from aftersales.services import accounts
from aftersales.services import cases as svc
from aftersales.services.time import FixedClock
from aftersales.settings import Settings

TEN_AM = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SB = "uc"
# The smallest PNG there is: a 1×1 transparent pixel.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


class Api:
    """A client signed in as one account with a bearer token."""

    def __init__(self, client: TestClient, container: Container, username: str) -> None:
        made = accounts.create_api_token(
            container.services, username=username, name=f"test-{username}"
        )
        self.client, self.headers = client, {"Authorization": f"Bearer {made.token}"}

    def get(self, path: str, **params: object):  # type: ignore[no-untyped-def]
        return self.client.get(path, params=params, headers=self.headers)

    def post(self, path: str, body: object = None, key: str | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
        headers = {**self.headers, **({"Idempotency-Key": key} if key else {})}
        return self.client.post(path, json=body, headers=headers, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, TestClient]]:
    container = bootstrap(
        Settings(data_dir=tmp_path_factory.mktemp("use-cases")), clock=FixedClock(TEN_AM)
    )
    ensure_demo_accounts(container)
    create_demo_sandbox(container, SB, start=TEN_AM)
    yield container, TestClient(create_app(container))
    container.close()


def _help(container: Container, item: str, buyer: str, failure: str) -> str:
    return svc.request_help(
        container.services,
        order_item_id=f"{SB}.{item}",
        actor=Actor(Role.CONSUMER, buyer, Channel.HELP_BUTTON),
        failure=failure,
    ).case.id


def test_case_lists_page_with_cursors_that_cover_every_case_exactly_once(
    world: tuple[Container, TestClient],
) -> None:
    container, client = world
    for item, buyer, failure in (
        (data.ITEM_LAMP_HANGZHOU, data.DEMO_BUYER, "installation_late"),
        (data.ITEM_LAMP_BEIJING, "buyer-012", "installation_late"),
        (data.ITEM_TILES_GUANGZHOU, "buyer-002", "not_delivered_into_home"),
    ):
        _help(container, item, buyer, failure)  # a repeat returns the case already open
    ops = Api(client, container, "ops")
    everything = [c["id"] for c in ops.get("/api/v1/cases", sandbox=SB, limit=500).json()["items"]]
    assert len(everything) >= 3
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, object] = {"sandbox": SB, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = ops.get("/api/v1/cases", **params).json()
        assert len(page["items"]) <= 2
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything  # same order, no gaps, no repeats


def test_a_cursor_the_api_did_not_give_out_is_refused_with_what_to_do(
    world: tuple[Container, TestClient],
) -> None:
    container, client = world
    answer = Api(client, container, "ops").get("/api/v1/cases", cursor="not-a-cursor")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "next_cursor" in answer.json()["detail"]


def test_operations_filter_cases_through_the_api_with_the_whole_count(
    world: tuple[Container, TestClient],
) -> None:
    container, client = world
    lamp = _help(container, data.ITEM_LAMP_HANGZHOU, data.DEMO_BUYER, "installation_late")
    ops = Api(client, container, "ops")
    found = ops.get("/api/v1/cases", sandbox=SB, q="买家 001", programme="one_click_help")
    assert found.status_code == 200
    body = found.json()
    assert body["total"] == 1 and [c["id"] for c in body["items"]] == [lamp]
    line = body["items"][0]
    assert line["buyer_name"] == "买家 001" and line["merchant_name"] and line["assignee_name"]
    due = ops.get("/api/v1/cases", sandbox=SB, due_within=60, clock="running").json()
    assert lamp in [c["id"] for c in due["items"]] and due["total"] == len(due["items"])
    assert ops.get("/api/v1/cases", q=lamp).json()["total"] == 0  # live data unless a sandbox
    # A merchant asking for another shop's cases finds none of them.
    shop = Api(client, container, data.MERCHANT_SHIJI)
    assert shop.get("/api/v1/cases", sandbox=SB, q=lamp).json() == {
        "items": [],
        "total": 0,
        "next_cursor": None,
    }
    for bad in ({"state": "nope"}, {"clock": "late"}, {"due_within": -1}, {"programme": "x"}):
        refused = ops.get("/api/v1/cases", sandbox=SB, **bad)
        assert refused.status_code == 422, bad
    assert ops.get("/api/v1/cases", sandbox="no-such-box").status_code == 404


def test_a_complaint_without_text_is_refused_with_what_to_write(
    world: tuple[Container, TestClient],
) -> None:
    container, client = world
    case_id = _help(container, data.ITEM_TILES_GUANGZHOU, "buyer-002", "not_delivered_into_home")
    buyer = Api(client, container, "buyer-002")
    answer = buyer.post(
        f"/api/v1/cases/{case_id}/complaints", {"clock_id": "solution", "text": "  "}
    )
    assert answer.status_code == 422
    assert "a complaint needs its text" in answer.json()["detail"]
    assert svc.get_case(container.services, case_id).complaints == []


def test_ss_2_a_provider_pauses_a_clock_with_an_exemption_and_resumes_it(
    world: tuple[Container, TestClient],
) -> None:
    container, client = world
    case_id = _help(container, data.ITEM_SOFA_CHENGDU, "buyer-003", "installation_late")
    assignee = svc.get_case(container.services, case_id).assignee
    assert assignee is not None
    provider = Api(client, container, assignee)
    paused = provider.post(
        f"/api/v1/cases/{case_id}/clocks/resolution/pause", {"reason": "buyer_rescheduled"}
    )
    assert paused.status_code == 200, paused.text
    resolution = {c["id"]: c for c in paused.json()["clocks"]}["resolution"]
    assert resolution["status"] == "paused" and resolution["pause_reason"] == "buyer_rescheduled"
    made_up = provider.post(
        f"/api/v1/cases/{case_id}/clocks/solution/pause", {"reason": "felt_like_it"}
    )
    assert made_up.status_code == 422 and "felt_like_it" in made_up.json()["detail"]
    resumed = provider.post(f"/api/v1/cases/{case_id}/clocks/resolution/resume")
    assert resumed.status_code == 200
    resolution = {c["id"]: c for c in resumed.json()["clocks"]}["resolution"]
    assert resolution["status"] == "running"
    buyer = Api(client, container, "buyer-003")
    refused = buyer.post(
        f"/api/v1/cases/{case_id}/clocks/resolution/pause", {"reason": "buyer_rescheduled"}
    )
    assert refused.status_code == 403


def test_nw_6_a_brand_quotes_an_out_of_warranty_repair_and_the_buyer_accepts(
    world: tuple[Container, TestClient],
) -> None:
    container, client = world
    buyer = Api(client, container, "buyer-007")
    filed = buyer.post(
        "/api/v1/repair-reports",
        {"order_item_id": f"{SB}.{data.ITEM_PHONE_OUT_OF_WARRANTY}", "description": "电池鼓包"},
    )
    assert filed.status_code == 201, filed.text
    case_id = filed.json()["id"]
    assert filed.json()["in_warranty"] is False
    brand = Api(client, container, data.BRAND_LINGXI)
    assert brand.post(f"/api/v1/cases/{case_id}/actions", {"action": "accept"}).status_code == 200
    quoted = brand.post(f"/api/v1/cases/{case_id}/quote", {"amount_fen": 25_000})
    assert quoted.status_code == 200, quoted.text
    assert quoted.json()["quote"]["status"] == "issued"
    negative = brand.post(f"/api/v1/cases/{case_id}/quote", {"amount_fen": -1})
    assert negative.status_code == 422 and "amount_fen" in negative.json()["detail"]
    assert brand.post(f"/api/v1/cases/{case_id}/quote/answer", {"accept": True}).status_code == 403
    answered = buyer.post(f"/api/v1/cases/{case_id}/quote/answer", {"accept": True})
    assert answered.status_code == 200
    assert answered.json()["quote"] == {**quoted.json()["quote"], "status": "accepted"}


def test_nw_2c_a_chat_with_the_brand_becomes_a_repair_report_once(
    world: tuple[Container, TestClient],
) -> None:
    container, client = world
    buyer = Api(client, container, "buyer-006")
    opened = buyer.post(
        "/api/v1/chats",
        {"order_item_id": f"{SB}.{data.ITEM_KETTLE_SHANGHAI}", "text": "水壶不加热了"},
    )
    assert opened.status_code == 201, opened.text
    chat_id = opened.json()["id"]
    brand = Api(client, container, data.BRAND_XINGHE)
    replied = brand.post(f"/api/v1/chats/{chat_id}/messages", {"text": "请问指示灯亮吗？"})
    assert [m["sender_role"] for m in replied.json()["messages"]] == ["consumer", "brand"]
    assert (
        Api(client, container, data.BRAND_LINGXI).get(f"/api/v1/chats/{chat_id}").status_code == 404
    )
    assert Api(client, container, "buyer-001").get(f"/api/v1/chats/{chat_id}").status_code == 404
    report = buyer.post(f"/api/v1/chats/{chat_id}/report")
    assert report.status_code == 201, report.text
    assert report.json()["channel"] == "chat" and "水壶不加热了" in report.json()["description"]
    again = brand.post(f"/api/v1/chats/{chat_id}/report")
    assert again.status_code == 200 and again.json()["id"] == report.json()["id"]
    assert buyer.get(f"/api/v1/chats/{chat_id}").json()["case_id"] == report.json()["id"]


def test_a_photo_is_attached_listed_and_served_back_and_a_disguised_file_is_refused(
    world: tuple[Container, TestClient],
) -> None:
    container, client = world
    case_id = _help(container, data.ITEM_WARDROBE_NANJING, "buyer-004", "installation_late")
    buyer = Api(client, container, "buyer-004")
    files = {"file": ("门板.png", PNG, "image/png")}
    sent = buyer.post(f"/api/v1/cases/{case_id}/attachments", files=files, key="photo-1")
    assert sent.status_code == 201, sent.text
    again = buyer.post(f"/api/v1/cases/{case_id}/attachments", files=files, key="photo-1")
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == sent.json()
    listed = buyer.get(f"/api/v1/cases/{case_id}/attachments").json()
    assert [(a["filename"], a["content_type"], a["size"]) for a in listed] == [
        ("门板.png", "image/png", len(PNG))
    ]
    served = buyer.get(f"/api/v1/cases/{case_id}/attachments/{listed[0]['id']}")
    assert served.content == PNG and served.headers["content-type"] == "image/png"
    disguised = buyer.post(
        f"/api/v1/cases/{case_id}/attachments",
        files={"file": ("photo.png", b"#!/bin/sh\necho hi\n", "image/png")},
    )
    assert disguised.status_code == 415 and "photo.png" in disguised.json()["detail"]
    stranger = Api(client, container, "buyer-002")
    assert stranger.get(f"/api/v1/cases/{case_id}/attachments").status_code == 404


def test_oh_5_balances_show_the_buyer_credited_and_the_merchant_debited_after_a_missed_hour(
    world: tuple[Container, TestClient],
) -> None:
    container, client = world
    box = "uc-balances"
    ops = Api(client, container, "ops")
    made = ops.post("/api/v1/sandboxes", {"id": box, "start": TEN_AM.isoformat()}, key="sb-1")
    assert made.status_code == 201, made.text
    replay = ops.post("/api/v1/sandboxes", {"id": box, "start": TEN_AM.isoformat()}, key="sb-1")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    taken = ops.post("/api/v1/sandboxes", {"id": box})
    assert taken.status_code == 409 and "already exists" in taken.json()["detail"]
    buyer = Api(client, container, data.DEMO_BUYER)
    pressed = buyer.post(
        "/api/v1/help-requests",
        {"order_item_id": f"{box}.{data.ITEM_LAMP_HANGZHOU}", "failure": "installation_late"},
    )
    assert pressed.status_code == 201, pressed.text
    moved = ops.post(f"/api/v1/sandboxes/{box}/advance?by=61m", key="tick-1")
    repeat = ops.post(f"/api/v1/sandboxes/{box}/advance?by=61m", key="tick-1")
    assert moved.json()["payouts"] == 1 and repeat.json() == moved.json()  # moved once
    assert {s["id"]: s["now"] for s in ops.get("/api/v1/sandboxes").json()}[box] == moved.json()[
        "now"
    ]
    assert buyer.get("/api/v1/balances", sandbox=box).json() == [
        {"sandbox": box, "account": data.DEMO_BUYER, "unit": "points", "balance": 5_000}
    ]
    everyone = {
        (b["account"], b["unit"]): b["balance"]
        for b in ops.get("/api/v1/balances", sandbox=box).json()
    }
    assert everyone[(data.DEMO_BUYER, "points")] == 5_000
    assert sum(everyone.values()) == 0  # every point paid is some payer's debit
    payouts = buyer.get("/api/v1/payouts", sandbox=box).json()["items"]
    assert [p["rule"] for p in payouts] == ["OH-5"] and "OH-5" in payouts[0]["explanation"]["en"]


def test_oh_8_policies_list_every_version_and_say_which_is_in_force(
    world: tuple[Container, TestClient],
) -> None:
    container, client = world
    buyer = Api(client, container, data.DEMO_BUYER)
    versions = buyer.get("/api/v1/policies", programme="one_click_help").json()
    spans = [
        (
            datetime.fromisoformat(p["effective_from"]),
            p["effective_until"] and datetime.fromisoformat(p["effective_until"]),
        )
        for p in versions
    ]
    for (_, earlier_until), (later_from, _) in itertools.pairwise(spans):
        assert earlier_until and earlier_until <= later_from  # one version at a time, in order
    assert sum(p["in_force"] for p in versions) == 1 and len(versions) >= 2
    current = next(p for p in versions if p["in_force"])
    assert {c["rule"] for c in current["clocks"]} >= {"OH-4", "OH-6"}
    document = buyer.get(f"/api/v1/policies/{current['id']}").json()
    assert document["document"]["id"] == current["id"] and document["document"]["penalties"]
    missing = buyer.get("/api/v1/policies/no-such-version")
    assert missing.status_code == 404 and "no-such-version" in missing.json()["detail"]


def test_the_openapi_document_describes_every_endpoint_with_its_problem_answers(
    world: tuple[Container, TestClient],
) -> None:
    _, client = world
    spec = client.get("/openapi.json").json()
    operations = [
        (path, method, op)
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1")
        for method, op in item.items()
    ]
    assert len(operations) >= 25
    assert all("422" in op["responses"] and "401" in op["responses"] for _, _, op in operations)
    assert client.get("/docs").status_code == 200
