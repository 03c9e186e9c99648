"""Every /api/v1 endpoint × every role × owner and non-owner: allowed or refused, as specified.

"Refused" is 401, 403 or 404 (a case the caller may not see is answered as one
that does not exist). "Allowed" is anything else: the request reached the use
case, which may still refuse it on a rule (422 with the rule's reason). A new
endpoint without a row here fails the test.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from aftersales.bootstrap import Container, bootstrap
from aftersales.demo import dataset as data
from aftersales.demo.setup import DEMO_PASSWORDS, create_demo_sandbox, ensure_demo_accounts
from aftersales.domain.access import Action, allowed
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.entrypoints.api.app import create_app
from aftersales.services import cases as svc
from aftersales.services import imports
from aftersales.services.time import FixedClock
from aftersales.settings import Settings

TEN_AM = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SB = "mx"
LAMP = f"{SB}.{data.ITEM_LAMP_HANGZHOU}"  # buyer-001 / hz-install-01 / shop-guangming / brand-guangming
KETTLE = f"{SB}.{data.ITEM_KETTLE_SHANGHAI}"  # buyer-006, national warranty
DENIED = {401, 403, 404}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
World = dict[str, str]  # the ids the paths name: case, chat, attachment

# Who signs in for each role, as the owner of the lamp's case and as a stranger to it.
OWNER = {
    Role.CONSUMER: data.DEMO_BUYER,
    Role.PROVIDER: "hz-install-01",
    Role.MERCHANT: data.MERCHANT_GUANGMING,
    Role.BRAND: data.BRAND_GUANGMING,
    Role.AGENT: "agent-017",
    Role.OPERATIONS: "ops",
}
STRANGER = {
    Role.CONSUMER: "buyer-002",
    Role.PROVIDER: "dlv-south",
    Role.MERCHANT: data.MERCHANT_SHIJI,
    Role.BRAND: data.BRAND_SHIJI,
    Role.AGENT: "agent-017",
    Role.OPERATIONS: "ops",
}


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    call: Callable[[TestClient, dict[str, str], World], int]
    allowed: Callable[[Role, bool], bool]  # (role, is owner) -> allowed?


def _rows() -> list[Row]:
    def get(path: str, **params: str) -> Callable[[TestClient, dict[str, str], World], int]:
        return lambda c, h, w: c.get(path.format(**w), params=params).status_code

    def post(path: str, body: dict[str, object] | None = None, **params: str):  # type: ignore[no-untyped-def]
        return lambda c, h, w: (
            c.post(path.format(**w), json=body, params=params, headers=h).status_code
        )

    def upload(path: str, name: str = "photo.png", data: bytes = PNG, kind: str = "image/png"):  # type: ignore[no-untyped-def]
        files = {"file": (name, data, kind)}
        return lambda c, h, w: c.post(path.format(**w), files=files, headers=h).status_code

    sandbox_ids = (f"mx-new-{n}" for n in itertools.count())

    def new_sandbox(c: TestClient, h: dict[str, str], w: World) -> int:
        body = {"id": next(sandbox_ids), "demo_data": False}
        return c.post("/api/v1/sandboxes", json=body, headers=h).status_code

    everyone = lambda role, owner: True  # noqa: E731
    # Operations see every case; a platform hotline agent only the reports they filed.
    sees_case = lambda role, owner: role is Role.OPERATIONS or (owner and role is not Role.AGENT)  # noqa: E731

    # A chat is the buyer's with the item's brand; agents and operations may join any.
    def in_chat(role: Role, owner: bool) -> bool:
        return role in (Role.AGENT, Role.OPERATIONS) or (
            owner and role in (Role.CONSUMER, Role.BRAND)
        )

    # The access table says which roles pause clocks (SS-2) and quote repairs (NW-6).
    pauses = lambda role, owner: sees_case(role, owner) and allowed(role, Action.PAUSE_CLOCK)  # noqa: E731
    quotes = lambda role, owner: sees_case(role, owner) and allowed(role, Action.ISSUE_QUOTE)  # noqa: E731
    only_ops = lambda role, owner: role is Role.OPERATIONS  # noqa: E731
    return [
        Row("GET", "/api/v1/cases", get("/api/v1/cases", sandbox=SB), everyone),
        Row("GET", "/api/v1/cases/{case_id}", get("/api/v1/cases/{case}"), sees_case),
        Row(
            "POST",
            "/api/v1/help-requests",
            post("/api/v1/help-requests", {"order_item_id": LAMP, "failure": "installation_late"}),
            lambda role, owner: role is Role.CONSUMER and owner,
        ),
        Row(
            "POST",
            "/api/v1/repair-reports",
            post("/api/v1/repair-reports", {"order_item_id": KETTLE, "description": "断电"}),
            lambda role, owner: role is Role.AGENT,  # the kettle is nobody's here but buyer-006's
        ),
        Row(
            "POST",
            "/api/v1/cases/{case_id}/actions",
            post("/api/v1/cases/{case}/actions", {"action": "give_solution", "note": "明早上门"}),
            # The access table says who takes each lifecycle step (domain/access.py).
            lambda role, owner: sees_case(role, owner) and allowed(role, "give_solution"),
        ),
        Row(
            "POST",
            "/api/v1/cases/{case_id}/complaints",
            post("/api/v1/cases/{case}/complaints", {"clock_id": "solution"}),
            lambda role, owner: role is Role.CONSUMER and owner,
        ),
        Row(
            "POST",
            "/api/v1/cases/{case_id}/complaints/{complaint_id}/decision",
            post("/api/v1/cases/{case}/complaints/nope/decision", {"uphold": True}),
            lambda role, owner: role is Role.OPERATIONS,
        ),
        Row("GET", "/api/v1/payouts", get("/api/v1/payouts"), everyone),
        Row(
            "GET",
            "/api/v1/compliance",
            get(
                "/api/v1/compliance",
                **{"from": "2026-11-01T00:00+08:00", "to": "2026-12-01T00:00+08:00"},
            ),
            lambda role, owner: role is not Role.CONSUMER,
        ),
        Row(
            "GET",
            "/api/v1/brands/{brand_id}",
            get(f"/api/v1/brands/{data.BRAND_GUANGMING}"),
            everyone,
        ),
        Row("GET", "/api/v1/sandboxes", get("/api/v1/sandboxes"), everyone),
        Row(
            "POST",
            "/api/v1/sandboxes/{sandbox_id}/advance",
            post(f"/api/v1/sandboxes/{SB}/advance", by="1m"),
            only_ops,
        ),
        Row("POST", "/api/v1/sandboxes", new_sandbox, only_ops),
        Row("GET", "/api/v1/balances", get("/api/v1/balances"), everyone),
        Row("GET", "/api/v1/policies", get("/api/v1/policies"), everyone),
        Row(
            "GET",
            "/api/v1/policies/{policy_id}",
            get("/api/v1/policies/oh-2022"),
            everyone,
        ),
        Row(
            "POST",
            "/api/v1/cases/{case_id}/clocks/{clock_id}/pause",
            post("/api/v1/cases/{case}/clocks/resolution/pause", {"reason": "buyer_rescheduled"}),
            pauses,
        ),
        Row(
            "POST",
            "/api/v1/cases/{case_id}/clocks/{clock_id}/resume",
            post("/api/v1/cases/{case}/clocks/resolution/resume"),
            pauses,
        ),
        Row(
            "POST",
            "/api/v1/cases/{case_id}/quote",
            post("/api/v1/cases/{case}/quote", {"amount_fen": 9_900}),
            quotes,
        ),
        Row(
            "POST",
            "/api/v1/cases/{case_id}/quote/answer",
            post("/api/v1/cases/{case}/quote/answer", {"accept": False}),
            lambda role, owner: role is Role.CONSUMER and owner,
        ),
        Row(
            "POST",
            "/api/v1/chats",
            post("/api/v1/chats", {"order_item_id": LAMP, "text": "灯不亮"}),
            lambda role, owner: role is Role.AGENT or (role is Role.CONSUMER and owner),
        ),
        Row("GET", "/api/v1/chats/{thread_id}", get("/api/v1/chats/{chat}"), in_chat),
        Row(
            "POST",
            "/api/v1/chats/{thread_id}/messages",
            post("/api/v1/chats/{chat}/messages", {"text": "还在吗？"}),
            in_chat,
        ),
        Row(
            "POST",
            "/api/v1/chats/{thread_id}/report",
            post("/api/v1/chats/{chat}/report"),
            lambda role, owner: in_chat(role, owner) and role is not Role.OPERATIONS,
        ),
        Row(
            "POST",
            "/api/v1/cases/{case_id}/attachments",
            upload("/api/v1/cases/{case}/attachments"),
            sees_case,
        ),
        Row(
            "GET",
            "/api/v1/cases/{case_id}/attachments",
            get("/api/v1/cases/{case}/attachments"),
            sees_case,
        ),
        Row(
            "GET",
            "/api/v1/cases/{case_id}/attachments/{attachment_id}",
            get("/api/v1/cases/{case}/attachments/{attachment}"),
            sees_case,
        ),
        # Imports: operations (and integration accounts, not in this matrix) only.
        Row(
            "POST",
            "/api/v1/imports",
            upload("/api/v1/imports", "merchants.csv", "id,name\nmx-m1,店\n".encode(), "text/csv"),
            lambda role, owner: allowed(role, Action.IMPORT_DATA),
        ),
        Row(
            "GET",
            "/api/v1/imports/{import_id}",
            get("/api/v1/imports/{import}"),
            lambda role, owner: allowed(role, Action.IMPORT_DATA),
        ),
        Row(
            "GET",
            "/api/v1/imports/{import_id}/errors.csv",
            get("/api/v1/imports/{import}/errors.csv"),  # 409 while queued: allowed, not ready
            lambda role, owner: allowed(role, Action.IMPORT_DATA),
        ),
    ]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, World]]:
    container: Container = bootstrap(
        Settings(data_dir=tmp_path_factory.mktemp("matrix")), clock=FixedClock(TEN_AM)
    )
    ensure_demo_accounts(container)
    create_demo_sandbox(container, SB, start=TEN_AM)
    case_id = svc.request_help(
        container.services,
        order_item_id=LAMP,
        actor=Actor(Role.CONSUMER, data.DEMO_BUYER, Channel.HELP_BUTTON),
        failure="installation_late",
    ).case.id
    buyer = Actor(Role.CONSUMER, data.DEMO_BUYER, Channel.CHAT)
    chat = svc.open_chat(container.services, order_item_id=LAMP, actor=buyer, text="灯闪")
    attachment = svc.add_attachment(
        container.services,
        data=PNG,
        filename="lamp.png",
        declared_type="image/png",
        actor=buyer,
        case_id=case_id,
    )
    job = imports.submit_job(
        container.services,
        role=Role.OPERATIONS,
        account_id="acc-matrix",
        party=None,
        filename="merchants.csv",
        kind=None,
        sandbox=None,
        dry_run=True,
        storage_key="staged/matrix.csv",
        bytes_total=None,
    )
    ids = {"case": case_id, "chat": chat, "attachment": attachment.id, "import": str(job["id"])}
    yield TestClient(create_app(container)), ids
    container.close()


def _signed_in(client: TestClient, username: str, role: Role) -> tuple[TestClient, dict[str, str]]:
    session = TestClient(client.app)
    page = session.post("/login", data={"username": username, "password": DEMO_PASSWORDS[role]})
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return session, {"X-CSRF-Token": token}


def test_every_api_endpoint_has_a_row_in_the_matrix(world: tuple[TestClient, World]) -> None:
    client, _ = world
    # Routers included in the app are walked into (FastAPI keeps them nested).
    routes = {
        (method, route.path)
        for route in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
        if isinstance(route.original_route, APIRoute)
        and route.path is not None
        and route.path.startswith("/api/v1")
        for method in route.methods or ()
    }
    assert routes == {(row.method, row.path) for row in _rows()}


def test_authorization_matrix(world: tuple[TestClient, World]) -> None:
    client, ids = world
    wrong: list[str] = []
    checked = 0
    for role in OWNER:
        for owner, username in ((True, OWNER[role]), (False, STRANGER[role])):
            session, headers = _signed_in(client, username, role)
            for row in _rows():
                status = row.call(session, headers, ids)
                allowed = status not in DENIED
                checked += 1
                if allowed != row.allowed(role, owner):
                    wrong.append(f"{row.method} {row.path} as {role.value} owner={owner}: {status}")
    anonymous = [row.call(client, {}, ids) for row in _rows()]
    assert all(status == 401 for status in anonymous), anonymous
    print(
        f"\n[authorization] {len(_rows())} endpoints × {len(OWNER)} roles × owner/non-owner = {checked} checks"
    )
    assert wrong == []
