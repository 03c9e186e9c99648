"""Bulk import end to end on SQLite: the ``aftersales import`` command, and the HTTP job
(upload, the worker's step, status, errors.csv)."""

from __future__ import annotations

import codecs
import csv
import io
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
from aftersales.entrypoints.cli import app as cli
from aftersales.services import accounts, imports
from aftersales.services import master_data as md
from aftersales.services.sandboxes import create_sandbox
from aftersales.services.time import FixedClock
from aftersales.settings import Settings
from aftersales.worker.imports import ImportLoop

TEN_AM = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
BOM = codecs.BOM_UTF8
BRANDS = "id,name,hotline\nb1,星河,400-800-0000\n"
MERCHANTS = "id,name\nm1,家居旗舰店\n"
CATALOGUE = [
    {"kind": "buyer", "id": "u1", "name": "李女士"},
    {"kind": "product", "id": "p1", "name": "吸顶灯", "brand_id": "b1", "category": "lighting"},
]
ORDER_ITEMS = (
    "order_id,buyer_id,merchant_id,placed_at,address,item_id,product_id,paid_price\n"
    "o1,u1,m1,2026-11-20T10:00:00+08:00,浙江省杭州市西湖区文三路90号,i1,p1,199.00\n"
    "o1,u1,m1,2026-11-20T10:00:00+08:00,浙江省杭州市西湖区文三路90号,i2,p1,199.00\n"
)


def ndjson(lines: list[dict[str, object]]) -> str:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


# ---------------------------------------------------------------- the command line


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "brands.csv").write_bytes(BOM + BRANDS.encode("utf-8"))  # Excel's "CSV UTF-8"
    (folder / "merchants.csv").write_bytes(MERCHANTS.encode("gbk"))  # Excel on Chinese Windows
    (folder / "catalogue.ndjson").write_text(ndjson(CATALOGUE), encoding="utf-8")
    (folder / "order_items.csv").write_text(ORDER_ITEMS, encoding="utf-8")
    return folder


def run(data: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["import", *args, "--data-dir", str(data)], env={"COLUMNS": "200"}
    )
    return result.exit_code, result.output


def stored(data: Path, kind: str, key: str) -> dict[str, object]:
    container = bootstrap(Settings(data_dir=data))
    try:
        return md.get_record(container.services, kind, key, world=md.World())
    finally:
        container.close()


def test_the_command_loads_bom_gbk_and_ndjson_files_and_exits_0(
    files: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    order = ["brands.csv", "merchants.csv", "catalogue.ndjson", "order_items.csv"]
    code, out = run(data, *(str(files / name) for name in order))
    assert code == 0, out
    assert "GB18030" in out and "merchants.csv" in out  # the GBK notice
    assert "6 rows read" in out
    assert not (files / "brands.errors.csv").exists()  # no problems, no errors file
    assert stored(data, "merchant", "m1")["name"] == "家居旗舰店"
    assert [i["id"] for i in stored(data, "order", "o1")["items"]] == ["i1", "i2"]  # type: ignore[index]
    # Again: nothing changes.
    code, out = run(data, *(str(files / name) for name in order))
    assert code == 0, out
    row = next(line for line in out.splitlines() if line.startswith("│ all"))
    assert [cell.strip() for cell in row.strip("│ ").split("│")] == [
        "all",
        "0",
        "0",
        "5",
        "0",
        "0",
    ]


def test_a_dry_run_keeps_nothing_but_counts_what_would_be_created(
    files: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    names = ["brands.csv", "merchants.csv", "catalogue.ndjson", "order_items.csv"]
    code, out = run(data, *(str(files / n) for n in names), "--dry-run")
    assert code == 0, out
    assert "dry run" in out
    row = next(line for line in out.splitlines() if line.startswith("│ all"))
    assert row.split("│")[2].strip() == "5"  # created: brand, shop, buyer, product, order
    with pytest.raises(md.NotFound):
        stored(data, "brand", "b1")


def test_refused_rows_go_to_the_errors_file_and_exit_1(files: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (files / "products.csv").write_text(
        "id,name,brand_id,category\np1,灯,b1,lighting\np2,灯,nope,lighting\np3,,b1,lighting\n",
        encoding="utf-8",
    )
    code, out = run(data, str(files / "brands.csv"), str(files / "products.csv"))
    assert code == 1, out
    report = files / "brands.errors.csv"  # beside the first file
    assert str(report) in out.replace("\n", "")
    raw = report.read_bytes()
    assert raw.startswith(BOM)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["file", "line", "field", "message"]
    assert [(r[0].rsplit("/", 1)[-1], r[1], r[2]) for r in rows[1:]] == [
        ("products.csv", "3", "brand_id"),
        ("products.csv", "4", "name"),
    ]
    assert stored(data, "product", "p1")["name"] == "灯"
    # Fixed and run again with --errors elsewhere: exit 0, and no file there.
    (files / "products.csv").write_text(
        "id,name,brand_id,category\np2,灯,b1,lighting\np3,灯,b1,lighting\n", encoding="utf-8"
    )
    elsewhere = tmp_path / "out" / "problems.csv"
    code, out = run(
        data, str(files / "brands.csv"), str(files / "products.csv"), "--errors", str(elsewhere)
    )
    assert code == 0, out
    assert not elsewhere.exists()


def test_a_refused_file_loads_nothing_and_exits_2(files: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (files / "products.xlsx").write_bytes(b"PK\x03\x04")
    code, out = run(data, str(files / "brands.csv"), str(files / "products.xlsx"))
    assert code == 2, out
    assert "Save As" in out and "nothing was loaded" in out
    code, out = run(data, str(files / "brands.csv"), "--kind", "brandz")
    assert code == 2 and "did you mean 'brand'" in out, out
    code, out = run(data, str(files / "brands.csv"), "--sandbox", "nosuch")
    assert code == 2 and "no sandbox with id 'nosuch'" in out, out
    with pytest.raises(md.NotFound):
        stored(data, "brand", "b1")


# ---------------------------------------------------------------- the HTTP job


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Container, TestClient, dict[str, str]]]:
    container = bootstrap(Settings(data_dir=tmp_path / "data"), clock=FixedClock(TEN_AM))
    svc = container.services
    accounts.create_account(svc, username="ops", password="ops-password", role=Role.OPERATIONS)
    token = accounts.create_api_token(svc, username="ops", name="test").token
    yield container, TestClient(create_app(container)), {"Authorization": f"Bearer {token}"}
    container.close()


def upload(
    client: TestClient, headers: dict[str, str], name: str, data: bytes, **form: str
) -> dict[str, object]:
    response = client.post(
        "/api/v1/imports", files={"file": (name, data, "text/csv")}, data=form, headers=headers
    )
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/api/v1/imports/{response.json()['id']}"
    return dict(response.json())


def test_an_uploaded_file_is_imported_by_the_worker_with_counts_and_an_error_report(
    served: tuple[Container, TestClient, dict[str, str]],
) -> None:
    container, client, headers = served
    first = upload(client, headers, "brands.csv", BOM + BRANDS.encode())
    assert isinstance(container.clock, FixedClock)
    container.clock.advance(seconds=1)  # jobs run in the order they came
    products = "id,name,brand_id,category\np1,灯,b1,lighting\np2,灯,nope,lighting\n"
    second = upload(client, headers, "products.csv", products.encode())
    assert first["status"] == "queued" and first["bytes_total"] == len(BOM + BRANDS.encode())
    staged = list((container.settings.imports_dir / "staged").iterdir())
    assert len(staged) == 2
    early = client.get(f"/api/v1/imports/{second['id']}/errors.csv", headers=headers)
    assert early.status_code == 409  # not run yet

    loop = ImportLoop(container)
    assert loop.run_once() == first["id"]
    assert loop.run_once() == second["id"]
    assert loop.run_once() is None

    done = client.get(f"/api/v1/imports/{second['id']}", headers=headers).json()
    assert done["status"] == "done"
    assert done["counts"] == {"product": {"created": 1, "refused": 1}}
    assert done["rows_read"] == 2 and done["progress"] == 1.0
    assert done["error_count"] == 1
    assert done["errors"] == [
        {
            "file": "products.csv",
            "line": 3,
            "field": "brand_id",
            "message": "no brand with id 'nope' is loaded; load it first",
        }
    ]
    report = client.get(f"/api/v1/imports/{second['id']}/errors.csv", headers=headers)
    assert report.status_code == 200 and report.content.startswith(BOM)
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert rows[1][:3] == ["products.csv", "3", "brand_id"]
    clean = client.get(f"/api/v1/imports/{first['id']}/errors.csv", headers=headers)
    assert clean.content == BOM + b"file,line,field,message\r\n"
    assert list((container.settings.imports_dir / "staged").iterdir()) == []  # deleted when done
    assert md.get_record(container.services, "product", "p1", world=md.World())["name"] == "灯"


def test_a_dry_run_job_into_a_sandbox_counts_and_keeps_nothing(
    served: tuple[Container, TestClient, dict[str, str]],
) -> None:
    container, client, headers = served
    create_sandbox(container.services, sandbox_id="trial", start=TEN_AM)
    lines = [{"kind": "brand", "id": "b1", "name": "星河"}, *CATALOGUE]
    job = upload(
        client,
        headers,
        "catalogue.ndjson",
        ndjson(lines).encode(),
        sandbox="trial",
        dry_run="true",
    )
    assert job["dry_run"] is True and job["sandbox"] == "trial"
    ImportLoop(container).run_once()
    done = client.get(f"/api/v1/imports/{job['id']}", headers=headers).json()
    assert done["status"] == "done", done
    assert done["totals"]["created"] == 3 and done["error_count"] == 0
    assert "nothing kept" in done["message"]
    with pytest.raises(md.NotFound):
        md.get_record(container.services, "brand", "b1", world=md.World.of("trial"))


def test_uploads_are_checked_before_a_job_is_queued(
    served: tuple[Container, TestClient, dict[str, str]],
) -> None:
    container, client, headers = served

    def post(name: str, data: bytes, **form: str) -> tuple[int, str]:
        response = client.post(
            "/api/v1/imports", files={"file": (name, data)}, data=form, headers=headers
        )
        return response.status_code, response.text

    status, text = post("products.csv", b"id,name,brand\np1,x,b1\n")
    assert status == 422 and "did you mean 'brand_id'" in text
    status, text = post("report.xlsx", b"PK\x03\x04")
    assert status == 422 and "Save As" in text
    status, text = post("brands.csv", BRANDS.encode(), sandbox="nosuch")
    assert status == 404
    container.import_files.max_bytes = 10
    status, text = post("brands.csv", BRANDS.encode())
    assert status == 413
    container.import_files.max_bytes = container.settings.import_max_bytes
    buyer = accounts.create_account(
        container.services,
        username="buyer",
        password="buyer-password",
        role=Role.CONSUMER,
        party="u1",
    )
    token = accounts.create_api_token(container.services, username=buyer.username, name="t")
    refused = client.post(
        "/api/v1/imports",
        files={"file": ("brands.csv", BRANDS.encode())},
        headers={"Authorization": f"Bearer {token.token}"},
    )
    assert refused.status_code == 403
    assert list((container.settings.imports_dir / "staged").iterdir()) == []  # none kept


def test_a_failing_import_ends_failed_with_a_message_and_its_file_is_removed(
    served: tuple[Container, TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    container, client, headers = served
    job = upload(client, headers, "brands.csv", BRANDS.encode())

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(md, "upsert", broken)
    ImportLoop(container).run_once()
    done = client.get(f"/api/v1/imports/{job['id']}", headers=headers).json()
    assert done["status"] == "failed"
    assert "stopped after 1 rows: the disk is full" in done["message"]
    assert list((container.settings.imports_dir / "staged").iterdir()) == []


def test_a_stopping_worker_puts_its_job_back_in_the_queue(
    served: tuple[Container, TestClient, dict[str, str]],
) -> None:
    container, client, headers = served
    job = upload(client, headers, "brands.csv", BRANDS.encode())
    loop = ImportLoop(container)
    loop.stop.set()
    assert loop.run_once() == job["id"]
    again = client.get(f"/api/v1/imports/{job['id']}", headers=headers).json()
    assert again["status"] == "queued"
    assert ImportLoop(container).run_once() == job["id"]
    done = client.get(f"/api/v1/imports/{job['id']}", headers=headers).json()
    assert done["status"] == "done" and done["counts"] == {
        "brand": {"unchanged": 1}
    }  # loaded before the stop


# ---------------------------------------------------------------- the operations page


def test_operations_upload_on_the_imports_page_and_follow_the_job_until_it_ends(
    served: tuple[Container, TestClient, dict[str, str]],
) -> None:
    container, client, _ = served
    browser = TestClient(client.app)
    signed_in = browser.post("/login", data={"username": "ops", "password": "ops-password"})
    assert signed_in.status_code == 200
    page = browser.get("/ops/imports", params={"lang": "en"})
    assert page.status_code == 200 and "No imports yet." in page.text
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    posted = browser.post(
        "/ops/imports",
        files={"file": ("brands.csv", BOM + BRANDS.encode(), "text/csv")},
        data={"csrf_token": csrf, "kind": "", "sandbox": "", "dry_run": ""},
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text
    job_page = posted.headers["location"]
    waiting = browser.get(job_page)
    assert 'http-equiv="refresh"' in waiting.text and "queued" in waiting.text
    ImportLoop(container).run_once()
    ended = browser.get(job_page)
    assert 'http-equiv="refresh"' not in ended.text
    assert "done" in ended.text
    assert "<tr><td>brands</td><td>1</td>" in ended.text  # one brand created
    listing = browser.get("/ops/imports")
    assert "brands.csv" in listing.text and 'http-equiv="refresh"' not in listing.text
    # Without the form's token nothing is queued.
    refused = browser.post(
        "/ops/imports",
        files={"file": ("brands.csv", BRANDS.encode(), "text/csv")},
        data={"csrf_token": "wrong"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert len(browser.get("/ops/imports").text.split('data-import="')) == 2


def test_the_imports_page_is_for_operations_only(
    served: tuple[Container, TestClient, dict[str, str]],
) -> None:
    container, client, _ = served
    accounts.create_account(
        container.services,
        username="shop",
        password="shop-password",
        role=Role.MERCHANT,
        party="m1",
    )
    browser = TestClient(client.app)
    browser.post("/login", data={"username": "shop", "password": "shop-password"})
    assert browser.get("/ops/imports").status_code == 403


def test_a_shops_integration_account_imports_its_orders_only_and_sees_only_its_jobs(
    served: tuple[Container, TestClient, dict[str, str]],
) -> None:
    container, client, ops = served
    upload(client, ops, "brands.csv", BRANDS.encode())
    container.clock.advance(seconds=1)  # type: ignore[attr-defined]
    upload(client, ops, "merchants.csv", MERCHANTS.encode("gbk"))
    container.clock.advance(seconds=1)  # type: ignore[attr-defined]
    ops_job = upload(client, ops, "catalogue.ndjson", ndjson(CATALOGUE).encode())
    loop = ImportLoop(container)
    while loop.run_once() is not None:
        pass
    loaded = client.get(f"/api/v1/imports/{ops_job['id']}", headers=ops).json()
    assert loaded["status"] == "done" and loaded["error_count"] == 0

    svc = container.services
    accounts.create_account(
        svc, username="shop-sync", password="shop-sync-pw", role=Role.INTEGRATION, party="m1"
    )
    shop = {
        "Authorization": "Bearer "
        + accounts.create_api_token(svc, username="shop-sync", name="orders").token
    }
    refused = client.post(
        "/api/v1/imports", files={"file": ("brands.csv", BRANDS.encode())}, headers=shop
    )
    assert refused.status_code == 403 and "cannot load brands" in refused.text
    job = upload(client, shop, "order_items.csv", ORDER_ITEMS.encode())
    assert client.get(f"/api/v1/imports/{ops_job['id']}", headers=shop).status_code == 404
    ImportLoop(container).run_once()
    done = client.get(f"/api/v1/imports/{job['id']}", headers=shop).json()
    assert done["status"] == "done" and done["counts"] == {"order": {"created": 1}}, done
    # The GBK file's job says how it was read.
    jobs_seen = imports.list_jobs(svc, role=Role.OPERATIONS, account_id="acc-any")
    merchants_job = next(j for j in jobs_seen if j["filename"] == "merchants.csv")
    assert "GB18030" in merchants_job["message"]
    assert [j["id"] for j in imports.list_jobs(svc, role=Role.INTEGRATION, account_id="x")] == []
