"""``aftersales import --jobs``: files of orders loaded by several processes on PostgreSQL
(and by one on SQLite) give the same records, counts and problems as one process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aftersales.adapters.db import schema as s
from aftersales.bootstrap import Container, bootstrap
from aftersales.services import master_data as md
from aftersales.services.imports import ImportReport, RowProblem
from aftersales.settings import Settings
from aftersales.worker.import_parts import FileToImport, import_files

ADDRESS = "浙江省杭州市西湖区文三路90号"
CATALOGUE = {
    "brands.csv": "id,name\nb1,星河\n",
    "merchants.csv": "id,name\nm1,一号店\n",
    "buyers.csv": "id\nu1\nu2\n",
    "products.csv": "id,name,brand_id,category,service_tags\n"
    "p1,灯,b1,lighting,scheduled_installation\n",
}
ORDERS = 60


def _order_rows() -> str:
    header = "order_id,buyer_id,merchant_id,placed_at,address,item_id,product_id,paid_price\n"
    rows = [
        f"o{n // 2},u{1 + n // 2 % 2},m1,2026-11-20T10:00:00+08:00,{ADDRESS},i{n},p1,199.00\n"
        for n in range(2 * ORDERS)
    ]
    rows.append(f"o-bad,u1,m1,2026-11-20T10:00:00+08:00,{ADDRESS},i-bad,p-missing,1\n")
    return header + "".join(rows)


@pytest.fixture
def container(database_url: str, tmp_path: Path) -> Iterator[Container]:
    box = bootstrap(Settings(database_url=database_url, data_dir=tmp_path / "data"), migrate=True)
    yield box
    box.close()


@pytest.fixture
def files(tmp_path: Path) -> list[FileToImport]:
    written = []
    for name, text in [*CATALOGUE.items(), ("order_items.csv", _order_rows())]:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        written.append(FileToImport(path))
    return written


def test_orders_loaded_in_two_parts_are_all_stored_and_counted_once(
    container: Container, files: list[FileToImport]
) -> None:
    found: list[RowProblem] = []
    report = import_files(container, files, report=ImportReport(sink=found.append), jobs=2)
    assert report.counts["order"] == {"created": ORDERS, "refused": 1}
    assert report.counts["buyer"] == {"created": 2}
    assert report.rows_read == 5 + 2 * ORDERS + 1
    assert [(p.file.rsplit("/", 1)[-1], p.line, p.field) for p in found] == [
        ("order_items.csv", 2 * ORDERS + 2, "product_id")
    ]
    assert report.error_count == 1
    with container.engine.connect() as conn:
        items = conn.execute(select(func.count()).select_from(s.order_items)).scalar_one()
    assert items == 2 * ORDERS
    order = md.get_record(container.services, "order", "o7", world=md.World())
    assert [i["id"] for i in order["items"]] == ["i14", "i15"]


def test_a_second_run_in_parts_finds_everything_unchanged(
    container: Container, files: list[FileToImport]
) -> None:
    import_files(container, files, report=ImportReport(), jobs=2)
    again = import_files(container, files, report=ImportReport(), jobs=2)
    assert again.totals == {
        "created": 0,
        "updated": 0,
        "unchanged": 5 + ORDERS,
        "stale": 0,
        "refused": 1,
    }


def test_a_refused_file_stops_the_import_before_any_part_starts(
    container: Container, files: list[FileToImport], tmp_path: Path
) -> None:
    bad = tmp_path / "order_items-2.csv"
    bad.write_text("order_id,colour\no1,red\n", encoding="utf-8")
    report = import_files(container, [*files, FileToImport(bad)], report=ImportReport(), jobs=2)
    assert report.refused_files == [str(bad)]
    with container.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.orders)).scalar_one() == 0


def test_the_command_takes_jobs_and_says_when_sqlite_loads_with_one_process(
    container: Container, files: list[FileToImport], database_url: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from aftersales.entrypoints.cli import app as cli

    result = CliRunner().invoke(
        cli,
        [
            "import",
            *(str(f.path) for f in files),
            "--jobs",
            "2",
            "--database-url",
            database_url,
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 1, result.output  # the one refused row
    assert f"{5 + 2 * ORDERS + 1:,} rows read" in result.output
    on_sqlite = database_url.startswith("sqlite")
    assert ("importing with one process" in result.output) == on_sqlite
    with container.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(s.orders)).scalar_one() == ORDERS
