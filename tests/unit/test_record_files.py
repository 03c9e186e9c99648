"""Reading bulk-import files: CSV and NDJSON row by row, row errors, refusals, the errors file."""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
import tracemalloc
from pathlib import Path

import pytest

from aftersales.adapters.record_files import (
    ErrorReport,
    FileRefused,
    RawRecord,
    RecordFile,
    RowError,
    column_letter,
    kind_from_file_name,
    open_record_file,
)
from aftersales.errors import InvalidRequest

KINDS = frozenset({"brands", "products", "orders", "order_items", "buyers"})


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _read(path: Path, **options: object) -> list[RawRecord | RowError]:
    with open_record_file(path, kinds=KINDS, **options) as records:  # type: ignore[arg-type]
        return list(records)


def _records(rows: list[RawRecord | RowError]) -> list[RawRecord]:
    return [row for row in rows if isinstance(row, RawRecord)]


def _errors(rows: list[RawRecord | RowError]) -> list[RowError]:
    return [row for row in rows if isinstance(row, RowError)]


def _refusal(path: Path, **options: object) -> str:
    with pytest.raises(FileRefused) as caught:
        open_record_file(path, kinds=KINDS, **options)  # type: ignore[arg-type]
    return str(caught.value)


# -- CSV: encodings


def test_a_utf8_csv_reads_rows_as_stripped_strings_keyed_by_lower_cased_header(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "products.csv", " SKU ,Name,Price\np1,  手机 壳 ,9.90\n")
    with open_record_file(path, kinds=KINDS) as records:
        assert (records.format, records.encoding, records.notices) == ("csv", "utf-8", [])
        assert records.columns == ("sku", "name", "price")
        rows = list(records)
    assert rows == [
        RawRecord(str(path), 2, "products", {"sku": "p1", "name": "手机 壳", "price": "9.90"})
    ]


def test_a_utf8_bom_is_not_part_of_the_first_column_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "products.csv", codecs.BOM_UTF8 + "sku,name\np1,手机\n".encode())
    with open_record_file(path, kinds=KINDS) as records:
        assert records.encoding == "utf-8-sig"
        assert records.columns == ("sku", "name")
        assert _records(list(records))[0].fields == {"sku": "p1", "name": "手机"}


def test_a_gbk_file_from_excel_is_detected_read_and_noticed(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "buyers.csv", "编号,姓名,城市\nb1,张三,北京市\nb2,李四,上海市\n".encode("gbk")
    )
    with open_record_file(path, kinds=KINDS) as records:
        assert records.encoding == "gb18030"
        assert len(records.notices) == 1
        assert "GB18030" in records.notices[0]
        assert "CSV UTF-8 (逗号分隔)(*.csv)" in records.notices[0]
        rows = list(records)
    assert [r.fields for r in _records(rows)] == [
        {"编号": "b1", "姓名": "张三", "城市": "北京市"},
        {"编号": "b2", "姓名": "李四", "城市": "上海市"},
    ]


def test_a_file_neither_utf8_nor_gb18030_is_refused_saying_how_to_save_it(tmp_path: Path) -> None:
    path = _write(tmp_path, "products.csv", b"sku,name\np1,\x80\xff\x80\xff\n")
    message = _refusal(path)
    assert "neither UTF-8 nor GB18030" in message
    assert "CSV UTF-8" in message
    assert " / " in message and "另存为" in message  # English, then Chinese


def test_a_utf16_file_is_refused_as_such(tmp_path: Path) -> None:
    path = _write(tmp_path, "products.csv", "sku,name\n".encode("utf-16"))
    assert "UTF-16" in _refusal(path)


def test_a_later_line_not_in_the_sniffed_encoding_is_a_row_error_and_reading_goes_on(
    tmp_path: Path,
) -> None:
    ascii_rows = "".join(f"p{i},plain\n" for i in range(8000))  # past the 64 KiB sniffed
    data = b"sku,name\n" + ascii_rows.encode() + "p-gbk,手机\n".encode("gbk") + b"p-last,ok\n"
    path = _write(tmp_path, "products.csv", data)
    rows = _read(path)
    [error] = _errors(rows)
    assert error.line == 8002
    assert "line 8002" in error.message and "GB18030" in error.message
    assert _records(rows)[-1].fields == {"sku": "p-last", "name": "ok"}
    assert len(_records(rows)) == 8001


def test_a_gb18030_line_that_cannot_be_decoded_is_a_row_error(tmp_path: Path) -> None:
    data = "sku,name\np1,手机\n".encode("gbk") + b"p2,\x80\x80\n" + "p3,耳机\n".encode("gbk")
    rows = _read(_write(tmp_path, "products.csv", data))
    assert [e.line for e in _errors(rows)] == [3]
    assert [r.fields["name"] for r in _records(rows)] == ["手机", "耳机"]


# -- CSV: shape of rows


def test_a_quoted_cell_with_newlines_reads_whole_and_reports_the_line_it_starts_on(
    tmp_path: Path,
) -> None:
    text = 'sku,note\r\np1,"line one\r\nline two\nline three"\r\np2,"say ""hi"""\r\n'
    rows = _read(_write(tmp_path, "products.csv", text))
    assert [(r.line, r.fields["note"]) for r in _records(rows)] == [
        (2, "line one\r\nline two\nline three"),
        (5, 'say "hi"'),
    ]


def test_a_row_with_more_cells_than_the_header_is_a_row_error(tmp_path: Path) -> None:
    rows = _read(_write(tmp_path, "products.csv", "sku,name\np1,a,b\np2,c\n"))
    [error] = _errors(rows)
    assert (error.line, error.field) == (2, None)
    assert "line 2 has 3 cells" in error.message and "column 3 (C)" in error.message
    assert [r.fields["sku"] for r in _records(rows)] == ["p2"]


def test_empty_cells_past_the_header_are_tolerated_as_excel_writes_them(tmp_path: Path) -> None:
    rows = _read(_write(tmp_path, "products.csv", "sku,name\np1,a,,\n"))
    assert rows == [RawRecord(rows[0].file, 2, "products", {"sku": "p1", "name": "a"})]


def test_missing_and_empty_cells_are_absent(tmp_path: Path) -> None:
    rows = _read(_write(tmp_path, "products.csv", "sku,name,price\np1\np2,  ,3\n"))
    assert [r.fields for r in _records(rows)] == [{"sku": "p1"}, {"sku": "p2", "price": "3"}]


def test_blank_lines_and_rows_of_empty_cells_are_skipped(tmp_path: Path) -> None:
    text = "\n\nsku,name\n\np1,a\n  \n,,\n\r\np2,b\n"
    rows = _read(_write(tmp_path, "products.csv", text))
    assert [(r.line, r.fields["sku"]) for r in rows if isinstance(r, RawRecord)] == [
        (5, "p1"),
        (9, "p2"),
    ]
    assert _errors(rows) == []


def test_a_duplicated_header_refuses_the_file_naming_both_columns(tmp_path: Path) -> None:
    message = _refusal(_write(tmp_path, "products.csv", "sku,name,SKU\np1,a,b\n"))
    assert "'sku' twice" in message and "column 1 (A)" in message and "column 3 (C)" in message


def test_an_empty_header_name_refuses_the_file_naming_the_column(tmp_path: Path) -> None:
    message = _refusal(_write(tmp_path, "products.csv", "sku,name, \np1,a,b\n"))
    assert "column 3 (C)" in message and "has no name" in message
    assert "第 3 列（C 列）" in message


def test_a_semicolon_separated_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    assert "semicolons" in _refusal(_write(tmp_path, "products.csv", "sku;name\np1;a\n"))


def test_a_header_that_cannot_be_decoded_refuses_the_file(tmp_path: Path) -> None:
    data = b"sku,name\np1,a\n".replace(b"name", b"n\xff\xfeme") + "p2,手机\n".encode() * 5
    message = _refusal(_write(tmp_path, "products.csv", data))
    assert "header row" in message and "line 1 cannot be read as UTF-8" in message


def test_a_file_with_lone_cr_line_ends_is_refused(tmp_path: Path) -> None:
    assert "carriage return" in _refusal(_write(tmp_path, "products.csv", "sku\rp1\rp2\r"))


def test_a_header_only_file_has_no_rows(tmp_path: Path) -> None:
    assert _read(_write(tmp_path, "products.csv", "sku,name\n")) == []


def test_a_file_of_empty_rows_has_no_header_and_is_refused(tmp_path: Path) -> None:
    assert "no header row" in _refusal(_write(tmp_path, "products.csv", "\n,,\n ,\n"))


def test_a_nul_in_a_value_is_a_row_error_naming_field_and_code(tmp_path: Path) -> None:
    rows = _read(_write(tmp_path, "products.csv", "sku,name\np1,ab\x00c\np2,\x1bd\np3,ok\tfine\n"))
    assert [(e.line, e.field) for e in _errors(rows)] == [(2, "name"), (3, "name")]
    assert "U+0000" in _errors(rows)[0].message and "U+001B" in _errors(rows)[1].message
    assert [r.fields for r in _records(rows)] == [{"sku": "p3", "name": "ok\tfine"}]


def test_an_unclosed_quote_is_capped_and_reading_resumes_after_it(tmp_path: Path) -> None:
    text = 'sku,name\np1,"never closed\n' + "filler,row\n" * 200 + "p2,ok\n"
    rows = _read(_write(tmp_path, "products.csv", text), max_line_bytes=1000)
    first = rows[0]
    assert isinstance(first, RowError)
    assert first.line == 2 and "closing quote" in first.message
    assert isinstance(rows[-1], RawRecord) and rows[-1].fields == {"sku": "p2", "name": "ok"}


# -- CSV: kind


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("products.csv", "products"),
        ("Products.CSV", "products"),
        ("orders-2026-11.csv", "orders"),
        ("orders_2.csv", "orders"),
        ("orders.part2.csv", "orders"),
        ("order_items.csv", "order_items"),
        ("order_items-3.csv", "order_items"),
        ("2026-11-orders.csv", None),
        ("ordersx.csv", None),
        ("product.csv", None),
    ],
)
def test_the_kind_of_a_csv_file_comes_from_its_name(name: str, kind: str | None) -> None:
    assert kind_from_file_name(name, KINDS) == kind


def test_the_kind_given_by_the_caller_wins_over_the_name(tmp_path: Path) -> None:
    rows = _read(_write(tmp_path, "export (3).csv", "id,name\nb1,Acme\n"), kind="brands")
    assert [r.kind for r in _records(rows)] == ["brands"]


def test_a_file_whose_kind_cannot_be_told_is_refused_listing_the_known_kinds(
    tmp_path: Path,
) -> None:
    message = _refusal(_write(tmp_path, "export.csv", "id\n1\n"))
    assert "brands, buyers, order_items, orders, products" in message
    assert "--kind" in message and "products-2026-11.csv" in message
    assert "已知的类型" in message


def test_an_unknown_kind_from_the_caller_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    message = _refusal(_write(tmp_path, "x.csv", "id\n1\n"), kind="prodcts")
    assert "did you mean 'products'" in message


# -- NDJSON


def test_ndjson_lines_carry_their_kind_and_keep_json_types(tmp_path: Path) -> None:
    text = (
        '{"kind": "brands", "id": "b1", "name": "Acme"}\n'
        '{"kind": "products", "sku": "p1", "price": 9.9, "tags": ["a", "b"], '
        '"size": {"w": 3}, "active": true, "note": null}\n'
    )
    path = _write(tmp_path, "master.ndjson", text)
    with open_record_file(path, kinds=KINDS) as records:
        assert (records.format, records.encoding) == ("ndjson", "utf-8")
        rows = list(records)
    assert rows == [
        RawRecord(str(path), 1, "brands", {"id": "b1", "name": "Acme"}),
        RawRecord(
            str(path),
            2,
            "products",
            {
                "sku": "p1",
                "price": 9.9,
                "tags": ["a", "b"],
                "size": {"w": 3},
                "active": True,
                "note": None,
            },
        ),
    ]


def test_a_bad_json_line_is_reported_and_the_next_line_still_read(tmp_path: Path) -> None:
    text = (
        codecs.BOM_UTF8.decode("utf-8") + '{"kind": "brands", "id": "b1"}\n'
        '{"kind": "brands", "id": \n'
        "\n"
        "[1, 2]\n"
        '{"kind": "brnds", "id": "b2"}\n'
        '{"id": "b3"}\n'
        '{"kind": "brands", "id": "b4", "id": "b5"}\n'
        '{"kind": "brands", "n": NaN}\n'
        '{"kind": "brands", "id": "b6\\u0000"}\n'
        '{"kind": "brands", "id": "b7"}\n'
    )
    rows = _read(_write(tmp_path, "brands.jsonl", text))
    assert [r.fields["id"] for r in _records(rows)] == ["b1", "b7"]
    errors = {e.line: e for e in _errors(rows)}
    assert sorted(errors) == [2, 4, 5, 6, 7, 8, 9]
    assert "not valid JSON" in errors[2].message
    assert "not a JSON object" in errors[4].message
    assert errors[5].field == "kind" and "did you mean 'brands'" in errors[5].message
    assert errors[6].field == "kind" and 'no "kind" field' in errors[6].message
    assert "'id' appears twice" in errors[7].message
    assert "NaN" in errors[8].message
    assert errors[9].field == "id" and "U+0000" in errors[9].message


def test_the_callers_kind_applies_to_ndjson_lines_without_one(tmp_path: Path) -> None:
    text = '{"id": "b1"}\n{"kind": "brands", "id": "b2"}\n{"kind": "orders", "id": "o1"}\n'
    rows = _read(_write(tmp_path, "data.ndjson", text), kind="brands")
    assert [(r.kind, r.fields) for r in _records(rows)] == [
        ("brands", {"id": "b1"}),
        ("brands", {"id": "b2"}),
    ]
    [error] = _errors(rows)
    assert error.line == 3 and "'orders'" in error.message


def test_a_control_character_nested_in_ndjson_names_its_path(tmp_path: Path) -> None:
    text = '{"kind": "orders", "items": [{"sku": "ok"}, {"sku": "a\\u0007"}]}\n'
    [error] = _read(_write(tmp_path, "orders.ndjson", text))
    assert isinstance(error, RowError)
    assert error.field == "items[1].sku" and "U+0007" in error.message


def test_ndjson_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "brands.ndjson", '{"kind": "brands", "name": "品牌"}\n'.encode("gbk"))
    assert "must be UTF-8" in _refusal(path)


# -- Both formats: long lines, refusals, streams


@pytest.mark.parametrize(
    ("name", "head", "row"),
    [
        ("products.csv", "sku,name\n", "p{n},{text}\n"),
        ("products.ndjson", "", '{{"kind": "products", "sku": "p{n}", "name": "{text}"}}\n'),
    ],
)
def test_a_line_longer_than_the_limit_is_skipped_and_reported(
    tmp_path: Path, name: str, head: str, row: str
) -> None:
    long_text = "x" * 200_000
    text = head + row.format(n=1, text="a") + row.format(n=2, text=long_text)
    text += row.format(n=3, text="c")
    rows = _read(_write(tmp_path, name, text), max_line_bytes=10_000)
    assert [r.fields["sku"] for r in _records(rows)] == ["p1", "p3"]
    [error] = _errors(rows)
    offset = 1 if head else 0
    assert error.line == 2 + offset
    assert f"line {2 + offset} is longer than 10,000 bytes" in error.message


def test_a_long_line_that_opens_a_quoted_cell_keeps_the_next_rows_in_step(tmp_path: Path) -> None:
    text = 'sku,name\np1,"' + "x" * 5000 + '\nstill inside"\np2,b\n'
    rows = _read(_write(tmp_path, "products.csv", text), max_line_bytes=1000)
    assert [e.line for e in _errors(rows)] == [2]
    assert [(r.line, r.fields["sku"]) for r in _records(rows)] == [(4, "p2")]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("products.xlsx", "Save As"),
        ("products.txt", ".csv, .ndjson or .jsonl"),
    ],
)
def test_a_file_of_another_format_is_refused(tmp_path: Path, name: str, expected: str) -> None:
    assert expected in _refusal(_write(tmp_path, name, "sku\np1\n"))


def test_missing_empty_and_directory_paths_are_refused(tmp_path: Path) -> None:
    assert "does not exist" in _refusal(tmp_path / "products.csv")
    assert "is empty" in _refusal(_write(tmp_path, "brands.csv", b""))
    assert "is empty" in _refusal(_write(tmp_path, "buyers.csv", "\n \r\n\n"))
    assert "is empty" in _refusal(_write(tmp_path, "orders.ndjson", codecs.BOM_UTF8 + b"\n\n"))
    (tmp_path / "order_items.csv").mkdir()
    assert "is a directory" in _refusal(tmp_path / "order_items.csv")


def test_a_refusal_is_an_invalid_request_naming_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "export.csv", "id\n1\n")
    with pytest.raises(InvalidRequest) as caught:
        open_record_file(path, kinds=KINDS)
    assert isinstance(caught.value, FileRefused)
    assert caught.value.file == str(path) and str(path) in str(caught.value)


def test_a_binary_stream_is_read_under_the_name_given_and_left_open(tmp_path: Path) -> None:
    with tempfile.SpooledTemporaryFile(max_size=1024, dir=str(tmp_path)) as upload:
        upload.write("sku,name\np1,手机\n".encode())
        upload.seek(0)
        with open_record_file(upload, name="products.csv", kinds=KINDS) as records:
            assert records.bytes_total == len("sku,name\np1,手机\n".encode())
            rows = list(records)
            assert records.bytes_read == records.bytes_total
        assert not upload.closed  # the caller's to close
    assert rows == [RawRecord("products.csv", 2, "products", {"sku": "p1", "name": "手机"})]


def test_a_stream_without_a_name_is_refused() -> None:
    with pytest.raises(FileRefused, match="needs a name"):
        open_record_file(io.BytesIO(b"sku\np1\n"), kinds=KINDS)


def test_a_file_opened_from_a_path_is_closed_when_read_or_on_exit(tmp_path: Path) -> None:
    path = _write(tmp_path, "products.csv", "sku\np1\np2\n")
    records = open_record_file(path, kinds=KINDS)
    list(records)
    assert records._stream.closed
    with open_record_file(path, kinds=KINDS) as records:
        next(iter(records))
    assert records._stream.closed


def test_a_file_is_read_once(tmp_path: Path) -> None:
    with open_record_file(_write(tmp_path, "products.csv", "sku\np1\n"), kinds=KINDS) as records:
        list(records)
        with pytest.raises(RuntimeError, match="read once"):
            iter(records)


def test_a_large_file_streams_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    lines = 200_000
    with path.open("w", encoding="utf-8") as out:
        out.write("sku,name,price,description\n")
        out.writelines(f"p{n},手机 {n},{n}.90,{'a sturdy phone case ' * 3}\n" for n in range(lines))
    size = path.stat().st_size
    assert size > 16 * 1024 * 1024
    sampled = 20_000
    tracemalloc.start()
    try:
        records: RecordFile
        with open_record_file(path, kinds=KINDS) as records:
            rows = iter(records)
            for _ in range(sampled):
                next(rows)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert records.bytes_total == size
            assert records.bytes_read < size // 5  # rows come out as the bytes go in
            rest = sum(1 for _ in rows)
            assert records.bytes_read == size
    finally:
        tracemalloc.stop()
    assert sampled + rest == lines
    assert peak < 1024 * 1024


# -- the errors file


def test_column_letters_count_like_a_spreadsheet() -> None:
    assert [column_letter(n) for n in (1, 3, 26, 27, 52, 703)] == ["A", "C", "Z", "AA", "AZ", "AAA"]


def test_an_error_report_is_utf8_with_bom_and_only_appears_when_closed(tmp_path: Path) -> None:
    target = tmp_path / "errors" / "products.errors.csv"
    report = ErrorReport(target)
    report.add(RowError("products.csv", 7, "name", "line 7: bad / 第 7 行：错误"))
    report.add(RowError("products.csv", 9, None, "=cmd|' /C calc'!A0"))
    assert not target.exists()  # still under its temporary name
    assert report.close() == target
    data = target.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    assert list(csv.reader(io.StringIO(data.decode("utf-8-sig")))) == [
        ["file", "line", "field", "message"],
        ["products.csv", "7", "name", "line 7: bad / 第 7 行：错误"],
        ["products.csv", "9", "", "'=cmd|' /C calc'!A0"],  # not run as a formula by Excel
    ]
    assert [p.name for p in target.parent.iterdir()] == ["products.errors.csv"]


def test_no_errors_leave_no_errors_file(tmp_path: Path) -> None:
    target = tmp_path / "products.errors.csv"
    with ErrorReport(target) as report:
        pass
    assert report.close() is None
    assert list(tmp_path.iterdir()) == []


def test_an_aborted_import_discards_its_partial_errors_file(tmp_path: Path) -> None:
    target = tmp_path / "products.errors.csv"

    def import_interrupted() -> None:
        with ErrorReport(target) as report:
            report.add(RowError("products.csv", 2, None, "bad"))
            assert list(tmp_path.iterdir()) != []  # the partial file, under its temporary name
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_interrupted()
    assert list(tmp_path.iterdir()) == []
