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
from aftersales.services import imports, master_data
from aftersales.services.accounts import create_account, create_api_token
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
        return lambda c, h, w: c.get(path.format(**w), params=params, headers=h).status_code

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

    # SS-2: the buyer books a visit window, or the party the case is assigned to on the
    # phone with them (the lamp's case is the installer's, not the shop's or the brand's).
    def books_slot(role: Role, owner: bool) -> bool:
        if not allowed(role, Action.BOOK_SLOT):
            return False
        return role is Role.OPERATIONS or (owner and role in (Role.CONSUMER, Role.PROVIDER))

    nobody = lambda role, owner: False  # noqa: E731
    return [
        Row("GET", "/api/v1/cases", get("/api/v1/cases", sandbox=SB), everyone),
        Row("GET", "/api/v1/cases/{case_id}", get("/api/v1/cases/{case}"), sees_case),
        Row(
            "POST",
            "/api/v1/cases/{case_id}/appointment",
            post("/api/v1/cases/{case}/appointment", {"at": "2026-11-24T16:00:00+08:00"}),
            # Whoever calls the buyer books the visit: the party the case is assigned to
            # (domain/access.may_see_contact), or operations.
            lambda role, owner: role is Role.OPERATIONS or (owner and role is Role.PROVIDER),
        ),
        Row(
            "POST",
            "/api/v1/cases/{case_id}/appointment",
            post("/api/v1/cases/{case}/appointment", {"slot": "2026-11-25T09:00/12:00"}),
            books_slot,
        ),
        Row("GET", "/api/v1/cases/{case_id}/slots", get("/api/v1/cases/{case}/slots"), books_slot),
        Row(
            "POST",
            "/api/v1/cases/{case_id}/decline",
            # A blank reason reaches the use case and is refused there (422): the case stays.
            post("/api/v1/cases/{case}/decline", {"reason": " "}),
            # OH-3: the provider holding the request (domain/access.py), or operations.
            lambda role, owner: sees_case(role, owner) and allowed(role, Action.DECLINE_CASE),
        ),
        Row(
            "POST",
            "/api/v1/cases/{case_id}/reassign",
            # Nobody of that id covers the lamp: refused by the use case (422).
            post("/api/v1/cases/{case}/reassign", {"provider_id": "mx-nobody", "reason": "矩阵"}),
            lambda role, owner: allowed(role, Action.REASSIGN_CASE),
        ),
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
            post("/api/v1/cases/{case}/complaints", {"clock_id": "solution", "text": "没人联系"}),
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
        Row("GET", "/api/v1/catalog", get("/api/v1/catalog"), everyone),
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
        *_order_item_rows(),
        # Each person's own notifications; no account reaches another's (an id that is
        # not the caller's is not found), and integration tokens have none.
        Row("GET", "/api/v1/notifications", get("/api/v1/notifications"), everyone),
        Row(
            "POST",
            "/api/v1/notifications/{notification_id}/ack",
            post("/api/v1/notifications/999999/ack"),
            nobody,
        ),
        Row("POST", "/api/v1/notifications/read", post("/api/v1/notifications/read", {}), everyone),
        Row(
            "GET",
            "/api/v1/notifications/preferences",
            get("/api/v1/notifications/preferences"),
            everyone,
        ),
        Row(
            "PUT",
            "/api/v1/notifications/preferences",
            lambda c, h, w: (
                c.put(
                    "/api/v1/notifications/preferences", json={"language": "zh"}, headers=h
                ).status_code
            ),
            everyone,
        ),
        *_master_data_rows(),
        # Each account lists its own API tokens (operations may name another account's);
        # a token that is not the caller's is not found (tests/integration/test_sign_in_http.py).
        Row("GET", "/api/v1/tokens", get("/api/v1/tokens"), everyone),
        Row(
            "GET",
            "/api/v1/tokens",
            get("/api/v1/tokens", account_id="*"),
            lambda role, owner: allowed(role, Action.MANAGE_ANY_TOKEN),
        ),
        Row(
            "DELETE",
            "/api/v1/tokens/{token_id}",
            lambda c, h, w: c.delete("/api/v1/tokens/tok-nobodys", headers=h).status_code,
            nobody,
        ),
        # Marketplace events are machine-to-machine: a signature with the shared secret or an
        # operations/integration bearer token (tests/e2e/test_api_events.py), never a session.
        Row("POST", "/api/v1/events", post("/api/v1/events", {"id": "e1"}), nobody),
        Row("POST", "/api/v1/events/taobao", post("/api/v1/events/taobao", {}), nobody),
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


def _order_item_rows() -> list[Row]:
    def get(path: str, **params: str) -> Callable[[TestClient, dict[str, str], World], int]:
        return lambda c, h, w: c.get(path, params=params, headers=h).status_code

    # A buyer sees their own items, a shop its own, hotline agents and operations any.
    def sees_item(role: Role, owner: bool) -> bool:
        if role in (Role.AGENT, Role.OPERATIONS):
            return True
        return owner and role in (Role.CONSUMER, Role.MERCHANT, Role.INTEGRATION)

    def lists_items(role: Role, owner: bool) -> bool:
        # An agent lists one caller's items (buyer_id); providers and brands have none.
        return role in (Role.CONSUMER, Role.MERCHANT, Role.OPERATIONS, Role.INTEGRATION)

    return [
        Row("GET", "/api/v1/order-items", get("/api/v1/order-items", sandbox=SB), lists_items),
        Row("GET", "/api/v1/order-items/{item_id}", get(f"/api/v1/order-items/{LAMP}"), sees_item),
        Row(
            "GET",
            "/api/v1/order-items/{item_id}/eligibility",
            get(f"/api/v1/order-items/{LAMP}/eligibility"),
            sees_item,
        ),
    ]


# One record of each kind, written in the sandbox by every role that may; the
# products, providers and orders are the owner shop's (the fixture loads them).
RECORDS: dict[str, tuple[str, dict[str, object]]] = {
    "brands": ("mx-brand", {"name": "矩阵灯饰", "hotline": "400-000-0001"}),
    "merchants": ("mx-shop", {"name": "矩阵小店"}),
    "buyers": ("mx-buyer", {"name": "矩阵买家"}),
    "providers": ("mx-inst", {"name": "矩阵安装", "type": "installer"}),
    "products": (
        "mx-lamp",
        {"name": "矩阵吸顶灯", "brand_id": data.BRAND_GUANGMING, "category": "lighting"},
    ),
    "orders": (
        "mx-order",
        {
            "buyer_id": data.DEMO_BUYER,
            "merchant_id": data.MERCHANT_GUANGMING,
            "placed_at": "2026-11-20T10:00:00+08:00",
            "address": "浙江省杭州市西湖区文三路 90 号",
            "items": [{"id": "mx-item", "product_id": "mx-lamp", "paid_price_fen": 100}],
        },
    ),
}
SHOPS_OWN = ("providers", "products", "orders")


Call = Callable[[TestClient, dict[str, str], World], int]
Rule = Callable[[Role, bool], bool]


def _calls(plural: str) -> dict[str, Call]:
    """The six requests on one kind's records, all in the sandbox."""
    record_id, body = RECORDS[plural]
    one, many, params = f"/api/v1/{plural}/{record_id}", f"/api/v1/{plural}", {"sandbox": SB}
    return {
        "PUT": lambda c, h, w: c.put(one, json=body, params=params, headers=h).status_code,
        "PATCH": lambda c, h, w: (
            c.patch(one, json={"active": True}, params=params, headers=h).status_code
        ),
        "DELETE": lambda c, h, w: c.delete(one, params=params, headers=h).status_code,
        "GET one": lambda c, h, w: c.get(one, params=params, headers=h).status_code,
        "GET": lambda c, h, w: c.get(many, params=params, headers=h).status_code,
        "POST": lambda c, h, w: (
            c.post(
                f"{many}/batch", json=[{"id": record_id, **body}], params=params, headers=h
            ).status_code
        ),
    }


def _loads(role: Role, owner: bool) -> bool:
    return role in (Role.OPERATIONS, Role.INTEGRATION)


def _shop_or_ops(role: Role, owner: bool) -> bool:
    """A shop's token on its own products, providers and orders; operations on any."""
    return role is Role.OPERATIONS or (role is Role.INTEGRATION and owner)


def _ops(role: Role, owner: bool) -> bool:
    return role is Role.OPERATIONS


def _master_data_rows() -> list[Row]:
    rows: list[Row] = []
    for plural in RECORDS:
        calls = _calls(plural)
        writes: Rule
        reads: Rule
        if plural in SHOPS_OWN:
            # Whole-record refusals come back per record from the batch (422 inside 200).
            writes, reads, batch, lists = _shop_or_ops, _shop_or_ops, _loads, _loads
        elif plural == "buyers":
            # A shop's token may add new buyers (in a batch), not read or change known ones.
            writes, reads, batch, lists = _ops, _ops, _loads, _ops
        else:  # brands and shops are the marketplace's to load, anyone's to read
            writes, reads, batch, lists = _ops, _loads, _ops, _loads
        path = f"/api/v1/{plural}"
        rows += [
            Row("PUT", path + "/{record_id}", calls["PUT"], writes),
            Row("PATCH", path + "/{record_id}", calls["PATCH"], writes),
            Row("DELETE", path + "/{record_id}", calls["DELETE"], writes),
            # NW-3: a brand's after-sales information is for everyone signed in.
            Row(
                "GET",
                path + "/{record_id}",
                calls["GET one"],
                _everyone if plural == "brands" else reads,
            ),
            Row("GET", path, calls["GET"], lists),
            Row("POST", path + "/batch", calls["POST"], batch),
        ]
    return rows


def _everyone(role: Role, owner: bool) -> bool:
    return True


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
    ids = {"case": case_id, "chat": chat, "attachment": attachment.id}
    world = master_data.World.of(SB)
    shop = master_data.Scope(merchant=data.MERCHANT_GUANGMING)
    for plural, (record_id, body) in RECORDS.items():
        kind = plural.removesuffix("s")
        outcome = master_data.upsert(
            container.services,
            kind,
            [{"id": record_id, **body}],
            world=world,
            scope=shop if plural in SHOPS_OWN else master_data.MARKETPLACE,
        )[0]
        assert outcome.result == "created", outcome
    for username, party in INTEGRATIONS.values():
        create_account(
            container.services,
            username=username,
            password="integration-2026",
            role=Role.INTEGRATION,
            name=username,
            party=party,
        )
        TOKENS[username] = create_api_token(
            container.services, username=username, name="order-sync"
        ).token
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


# Integration tokens: one for the owner shop, one for another shop, one marketplace-wide.
INTEGRATIONS = {
    "owner": ("sync-guangming", data.MERCHANT_GUANGMING),
    "stranger": ("sync-shiji", data.MERCHANT_SHIJI),
    "marketplace": ("sync-marketplace", None),
}
TOKENS: dict[str, str] = {}


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


def _integration_may(row: Row, owner: bool, *, wide: bool) -> bool:
    """An integration token loads and reads master data, lists order items and reads the
    policies; it takes no part in cases. A marketplace-wide one may do with every record
    what operations may."""
    resource = row.path.removeprefix("/api/v1/").split("/")[0]
    if resource in ("policies", "catalog", "events"):
        return True
    if resource in RECORDS:
        role = Role.OPERATIONS if wide else Role.INTEGRATION
        return row.allowed(role, owner)
    if resource == "order-items":
        return row.allowed(Role.INTEGRATION, owner)
    if resource == "tokens":  # its own tokens, as any account: never another's
        return row.allowed(Role.INTEGRATION, owner)
    if resource == "imports":
        # A shop's token may not load shops (the file here); nobody sees another's job.
        return wide and row.method == "POST"
    return False


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
    # Integration tokens: the owner shop's, another shop's; the marketplace-wide one
    # may do all a shop's token may do for its own records, and load brands and shops.
    for who, owner in (("owner", True), ("stranger", False), ("marketplace", True)):
        username = INTEGRATIONS[who][0]
        headers = {"Authorization": f"Bearer {TOKENS[username]}"}
        for row in _rows():
            status = row.call(client, headers, ids)
            expected = _integration_may(row, owner, wide=who == "marketplace")
            checked += 1
            if (status not in DENIED) != expected:
                wrong.append(f"{row.method} {row.path} as integration {who}: {status}")
    anonymous = [row.call(client, {}, ids) for row in _rows()]
    assert all(status == 401 for status in anonymous), anonymous
    print(
        f"\n[authorization] {len(_rows())} endpoints × {len(OWNER)} roles × owner/non-owner = {checked} checks"
    )
    assert wrong == [], "\n".join(wrong)
