"""Bulk import on the in-memory adapter: files read by the real reader, loaded in batches."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from aftersales.adapters.memory import MemoryStore, memory_services
from aftersales.adapters.memory.master_data import MemoryMasterData
from aftersales.adapters.record_files import open_record_file
from aftersales.domain.policy import PolicyBook
from aftersales.errors import Forbidden, InvalidRequest
from aftersales.services import imports
from aftersales.services import master_data as md
from aftersales.services.base import Services
from aftersales.services.imports import ImportReport, RowSource
from aftersales.services.time import FixedClock
from tests.unit.services.world import START

BRANDS = (
    "id,name,hotline,warranty_terms_zh,warranty_terms_en,exclusions_zh,exclusions_en\n"
    "b1,星河,400-800-0000,整机保修一年,One year,人为损坏|进水,Misuse|Water damage\n"
    "b2,光明,,,,,\n"
)
MERCHANTS = "id,name\nm1,家居旗舰店\n"
BUYERS = "id,name,phone\nu1,李女士,13800000000\nu2,王先生,\n"
PRODUCTS = (
    "id,name,brand_id,category,badges,service_tags,warranty_months\n"
    "p1,吸顶灯,b1,lighting,,scheduled_installation,12\n"
    "p2,手机,b1,phone,national_warranty,,12\n"
)
PROVIDERS = "id,name,type,brand_id,calendar\nv1,杭州安装,installer,,wall\nv2,星河杭州,brand_centre,b1,wall\n"
HANGZHOU = "浙江省杭州市西湖区文三路90号"
ORDER_ITEMS = (
    "order_id,buyer_id,merchant_id,placed_at,address,item_id,product_id,paid_price\n"
    f"o1,u1,m1,2026-11-20T10:00:00+08:00,{HANGZHOU},i1,p1,199.00\n"
    f"o1,u1,m1,2026-11-20T10:00:00+08:00,{HANGZHOU},i2,p2,3999\n"
    f"o2,u2,m1,2026-11-21T09:30:00+08:00,{HANGZHOU},i3,p1,199.00\n"
)


@pytest.fixture
def svc(book: PolicyBook) -> Services:
    return memory_services(book, FixedClock(START), store=MemoryStore())


def source(name: str, text: str | bytes, kind: str | None = None) -> RowSource:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return open_record_file(io.BytesIO(data), name=name, kind=kind, kinds=imports.FILE_KINDS)


def load(svc: Services, *files: tuple[str, str], **options: Any) -> ImportReport:
    return imports.run_import(svc, [source(name, text) for name, text in files], **options)


def catalogue(svc: Services) -> ImportReport:
    return load(
        svc,
        ("brands.csv", BRANDS),
        ("merchants.csv", MERCHANTS),
        ("buyers.csv", BUYERS),
        ("products.csv", PRODUCTS),
        ("providers.csv", PROVIDERS),
    )


def problems(report: ImportReport) -> list[tuple[str, int, str | None]]:
    return [(p.file, p.line, p.field) for p in report.errors]


def record(svc: Services, kind: str, key: str, sandbox: str = "live") -> dict[str, Any]:
    return md.get_record(svc, kind, key, world=md.World.of(sandbox))


def test_flat_csv_files_of_every_record_kind_are_created_with_their_lists_and_terms(
    svc: Services,
) -> None:
    report = catalogue(svc)
    assert report.clean, report.errors
    assert report.counts == {
        "brand": {"created": 2},
        "merchant": {"created": 1},
        "buyer": {"created": 2},
        "product": {"created": 2},
        "provider": {"created": 2},
    }
    assert report.rows_read == 9
    brand = record(svc, "brand", "b1")
    assert brand["warranty_terms"] == {"zh": "整机保修一年", "en": "One year"}
    assert brand["exclusions"] == [
        {"zh": "人为损坏", "en": "Misuse"},
        {"zh": "进水", "en": "Water damage"},
    ]
    assert record(svc, "product", "p2")["badges"] == ["national_warranty"]
    assert record(svc, "product", "p1")["service_tags"] == ["scheduled_installation"]
    assert record(svc, "provider", "v2")["brand_id"] == "b1"


def test_order_item_rows_of_one_order_make_one_order_with_all_its_items(svc: Services) -> None:
    catalogue(svc)
    report = load(svc, ("order_items.csv", ORDER_ITEMS))
    assert report.clean, report.errors
    assert report.counts == {"order": {"created": 2}}
    order = record(svc, "order", "o1")
    assert [(i["id"], i["paid_price_fen"]) for i in order["items"]] == [
        ("i1", 19_900),
        ("i2", 399_900),
    ]
    assert order["items"][1]["entitlements"]["badges"] == ["national_warranty"]
    assert [i["id"] for i in record(svc, "order", "o2")["items"]] == ["i3"]


def test_rows_of_an_order_that_are_not_together_are_merged_into_it(svc: Services) -> None:
    catalogue(svc)
    rows = ORDER_ITEMS.splitlines()
    apart = "\n".join([rows[0], rows[1], rows[3], rows[2]]) + "\n"  # o1, o2, o1
    report = load(svc, ("order_items.csv", apart))
    assert report.clean, report.errors
    assert report.counts == {"order": {"created": 2}}  # within a batch: gathered
    assert [i["id"] for i in record(svc, "order", "o1")["items"]] == ["i1", "i2"]
    # Further apart than a batch: two updates of the order; the items are all kept.
    later = load(
        svc, ("order_items.csv", apart.replace("i1,", "i4,").replace("i2,", "i5,")), batch_rows=1
    )
    assert later.clean, later.errors
    assert sorted(i["id"] for i in record(svc, "order", "o1")["items"]) == [
        "i1",
        "i2",
        "i4",
        "i5",
    ]


def test_coverage_rows_replace_the_providers_coverage_and_keep_the_rest_of_it(
    svc: Services,
) -> None:
    catalogue(svc)
    first = (
        "provider_id,area_code,area_name,category,service_tag,fulfil\n"
        "v1,330106,西湖区,lighting,scheduled_installation,on_site\n"
        "v1,330105,,lighting,scheduled_installation,on_site\n"
    )
    assert load(svc, ("coverage.csv", first)).counts == {"provider": {"updated": 1}}
    assert [c["area_code"] for c in record(svc, "provider", "v1")["coverage"]] == [
        "330105",
        "330106",
    ]
    second = (
        "provider_id,area_code,category,service_tag\nv1,330102,lighting,scheduled_installation\n"
    )
    assert load(svc, ("coverage.csv", second)).clean
    provider = record(svc, "provider", "v1")
    assert [c["area_code"] for c in provider["coverage"]] == ["330102"]
    assert provider["name"] == "杭州安装"
    # Loading the providers again keeps the coverage their file does not carry.
    again = load(svc, ("providers.csv", PROVIDERS))
    assert again.counts == {"provider": {"unchanged": 2}}
    assert [c["area_code"] for c in record(svc, "provider", "v1")["coverage"]] == ["330102"]


def test_coverage_of_an_unknown_provider_and_a_bad_area_are_refused_on_their_lines(
    svc: Services,
) -> None:
    catalogue(svc)
    rows = (
        "provider_id,area_code,category,service_tag\n"
        "nobody,330106,lighting,scheduled_installation\n"
        "v1,999999,lighting,scheduled_installation\n"
        "v1,330106,lighting,scheduled_installation\n"
    )
    report = load(svc, ("coverage.csv", rows))
    assert problems(report) == [
        ("coverage.csv", 2, "provider_id"),
        ("coverage.csv", 3, "area_code"),  # found when v1 is written
    ]
    assert "no provider nobody is loaded" in " ".join(p.message for p in report.errors)
    # The good row still replaced v1's coverage.
    assert [c["area_code"] for c in record(svc, "provider", "v1")["coverage"]] == ["330106"]


def test_service_centre_rows_replace_the_brands_centres(svc: Services) -> None:
    catalogue(svc)
    rows = (
        "brand_id,name,city,address,phone,hours\n"
        "b1,星河杭州中心,杭州市,文三路 2 号,0571-1,9:00-18:00\n"
        "b1,星河上海中心,上海市,世纪大道 1 号,021-1,\n"
        "b1,星河杭州中心,杭州市,重复,0571-2,\n"
    )
    report = load(svc, ("service_centres.csv", rows))
    assert report.counts == {"brand": {"updated": 1}}
    assert problems(report) == [("service_centres.csv", 4, "name")]
    assert "line 2" in report.errors[0].message
    centres = record(svc, "brand", "b1")["service_centres"]
    assert [c["name"] for c in centres] == ["星河杭州中心", "星河上海中心"]
    # The brands file again: its centres stay.
    assert load(svc, ("brands.csv", BRANDS)).counts == {"brand": {"unchanged": 2}}
    assert len(record(svc, "brand", "b1")["service_centres"]) == 2


def test_ndjson_with_mixed_kinds_is_written_in_reference_order(svc: Services) -> None:
    lines = [
        {
            "kind": "order",
            "id": "o9",
            "buyer_id": "u9",
            "merchant_id": "m9",
            "placed_at": "2026-11-20T10:00:00+08:00",
            "address": HANGZHOU,
            "items": [{"id": "i9", "product_id": "p9", "paid_price_fen": 19_900}],
        },
        {"kind": "products", "id": "p9", "name": "灯", "brand_id": "b9", "category": "lighting"},
        {"kind": "brand", "id": "b9", "name": "九", "service_centres": []},
        {"kind": "merchants", "id": "m9", "name": "九号店"},
        {"kind": "buyer", "id": "u9"},
        {
            "kind": "coverage",
            "provider_id": "v9",
            "area_code": "330106",
            "category": "lighting",
            "service_tag": "scheduled_installation",
        },
        {"kind": "provider", "id": "v9", "name": "九号安装", "type": "installer"},
    ]
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    report = load(svc, ("master.ndjson", text))
    assert report.clean, report.errors
    assert report.counts == {
        "brand": {"created": 1},
        "merchant": {"created": 1},
        "buyer": {"created": 1},
        "provider": {"created": 1, "updated": 1},  # made, then given its coverage
        "product": {"created": 1},
        "order": {"created": 1},
    }
    assert record(svc, "order", "o9")["items"][0]["entitlements"]["brand_id"] == "b9"
    assert len(record(svc, "provider", "v9")["coverage"]) == 1


def test_a_dry_run_writes_nothing_and_counts_what_would_happen(svc: Services) -> None:
    catalogue(svc)
    changed = PRODUCTS.replace("吸顶灯", "新吸顶灯") + "p3,台灯,b1,lighting,,,\n"
    files = [
        ("products.csv", changed),
        ("order_items.csv", ORDER_ITEMS.replace("i3,p1", "i3,p3")),  # p3 is new in this run
    ]
    report = load(svc, *files, dry_run=True)
    assert report.dry_run and report.clean, report.errors
    assert report.counts == {
        "product": {"updated": 1, "unchanged": 1, "created": 1},
        "order": {"created": 2},
    }
    assert record(svc, "product", "p1")["name"] == "吸顶灯"
    with pytest.raises(md.NotFound):
        record(svc, "product", "p3")
    with pytest.raises(md.NotFound):
        record(svc, "order", "o1")


def test_row_errors_name_the_file_line_and_column_and_refused_rows_do_not_stop_good_ones(
    svc: Services,
) -> None:
    catalogue(svc)
    products = (
        "id,name,brand_id,category,badges,service_tags,warranty_months\n"
        "p5,好灯,b1,lighting,,,\n"
        "p6,坏灯,nope,lighting,,,\n"
        "p7,,b1,lighting,,,\n"
        "p8,怪灯,b1,lightning,,,\n"
        "p9,灯,b1,lighting,,,,extra\n"
        "p10,好灯二,b1,lighting,,,abc\n"
        "p11,好灯三,b2,lighting,,,\n"
    )
    report = load(svc, ("products.csv", products))
    assert report.counts == {"product": {"created": 2, "refused": 4}}
    assert problems(report) == [
        ("products.csv", 6, None),  # too many cells: the reader's, found as it reads
        ("products.csv", 3, "brand_id"),  # the others when the batch is written
        ("products.csv", 4, "name"),
        ("products.csv", 5, "category"),
        ("products.csv", 7, "warranty_months"),
    ]
    by_line = {p.line: p.message for p in report.errors}
    assert "no brand with id 'nope' is loaded" in by_line[3]
    assert "unknown category 'lightning'" in by_line[5]
    assert not report.clean
    assert record(svc, "product", "p5")["name"] == "好灯"
    assert record(svc, "product", "p11")["brand_id"] == "b2"


def test_a_bad_item_row_is_left_out_and_its_order_is_loaded_with_the_others(
    svc: Services,
) -> None:
    catalogue(svc)
    rows = ORDER_ITEMS.splitlines()
    bad = [
        rows[0],
        rows[1],
        rows[2].replace("i2,p2,3999", "i2,p404,3999"),  # unknown product: found on writing
        rows[2].replace("i2,p2,3999", "i6,p2,12.345"),  # three decimals: found on reading
        rows[3].replace("u2", "nobody"),  # order o2's buyer is unknown: the order is refused
    ]
    report = load(svc, ("order_items.csv", "\n".join(bad) + "\n"))
    assert sorted(problems(report), key=lambda p: p[1]) == [
        ("order_items.csv", 3, "product_id"),
        ("order_items.csv", 4, None),
        ("order_items.csv", 5, "buyer_id"),
    ]
    assert report.counts == {"order": {"created": 1, "refused": 1}}
    assert [i["id"] for i in record(svc, "order", "o1")["items"]] == ["i1"]


def test_rows_of_one_order_must_agree_on_its_columns(svc: Services) -> None:
    catalogue(svc)
    rows = ORDER_ITEMS.splitlines()
    text = "\n".join([rows[0], rows[1], rows[2].replace(",u1,", ",u2,")]) + "\n"
    report = load(svc, ("order_items.csv", text))
    assert problems(report) == [("order_items.csv", 3, "buyer_id")]
    assert "line 2" in report.errors[0].message


def test_an_id_repeated_in_one_file_is_refused_naming_the_first_line(svc: Services) -> None:
    text = "id,name\nm1,一号店\nm2,二号店\nm1,又是一号店\n"
    report = load(svc, ("merchants.csv", text))
    assert report.counts == {"merchant": {"created": 2, "refused": 1}}
    assert problems(report) == [("merchants.csv", 4, "id")]
    assert "already on line 2" in report.errors[0].message
    assert record(svc, "merchant", "m1")["name"] == "一号店"
    # An item id twice in an orders file, too.
    catalogue(svc)
    rows = ORDER_ITEMS.splitlines()
    text = "\n".join([rows[0], rows[1], rows[3].replace("i3,", "i1,")]) + "\n"
    report = load(svc, ("order_items.csv", text))
    assert problems(report) == [("order_items.csv", 3, "item_id")]


def test_running_the_same_files_again_finds_everything_unchanged(svc: Services) -> None:
    catalogue(svc)
    coverage = (
        "provider_id,area_code,category,service_tag\nv1,330106,lighting,scheduled_installation\n"
    )
    centres = "brand_id,name,city\nb1,星河杭州中心,杭州市\n"
    extra = [
        ("order_items.csv", ORDER_ITEMS),
        ("coverage.csv", coverage),
        ("service_centres.csv", centres),
    ]
    assert load(svc, *extra).clean
    again = load(
        svc,
        ("brands.csv", BRANDS),
        ("merchants.csv", MERCHANTS),
        ("buyers.csv", BUYERS),
        ("products.csv", PRODUCTS),
        ("providers.csv", PROVIDERS),
        *extra,
    )
    assert again.clean, again.errors
    assert again.totals == {"created": 0, "updated": 0, "unchanged": 13, "stale": 0, "refused": 0}


def test_a_file_whose_columns_do_not_fit_its_kind_is_refused_before_anything_loads(
    svc: Services,
) -> None:
    report = load(
        svc,
        ("merchants.csv", MERCHANTS),
        ("products.csv", "id,name,brand,category\np1,灯,b1,lighting\n"),
    )
    assert report.refused_files == ["products.csv"]
    assert problems(report) == [("products.csv", 0, None)]
    assert "'brand' (did you mean 'brand_id'?)" in report.errors[0].message
    assert "lacks the columns brand_id" in report.errors[0].message
    assert report.counts == {}
    with pytest.raises(md.NotFound):
        record(svc, "merchant", "m1")


def test_a_shops_integration_loads_its_own_data_and_no_brands(svc: Services) -> None:
    from aftersales.domain.lifecycle import Role

    catalogue(svc)
    scope = imports.scope_for(Role.INTEGRATION, "m1", md.World())
    refused = load(svc, ("brands.csv", BRANDS), scope=scope)
    assert refused.refused_files == ["brands.csv"]
    report = load(svc, ("order_items.csv", ORDER_ITEMS), scope=scope)
    assert report.clean and report.counts == {"order": {"created": 2}}
    assert imports.scope_for(Role.OPERATIONS, None, md.World()) == md.MARKETPLACE
    with pytest.raises(Forbidden):
        imports.scope_for(Role.MERCHANT, "m1", md.World())


def test_a_sandbox_import_lands_in_the_sandbox_only(svc: Services) -> None:
    from aftersales.services.sandboxes import create_sandbox

    create_sandbox(svc, sandbox_id="trial", start=START)
    world = md.world_of(svc, "trial")
    report = load(svc, ("merchants.csv", MERCHANTS), world=world)
    assert report.counts == {"merchant": {"created": 1}}
    assert record(svc, "merchant", "m1", "trial")["sandbox"] == "trial"
    with pytest.raises(md.NotFound):
        record(svc, "merchant", "m1")


def test_progress_is_reported_after_every_batch_with_rows_and_bytes(svc: Services) -> None:
    seen: list[tuple[int, int, int | None]] = []
    text = "id,name\n" + "".join(f"m{n},店{n}\n" for n in range(25))
    report = load(
        svc,
        ("merchants.csv", text),
        batch_rows=10,
        progress=lambda rows, read, total: seen.append((rows, read, total)),
    )
    assert report.counts == {"merchant": {"created": 25}}
    assert [rows for rows, _, _ in seen] == [11, 21, 25, 25]
    total = len(text.encode())
    assert seen[-1] == (25, total, total)
    assert all(read <= total for _, read, _ in seen)


def test_every_problem_goes_to_the_error_sink_and_the_report_keeps_the_first(
    svc: Services,
) -> None:
    sunk: list[imports.RowProblem] = []
    text = "id,name\n" + "".join(f"m{n},\n" for n in range(imports.KEEP_ERRORS + 5))
    report = load(svc, ("merchants.csv", text), on_error=sunk.append)
    assert report.error_count == len(sunk) == imports.KEEP_ERRORS + 5
    assert len(report.errors) == imports.KEEP_ERRORS
    assert sunk[0] == imports.RowProblem("merchants.csv", 2, "name", "is required")


def test_the_seen_ids_table_remembers_first_lines_past_its_growth() -> None:
    seen = imports._SeenIds()
    for n in range(5000):
        assert seen.first("product", f"p{n}", n + 2) is None
    assert seen.first("product", "p0", 9999) == 2
    assert seen.first("product", "p4999", 9999) == 5001
    assert seen.first("brand", "p0", 3) is None


class _Rows:
    """A source of its own (no reader): counts the rows pulled from it."""

    name, format, kind, columns = "stream.ndjson", "ndjson", None, ()

    def __init__(self, count: int) -> None:
        self.count, self.pulled, self.closed = count, 0, False
        self.notices: list[str] = []
        self.bytes_read, self.bytes_total = 0, None

    def __iter__(self) -> Any:
        for n in range(self.count):
            self.pulled += 1
            yield imports.RowProblem(self.name, n + 1, None, "x") if n == 3 else _Row(n)

    def close(self) -> None:
        self.closed = True


class _Row:
    file, kind = "stream.ndjson", "merchants"

    def __init__(self, n: int) -> None:
        self.line, self.fields = n + 1, {"id": f"m{n}", "name": f"店{n}"}


def test_rows_are_pulled_a_batch_at_a_time_and_the_source_is_closed(svc: Services) -> None:
    rows = _Rows(95)
    pulled_at_progress: list[int] = []
    report = imports.run_import(
        svc, [rows], batch_rows=20, progress=lambda *_: pulled_at_progress.append(rows.pulled)
    )
    assert report.counts == {"merchant": {"created": 94}}
    assert report.error_count == 1  # the row the "reader" could not read
    # 20 records (and the unreadable row) a batch, one row read ahead: never the whole file
    assert pulled_at_progress[:4] == [22, 42, 62, 82]
    assert rows.closed


def test_the_collector_runs_between_batches_only_and_is_on_after_the_import(
    svc: Services,
) -> None:
    import gc

    rows = _Rows(65)
    ran_at: list[int] = []  # rows pulled when a collection started

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            ran_at.append(rows.pulled)

    threshold = gc.get_threshold()
    gc.set_threshold(1)  # a collection at every chance the collector gets
    gc.callbacks.append(watch)
    try:
        report = imports.run_import(svc, [rows], batch_rows=20)
        assert gc.isenabled()
    finally:
        gc.callbacks.remove(watch)
        gc.set_threshold(*threshold)
    assert report.counts == {"merchant": {"created": 64}}
    # Batches of 20 records start at rows 1, 22 (row 4 is unreadable), 42 and 62: the
    # collector runs as each starts and after the last (65), never inside one.
    assert {1, 22, 42, 62} <= set(ran_at)
    assert not [n for n in ran_at if n not in (0, 1, 22, 42, 62, 65)]
    gc.disable()
    try:
        imports.run_import(svc, [_Rows(5)], batch_rows=20)
        assert not gc.isenabled()  # one someone else turned off stays off
    finally:
        gc.enable()


def test_an_import_reads_each_product_once_however_many_batches_refer_to_it(
    svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalogue(svc)
    asked: list[str] = []
    plain = MemoryMasterData.stored

    def stored(self: MemoryMasterData, kind: str, ids: Any, **options: Any) -> Any:
        if kind == "product":
            asked.extend(ids)
        return plain(self, kind, ids, **options)

    monkeypatch.setattr(MemoryMasterData, "stored", stored)
    report = load(svc, ("order_items.csv", _many_orders(30)), batch_rows=5)
    assert report.clean, report.errors
    assert report.counts == {"order": {"created": 30}}
    assert asked == ["p1"]  # a dozen batches of orders, all of them of p1: read once


def test_a_product_changed_earlier_in_the_same_import_is_what_later_orders_are_sold_with(
    svc: Services,
) -> None:
    catalogue(svc)
    changed = PRODUCTS.replace(
        "p1,吸顶灯,b1,lighting,,", "p1,吸顶灯,b1,lighting,national_warranty,"
    )
    later = ORDER_ITEMS.replace("\no1,", "\no9,").replace("\no2,", "\no8,")
    for item in ("i1", "i2", "i3"):
        later = later.replace(f",{item},", f",{item}b,")
    report = load(
        svc,
        ("order_items-1.csv", _many_orders(4)),
        ("products.csv", changed),
        ("order_items-2.csv", later),
        batch_rows=2,
    )
    assert report.clean, report.errors
    assert record(svc, "order", "o8")["items"][0]["entitlements"]["badges"] == ["national_warranty"]
    # the orders loaded before the product changed keep what they were sold with (NW-1, OH-1)
    assert record(svc, "order", "o0")["items"][0]["entitlements"]["badges"] == []


# ---------------------------------------------------------------- loading in parts


def _many_orders(n: int) -> str:
    rows = ["order_id,buyer_id,merchant_id,placed_at,address,item_id,product_id,paid_price"]
    for k in range(n):
        for j in range(1 + k % 3):
            rows.append(
                f"o{k},u{1 + k % 2},m1,2026-11-20T10:00:00+08:00,{HANGZHOU},i{k}-{j},p1,199"
            )
    return "\n".join(rows) + "\n"


def test_the_parts_of_an_order_file_load_disjoint_orders_that_together_are_all_of_them(
    svc: Services,
) -> None:
    catalogue(svc)
    text = _many_orders(40)
    reports = [
        imports.run_import(svc, [source("order_items.csv", text)], part=imports.Part(index, 3))
        for index in range(3)
    ]
    loaded = [r.counts.get("order", {}).get("created", 0) for r in reports]
    assert sum(loaded) == 40 and all(n > 0 for n in loaded)
    assert sum(r.rows_read for r in reports) == text.count("\n") - 1
    assert all(r.clean for r in reports)
    assert [i["id"] for i in record(svc, "order", "o5")["items"]] == ["i5-0", "i5-1", "i5-2"]


def test_every_line_of_one_order_falls_to_one_part_so_a_repeat_is_still_found(
    svc: Services,
) -> None:
    catalogue(svc)
    first = json.dumps(
        {
            "id": "o9",
            "buyer_id": "u1",
            "merchant_id": "m1",
            "placed_at": "2026-11-20T10:00:00+08:00",
            "address": HANGZHOU,
            "contact_phone": "13800000000",
            "items": [{"id": "i9", "product_id": "p1", "paid_price_fen": 19900}],
        },
        ensure_ascii=False,
    )
    second = first.replace("13800000000", "13900000000")
    text = f"{first}\n{second}\n"
    owner = next(i for i in range(2) if imports.Part(i, 2).owns("o9"))
    other = imports.run_import(
        svc, [source("orders.ndjson", text, kind="orders")], part=imports.Part(1 - owner, 2)
    )
    assert other.rows_read == 0 and other.counts == {}
    mine = imports.run_import(
        svc, [source("orders.ndjson", text, kind="orders")], part=imports.Part(owner, 2)
    )
    assert mine.rows_read == 2
    assert problems(mine) == [("orders.ndjson", 2, "id")]
    assert record(svc, "order", "o9")["contact_phone"] == "13800000000"


def test_a_line_the_reader_cannot_read_is_reported_by_the_first_part_only(svc: Services) -> None:
    catalogue(svc)
    text = "{not json}\n"
    reports = [
        imports.run_import(
            svc, [source("orders.ndjson", text, kind="orders")], part=imports.Part(i, 2)
        )
        for i in range(2)
    ]
    assert [r.error_count for r in reports] == [1, 0]


def test_only_files_of_orders_can_be_loaded_in_parts(svc: Services) -> None:
    with pytest.raises(InvalidRequest, match="only files of orders"):
        imports.run_import(svc, [source("products.csv", PRODUCTS)], part=imports.Part(0, 2))


def test_reports_of_parts_add_up_and_keep_the_first_problems() -> None:
    whole, part = ImportReport(), ImportReport()
    whole.count("order", "created", 3)
    part.count("order", "created", 2)
    part.count("order", "refused", 1)
    part.rows_read = 4
    part.add(imports.RowProblem("orders.csv", 7, "item_id", "is required"))
    whole.merge(part)
    assert whole.counts == {"order": {"created": 5, "refused": 1}}
    assert whole.rows_read == 4 and whole.error_count == 1
    assert problems(whole) == [("orders.csv", 7, "item_id")]


def test_a_broken_line_that_begins_with_its_id_is_reported_by_the_part_that_owns_it(
    svc: Services,
) -> None:
    catalogue(svc)
    owner = next(i for i in range(2) if imports.Part(i, 2).owns("o-broken"))
    text = '{"id": "o-broken", "buyer_id": "u1", "items": [}\n'
    reports = [
        imports.run_import(
            svc, [source("orders.ndjson", text, kind="orders")], part=imports.Part(i, 2)
        )
        for i in range(2)
    ]
    assert [r.error_count for r in reports] == [1 if i == owner else 0 for i in range(2)]


def test_lines_whose_id_is_not_first_are_still_sorted_into_their_part(svc: Services) -> None:
    catalogue(svc)
    lines = [
        json.dumps(
            {
                "buyer_id": "u1",
                "merchant_id": "m1",
                "id": f"late-{k}",
                "placed_at": "2026-11-20T10:00:00+08:00",
                "address": HANGZHOU,
                "items": [{"id": f"late-{k}-1", "product_id": "p1", "paid_price_fen": 100}],
            },
            ensure_ascii=False,
        )
        for k in range(12)
    ]
    text = "\n".join(lines) + "\n"
    reports = [
        imports.run_import(
            svc, [source("orders.ndjson", text, kind="orders")], part=imports.Part(i, 2)
        )
        for i in range(2)
    ]
    assert sum(r.counts["order"]["created"] for r in reports) == 12
    assert all(r.clean for r in reports)


def test_oh_3_a_providers_file_keeps_the_capacity_and_closures_it_does_not_carry(
    svc: Services,
) -> None:
    catalogue(svc)
    leave = {"first_day": "2026-12-01", "last_day": "2026-12-02", "reason": "培训"}
    line = json.dumps(
        {
            "kind": "provider",
            "id": "v1",
            "name": "杭州安装",
            "type": "installer",
            "daily_capacity": 6,
            "area_capacity": [{"area_code": "330100", "per_day": 3}],
            "closures": [leave],
        },
        ensure_ascii=False,
    )
    assert load(svc, ("providers.ndjson", line + "\n")).clean
    # The CSV carries none of the three: what is stored stays.
    load(svc, ("providers.csv", PROVIDERS))
    stored = record(svc, "provider", "v1")
    assert stored["daily_capacity"] == 6 and stored["closures"] == [leave]
    assert stored["area_capacity"] == [{"area_code": "330100", "per_day": 3}]
    # A CSV with the daily_capacity column changes that one only.
    csv = "id,name,type,daily_capacity\nv1,杭州安装,installer,2\n"
    assert load(svc, ("providers.csv", csv)).clean
    stored = record(svc, "provider", "v1")
    assert stored["daily_capacity"] == 2 and stored["closures"] == [leave]


def test_oh_3_a_shops_file_sets_its_preferred_providers_and_one_without_them_keeps_them(
    svc: Services,
) -> None:
    # A cell holds a list split on "|", as badges and service tags are.
    assert load(svc, ("merchants.csv", "id,name,preferred_providers\ns9,九号店,v1|v2\n")).clean
    assert record(svc, "merchant", "s9")["preferred_providers"] == ["v1", "v2"]
    # A later file of shops that does not carry the column leaves them as they are.
    assert load(svc, ("merchants.csv", "id,name\ns9,九号店（新）\n")).clean
    stored = record(svc, "merchant", "s9")
    assert stored["name"] == "九号店（新）" and stored["preferred_providers"] == ["v1", "v2"]
