"""How a list becomes CSV: UTF-8 with a byte-order mark, quoted where the text needs it,
and no cell that Excel would run as a formula."""

from __future__ import annotations

import csv
import io

from aftersales.entrypoints.web.pages.lists import _rows_as_csv


def _read(chunks: list[bytes]) -> list[list[str]]:
    body = b"".join(chunks)
    assert body.startswith(b"\xef\xbb\xbf")
    assert body.count(b"\xef\xbb\xbf") == 1  # once, at the start, however many chunks
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_commas_quotes_and_line_breaks_survive_a_round_trip_in_chinese() -> None:
    tricky = ["世纪陶瓷, 旗舰店", '他说"明早来"', "第一行\n第二行", "  空格  "]
    rows = _read(list(_rows_as_csv(["店铺", "说明", "备注", "其他"], [tricky, ["a", 1, "", None]])))
    assert rows == [["店铺", "说明", "备注", "其他"], tricky, ["a", "1", "", ""]]


def test_a_cell_that_would_start_a_formula_is_quoted_away() -> None:
    rows = _read(list(_rows_as_csv(["x"], [["=HYPERLINK(1)"], ["+86 138"], ["@x"], ["-1"], [-5]])))
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(1)", "'+86 138", "'@x", "'-1", "-5"]


def test_a_long_export_streams_in_chunks() -> None:
    chunks = list(_rows_as_csv(["n"], ([str(n)] for n in range(1000))))
    assert len(chunks) > 1
    assert len(_read(chunks)) == 1001
