"""The API answers only signed-in callers, and each only about what it may see."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from aftersales.bootstrap import Container, bootstrap
from aftersales.demo import dataset as data
from aftersales.demo.play import DEMO_PASSWORDS, create_demo_sandbox, ensure_demo_accounts
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.entrypoints.api.app import create_app
from aftersales.services import cases as svc
from aftersales.services.time import FixedClock
from aftersales.settings import Settings

TEN_AM = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, TestClient, str]]:
    container = bootstrap(
        Settings(data_dir=tmp_path_factory.mktemp("api")), clock=FixedClock(TEN_AM)
    )
    ensure_demo_accounts(container)
    create_demo_sandbox(container, "api", start=TEN_AM)
    case_id = svc.request_help(
        container.services,
        order_item_id=f"api.{data.ITEM_LAMP_HANGZHOU}",
        actor=Actor(Role.CONSUMER, data.DEMO_BUYER, Channel.HELP_BUTTON),
        failure="installation_late",
    ).case.id
    yield container, TestClient(create_app(container)), case_id
    container.close()


def _session(client: TestClient, username: str, role: Role) -> tuple[TestClient, str]:
    signed = TestClient(client.app)
    response = signed.post("/login", data={"username": username, "password": DEMO_PASSWORDS[role]})
    assert response.status_code == 200, response.text  # followed the redirect to the start page
    match = response.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return signed, match


def test_an_anonymous_caller_is_asked_to_sign_in(world: tuple[Container, TestClient, str]) -> None:
    _, client, case_id = world
    response = client.get(f"/api/v1/cases/{case_id}")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_buyer_reads_their_own_case_and_no_one_elses(
    world: tuple[Container, TestClient, str],
) -> None:
    _, client, case_id = world
    owner, _ = _session(client, data.DEMO_BUYER, Role.CONSUMER)
    assert owner.get(f"/api/v1/cases/{case_id}").json()["id"] == case_id
    assert [c["id"] for c in owner.get("/api/v1/cases", params={"sandbox": "api"}).json()] == [
        case_id
    ]
    stranger, _ = _session(client, "buyer-002", Role.CONSUMER)
    refused = stranger.get(f"/api/v1/cases/{case_id}")
    assert refused.status_code == 404  # the same answer as for a case that does not exist
    assert stranger.get("/api/v1/cases", params={"sandbox": "api"}).json() == []


def test_only_operations_move_a_sandbox_clock_and_only_with_the_csrf_token(
    world: tuple[Container, TestClient, str],
) -> None:
    _, client, _ = world
    buyer, buyer_token = _session(client, data.DEMO_BUYER, Role.CONSUMER)
    refused = buyer.post(
        "/api/v1/sandboxes/api/advance",
        params={"by": "61m"},
        headers={"X-CSRF-Token": buyer_token},
    )
    assert refused.status_code == 403
    ops, ops_token = _session(client, "ops", Role.OPERATIONS)
    forged = ops.post("/api/v1/sandboxes/api/advance", params={"by": "61m"})
    assert forged.status_code == 403 and "X-CSRF-Token" in forged.json()["detail"]
    moved = ops.post(
        "/api/v1/sandboxes/api/advance", params={"by": "61m"}, headers={"X-CSRF-Token": ops_token}
    )
    assert moved.status_code == 200
    assert moved.json()["payouts"] == 1  # OH-5: the missed hour, paid once
