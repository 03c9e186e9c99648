"""A marketplace connects its own data over HTTP and plays one-click help on it (issue:
"Connect a real marketplace"), as docs/integration.md tells a new user to.

Its own brand, shop, installer covering one district, a lamp sold with 预约安装, a
buyer and an order go into a sandbox; the buyer presses help at 10:00 on the
sandbox clock; the request is dispatched to that installer (OH-3); an hour passes
without a solution and 5,000 points are paid to the buyer (OH-5). Beside it:
the master-data API's answers for bad input, paging and the eligibility endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aftersales.bootstrap import Container, bootstrap
from aftersales.domain.lifecycle import Role
from aftersales.entrypoints.api.app import create_app
from aftersales.entrypoints.api.routes import master_data as master_data_routes
from aftersales.entrypoints.cli import app as cli
from aftersales.services.accounts import create_account, create_api_token
from aftersales.settings import Settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
BOX = "trial"

BRAND = {"name": "明光照明", "hotline": "400-820-0001", "warranty_terms": {"zh": "整灯保修两年"}}
SHOP = {"name": "明光照明官方旗舰店"}
INSTALLER = {
    "name": "西湖区灯具安装队",
    "type": "installer",
    "phone": "0571-8888-0001",
    "contact": "王师傅",
    "coverage": [
        {
            "area_code": "330106",
            "area_name": "西湖区",
            "category": "lighting",
            "service_tag": "预约安装",
            "fulfil": "on_site",
        }
    ],
}
LAMP = {
    "name": "明光 LED 吸顶灯 48W",
    "brand_id": "mg",
    "category": "家居/灯饰照明/灯具灯饰",
    "service_tags": ["预约安装"],
}
BUYER = {"name": "张三", "phone": "13800138000"}
ORDER = {
    "buyer_id": "zhang-san",
    "merchant_id": "mg-shop",
    "placed_at": "2026-11-20T20:15:00+08:00",
    "paid_at": "2026-11-20T20:16:00+08:00",
    "address": "浙江省杭州市西湖区文三路 90 号 3 幢 201",
    "contact_phone": "13800138000",
    "items": [{"id": "T-1001-1", "product_id": "mg-lamp", "paid_price": "299.00"}],
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Container]]:
    container = bootstrap(Settings(data_dir=tmp_path_factory.mktemp("connect")))
    yield TestClient(create_app(container)), container
    container.close()


def _token(
    container: Container, username: str, role: Role, party: str | None = None
) -> dict[str, str]:
    create_account(
        container.services, username=username, password="a-long-password", role=role, party=party
    )
    made = create_api_token(container.services, username=username, name="test")
    return {"Authorization": f"Bearer {made.token}"}


def test_a_marketplace_loads_its_own_data_and_one_click_help_plays_out_on_it(
    app: tuple[TestClient, Container],
) -> None:
    client, container = app
    ops = _token(container, "ops-connect", Role.OPERATIONS)
    sync = _token(container, "order-sync", Role.INTEGRATION)
    start = datetime(2026, 11, 24, 9, 30, tzinfo=SHANGHAI).isoformat()
    made = client.post(
        "/api/v1/sandboxes", json={"id": BOX, "start": start, "demo_data": False}, headers=ops
    )
    assert made.status_code == 201, made.text
    box = {"sandbox": BOX}
    for path, body in (
        ("brands/mg", BRAND),
        ("merchants/mg-shop", SHOP),
        ("providers/xh-install", INSTALLER),
        ("products/mg-lamp", LAMP),
        ("buyers/zhang-san", BUYER),
        ("orders/T-1001", ORDER),
    ):
        answer = client.put(f"/api/v1/{path}", json=body, params=box, headers=sync)
        assert answer.status_code == 201, (path, answer.text)
        assert answer.json()["result"] == "created"
    # Sent again, nothing changes.
    again = client.put("/api/v1/orders/T-1001", json=ORDER, params=box, headers=sync)
    assert (again.status_code, again.json()["result"]) == (200, "unchanged")
    record = again.json()["record"]
    assert record["placed_at"] == ORDER["placed_at"]  # instants come back as they were sent
    item = record["items"][0]
    assert item["entitlements"]["service_tags"] == ["scheduled_installation"]
    assert item["area"]["code"] == "330106" and item["paid_price_fen"] == 29_900
    assert client.get("/api/v1/orders/T-1001", headers=sync).status_code == 404  # not live

    # The buyer signs in (their marketplace account, in the sandbox's world).
    buyer = _token(container, "zhang-san-trial", Role.CONSUMER, party=f"{BOX}.zhang-san")
    mine = client.get("/api/v1/order-items", headers=buyer).json()["items"]
    assert [i["id"] for i in mine] == [f"{BOX}.T-1001-1"]
    client.post(f"/api/v1/sandboxes/{BOX}/advance", params={"by": "30m"}, headers=ops)
    eligibility = client.get(f"/api/v1/order-items/{BOX}.T-1001-1/eligibility", headers=buyer)
    assert eligibility.status_code == 200, eligibility.text
    help_now = eligibility.json()["one_click_help"]
    assert help_now["eligible"] and help_now["city_covered"]
    solution = next(c for c in help_now["if_pressed_now"] if c["clock"] == "solution")
    assert solution["applies"] and solution["rule"] == "OH-4" and "11:00" in solution["zh"]

    opened = client.post(
        "/api/v1/help-requests",
        json={"order_item_id": f"{BOX}.T-1001-1", "failure": "installation_late"},
        headers=buyer,
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["assignee"] == f"{BOX}.xh-install"  # OH-3: the installer covering 西湖区
    advanced = client.post(f"/api/v1/sandboxes/{BOX}/advance", params={"by": "61m"}, headers=ops)
    assert advanced.status_code == 200, advanced.text
    balances = client.get("/api/v1/balances", params=box, headers=buyer).json()
    points = {(b["account"], b["unit"]): b["balance"] for b in balances}
    assert points[(f"{BOX}.zhang-san", "points")] == 5_000  # OH-5: ¥50 as points


def test_bad_master_data_gets_a_clear_answer_and_nothing_is_written(
    app: tuple[TestClient, Container],
) -> None:
    client, container = app
    ops = _token(container, "ops-bad", Role.OPERATIONS)
    refused = client.put(
        "/api/v1/products/bad-lamp",
        json={"name": "灯", "brand_id": "nobody", "category": "lightning"},
        headers=ops,
    )
    assert refused.status_code == 422
    problem = refused.json()
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"brand_id", "category"}
    assert "灯具灯饰" in problem["detail"] or "lighting" in problem["detail"]
    assert client.get("/api/v1/products/bad-lamp", headers=ops).status_code == 404
    not_json = client.put(
        "/api/v1/merchants/m1",
        content=b"{oops",
        headers={**ops, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    as_form = client.put("/api/v1/merchants/m1", data={"name": "x"}, headers=ops)
    assert as_form.status_code == 415
    mismatch = client.put("/api/v1/merchants/m1", json={"id": "m2", "name": "x"}, headers=ops)
    assert mismatch.status_code == 422


def test_a_batch_answers_record_by_record_in_json_or_ndjson(
    app: tuple[TestClient, Container],
) -> None:
    client, container = app
    ops = _token(container, "ops-batch", Role.OPERATIONS)
    shops = [{"id": f"batch-{n}", "name": f"店 {n}"} for n in range(5)] + [{"id": "batch-x"}]
    answer = client.post("/api/v1/merchants/batch", json=shops, headers=ops)
    assert answer.status_code == 200
    body = answer.json()
    assert body["counts"] == {"created": 5, "refused": 1}
    assert body["results"][-1]["errors"] == [{"field": "name", "message": "is required"}]
    lines = "\n".join(json.dumps(s, ensure_ascii=False) for s in shops[:5])
    again = client.post(
        "/api/v1/merchants/batch",
        content=lines.encode(),
        headers={**ops, "Content-Type": "application/x-ndjson"},
    )
    assert again.json()["counts"] == {"unchanged": 5}
    first = client.get("/api/v1/merchants", params={"limit": 2}, headers=ops).json()
    second = client.get(
        "/api/v1/merchants", params={"limit": 2, "after": first["next"]}, headers=ops
    ).json()
    assert len(first["items"]) == 2 and first["next"] == first["items"][-1]["id"]
    assert second["items"][0]["id"] > first["items"][-1]["id"]
    removed = client.delete("/api/v1/merchants/batch-0", headers=ops)
    assert removed.status_code == 200 and removed.json()["record"]["active"] is False
    active = client.get("/api/v1/merchants", params={"active": "false"}, headers=ops).json()
    assert [m["id"] for m in active["items"]] == ["batch-0"]


# The same marketplace as CSV files, one kind per file, as Excel saves them.
CSV_FILES = {
    "brands.csv": "id,name,hotline,warranty_terms_zh\nmg,明光照明,400-820-0001,整灯保修两年\n",
    "merchants.csv": "id,name\nmg-shop,明光照明官方旗舰店\n",
    "buyers.csv": "id,name,phone\nzhang-san,张三,13800138000\n",
    "providers.csv": "id,name,type,phone,contact\nxh-install,西湖区灯具安装队,installer,0571-88880001,王师傅\n",
    "coverage.csv": (
        "provider_id,area_code,area_name,category,service_tag,fulfil\n"
        "xh-install,330106,西湖区,lighting,预约安装,on_site\n"
    ),
    "products.csv": (
        "id,name,brand_id,category,service_tags\n"
        "mg-lamp,明光 LED 吸顶灯 48W,mg,家居/灯饰照明/灯具灯饰,预约安装\n"
    ),
    "order_items.csv": (
        "order_id,buyer_id,merchant_id,placed_at,address,item_id,product_id,paid_price\n"
        "T-1001,zhang-san,mg-shop,2026-11-20T20:15:00+08:00,"
        '"浙江省杭州市西湖区文三路 90 号 3 幢 201",T-1001-1,mg-lamp,299.00\n'
    ),
}


def test_the_same_marketplace_loaded_from_csv_files_plays_out_the_same(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    container = bootstrap(Settings(data_dir=data))
    ops = _token(container, "ops-csv", Role.OPERATIONS)
    client = TestClient(create_app(container))
    start = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI).isoformat()
    made = client.post(
        "/api/v1/sandboxes", json={"id": "csv", "start": start, "demo_data": False}, headers=ops
    )
    assert made.status_code == 201
    paths = []
    for name, text in CSV_FILES.items():
        (tmp_path / name).write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))  # with a BOM
        paths.append(str(tmp_path / name))
    imported = CliRunner().invoke(
        cli, ["import", *paths, "--sandbox", "csv", "--data-dir", str(data)], env={"COLUMNS": "200"}
    )
    assert imported.exit_code == 0, imported.output
    again = CliRunner().invoke(
        cli, ["import", *paths, "--sandbox", "csv", "--data-dir", str(data)], env={"COLUMNS": "200"}
    )
    assert again.exit_code == 0, again.output
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in again.output.splitlines()
        if line.startswith("│")
    ]
    assert rows and all(row[1:3] == ["0", "0"] for row in rows), again.output  # all unchanged
    buyer = _token(container, "zhang-san-csv", Role.CONSUMER, party="csv.zhang-san")
    opened = client.post(
        "/api/v1/help-requests",
        json={"order_item_id": "csv.T-1001-1", "failure": "installation_late"},
        headers=buyer,
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["assignee"] == "csv.xh-install"
    client.post("/api/v1/sandboxes/csv/advance", params={"by": "61m"}, headers=ops)
    balances = client.get("/api/v1/balances", params={"sandbox": "csv"}, headers=buyer).json()
    points = {(b["account"], b["unit"]): b["balance"] for b in balances}
    assert points[("csv.zhang-san", "points")] == 5_000
    container.close()


def test_a_body_over_the_limit_is_refused_413_before_it_is_read(
    app: tuple[TestClient, Container], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, container = app
    ops = _token(container, "ops-big", Role.OPERATIONS)
    monkeypatch.setattr(master_data_routes, "MAX_BODY_BYTES", 1024)
    shops = [{"id": f"big-{n}", "name": "店" * 20} for n in range(40)]
    answer = client.post("/api/v1/merchants/batch", json=shops, headers=ops)
    assert answer.status_code == 413 and "imports" in answer.json()["detail"]
    listed = client.get("/api/v1/merchants", params={"after": "big-", "limit": 5}, headers=ops)
    assert not [m for m in listed.json()["items"] if m["id"].startswith("big-")]
