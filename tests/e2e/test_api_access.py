"""The API answers only signed-in callers, and each only about what it may see."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from aftersales.adapters.db import schema as s
from aftersales.bootstrap import Container, bootstrap
from aftersales.demo import dataset as data
from aftersales.demo.setup import DEMO_PASSWORDS, create_demo_sandbox, ensure_demo_accounts
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.entrypoints.api.app import create_app
from aftersales.services import accounts
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
    listed = owner.get("/api/v1/cases", params={"sandbox": "api"}).json()
    assert [c["id"] for c in listed["items"]] == [case_id]
    stranger, _ = _session(client, "buyer-002", Role.CONSUMER)
    refused = stranger.get(f"/api/v1/cases/{case_id}")
    assert refused.status_code == 404  # the same answer as for a case that does not exist
    assert stranger.get("/api/v1/cases", params={"sandbox": "api"}).json()["items"] == []


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


def test_oh_3_a_repeated_idempotency_key_returns_the_first_answer_and_opens_one_case(
    world: tuple[Container, TestClient, str],
) -> None:
    _, client, _ = world
    buyer, token = _session(client, "buyer-002", Role.CONSUMER)
    request = {
        "order_item_id": f"api.{data.ITEM_TILES_GUANGZHOU}",
        "failure": "not_delivered_into_home",
    }
    headers = {"X-CSRF-Token": token, "Idempotency-Key": "tap-1"}
    first = buyer.post("/api/v1/help-requests", json=request, headers=headers)
    again = buyer.post("/api/v1/help-requests", json=request, headers=headers)
    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["assignee"]  # dispatched at once
    clash = buyer.post(
        "/api/v1/help-requests", json={**request, "description": "another"}, headers=headers
    )
    assert clash.status_code == 422 and "different request" in clash.json()["detail"]


def test_a_malformed_request_is_named_field_by_field_as_a_problem(
    world: tuple[Container, TestClient, str],
) -> None:
    _, client, _ = world
    buyer, token = _session(client, "buyer-002", Role.CONSUMER)
    response = buyer.post(
        "/api/v1/help-requests", json={"failure": ""}, headers={"X-CSRF-Token": token}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    detail = response.json()["detail"]
    assert "order_item_id" in detail and "failure" in detail


def test_nw_2_a_hotline_agent_reports_for_a_caller_and_a_buyer_cannot_for_someone_else(
    world: tuple[Container, TestClient, str],
) -> None:
    _, client, _ = world
    agent, agent_token = _session(client, "agent-017", Role.AGENT)
    report = {"order_item_id": f"api.{data.ITEM_AC_WUHAN}", "description": "制冷时有异响"}
    filed = agent.post("/api/v1/repair-reports", json=report, headers={"X-CSRF-Token": agent_token})
    assert filed.status_code == 201, filed.text
    assert filed.json()["channel"] == "hotline"
    stranger, token = _session(client, "buyer-002", Role.CONSUMER)
    refused = stranger.post(
        "/api/v1/repair-reports",
        json={"order_item_id": f"api.{data.ITEM_KETTLE_SHANGHAI}", "description": "坏了"},
        headers={"X-CSRF-Token": token},
    )
    assert refused.status_code == 404


def test_a_system_calls_with_a_bearer_token_and_needs_no_csrf_token(
    world: tuple[Container, TestClient, str],
) -> None:
    container, client, case_id = world
    made = accounts.create_api_token(container.services, username="ops", name="order-sync")
    bearer = {"Authorization": f"Bearer {made.token}"}
    assert client.get(f"/api/v1/cases/{case_id}", headers=bearer).json()["id"] == case_id
    moved = client.post("/api/v1/sandboxes/api/advance", params={"by": "1m"}, headers=bearer)
    assert moved.status_code == 200  # a write, without X-CSRF-Token
    with container.engine.connect() as conn:
        stored = conn.execute(select(s.api_tokens.c.token_sha256)).scalars().all()
    assert made.token not in stored
    assert accounts.revoke_api_token(container.services, made.id)
    revoked = client.get(f"/api/v1/cases/{case_id}", headers=bearer)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    made_up = client.get("/api/v1/cases", headers={"Authorization": "Bearer as_nothing"})
    assert made_up.status_code == 401


def test_an_unknown_path_is_a_problem_for_programs_and_a_page_for_people(
    world: tuple[Container, TestClient, str],
) -> None:
    _, client, _ = world
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "/docs lists the endpoints" in missing.json()["detail"]
    wrong_method = client.delete("/api/v1/cases")
    assert wrong_method.status_code == 405 and "DELETE" in wrong_method.json()["detail"]
    page = client.get("/no-such-page?lang=en", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Not found." in page.text


def test_a_page_that_refuses_a_signed_in_buyer_answers_a_page_at_once(
    world: tuple[Container, TestClient, str],
) -> None:
    """The refusal page reads the session after the request's transaction has ended.

    (Drawn inside it, the page waited on SQLite's write lock for its busy timeout and failed.)
    """
    _, client, case_id = world
    stranger, _ = _session(client, "buyer-002", Role.CONSUMER)
    page = stranger.get(f"/items/api.{data.ITEM_LAMP_HANGZHOU}/repair")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "buyer-002" in page.text or "买家 002" in page.text  # drawn for the signed-in viewer
    other = stranger.get(f"/cases/{case_id}")
    assert other.status_code == 404 and other.headers["content-type"].startswith("text/html")
