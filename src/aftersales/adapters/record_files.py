"""Reading bulk-import files row by row, in constant memory, with precise row errors.

``aftersales import PATH...`` loads master data (brands, merchants, products,
buyers, orders...) from two kinds of file:

* **CSV**, one kind of record per file, the kind given by the caller or read
  from the file name (``products.csv``, ``order_items-2026-11.csv``). UTF-8 with
  or without a BOM; a file Excel saved in GBK/GB18030 is recognised and read,
  with a notice saying how to save it as UTF-8 next time.
* **NDJSON** (``.ndjson`` / ``.jsonl``), one JSON object a line, each naming its
  kind in a ``kind`` field (or the caller gives one kind for every line).

This module only reads: it turns a file into :class:`RawRecord` (one row's
fields, as strings for CSV and as JSON values for NDJSON) and :class:`RowError`
(a row that cannot be read; the line, the field and what to do). Turning a raw
record into a validated one is someone else's job. Problems with the whole file
(it is missing, empty, in an unreadable encoding, of an unknown kind, its header
is unusable) raise :class:`FileRefused` from :func:`open_record_file`, before any
row is produced; every message is in English then Chinese.

Memory stays flat whatever the file's size: bytes are read in chunks and cut
into lines, each line is decoded on its own (a line feed is never part of a
multibyte character in UTF-8 or GB18030), and a line longer than
``max_line_bytes`` is counted and skipped, never held. A CSV record is capped at
the same size, so a missing closing quote cannot swallow the rest of the file.
:class:`ErrorReport` writes the row errors to a CSV file Excel opens as it is.

The module is long (~1,100 lines) but has one job, turning a file into rows and
row errors: the line splitter, the encoding sniffing, the CSV and NDJSON readers
and the errors report share the same line numbering and the same bilingual
messages, and every whole-file refusal is decided before a row is read. Split
would mean passing that state across modules; the readers are the natural seam
if it grows further.

**Size.** ~1,160 lines, one job: a file to rows with row-exact errors in two
languages. Its parts are the line source (bounded lines, encodings), the CSV
reader, the NDJSON reader and the error report file; the error report
(:class:`ErrorReport`) and the encoding sniffing are the first to move out
(``import_errors.py``, ``encodings.py``) when either grows.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import json
import os
import re
import tempfile
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

from aftersales.errors import InvalidRequest

DEFAULT_MAX_LINE_BYTES = 1024 * 1024
SNIFF_BYTES = 64 * 1024
_CHUNK_BYTES = 64 * 1024

_FORMATS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}
_KIND_SEPARATORS = ("-", "_", ".")
# C0 control characters other than tab, LF and CR, and lone surrogates (which JSON
# escapes can produce and which no encoder will write back out).
_FORBIDDEN_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
# In a line of JSON a forbidden character can only come from an escape (a raw control
# character is not valid JSON, and UTF-8 text holds no surrogates): \b, \f, \u0000-\u001f
# or a surrogate. A line without any of these (nearly every line) is not walked.
# A line of NDJSON that begins with its record's id (as exports usually write them).
_LEADING_ID = re.compile(rb'\s*\{\s*"id"\s*:\s*"([^"\\]*)"')
_MAY_ESCAPE_FORBIDDEN = re.compile(r"\\(?:[bf]|u00[01]|u[dD][89a-fA-F])")
_EXCEL_UTF8 = "CSV UTF-8 (逗号分隔)(*.csv)"

Format = Literal["csv", "ndjson"]


class FileRefused(InvalidRequest):
    """A whole file cannot be imported; the message names it and says how to fix it."""

    def __init__(self, file: str, en: str, zh: str) -> None:
        self.file = file
        super().__init__(f"{en} / {zh}")


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One row as read: the fields present (absent ones are left out), not yet validated."""

    file: str
    line: int  # 1-based line where the row starts
    kind: str
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that cannot be read; ``message`` says what is wrong and how to fix it."""

    file: str
    line: int
    field: str | None
    message: str


# ---------------------------------------------------------------------------
# Lines out of a byte stream


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    data: bytes | None  # the line with its end; None when over the limit (not kept)
    size: int  # bytes, without the line end
    ends_in_quotes: bool = False  # for a line not kept: does it end inside a quoted CSV cell?


class _CsvQuoting:
    """Follows the quoting of CSV (as ``csv.reader`` reads it, Excel's dialect) across
    bytes that are not kept, so that a skipped line leaves the reader in the state the
    line itself would have. Jumps from one comma or quote to the next."""

    START, FIELD, QUOTED, QUOTE = range(4)  # QUOTE: a quote seen inside a quoted cell

    def __init__(self, in_quotes: bool) -> None:
        self.state = self.QUOTED if in_quotes else self.START

    def feed(self, data: bytes) -> None:
        i, n = 0, len(data)
        while i < n:
            if self.state == self.FIELD:  # a quote here is just a character
                j = data.find(b",", i)
                if j < 0:
                    return
                self.state, i = self.START, j + 1
            elif self.state == self.QUOTED:
                j = data.find(b'"', i)
                if j < 0:
                    return
                self.state, i = self.QUOTE, j + 1
            else:
                byte = data[i]
                if byte == 0x22:  # " opens a cell, or in QUOTE, is an escaped quote
                    self.state = self.QUOTED
                elif byte == 0x2C:  # ,
                    self.state = self.START
                else:
                    self.state = self.FIELD
                i += 1

    @property
    def in_quotes(self) -> bool:
        return self.state == self.QUOTED


class _LineSource:
    """Cuts a binary stream into lines, holding at most one chunk past the longest line
    allowed; longer lines are counted and dropped as they stream past.

    With ``csv_quoting``, a dropped line is followed as CSV, from inside a quoted cell
    when ``in_quotes`` was set before asking for it (the reader is mid-record)."""

    def __init__(self, stream: IO[bytes], max_line_bytes: int, *, csv_quoting: bool) -> None:
        self._stream = stream
        self._limit = max_line_bytes
        self._csv = csv_quoting
        self._buf = b""
        self._pos = 0
        self._eof = False
        self._number = 0
        self.bytes_read = 0
        self.in_quotes = False

    def _read(self) -> bytes:
        if self._eof:
            return b""
        chunk = self._stream.read(_CHUNK_BYTES)
        if not chunk:
            self._eof = True
        return chunk

    def peek(self, size: int) -> tuple[bytes, bool]:
        """Up to ``size`` bytes from the current position, and whether that is all there is."""
        while len(self._buf) - self._pos < size and not self._eof:
            chunk = self._read()
            if chunk:
                self._buf = self._buf[self._pos :] + chunk
                self._pos = 0
        available = self._buf[self._pos : self._pos + size]
        return available, self._eof and len(self._buf) - self._pos <= size

    def __iter__(self) -> Iterator[_Line]:
        return self

    def __next__(self) -> _Line:
        scan = self._pos
        while True:
            end = self._buf.find(b"\n", scan)
            if end >= 0:
                data = self._buf[self._pos : end + 1]
                self._pos = end + 1
                break
            if len(self._buf) - self._pos > self._limit + 1:  # +1: a CR before the LF
                return self._skip_long_line()
            scan = len(self._buf) - self._pos
            chunk = self._read()
            if not chunk:
                if self._pos >= len(self._buf):
                    raise StopIteration
                data = self._buf[self._pos :]
                self._buf, self._pos = b"", 0
                break
            self._buf = self._buf[self._pos :] + chunk
            self._pos = 0
        self._number += 1
        self.bytes_read += len(data)
        size = len(data)
        if data.endswith(b"\n"):
            size -= 2 if data.endswith(b"\r\n") else 1
        if size > self._limit:
            quoting = _CsvQuoting(self.in_quotes)
            quoting.feed(data[:size])
            return _Line(self._number, None, size, quoting.in_quotes)
        return _Line(self._number, data, size)

    def _skip_long_line(self) -> _Line:
        quoting = _CsvQuoting(self.in_quotes)
        part = self._buf[self._pos :]
        self._buf, self._pos = b"", 0
        consumed = len(part)
        ending = 0
        while True:
            chunk = self._read()
            if not chunk:  # the file ends on this line
                if self._csv:
                    quoting.feed(part)
                break
            end = chunk.find(b"\n")
            if end < 0:
                if self._csv:
                    quoting.feed(part)
                consumed += len(chunk)
                part = chunk
                continue
            consumed += end + 1
            if self._csv:
                quoting.feed(part + chunk[:end])  # whole, so a CR that ends the line is seen
            ending = 2 if (chunk[end - 1 : end] if end else part[-1:]) == b"\r" else 1
            self._buf, self._pos = chunk, end + 1
            break
        self._number += 1
        self.bytes_read += consumed
        return _Line(self._number, None, consumed - ending, quoting.in_quotes)


# ---------------------------------------------------------------------------
# Messages


def _known(kinds: Collection[str]) -> str:
    return ", ".join(sorted(kinds))


def _did_you_mean(word: str, kinds: Collection[str]) -> tuple[str, str]:
    close = difflib.get_close_matches(word, sorted(kinds), n=1)
    if not close:
        return "", ""
    return f" (did you mean '{close[0]}'?)", f"（是否应为“{close[0]}”？）"


def column_letter(number: int) -> str:
    """The spreadsheet name of the 1-based column ``number``: 1 → A, 27 → AA."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _column(number: int) -> tuple[str, str]:
    letter = column_letter(number)
    return f"column {number} ({letter})", f"第 {number} 列（{letter} 列）"


def _too_long(file: str, line: _Line, limit: int) -> RowError:
    n = line.number
    return RowError(
        file,
        n,
        None,
        f"line {n} is longer than {limit:,} bytes ({line.size:,} bytes) and was skipped; "
        "shorten the values on it or split the row"
        f" / 第 {n} 行超过 {limit:,} 字节（{line.size:,} 字节），已跳过；请缩短该行的内容或拆分该行",
    )


def _char_error(file: str, line: int, field: str, char: str) -> RowError:
    code = f"U+{ord(char):04X}"
    if 0xD800 <= ord(char) <= 0xDFFF:
        en_what, zh_what = f"an unpaired surrogate {code}", f"不成对的代理码位 {code}"
    else:
        en_what, zh_what = f"the control character {code}", f"控制字符 {code}"
    return RowError(
        file,
        line,
        field,
        f"line {line}: field '{field}' contains {en_what}, which is not allowed; "
        "remove it from the value (it is often left by copying from another program)"
        f" / 第 {line} 行：字段“{field}”含有{zh_what}，不允许出现；"
        "请从该值中删除（常见于从其他程序复制粘贴）",
    )


# ---------------------------------------------------------------------------
# Names, formats and encodings


def kind_from_file_name(name: str, kinds: Collection[str]) -> str | None:
    """The kind a file's name gives: its stem (name without the extension) is a known
    kind, or starts with one followed by ``-``, ``_`` or ``.`` (``orders-2026-11.csv``).
    The longest matching kind wins (``order_items_2.csv`` is ``order_items``, not
    ``order``); None when no kind matches."""
    base = Path(name).name
    stem = base[: -len(Path(base).suffix)] if Path(base).suffix else base
    stem = stem.lower()
    matches = [
        kind
        for kind in kinds
        if stem == kind.lower() or any(stem.startswith(kind.lower() + s) for s in _KIND_SEPARATORS)
    ]
    return max(matches, key=len) if matches else None


def _format_of(file: str) -> Format:
    suffix = Path(file).suffix.lower()
    if suffix in _FORMATS:
        return "csv" if _FORMATS[suffix] == "csv" else "ndjson"
    if suffix in (".xlsx", ".xls", ".xlsm", ".et"):
        raise FileRefused(
            file,
            f"'{file}' is a spreadsheet workbook, which cannot be imported directly; "
            f'open it in Excel and choose Save As → "{_EXCEL_UTF8}"',
            f"“{file}”是电子表格工作簿，不能直接导入；请用 Excel 打开并选择“另存为”→“{_EXCEL_UTF8}”",
        )
    raise FileRefused(
        file,
        f"cannot tell the format of '{file}' from its name; "
        "import files must end in .csv, .ndjson or .jsonl",
        f"无法从文件名判断“{file}”的格式；导入文件的扩展名须为 .csv、.ndjson 或 .jsonl",
    )


def _decodes(data: bytes, encoding: str, final: bool) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(data, final=final)
    except UnicodeDecodeError:
        return False
    return True


def _decodable_lines(head: bytes, at_eof: bool) -> tuple[int, int, int]:
    """Of the lines in ``head`` that are not plain ASCII: how many decode as UTF-8, how
    many as GB18030, and how many there are. The last line may be cut short (unless
    ``head`` is the whole file), so a character cut in two there is not held against it."""
    utf8 = gb = mixed = 0
    lines = head.split(b"\n")
    for index, line in enumerate(lines):
        if line.isascii():
            continue
        final = at_eof or index < len(lines) - 1
        mixed += 1
        utf8 += _decodes(line, "utf-8", final)
        gb += _decodes(line, "gb18030", final)
    return utf8, gb, mixed


def _sniff_encoding(file: str, fmt: Format, head: bytes, at_eof: bool) -> tuple[str, list[str]]:
    """The encoding of a file from its first bytes, and notices for the reader.

    UTF-8 when most lines that are not plain ASCII read as UTF-8 (those that do not
    become row errors as they are met), else GB18030 on the same terms (CSV only),
    else the file is refused."""
    save_as_en = f'open it in Excel (or a text editor) and save it as "{_EXCEL_UTF8}" (UTF-8)'
    save_as_zh = f"请用 Excel（或文本编辑器）打开，另存为“{_EXCEL_UTF8}”（UTF-8 编码）"
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise FileRefused(
            file,
            f"'{file}' is an Excel workbook saved under a .{fmt} name, not a text file; {save_as_en}",
            f"“{file}”是改了扩展名的 Excel 工作簿，不是文本文件；{save_as_zh}",
        )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRefused(
            file,
            f"'{file}' is UTF-16 text (Excel's \"Unicode Text\"), which cannot be imported; {save_as_en}",
            f"“{file}”是 UTF-16 文本（Excel 的“Unicode 文本”），无法导入；{save_as_zh}",
        )
    if b"\r" in head and b"\n" not in head:
        raise FileRefused(
            file,
            f"'{file}' ends its lines with a lone carriage return (CR), as old Mac programs "
            f"did; {save_as_en}",
            f"“{file}”的行尾只有回车符（CR，旧版 Mac 程序的格式）；{save_as_zh}",
        )
    if at_eof and not head.removeprefix(codecs.BOM_UTF8).strip():
        raise FileRefused(
            file,
            f"'{file}' is empty; export the data again, or leave the file out",
            f"“{file}”是空文件；请重新导出数据，或不导入该文件",
        )
    utf8, gb, mixed = _decodable_lines(head, at_eof)
    if utf8 * 2 >= mixed:  # all or most lines: the rest become row errors
        return ("utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"), []
    mostly_gb = gb * 2 >= mixed
    if fmt == "csv" and mostly_gb:
        return "gb18030", [
            f"'{file}' is not UTF-8 and was read as GB18030 (GBK), the encoding Excel uses "
            f'on Chinese Windows; next time, in Excel choose Save As → "{_EXCEL_UTF8}"'
            f" / “{file}”不是 UTF-8 编码，已按 GB18030（GBK）读取（中文版 Windows 上 Excel 的默认编码）；"
            f"下次请在 Excel 中选择“另存为”→“{_EXCEL_UTF8}”"
        ]
    if mostly_gb:  # NDJSON is UTF-8 by definition
        raise FileRefused(
            file,
            f"'{file}' looks like GB18030 (GBK) text, but NDJSON files must be UTF-8; "
            "convert it to UTF-8 (e.g. in a text editor: Save with Encoding → UTF-8)",
            f"“{file}”似乎是 GB18030（GBK）编码，但 NDJSON 文件必须是 UTF-8；"
            "请转换为 UTF-8（例如在文本编辑器中以 UTF-8 编码保存）",
        )
    raise FileRefused(
        file,
        f"'{file}' is neither UTF-8 nor GB18030 text, so it cannot be read; {save_as_en}",
        f"“{file}”既不是 UTF-8 也不是 GB18030 编码的文本，无法读取；{save_as_zh}",
    )


# ---------------------------------------------------------------------------
# CSV


class _RecordTooLong(Exception):
    def __init__(self, error: RowError) -> None:
        super().__init__(error.message)
        self.error = error


class _CsvFeed:
    """The decoded lines ``csv.reader`` pulls, noting where each record starts and what
    went wrong on its lines. A line that cannot be used is replaced by a stand-in that
    keeps the reader's quoting in step."""

    def __init__(self, lines: _LineSource, file: str, encoding: str, limit: int) -> None:
        self._lines = lines
        self._file = file
        self._encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self._limit = limit
        self.begin()

    def begin(self) -> None:
        self.start = 0
        self.end = 0
        self.size = 0
        self.control_chars = False
        self.problems: list[RowError] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        self._lines.in_quotes = self.start != 0  # only a quoted cell carries a record on
        line = next(self._lines)
        if not self.start:
            self.start = line.number
        self.end = line.number
        if line.data is None:
            self.problems.append(_too_long(self._file, line, self._limit))
            # A stand-in that leaves csv.reader inside a quoted cell exactly when the
            # skipped line would have: a quote where the line opens or closes one.
            flips = line.ends_in_quotes != self._lines.in_quotes
            return ('"' if flips else "") + "\n"
        self.size += line.size
        if self.size > self._limit:
            raise _RecordTooLong(self._runaway(line.number))
        data = line.data
        if line.number == 1 and data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        try:
            text = data.decode(self._encoding)
        except UnicodeDecodeError as exc:
            self.problems.append(self._undecodable(line.number, data, exc))
            return data.decode(self._encoding, "replace")
        if _FORBIDDEN_CHAR.search(text):
            self.control_chars = True
        return text

    def _runaway(self, number: int) -> RowError:
        s = self.start
        return RowError(
            self._file,
            s,
            None,
            f"the row starting on line {s} is still open on line {number} and longer than "
            f'{self._limit:,} bytes: a quoted cell is probably missing its closing quote ("); '
            f"lines {s}–{number} were skipped — check the quotes on line {s}"
            f" / 从第 {s} 行开始的一行到第 {number} 行仍未结束，超过 {self._limit:,} 字节："
            f'可能是某个带引号的单元格缺少结尾的引号（"）；第 {s}–{number} 行已跳过，请检查第 {s} 行的引号',
        )

    def _undecodable(self, number: int, data: bytes, exc: UnicodeDecodeError) -> RowError:
        bad = data[exc.start : exc.start + 1].hex().upper()
        where_en = "" if number == self.start else f" (in the row starting on line {self.start})"
        where_zh = "" if number == self.start else f"（属于从第 {self.start} 行开始的一行）"
        if self._encoding == "utf-8" and _decodes(data, "gb18030", True):
            en = (
                f"line {number}{where_en} is not UTF-8 like the rest of the file but looks like "
                f'GB18030 (GBK); the row was skipped — save the whole file as "{_EXCEL_UTF8}"'
            )
            zh = (
                f"第 {number} 行{where_zh}不是与文件其余部分相同的 UTF-8 编码，似乎是 GB18030（GBK）；"
                f"该行已跳过——请将整个文件另存为“{_EXCEL_UTF8}”"
            )
        else:
            name = "UTF-8" if self._encoding == "utf-8" else "GB18030"
            en = (
                f"line {number}{where_en} cannot be read as {name} (byte 0x{bad} at position "
                f"{exc.start + 1}); the row was skipped — retype the line, or save the whole "
                f'file as "{_EXCEL_UTF8}"'
            )
            zh = (
                f"第 {number} 行{where_zh}无法按 {name} 编码读取（第 {exc.start + 1} 个字节 0x{bad}）；"
                f"该行已跳过——请重新输入该行，或将整个文件另存为“{_EXCEL_UTF8}”"
            )
        return RowError(self._file, number, None, f"{en} / {zh}")


def _check_header(file: str, cells: list[str], line: int) -> tuple[str, ...]:
    names = [cell.strip().lower() for cell in cells]
    if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
        sep_en, sep_zh = ("semicolons", "分号") if ";" in names[0] else ("tabs", "制表符")
        raise FileRefused(
            file,
            f"the header of '{file}' (line {line}) is separated by {sep_en}, not commas; "
            f'save the file as "{_EXCEL_UTF8}"',
            f"“{file}”的表头（第 {line} 行）以{sep_zh}而不是逗号分隔；请另存为“{_EXCEL_UTF8}”",
        )
    seen: dict[str, int] = {}
    for number, name in enumerate(names, start=1):
        col_en, col_zh = _column(number)
        if not name:
            raise FileRefused(
                file,
                f"{col_en} of the header of '{file}' (line {line}) has no name; "
                "write the field name in that header cell, or delete the column if it is not needed",
                f"“{file}”表头（第 {line} 行）的{col_zh}没有名称；请在该表头单元格填写字段名，不需要的列请删除",
            )
        if match := _FORBIDDEN_CHAR.search(name):
            code = f"U+{ord(match.group()):04X}"
            raise FileRefused(
                file,
                f"{col_en} of the header of '{file}' (line {line}) contains the control "
                f"character {code}; retype the column name",
                f"“{file}”表头（第 {line} 行）的{col_zh}含有控制字符 {code}；请重新输入该列名",
            )
        if name in seen:
            first_en, first_zh = _column(seen[name])
            raise FileRefused(
                file,
                f"the header of '{file}' (line {line}) names '{name}' twice, in {first_en} and "
                f"{col_en}; rename or delete one of them",
                f"“{file}”的表头（第 {line} 行）中“{name}”出现了两次（{first_zh}和{col_zh}）；"
                "请重命名或删除其中一列",
            )
        seen[name] = number
    return tuple(names)


# ---------------------------------------------------------------------------
# NDJSON


class _JsonRefused(Exception):
    """A line is JSON we do not take (a repeated key, NaN); the message is bilingual."""


def _object_without_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        repeated = ""
        for key, _ in pairs:
            if key in seen:
                repeated = key
                break
            seen.add(key)
        raise _JsonRefused(
            f"key '{repeated}' appears twice in one object; keep one of them"
            f" / 同一对象中键“{repeated}”出现了两次；请只保留一个"
        )
    return obj


def _no_constants(name: str) -> Any:
    raise _JsonRefused(
        f"{name} is not a JSON value; write the number, or null if there is none"
        f" / {name} 不是合法的 JSON 值；请写数字，没有值时写 null"
    )


# One decoder for every line: ``json.loads`` with hooks would build a new one per call.
_DECODER = json.JSONDecoder(object_pairs_hook=_object_without_repeats, parse_constant=_no_constants)


def _forbidden_chars(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, character) for every string in ``value`` holding a forbidden character."""
    if isinstance(value, str):
        if match := _FORBIDDEN_CHAR.search(value):
            yield path, match.group()
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if match := _FORBIDDEN_CHAR.search(str(key)):
                yield inner, match.group()
            yield from _forbidden_chars(item, inner)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _forbidden_chars(item, f"{path}[{index}]")


def _too_deep(file: str, n: int) -> RowError:
    return RowError(
        file,
        n,
        None,
        f"line {n} nests arrays or objects too deeply to be read; flatten the data"
        f" / 第 {n} 行的数组或对象嵌套过深，无法读取；请减少嵌套层级",
    )


_JSON_TYPES = {
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true/false",
    list: "an array",
}


# ---------------------------------------------------------------------------
# The file


class RecordFile:
    """An import file opened for reading; iterate once for its rows and row errors.

    Open it with :func:`open_record_file`. ``bytes_read`` against ``bytes_total``
    (None when the size cannot be known) drives a progress bar.
    """

    def __init__(
        self,
        stream: IO[bytes],
        *,
        name: str,
        kind: str | None,
        kinds: Collection[str],
        max_line_bytes: int,
        owns_stream: bool,
    ) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be positive")
        self.name = name
        self._stream = stream
        self._owns_stream = owns_stream
        self._kinds = frozenset(kinds)
        self._limit = max_line_bytes
        self._started = False
        self._closed = False
        self._keep: Callable[[str], bool] | None = None  # see only()
        self._report_unowned = True
        self.format: Format = _format_of(name)
        self.bytes_total = _remaining_size(stream)
        self._lines = _LineSource(stream, max_line_bytes, csv_quoting=self.format == "csv")
        self.kind = self._file_kind(kind)
        head, at_eof = self._lines.peek(SNIFF_BYTES)
        self.encoding, self.notices = _sniff_encoding(name, self.format, head, at_eof)
        self.columns: tuple[str, ...] = ()
        if self.format == "csv":
            if csv.field_size_limit() < max_line_bytes:
                # Process-wide, and only ever raised: a record is capped at max_line_bytes
                # here, so csv's own cap must not cut a cell shorter than that.
                csv.field_size_limit(max_line_bytes)
            self._feed = _CsvFeed(self._lines, name, self.encoding, max_line_bytes)
            self._reader = csv.reader(self._feed)
            self.columns = self._read_header()

    @property
    def bytes_read(self) -> int:
        return self._lines.bytes_read

    def only(self, keep: Callable[[str], bool], *, report_unowned: bool) -> bool:
        """Read only the NDJSON lines whose record ``keep`` takes, by its id, where it is
        cheap to tell: a line that begins with its ``"id"`` is passed over unread when
        ``keep`` refuses that id. Other lines are read as ever (the caller still sorts
        them by their id); those that cannot be read are reported only when
        ``report_unowned`` (so that, of several readers of one file each keeping its
        share, exactly one reports them). CSV files are read whole, and say so by
        answering False.
        """
        if self.format != "ndjson":
            return False
        self._keep = keep
        self._report_unowned = report_unowned
        return True

    def _file_kind(self, kind: str | None) -> str | None:
        name = self.name
        if kind is not None:
            if kind not in self._kinds:
                en_hint, zh_hint = _did_you_mean(kind, self._kinds)
                raise FileRefused(
                    name,
                    f"cannot import '{name}' as '{kind}': no such kind{en_hint}; "
                    f"the known kinds are: {_known(self._kinds)}",
                    f"无法将“{name}”按“{kind}”导入：没有这种数据类型{zh_hint}；"
                    f"已知的类型有：{_known(self._kinds)}",
                )
            return kind
        if self.format == "ndjson":
            return None  # each line names its own kind
        found = kind_from_file_name(name, self._kinds)
        if found is None:
            raise FileRefused(
                name,
                f"cannot tell which kind of records '{name}' holds; name the file after its kind "
                f"(e.g. products.csv, or products-2026-11.csv) or pass --kind; "
                f"the known kinds are: {_known(self._kinds)}",
                f"无法判断“{name}”中是哪类数据；请以数据类型命名文件（如 products.csv 或 "
                f"products-2026-11.csv），或使用 --kind 参数指定；已知的类型有：{_known(self._kinds)}",
            )
        return found

    # -- CSV

    def _read_header(self) -> tuple[str, ...]:
        name = self.name
        while True:
            self._feed.begin()
            try:
                cells = next(self._reader)
            except StopIteration:
                raise FileRefused(
                    name,
                    f"'{name}' has no header row; its first line must name the fields, "
                    "separated by commas",
                    f"“{name}”没有表头；第一行须列出字段名，以逗号分隔",
                ) from None
            except (_RecordTooLong, csv.Error) as exc:
                raise self._bad_header(str(exc), "") from None
            if self._feed.problems:
                en, _, zh = self._feed.problems[0].message.partition(" / ")
                raise self._bad_header(en, zh)
            if any(cell.strip() for cell in cells):
                return _check_header(name, cells, self._feed.start)

    def _bad_header(self, why_en: str, why_zh: str) -> FileRefused:
        return FileRefused(
            self.name,
            f"the header row of '{self.name}' cannot be read, so the file was not imported "
            f"(fix the header and import again): {why_en}",
            f"“{self.name}”的表头无法读取，文件未导入（请修正表头后重新导入）"
            + (f"：{why_zh}" if why_zh else ""),
        )

    def _csv_rows(self) -> Iterator[RawRecord | RowError]:
        feed, file, columns = self._feed, self.name, self.columns
        kind = self.kind
        assert kind is not None
        while True:
            feed.begin()
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except _RecordTooLong as exc:
                yield exc.error
                continue
            except csv.Error as exc:
                yield RowError(file, feed.start, None, _csv_error_message(feed.start, exc))
                continue
            if feed.problems:
                yield from feed.problems
                continue
            start = feed.start
            width = len(columns)
            if len(cells) > width and any(cell.strip() for cell in cells[width:]):
                yield self._too_many_cells(start, cells, multiline=feed.end > start)
                continue
            if feed.control_chars:  # only then look for the cells that hold them
                errors = [
                    _char_error(file, start, column, match.group())
                    for column, cell in zip(columns, cells, strict=False)
                    if (match := _FORBIDDEN_CHAR.search(cell))
                ]
                if errors:
                    yield from errors
                    continue
            fields: dict[str, Any] = {}
            for column, cell in zip(columns, cells, strict=False):
                value = cell.strip()
                if value:
                    fields[column] = value
            if fields:  # else a blank line, or a row of empty cells (",,,")
                yield RawRecord(file, start, kind, fields)

    def _too_many_cells(self, start: int, cells: list[str], *, multiline: bool) -> RowError:
        count = len(self.columns)
        extra = next(i for i in range(count, len(cells)) if cells[i].strip())
        sample = cells[extra].strip()
        sample = sample if len(sample) <= 20 else sample[:20] + "…"
        col_en, col_zh = _column(extra + 1)
        en = (
            f"line {start} has {len(cells)} cells but the header names {count} columns "
            f"({col_en} holds '{sample}'); a value probably contains a comma — put that value "
            'in double quotes ("...") or remove the extra cells'
        )
        zh = (
            f"第 {start} 行有 {len(cells)} 个单元格，但表头只有 {count} 列（{col_zh}的内容为“{sample}”）；"
            "可能某个值中含有逗号——请给该值加上英文双引号，或删除多余的单元格"
        )
        if multiline:
            en += '; the row runs over several lines, so a closing quote (") may be missing'
            zh += '；该行跨越多行，也可能是缺少结尾的引号（"）'
        return RowError(self.name, start, None, f"{en} / {zh}")

    # -- NDJSON

    def _ndjson_rows(self) -> Iterator[RawRecord | RowError]:
        file = self.name
        for line in self._lines:
            n = line.number
            if line.data is None:
                if self._report_unowned:
                    yield _too_long(file, line, self._limit)
                continue
            data = line.data
            if n == 1 and data.startswith(codecs.BOM_UTF8):
                data = data[len(codecs.BOM_UTF8) :]
            owned = True
            if self._keep is not None:
                leading = _LEADING_ID.match(data)
                if leading is not None:
                    if not self._keep(leading.group(1).decode("utf-8", "replace")):
                        continue
                else:
                    owned = self._report_unowned
            try:
                text = data.decode("utf-8").strip(" \t\r\n")
            except UnicodeDecodeError as exc:
                if not owned:
                    continue
                bad = data[exc.start : exc.start + 1].hex().upper()
                yield RowError(
                    file,
                    n,
                    None,
                    f"line {n} is not UTF-8 text (byte 0x{bad} at position {exc.start + 1}); "
                    "NDJSON files must be UTF-8 throughout — convert the file to UTF-8"
                    f" / 第 {n} 行不是 UTF-8 文本（第 {exc.start + 1} 个字节 0x{bad}）；"
                    "NDJSON 文件必须全部为 UTF-8 编码，请转换为 UTF-8",
                )
                continue
            if not text:
                continue
            outcome = self._ndjson_record(n, text)
            if isinstance(outcome, list):
                if owned:
                    yield from outcome
            elif owned or isinstance(outcome, RawRecord):
                yield outcome

    def _ndjson_record(self, n: int, text: str) -> RawRecord | RowError | list[RowError]:
        file = self.name
        try:
            value = _DECODER.decode(text)
        except _JsonRefused as exc:
            return RowError(file, n, None, f"line {n}: {exc}")
        except json.JSONDecodeError as exc:
            return RowError(
                file,
                n,
                None,
                f"line {n} is not valid JSON: {exc.msg} at column {exc.colno}; "
                "each line must hold one complete JSON object"
                f" / 第 {n} 行不是合法的 JSON：第 {exc.colno} 列处出错（{exc.msg}）；"
                "每行须是一个完整的 JSON 对象",
            )
        except RecursionError:
            return _too_deep(file, n)
        if not isinstance(value, dict):
            what = "null" if value is None else _JSON_TYPES.get(type(value), "a JSON value")
            return RowError(
                file,
                n,
                None,
                f"line {n} holds {what}, not a JSON object; write each record as "
                '{"kind": "...", "field": "value", ...} on its own line'
                f" / 第 {n} 行不是 JSON 对象；每条记录须在单独一行写成 "
                '{"kind": "...", "字段": "值", ...}',
            )
        kind = self._line_kind(n, value)
        if isinstance(kind, RowError):
            return kind
        fields = value
        if "kind" in value:
            fields = {key: item for key, item in value.items() if key != "kind"}
        if not _MAY_ESCAPE_FORBIDDEN.search(text):
            return RawRecord(file, n, kind, fields)
        try:
            found = list(_forbidden_chars(fields, ""))
        except RecursionError:
            return _too_deep(file, n)
        return [_char_error(file, n, path, char) for path, char in found] or RawRecord(
            file, n, kind, fields
        )

    def _line_kind(self, n: int, value: dict[str, Any]) -> str | RowError:
        if "kind" not in value and self.kind is not None:
            return self.kind
        # The usual line (its kind known and valid) reaches none of the messages below.
        kind = value.get("kind")
        if isinstance(kind, str) and kind in self._kinds and self.kind in (None, kind):
            return kind
        file, known = self.name, _known(self._kinds)
        if "kind" not in value:
            return RowError(
                file,
                n,
                "kind",
                f'line {n} has no "kind" field; add one (e.g. "kind": "products"), or pass '
                f"--kind when every line is of one kind; the known kinds are: {known}"
                f' / 第 {n} 行缺少“kind”字段；请添加（如 "kind": "products"），'
                f"或在所有行类型相同时使用 --kind 参数；已知的类型有：{known}",
            )
        kind = value["kind"]
        if not isinstance(kind, str) or kind not in self._kinds:
            en_hint, zh_hint = (
                _did_you_mean(kind, self._kinds) if isinstance(kind, str) else ("", "")
            )
            shown = json.dumps(kind, ensure_ascii=False)[:40]
            return RowError(
                file,
                n,
                "kind",
                f"line {n}: kind {shown} is not a known kind{en_hint}; the known kinds are: {known}"
                f" / 第 {n} 行：类型 {shown} 不是已知的数据类型{zh_hint}；已知的类型有：{known}",
            )
        if self.kind is not None and kind != self.kind:
            return RowError(
                file,
                n,
                "kind",
                f"line {n} says kind '{kind}' but the file is imported as '{self.kind}'; "
                "fix the line, or import without --kind"
                f" / 第 {n} 行的类型为“{kind}”，但该文件按“{self.kind}”导入；"
                "请修正该行，或不使用 --kind 参数导入",
            )
        return kind

    # -- iteration and closing

    def __iter__(self) -> Iterator[RawRecord | RowError]:
        if self._started:
            raise RuntimeError(f"'{self.name}' is read once; open it again to read it again")
        if self._closed:
            raise ValueError(f"'{self.name}' is closed")
        self._started = True
        return self._rows()

    def _rows(self) -> Iterator[RawRecord | RowError]:
        try:
            yield from self._csv_rows() if self.format == "csv" else self._ndjson_rows()
        finally:
            self.close()

    def close(self) -> None:
        """Close the file if this reader opened it (a stream passed in is the caller's)."""
        if not self._closed:
            self._closed = True
            if self._owns_stream:
                self._stream.close()

    def __enter__(self) -> RecordFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _csv_error_message(start: int, exc: csv.Error) -> str:
    return (
        f"line {start} cannot be read as CSV ({exc}); a carriage return (CR) may stand "
        "alone inside an unquoted cell — put the cell in double quotes, or save the file "
        f'as "{_EXCEL_UTF8}"'
        f" / 第 {start} 行无法按 CSV 读取；可能是未加引号的单元格中含有单独的回车符（CR）"
        f"——请给该单元格加上英文双引号，或将文件另存为“{_EXCEL_UTF8}”"
    )


def _remaining_size(stream: IO[bytes]) -> int | None:
    try:
        if not stream.seekable():
            return None
        here = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(here)
    except (OSError, ValueError):
        return None
    return max(end - here, 0)


def open_record_file(
    source: str | os.PathLike[str] | IO[bytes],
    *,
    name: str | None = None,
    kind: str | None = None,
    kinds: Collection[str],
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> RecordFile:
    """Open an import file (a path, or an open binary stream such as an upload) for reading.

    ``name`` is how messages call the file (default: the path; a stream needs one, or a
    ``name`` attribute of its own); the format comes from its extension. ``kind`` imports
    every row as that kind; otherwise a CSV file's name says its kind, and an NDJSON line
    its ``kind`` field. ``kinds`` are the kinds the caller knows. Raises FileRefused,
    before any row is read, when the file as a whole cannot be imported.
    """
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        display = name or str(path)
        _format_of(display)  # refuse a wrong extension before touching the file
        try:
            stream: IO[bytes] = path.open("rb")
        except FileNotFoundError:
            raise FileRefused(
                display,
                f"'{display}' does not exist; check the path",
                f"“{display}”不存在；请检查路径",
            ) from None
        except IsADirectoryError:
            raise FileRefused(
                display,
                f"'{display}' is a directory; give the files in it instead",
                f"“{display}”是一个目录；请给出其中的文件",
            ) from None
        except OSError as exc:
            raise FileRefused(
                display,
                f"'{display}' cannot be opened ({exc.strerror or exc}); check that it is readable",
                f"无法打开“{display}”（{exc.strerror or exc}）；请检查文件是否可读",
            ) from None
        owns = True
    else:
        stream, owns = source, False
        own_name = getattr(source, "name", None)
        display = name or (own_name if isinstance(own_name, str) else "")
        if not display:
            raise FileRefused(
                "upload",
                "an uploaded file needs a name ending in .csv, .ndjson or .jsonl",
                "上传的文件须有以 .csv、.ndjson 或 .jsonl 结尾的文件名",
            )
    try:
        return RecordFile(
            stream,
            name=display,
            kind=kind,
            kinds=kinds,
            max_line_bytes=max_line_bytes,
            owns_stream=owns,
        )
    except BaseException:
        if owns:
            stream.close()
        raise


# ---------------------------------------------------------------------------
# The errors file


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A cell starting like a formula is run by Excel; a leading apostrophe shows it as text.
    return "'" + text if text.startswith(_FORMULA_START) else text


class ErrorReport:
    """Row errors written to a CSV file (file, line, field, message) that Excel opens as
    it is (UTF-8 with a BOM).

    The file is created at the first error, under a temporary name beside ``path``;
    :meth:`close` renames it to ``path``, so an aborted import never leaves a partial
    report under the final name, and no errors leave no file. :meth:`discard` drops
    it. As a context manager: closed on a normal exit, discarded on an exception.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.count = 0
        self._handle: IO[str] | None = None
        self._temp: Path | None = None
        self._writer: Any = None
        self._done = False

    def add(self, error: RowError) -> None:
        if self._done:
            raise RuntimeError(f"the error report {self.path} is already closed")
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".partial"
            )
            self._temp = Path(temp)
            self._handle = open(fd, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115 -- open until close()
            self._writer = csv.writer(self._handle)
            self._writer.writerow(["file", "line", "field", "message"])
        self._writer.writerow(
            [_cell(error.file), error.line, _cell(error.field), _cell(error.message)]
        )
        self.count += 1

    def close(self) -> Path | None:
        """Finish the report: the path written, or None when there were no errors."""
        if self._done:
            return self.path if self.count else None
        self._done = True
        if self._handle is None or self._temp is None:
            return None
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._temp, self.path)
        return self.path

    def discard(self) -> None:
        """Drop the report unfinished; nothing is left on disk."""
        if self._done:
            return
        self._done = True
        if self._handle is not None:
            self._handle.close()
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
        self.count = 0

    def __enter__(self) -> ErrorReport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()
