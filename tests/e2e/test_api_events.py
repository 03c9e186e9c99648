"""POST /api/v1/events and /api/v1/events/taobao on SQLite: who may send, and what is answered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from aftersales.adapters.webhooks.signing import sign
from aftersales.bootstrap import Container, bootstrap
from aftersales.domain.lifecycle import Role
from aftersales.entrypoints.api.app import create_app
from aftersales.services import accounts, master_data
from aftersales.services.master_data import World
from aftersales.services.sandboxes import create_sandbox
from aftersales.services.time import FixedClock
from aftersales.settings import Settings

SH = ZoneInfo("Asia/Shanghai")
LIVE_WORLD = World()
NOW = datetime(2026, 12, 5, 10, 0, tzinfo=SH)
SECRET = "evt-secret-0123456789abcdef"
OLD_SECRET = "evt-secret-previous-0123456789"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "taobao"
TID, OID, NUM_IID = "3012345678901234567", "3012345678901234568", "723456789012"

ORDER = {
    "id": "o1",
    "buyer_id": "u1",
    "merchant_id": "m1",
    "placed_at": "2026-11-20T10:00:00+08:00",
    "address": "浙江省杭州市西湖区文三路90号",
    "items": [{"id": "i1", "product_id": "p1", "paid_price_fen": 29_900}],
}


def load(container: Container, world: World = LIVE_WORLD) -> None:
    svc = container.services
    for kind, record in (
        ("brand", {"id": "b1", "name": "云杉"}),
        ("merchant", {"id": "m1", "name": "云杉家电旗舰店"}),
        ("buyer", {"id": "u1"}),
        ("product", {"id": "p1", "name": "吸顶灯", "brand_id": "b1", "category": "lighting"}),
        (
            "product",
            {
                "id": NUM_IID,
                "name": "云杉 1.5 匹空调",
                "brand_id": "b1",
                "category": "air-conditioner",
            },
        ),
        ("order", ORDER),
        (
            "order",
            {
                **ORDER,
                "id": TID,
                "items": [{"id": OID, "product_id": NUM_IID, "paid_price": "199.00"}],
            },
        ),
    ):
        outcome = master_data.upsert(svc, kind, [record], world=world)[0]
        assert outcome.result == "created", outcome


def make(tmp_path: Path, secrets: list[str]) -> Container:
    container = bootstrap(
        Settings(data_dir=tmp_path, events_secrets=secrets), clock=FixedClock(NOW)
    )
    load(container)
    return container


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    made = make(tmp_path, [SECRET, OLD_SECRET])
    yield made
    made.close()


@pytest.fixture
def client(container: Container) -> TestClient:
    return TestClient(create_app(container))


def signed(
    body: Any, *, secret: str = SECRET, at: datetime = NOW, raw: bytes | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``client.post``: the body and its signature headers."""
    content = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    return {
        "content": content,
        "headers": {
            "Content-Type": "application/json",
            "X-Aftersales-Signature": sign(secret, content, timestamp=int(at.timestamp())),
        },
    }


def shipped(
    event_id: str = "e1", at: str = "2026-11-21T09:00:00+08:00", **more: Any
) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "order.shipped",
        "occurred_at": at,
        "data": {"order_id": "o1"},
        **more,
    }


def status_of(
    container: Container, order_id: str = "o1", world: World = LIVE_WORLD
) -> dict[str, Any]:
    record = master_data.get_record(container.services, "order", order_id, world=world)
    return {i["id"]: (i["status"], i["delivered_on"]) for i in record["items"]}


def token_for(container: Container, role: Role, party: str | None = None) -> str:
    username = f"{role.value}-sender"
    accounts.create_account(
        container.services, username=username, password="a long password 1", role=role, party=party
    )
    return accounts.create_api_token(container.services, username=username, name="order-sync").token


# ---------------------------------------------------------------- signatures


def test_a_signed_event_is_applied(client: TestClient, container: Container) -> None:
    response = client.post("/api/v1/events", **signed(shipped()))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["received"] == 1
    assert body["counts"]["applied"] == 1
    assert body["results"][0] == {
        "id": "e1",
        "type": "order.shipped",
        "sandbox": "live",
        "outcome": "applied",
        "message": "item i1 moved to shipped as of 2026-11-21T09:00:00+08:00",
        "items": ["i1"],
    }
    assert status_of(container) == {"i1": ("shipped", None)}


def test_a_request_signed_with_the_previous_secret_is_taken_while_rotating(
    client: TestClient,
) -> None:
    response = client.post("/api/v1/events", **signed(shipped(), secret=OLD_SECRET))
    assert response.status_code == 200


def test_a_bad_or_missing_signature_is_answered_401(
    client: TestClient, container: Container
) -> None:
    wrong = client.post("/api/v1/events", **signed(shipped(), secret="someone-elses-secret-123"))
    assert wrong.status_code == 401
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert "does not match the body" in wrong.json()["detail"]

    tampered = signed(shipped())
    tampered["content"] = tampered["content"].replace(b"o1", b"o2")
    assert client.post("/api/v1/events", **tampered).status_code == 401

    garbled = signed(shipped())
    garbled["headers"]["X-Aftersales-Signature"] = "sha256=abc"
    answer = client.post("/api/v1/events", **garbled)
    assert answer.status_code == 401
    assert "t=<unix seconds>" in answer.json()["detail"]

    anonymous = client.post("/api/v1/events", json=shipped())
    assert anonymous.status_code == 401
    assert "Authorization: Bearer" in anonymous.json()["detail"]
    assert status_of(container) == {"i1": ("paid", None)}


def test_a_signature_made_more_than_five_minutes_ago_is_refused(client: TestClient) -> None:
    late = client.post("/api/v1/events", **signed(shipped(), at=NOW - timedelta(seconds=301)))
    assert late.status_code == 401
    assert "301 s old" in late.json()["detail"]
    ahead = client.post("/api/v1/events", **signed(shipped(), at=NOW + timedelta(minutes=10)))
    assert ahead.status_code == 401
    assert "ahead of our clock" in ahead.json()["detail"]
    in_time = client.post("/api/v1/events", **signed(shipped(), at=NOW - timedelta(minutes=4)))
    assert in_time.status_code == 200


def test_without_configured_secrets_a_signed_request_is_answered_503(tmp_path: Path) -> None:
    container = make(tmp_path, [])
    try:
        client = TestClient(create_app(container))
        response = client.post("/api/v1/events", **signed(shipped()))
        assert response.status_code == 503
        assert "AFTERSALES_EVENTS_SECRETS" in response.json()["detail"]
        token = token_for(container, Role.INTEGRATION)
        by_token = client.post(
            "/api/v1/events", json=shipped(), headers={"Authorization": f"Bearer {token}"}
        )
        assert by_token.status_code == 200
        assert by_token.json()["counts"]["applied"] == 1
    finally:
        container.close()


# ---------------------------------------------------------------- tokens


def test_an_integration_or_operations_token_may_send_and_others_may_not(
    client: TestClient, container: Container
) -> None:
    integration = token_for(container, Role.INTEGRATION)
    operations = token_for(container, Role.OPERATIONS)
    buyer = token_for(container, Role.CONSUMER, party="u1")
    for token, status in ((integration, 200), (operations, 200), (buyer, 403), ("as_nope", 401)):
        response = client.post(
            "/api/v1/events",
            json=shipped(f"e-{status}-{token[-4:]}"),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == status, (token, response.text)


# ---------------------------------------------------------------- bodies


def test_an_array_of_events_is_answered_event_by_event(
    client: TestClient, container: Container
) -> None:
    batch = [
        shipped("e1"),
        {
            "id": "e2",
            "type": "order.signed_for",
            "occurred_at": "2026-11-23T18:00:00+08:00",
            "data": {"order_id": "o1", "signed_for_on": "2026-11-23"},
        },
        shipped("e3", at="2026-11-22T09:00:00+08:00"),  # older than e2: stale
        shipped("e1"),  # again: duplicate
        shipped("e4", data={"order_id": "o9"}),  # not loaded: unknown
        {"id": "e5", "type": "order.shipped", "occurred_at": "yesterday", "data": {}},
    ]

    response = client.post("/api/v1/events", **signed(batch))

    assert response.status_code == 200
    body = response.json()
    assert [r["outcome"] for r in body["results"]] == [
        "applied",
        "applied",
        "stale",
        "duplicate",
        "unknown",
        "refused",
    ]
    assert body["counts"] == {
        "applied": 2,
        "stale": 1,
        "unknown": 1,
        "refused": 1,
        "duplicate": 1,
    }
    refused = body["results"][5]
    assert {e["field"] for e in refused["errors"]} == {"occurred_at", "data.order_id"}
    assert status_of(container) == {"i1": ("signed_for", "2026-11-23")}


def test_unreadable_bodies_are_answered_400_413_and_415(client: TestClient) -> None:
    broken = client.post("/api/v1/events", **signed(None, raw=b'{"id": "e1",'))
    assert broken.status_code == 400
    assert "not JSON" in broken.json()["detail"]
    text = signed(shipped())
    text["headers"]["Content-Type"] = "text/plain"
    assert client.post("/api/v1/events", **text).status_code == 415
    too_many = client.post("/api/v1/events", **signed([shipped(f"e{n}") for n in range(1001)]))
    assert too_many.status_code == 413
    assert client.post("/api/v1/events", **signed("an event")).status_code == 422


def test_events_for_a_sandbox_go_to_the_sandbox_only(
    client: TestClient, container: Container
) -> None:
    create_sandbox(container.services, sandbox_id="sb", start=NOW)
    sandbox = World.of("sb")
    load(container, sandbox)

    by_query = client.post("/api/v1/events?sandbox=sb", **signed(shipped()))
    by_field = client.post(
        "/api/v1/events",
        **signed(shipped("e2", at="2026-11-22T09:00:00+08:00", sandbox="sb")),
    )

    assert [r["sandbox"] for r in by_query.json()["results"]] == ["sb"]
    assert by_field.json()["results"][0]["outcome"] == "applied"
    assert status_of(container, world=sandbox) == {"i1": ("shipped", None)}
    assert status_of(container) == {"i1": ("paid", None)}
    unknown = client.post("/api/v1/events?sandbox=nope", **signed(shipped()))
    assert unknown.status_code == 404


# ---------------------------------------------------------------- Taobao


def fixtures() -> list[dict[str, Any]]:
    return [
        json.loads(path.read_text(encoding="utf-8")) for path in sorted(FIXTURES.glob("*.json"))
    ]


def test_taobao_fixtures_are_answered_message_by_message(
    client: TestClient, container: Container
) -> None:
    messages = fixtures()

    response = client.post("/api/v1/events/taobao", **signed(messages))

    assert response.status_code == 200, response.text
    results = {r["topic"] + ":" + str(r["message_id"]): r for r in response.json()["results"]}
    by_topic: dict[str, list[str]] = {}
    for r in response.json()["results"]:
        by_topic.setdefault(r["topic"], []).append(r["outcome"])
    assert by_topic == {
        # Sent in file-name order: the refund (3 Dec) comes first, so paid and shipped are
        # older than it and stale; signed for (1 Dec) keeps its delivery date all the same.
        "taobao_trade_TradeBuyerPay": ["refused", "stale"],  # the malformed one, then the real
        "taobao_trade_TradeSellerShip": ["refused", "stale"],
        "taobao_refund_RefundSuccess": ["refused", "applied"],
        "taobao_item_ItemAdd": ["unknown"],  # product 723456789099 is not loaded
        "taobao_item_ItemUpdate": ["applied"],
        "taobao_trade_TradeClose": ["unknown"],  # an order not loaded
        "taobao_trade_TradeCloseAndModifyDetailOrder": ["unknown"],
        "taobao_trade_TradePartlySellerShip": ["unknown"],
        "taobao_trade_TradeSuccess": ["applied"],
        "taobao_trade_TradeRated": ["skipped"],
    }
    rated = results["taobao_trade_TradeRated:2612050000000000990"]
    assert "no event is made from this topic" in rated["message"]
    missing_tid = results["taobao_trade_TradeSellerShip:2611250000000001202"]
    assert missing_tid["errors"] == [{"field": "tid", "message": missing_tid["message"]}]
    assert status_of(container, TID) == {OID: ("refunded", "2026-12-01")}
    assert response.json()["counts"]["skipped"] == 1

    again = client.post("/api/v1/events/taobao", **signed(messages)).json()["results"]
    outcomes = {r["outcome"] for r in again if r["outcome"] not in ("skipped", "refused")}
    assert outcomes == {"duplicate", "unknown"}  # unknown ones are tried again, still unknown


def test_taobao_messages_need_the_same_authentication(client: TestClient) -> None:
    one = fixtures()[0]
    assert client.post("/api/v1/events/taobao", json=one).status_code == 401
    bad = client.post("/api/v1/events/taobao", **signed(one, secret="not-the-secret-123456"))
    assert bad.status_code == 401
