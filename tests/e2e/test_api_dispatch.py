"""OH-3 over HTTP: a dispatch's reasons on the case, a decline and a reassignment, and the
4xx answers naming the field when a hand-over cannot be made as asked."""

from __future__ import annotations

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
from aftersales.services import cases as svc
from aftersales.services.time import FixedClock
from aftersales.settings import Settings
from tests.e2e.test_api_use_cases import Api

TEN_AM = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SB = "dx"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, TestClient]]:
    container = bootstrap(
        Settings(data_dir=tmp_path_factory.mktemp("dispatch")), clock=FixedClock(TEN_AM)
    )
    ensure_demo_accounts(container)
    create_demo_sandbox(container, SB, start=TEN_AM)
    yield container, TestClient(create_app(container))
    container.close()


def test_oh_3_dispatch_reasons_a_decline_and_a_reassignment_over_the_api(
    world: tuple[Container, TestClient],
) -> None:
    container, client = world
    case_id = svc.request_help(
        container.services,
        order_item_id=f"{SB}.{data.ITEM_LAMP_HANGZHOU}",
        actor=Actor(Role.CONSUMER, data.DEMO_BUYER, Channel.HELP_BUTTON),
        failure="installation_late",
    ).case.id
    provider = Api(client, container, data.PROVIDER_HANGZHOU_LIGHTING)
    ops = Api(client, container, "ops")
    case = provider.get(f"/api/v1/cases/{case_id}").json()
    assert case["assignee"] == data.PROVIDER_HANGZHOU_LIGHTING
    # How the providers were weighed is for operations and the liable shop; the provider
    # sees that the request was dispatched to it, not how its competitors scored.
    codes = [d["code"] for d in ops.get(f"/api/v1/cases/{case_id}").json()["decisions"]]
    assert "dispatch.chosen" in codes and "dispatch.runner_up" in codes
    seen = [d["code"] for d in case["decisions"]]
    assert "oh.dispatched" in seen
    assert "dispatch.chosen" not in seen and "dispatch.runner_up" not in seen

    blank = provider.post(f"/api/v1/cases/{case_id}/decline", {"reason": "  "})
    assert blank.status_code == 422
    assert blank.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in blank.json()["errors"]] == ["reason"]

    declined = provider.post(f"/api/v1/cases/{case_id}/decline", {"reason": "今天没有师傅"})
    assert declined.status_code == 200, declined.text
    body = declined.json()
    assert body["assignee"] == data.PROVIDER_EAST_INSTALLER  # the runner-up
    handed = next(d for d in body["decisions"] if d["code"] == "dispatch.declined")
    assert "今天没有师傅" in handed["zh"] and "remains liable (OH-3)" in handed["en"]
    # The provider gave it up: it no longer sees the request.
    assert provider.get(f"/api/v1/cases/{case_id}").status_code == 404

    nobody = ops.post(
        f"/api/v1/cases/{case_id}/reassign", {"provider_id": "no-such", "reason": "试试"}
    )
    assert nobody.status_code == 422
    assert [e["field"] for e in nobody.json()["errors"]] == ["provider_id"]
    back = ops.post(
        f"/api/v1/cases/{case_id}/reassign",
        {"provider_id": data.PROVIDER_HANGZHOU_LIGHTING, "reason": "师傅已到岗"},
    )
    assert back.status_code == 200, back.text
    assert back.json()["assignee"] == data.PROVIDER_HANGZHOU_LIGHTING
    actions = [e["action"] for e in back.json()["audit"]]
    assert actions[-4:] == ["declined", "dispatch", "reassigned", "dispatch"]


def test_oh_3_the_buyer_pressing_help_reads_no_dispatch_scores_in_the_answer(
    world: tuple[Container, TestClient],
) -> None:
    container, client = world
    buyer = Api(client, container, "buyer-002")
    pressed = buyer.post(
        "/api/v1/help-requests",
        {
            "order_item_id": f"{SB}.{data.ITEM_TILES_GUANGZHOU}",
            "failure": "not_delivered_into_home",
        },
        key="tiles-help",
    )
    assert pressed.status_code == 201, pressed.text
    codes = [d["code"] for d in pressed.json()["decisions"]]
    assert "oh.dispatched" in codes  # the buyer sees who has the request ...
    assert "dispatch.chosen" not in codes and "dispatch.runner_up" not in codes  # not why
    ops = Api(client, container, "ops")
    full = [d["code"] for d in ops.get(f"/api/v1/cases/{pressed.json()['id']}").json()["decisions"]]
    assert "dispatch.chosen" in full
