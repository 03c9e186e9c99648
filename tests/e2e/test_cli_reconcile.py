"""``aftersales reconcile`` on a SQLite data directory: report the drift, fix it, find none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aftersales.bootstrap import bootstrap
from aftersales.entrypoints.cli import app
from aftersales.errors import NotFound
from aftersales.services import master_data
from aftersales.services.master_data import World
from aftersales.services.sandboxes import create_sandbox
from aftersales.settings import Settings

LIVE_WORLD = World()
ADDRESS = "浙江省杭州市西湖区文三路90号"
BRAND = {"id": "b1", "name": "云杉"}
MERCHANT = {"id": "m1", "name": "云杉家电旗舰店"}
BUYER = {"id": "u1", "name": "小林"}


def product(product_id: str, name: str = "吸顶灯") -> dict[str, Any]:
    return {"id": product_id, "name": name, "brand_id": "b1", "category": "lighting"}


def order(order_id: str, phone: str = "") -> dict[str, Any]:
    return {
        "id": order_id,
        "buyer_id": "u1",
        "merchant_id": "m1",
        "placed_at": "2026-01-10T10:00:00+08:00",
        "address": ADDRESS,
        "contact_phone": phone,
        "items": [{"id": f"{order_id}-1", "product_id": "p1", "paid_price_fen": 29_900}],
    }


STORED = [
    ("brand", BRAND),
    ("merchant", MERCHANT),
    ("buyer", BUYER),
    ("product", product("p1")),
    ("product", product("p2")),
    ("product", product("p3")),  # the export no longer has it: extra
    ("order", order("o1")),
    ("order", order("o9")),  # extra
]
EXPORT = [
    {"kind": "brand", **BRAND},
    {"kind": "merchants", **MERCHANT},
    {"kind": "buyer", **BUYER},
    {"kind": "product", **product("p1")},
    {"kind": "product", **product("p2", "吸顶灯 Pro")},  # different
    {"kind": "product", **product("p4")},  # missing
    {"kind": "order", **order("o1", "13800000000")},  # different
    {"kind": "order", **order("o2")},  # missing
]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    container = bootstrap(Settings(data_dir=tmp_path / "data"))
    try:
        for kind, record in STORED:
            assert master_data.upsert(container.services, kind, [record])[0].result == "created"
        create_sandbox(container.services, sandbox_id="sb")
        assert (
            master_data.upsert(
                container.services, "product", [product("p7")], world=World.of("sb")
            )[0].result
            == "created"
        )
    finally:
        container.close()
    return tmp_path / "data"


def write_ndjson(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def reconcile(data_dir: Path, *args: str) -> Any:
    return CliRunner().invoke(
        app, ["reconcile", *args, "--data-dir", str(data_dir)], env={"COLUMNS": "200"}
    )


def stored(
    data_dir: Path, kind: str, record_id: str, world: World = LIVE_WORLD
) -> dict[str, Any] | None:
    container = bootstrap(Settings(data_dir=data_dir))
    try:
        return master_data.get_record(container.services, kind, record_id, world=world)
    except NotFound:
        return None
    finally:
        container.close()


def test_reconcile_reports_the_drift_then_apply_fixes_it_and_a_second_run_finds_none(
    data_dir: Path, tmp_path: Path
) -> None:
    export = write_ndjson(tmp_path / "export.ndjson", EXPORT)

    report = reconcile(data_dir, str(export))

    assert report.exit_code == 1, report.output
    lines = report.output.splitlines()
    assert "report only: nothing changed" in lines[0]
    assert "product   in file 3  same 1  missing 1  different 1  extra 1" in report.output
    assert "order     in file 2  same 0  missing 1  different 1  extra 1" in report.output
    assert "  missing   p4" in lines
    assert "  extra     p3" in lines
    assert "  different o1" in lines
    assert "6 records differ; run again with --apply" in report.output
    assert stored(data_dir, "product", "p4") is None  # a report changes nothing
    assert stored(data_dir, "product", "p3")["active"] is True  # type: ignore[index]

    applied = reconcile(data_dir, str(export), "--apply")

    assert applied.exit_code == 0, applied.output
    assert "6 records put right: 2 created, 2 updated, 2 deactivated" in applied.output
    assert stored(data_dir, "product", "p4") is not None
    assert stored(data_dir, "product", "p2")["name"] == "吸顶灯 Pro"  # type: ignore[index]
    assert stored(data_dir, "product", "p3")["active"] is False  # type: ignore[index]
    assert stored(data_dir, "order", "o9")["active"] is False  # type: ignore[index]
    assert stored(data_dir, "order", "o1")["contact_phone"] == "13800000000"  # type: ignore[index]
    assert stored(data_dir, "product", "p7", World.of("sb"))["active"] is True  # type: ignore[index]

    again = reconcile(data_dir, str(export))

    assert again.exit_code == 0, again.output
    assert "no drift" in again.output


def test_a_csv_of_one_kind_only_deactivates_that_kind(data_dir: Path, tmp_path: Path) -> None:
    products = tmp_path / "products.csv"
    products.write_text("id,name,brand_id,category\np1,吸顶灯,b1,lighting\n", "utf-8")

    report = reconcile(data_dir, str(products), "--apply")

    assert report.exit_code == 0, report.output
    assert "product   in file 1  same 1  missing 0  different 0  extra 2" in report.output
    assert "brand" not in report.output.split("\n", 1)[1]  # brands are not looked at
    assert stored(data_dir, "product", "p2")["active"] is False  # type: ignore[index]
    assert stored(data_dir, "brand", "b1")["active"] is True  # type: ignore[index]


def test_a_sandbox_is_reconciled_on_its_own_records(data_dir: Path, tmp_path: Path) -> None:
    export = write_ndjson(tmp_path / "export.ndjson", [{"kind": "product", **product("p8")}])

    report = reconcile(data_dir, str(export), "--sandbox", "sb", "--apply")

    assert report.exit_code == 0, report.output
    assert "against sandbox sb" in report.output
    assert "  extra     p7" in report.output.splitlines()  # the live p1…p3 are not the sandbox's
    assert stored(data_dir, "product", "p7", World.of("sb"))["active"] is False  # type: ignore[index]
    assert stored(data_dir, "product", "p1")["active"] is True  # type: ignore[index]


def test_refused_rows_and_unusable_files_are_said_plainly(data_dir: Path, tmp_path: Path) -> None:
    export = write_ndjson(
        tmp_path / "export.ndjson",
        [{"kind": "product", **product("p1")}, {"kind": "product", "id": "p5", "name": "x"}],
    )
    refused = reconcile(data_dir, str(export))
    assert refused.exit_code == 1
    assert "refused   line 2: brand_id: is required" in refused.output

    missing = reconcile(data_dir, str(tmp_path / "nope.ndjson"))
    assert missing.exit_code == 2
    assert "does not exist" in missing.output


def test_extras_are_left_alone_when_the_file_may_be_incomplete(
    data_dir: Path, tmp_path: Path
) -> None:
    export = tmp_path / "export.ndjson"
    export.write_text(
        json.dumps({"kind": "product", **product("p1")}) + "\n" + '{"kind": "product", "id": \n',
        "utf-8",
    )
    broken = reconcile(data_dir, str(export), "--apply")
    assert broken.exit_code == 1
    assert "rows of the file could not be read" in broken.output
    assert stored(data_dir, "product", "p2")["active"] is True  # type: ignore[index]

    empty = tmp_path / "products.csv"
    empty.write_text("id,name,brand_id,category\n", "utf-8")
    nothing = reconcile(data_dir, str(empty), "--apply")
    assert nothing.exit_code == 1
    assert "the file holds no products at all" in nothing.output
    assert stored(data_dir, "product", "p1")["active"] is True  # type: ignore[index]


def test_orders_reconcile_from_the_flat_csv_layout_the_importer_reads(
    data_dir: Path, tmp_path: Path
) -> None:
    export = tmp_path / "order_items.csv"
    export.write_text(
        "order_id,buyer_id,merchant_id,placed_at,address,contact_phone,item_id,product_id,paid_price\n"
        f"o1,u1,m1,2026-01-10T10:00:00+08:00,{ADDRESS},13800000000,o1-1,p1,299.00\n"
        f"o2,u1,m1,2026-01-10T10:00:00+08:00,{ADDRESS},,o2-1,p1,299.00\n"
        f"o2,u1,m1,2026-01-10T10:00:00+08:00,{ADDRESS},,o2-2,p2,99.00\n",
        "utf-8",
    )
    report = reconcile(data_dir, str(export))
    assert report.exit_code == 1, report.output
    assert "order     in file 2  same 0  missing 1  different 1  extra 1" in report.output

    applied = reconcile(data_dir, str(export), "--apply")

    assert applied.exit_code == 0, applied.output
    two = stored(data_dir, "order", "o2")
    assert two is not None and [i["id"] for i in two["items"]] == ["o2-1", "o2-2"]
    assert stored(data_dir, "order", "o9")["active"] is False  # type: ignore[index]
    assert "no drift" in reconcile(data_dir, str(export)).output
