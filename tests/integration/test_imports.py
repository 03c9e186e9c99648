"""Bulk import on SQLite and PostgreSQL: the same files give the same records and counts,
a dry run leaves the database as it was, and a re-run finds everything unchanged."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from aftersales.adapters.db import schema as s
from aftersales.adapters.record_files import open_record_file
from aftersales.services import imports
from aftersales.services import master_data as md
from aftersales.services.base import Services
from aftersales.services.imports import ImportReport
from aftersales.services.time import FixedClock
from aftersales.testing import services_on

TEN_AM = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
ADDRESS = "浙江省杭州市西湖区文三路90号"
FILES = [
    ("brands.csv", "id,name\nb1,星河\n"),
    ("merchants.csv", "id,name\nm1,一号店\n"),
    ("buyers.csv", "id\nu1\nu2\n"),
    (
        "products.csv",
        "id,name,brand_id,category,service_tags\np1,灯,b1,lighting,scheduled_installation\n",
    ),
    ("providers.csv", "id,name,type\nv1,杭州安装,installer\n"),
    (
        "coverage.csv",
        "provider_id,area_code,category,service_tag\n"
        "v1,330106,lighting,scheduled_installation\n"
        "v1,330105,lighting,scheduled_installation\n",
    ),
    ("service_centres.csv", "brand_id,name,city\nb1,星河杭州中心,杭州市\n"),
    (
        "order_items.csv",
        "order_id,buyer_id,merchant_id,placed_at,address,item_id,product_id,paid_price\n"
        + "".join(
            f"o{n // 3},u{1 + n // 3 % 2},m1,2026-11-20T10:00:00+08:00,{ADDRESS},i{n},p1,199.00\n"
            for n in range(30)
        ),
    ),
]


def run(svc: Services, **options: object) -> ImportReport:
    sources = [
        open_record_file(io.BytesIO(text.encode()), name=name, kinds=imports.FILE_KINDS)
        for name, text in FILES
    ]
    return imports.run_import(svc, sources, batch_rows=7, **options)  # type: ignore[arg-type]


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_files_load_in_batches_and_a_rerun_is_all_unchanged(engine: Engine) -> None:
    svc = services_on(engine, FixedClock(TEN_AM))
    report = run(svc)
    assert report.clean, report.errors
    assert report.counts == {
        "brand": {"created": 1, "updated": 1},  # made, then given its centres
        "merchant": {"created": 1},
        "buyer": {"created": 2},
        "product": {"created": 1},
        "provider": {"created": 1, "updated": 1},  # made, then given its coverage
        "order": {"created": 10},
    }
    assert count(engine, s.order_items) == 30
    assert count(engine, s.provider_coverage) == 2
    assert [
        c["name"] for c in md.get_record(svc, "brand", "b1", world=md.World())["service_centres"]
    ] == ["星河杭州中心"]
    again = run(svc)
    assert again.totals == {"created": 0, "updated": 0, "unchanged": 18, "stale": 0, "refused": 0}


def test_a_dry_run_counts_like_the_real_one_and_leaves_the_database_empty(engine: Engine) -> None:
    svc = services_on(engine, FixedClock(TEN_AM))
    report = run(svc, dry_run=True)
    assert report.clean, report.errors
    assert report.totals["created"] == 16 and report.totals["updated"] == 2
    for table in (s.brands, s.merchants, s.buyers, s.products, s.providers, s.orders):
        assert count(engine, table) == 0
