"""Bulk import: rows read from files become master data, a batch at a time.

The reader (``adapters/record_files.py``) turns a file into rows; this module
turns rows into records and loads them through :func:`master_data.upsert`. It
never sees the file itself: a source is anything shaped like
:class:`RowSource`, a row anything shaped like :class:`ReadRow`.

**Kinds.** A row's kind is a record kind, singular or plural (``brand`` or
``brands`` … ``order`` or ``orders``), or one of three flat kinds that only a
table can need:

* ``coverage`` (``provider_id``, ``area_code``, ``area_name``, ``category``,
  ``service_tag``, ``fulfil``): every coverage row of a file for one provider
  together REPLACE that provider's coverage. The provider must be loaded (in an
  earlier file, or earlier in this one): the rows are kept until the end of the
  file, then each provider's stored record is read, given the new coverage and
  written back.
* ``service_centres`` (``brand_id``, ``name``, ``city``, ``address``,
  ``phone``, ``hours``): likewise, they replace the brand's service centres.
* ``order_items``: one row per order item carrying its order's columns too
  (``order_id``, ``buyer_id``, ``merchant_id``, ``placed_at``, ``paid_at``,
  ``address``, ``contact_phone``, ``updated_at``, ``version``, ``active``) and
  the item's (``item_id``, ``product_id``, ``paid_price`` in yuan or
  ``paid_price_fen``, ``purchased_on``, ``delivered_on``, ``item_address``,
  ``item_contact_phone``, ``status``). Rows of one order make one order record;
  they must agree on the order's columns (an empty cell takes the other rows'
  value). An ``orders`` CSV, or an ``order`` line without ``items``, is read
  the same way.

A record row in a table has its lists in one cell split on ``|`` (badges,
service tags); a brand's ``warranty_terms_zh``/``warranty_terms_en`` columns
are its warranty terms and ``exclusions_zh``/``exclusions_en`` its exclusions,
split on ``|`` and paired in order. An NDJSON line holds the record in the
nested shape of :mod:`master_records`. A brand or provider record that does not
carry ``service_centres`` / ``coverage`` at all keeps the stored ones (they
come from their own files); an explicit empty list clears them. A provider's
``daily_capacity``, ``area_capacity`` and ``closures`` (OH-3) and its
``appointment_windows`` (SS-2), and a shop's ``preferred_providers`` (OH-3), are
kept the same way when a record leaves them out.

**Orders whose rows are not together.** Rows of one order are gathered within
a batch (about :data:`BATCH_ROWS` rows; a batch never ends inside a run of one
order's rows). When an order's rows are further apart than that, each run is
written as its own update of the order; as ``upsert`` keeps the stored items an
update does not list, the order ends up with all its items, but it is counted
once per run, and a re-run reports it ``updated`` rather than ``unchanged``.
Keep an order's rows together (sorted by ``order_id``) to avoid that.

**What is refused.** Every problem is a :class:`RowProblem` naming the file,
the line, the column and what to do; a refused row never stops the others. An
id met a second time in one file is refused there, naming the line it was first
on. An item row, coverage row or centre row with a problem of its own is left
out and its order (provider, brand) written without it. A file whose columns do
not fit its kind is refused as a whole before anything is loaded.

**Transactions.** Each batch is written in one unit of work and committed, so a
long file never holds one transaction open (and an interrupted import keeps the
batches before the interruption). A dry run writes everything in one unit of
work that is never committed, so records that refer to records earlier in the
same files resolve as they would for real, and nothing is kept; on SQLite that
transaction holds the database's write lock until the dry run ends.

**Memory** stays flat: one batch of rows, the coverage and centre rows of the
current file, and a compact table of the ids seen in it (:class:`_SeenIds`,
16 bytes an id). The cyclic garbage collector is held off while a batch is read
and written and runs between batches, when the batch is gone.

**Jobs.** An upload over HTTP becomes an import job (:func:`submit_job`) that a
worker claims (:func:`claim_job`) and runs (:func:`run_job`), saving its
progress after every batch.

The module is long (~1,330 lines, with the parts of ``--jobs``); its two halves
are the row loader (rows to records to batches) and the import jobs (submit, claim, run, report). They stay
together for now because a job is a thin wrapper around one run of the loader
and shares its report; the jobs half is the first thing to move into a module of
its own (``services/import_jobs.py``) when either grows.
"""

from __future__ import annotations

import difflib
import gc
import logging
import zlib
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import zip_longest
from typing import Any, Protocol

from pydantic import ValidationError

from aftersales.domain import access
from aftersales.domain.access import Action
from aftersales.domain.lifecycle import Role
from aftersales.errors import Forbidden, InvalidRequest, NotFound
from aftersales.services import master_data as md
from aftersales.services import master_records as mr
from aftersales.services.base import Services, new_id
from aftersales.services.records import LIVE

__all__ = [
    "BATCH_ROWS",
    "FILE_KINDS",
    "KEEP_ERRORS",
    "ImportInterrupted",
    "ImportReport",
    "Part",
    "ReadProblem",
    "ReadRow",
    "RowProblem",
    "RowSource",
    "check_source",
    "claim_job",
    "get_job",
    "job_view",
    "list_jobs",
    "run_import",
    "run_job",
    "scope_for",
    "splits_by_order",
    "submit_job",
]

log = logging.getLogger(__name__)

BATCH_ROWS = 2000
KEEP_ERRORS = 100  # row problems an import report (and a job) keeps; the rest are counted
_STORED_CHUNK = 500  # providers (brands) whose stored records are read at once

FLAT_KINDS = ("coverage", "service_centres", "order_items")
_SINGULAR = {**{k: k for k in mr.KINDS}, **{plural: k for k, plural in mr.PLURALS.items()}}
# Every kind a file's name or a line's "kind" may give.
FILE_KINDS: tuple[str, ...] = tuple(sorted({*_SINGULAR, *FLAT_KINDS}))
RESULTS = ("created", "updated", "unchanged", "stale", "refused")
# Kinds a file of orders is given as: such a file can be loaded in parts (Part).
ORDER_FILE_KINDS = frozenset({"order", "orders", "order_items"})


@dataclass(frozen=True)
class Part:
    """Part ``index`` of ``count``: the orders (of files of orders) whose id falls to it.

    Several processes, each given one part of the same files, load them side by side
    (``aftersales import --jobs``). Every row of one order, and every version of it,
    falls to the same part, so an order's rows still meet in one batch and its
    updates are applied in file order. A row without an order id falls to part 0,
    as do the rows the reader could not read, so each is reported once.
    """

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"part {self.index} of {self.count} does not exist")

    def owns(self, order_id: str) -> bool:
        return zlib.crc32(order_id.encode("utf-8")) % self.count == self.index


def splits_by_order(source: RowSource) -> bool:
    """Whether every row of ``source`` is an order (or an order's item): loadable in parts."""
    return source.kind in ORDER_FILE_KINDS


# order_items columns: the order's, and the item's, with the field each one fills.
_ORDER_COLUMNS = {
    "order_id": "id",
    "buyer_id": "buyer_id",
    "merchant_id": "merchant_id",
    "placed_at": "placed_at",
    "paid_at": "paid_at",
    "address": "address",
    "contact_phone": "contact_phone",
    "updated_at": "updated_at",
    "version": "version",
    "active": "active",
}
_ITEM_COLUMNS = {
    "item_id": "id",
    "product_id": "product_id",
    "paid_price": "paid_price",
    "paid_price_fen": "paid_price_fen",
    "purchased_on": "purchased_on",
    "delivered_on": "delivered_on",
    "item_address": "address",
    "item_contact_phone": "contact_phone",
    "status": "status",
}
_ORDER_FIELD_COLUMN = {f: c for c, f in _ORDER_COLUMNS.items()}
_ITEM_FIELD_COLUMN = {f: c for c, f in _ITEM_COLUMNS.items()}
# The lists a record kind holds that a table gives in files of their own.
# A provider's capacity and closures (OH-3) are kept the same way: NDJSON and the API
# carry them; a providers.csv row may carry daily_capacity.
_LISTS: dict[str, tuple[str, ...]] = {
    "brand": ("service_centres",),
    "merchant": ("preferred_providers",),
    "provider": (
        "coverage",
        "daily_capacity",
        "area_capacity",
        "closures",
        "appointment_windows",
    ),
}
_BRAND_FLAT = ("warranty_terms_zh", "warranty_terms_en", "exclusions_zh", "exclusions_en")


def _columns_of(kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The columns a table of ``kind`` may have, and those it must have."""
    if kind == "order_items":
        columns = (*_ORDER_COLUMNS, *_ITEM_COLUMNS)
        return columns, (
            "order_id",
            "buyer_id",
            "merchant_id",
            "placed_at",
            "item_id",
            "product_id",
        )
    if kind == "coverage":
        model: Any = mr.CoverageIn
        parent = "provider_id"
    elif kind == "service_centres":
        model, parent = mr.CentreIn, "brand_id"
    else:
        model, parent = mr.MODELS[kind], ""
    nested = {
        "service_centres",
        "coverage",
        "items",
        "warranty_terms",
        "exclusions",
        "area_capacity",
        "closures",
        "appointment_windows",
    }
    fields = [n for n in model.model_fields if n not in nested]
    required = [n for n, f in model.model_fields.items() if f.is_required() and n not in nested]
    if parent:
        fields, required = [parent, *fields], [parent, *required]
    if kind == "brand":
        fields += list(_BRAND_FLAT)
    return tuple(fields), tuple(required)


TABLE_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    kind: _columns_of(kind) for kind in (*(k for k in mr.KINDS if k != "order"), *FLAT_KINDS)
}


# ---------------------------------------------------------------- what the reader gives


class ReadRow(Protocol):
    """One row as read: its kind and the fields present (not yet checked)."""

    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def fields(self) -> dict[str, Any]: ...


class ReadProblem(Protocol):
    """A row the reader could not read."""

    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def field(self) -> str | None: ...
    @property
    def message(self) -> str: ...


class RowSource(Protocol):
    """An opened import file: its rows (iterated once) and what is known about it."""

    @property
    def name(self) -> str: ...
    @property
    def format(self) -> str: ...  # csv | ndjson
    @property
    def kind(self) -> str | None: ...  # every row's kind (a CSV file's always), else None
    @property
    def columns(self) -> tuple[str, ...]: ...  # a CSV file's header, lower case
    @property
    def notices(self) -> list[str]: ...  # e.g. "read as GB18030"
    @property
    def bytes_read(self) -> int: ...
    @property
    def bytes_total(self) -> int | None: ...
    def __iter__(self) -> Iterator[Any]: ...  # ReadRow or ReadProblem
    def close(self) -> None: ...


@dataclass(frozen=True)
class RowProblem:
    """Why a row (line 0: the whole file) was not loaded, and how to put it right."""

    file: str
    line: int
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}


Progress = Callable[[int, int, int | None], None]  # rows read, bytes read, bytes in all


@dataclass
class ImportReport:
    """What an import did: records per kind and result, and the rows it refused."""

    dry_run: bool = False
    files: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    refused_files: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> result -> n
    rows_read: int = 0
    bytes_read: int = 0
    bytes_total: int | None = None
    error_count: int = 0
    errors: list[RowProblem] = field(default_factory=list)  # the first KEEP_ERRORS
    sink: Callable[[RowProblem], None] | None = field(default=None, repr=False)

    def count(self, kind: str, result: str, n: int = 1) -> None:
        by_result = self.counts.setdefault(kind, {})
        by_result[result] = by_result.get(result, 0) + n

    def add(self, problem: RowProblem) -> None:
        self.error_count += 1
        if len(self.errors) < KEEP_ERRORS:
            self.errors.append(problem)
        if self.sink is not None:
            self.sink(problem)

    def merge(self, other: ImportReport) -> None:
        """Add what ``other`` (another part of the same import) did to this report.

        Its problems went to its own sink as they were found; here they are counted,
        and kept up to :data:`KEEP_ERRORS`.
        """
        for kind, by_result in other.counts.items():
            for result, n in by_result.items():
                self.count(kind, result, n)
        self.rows_read += other.rows_read
        self.error_count += other.error_count
        self.errors.extend(other.errors[: max(0, KEEP_ERRORS - len(self.errors))])
        self.notices.extend(n for n in other.notices if n not in self.notices)

    def refuse_file(self, name: str, message: str) -> None:
        """The file ``name`` cannot be imported at all."""
        self.refused_files.append(name)
        self.add(RowProblem(name, 0, None, message))

    @property
    def totals(self) -> dict[str, int]:
        return {r: sum(c.get(r, 0) for c in self.counts.values()) for r in RESULTS}

    @property
    def clean(self) -> bool:
        """Nothing was refused: every row was read and loaded (or found unchanged or stale)."""
        return self.error_count == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "files": self.files,
            "notices": self.notices,
            "refused_files": self.refused_files,
            "counts": self.counts,
            "totals": self.totals,
            "rows_read": self.rows_read,
            "bytes_read": self.bytes_read,
            "bytes_total": self.bytes_total,
            "error_count": self.error_count,
            "errors": [p.as_dict() for p in self.errors],
        }


# ---------------------------------------------------------------- checking a file first


def table_kind(kind: str | None, fmt: str) -> str | None:
    """The kind a file's rows are read as: singular, and ``order_items`` for an orders table."""
    if kind is None:
        return None
    found = _SINGULAR.get(kind, kind)
    return "order_items" if found == "order" and fmt == "csv" else found


# What only the marketplace (not one shop's integration account) loads.
MARKETPLACE_ONLY = frozenset({"brand", "merchant", "service_centres"})


def for_marketplace_only(source: RowSource) -> bool:
    """Whether ``source`` holds records only a marketplace-wide loader may load."""
    return table_kind(source.kind, source.format) in MARKETPLACE_ONLY


def check_source(source: RowSource, scope: md.Scope = md.MARKETPLACE) -> str | None:
    """Why ``source`` cannot be imported as a whole (its header does not fit its kind, or the
    loader may not load that kind), or None. Nothing is read past the header."""
    kind = table_kind(source.kind, source.format)
    name = source.name
    if kind is None:
        return None
    if scope.merchant is not None and kind in MARKETPLACE_ONLY:
        what = "brands" if kind != "merchant" else "merchants"
        return (
            f"'{name}': a shop's integration account cannot load {what}; ask the marketplace "
            f"to load them / “{name}”：店铺的集成账号不能导入{('品牌' if kind != 'merchant' else '店铺')}数据，请由平台导入"
        )
    if source.format != "csv" or kind not in TABLE_COLUMNS:
        return None
    allowed, required = TABLE_COLUMNS[kind]
    columns = source.columns
    unknown = [c for c in columns if c not in allowed]
    missing = [c for c in required if c not in columns]
    if kind == "order_items" and "paid_price" not in columns and "paid_price_fen" not in columns:
        missing.append("paid_price")
    if not unknown and not missing:
        return None
    en: list[str] = []
    zh: list[str] = []
    if unknown:
        hints = []
        for column in unknown:
            near = difflib.get_close_matches(column, allowed, n=1)
            hints.append(f"'{column}'" + (f" (did you mean '{near[0]}'?)" if near else ""))
        en.append(f"has columns a {kind} table does not take: {', '.join(hints)}")
        zh.append(f"含有{kind}表不接受的列：{'、'.join(unknown)}")
    if missing:
        en.append(f"lacks the columns {', '.join(missing)}")
        zh.append(f"缺少列：{'、'.join(missing)}")
    return (
        f"'{name}' {'; it '.join(en)}; the columns of {kind} are: {', '.join(allowed)} "
        f"(rename or remove the columns in the header, line 1)"
        f" / “{name}”{'；'.join(zh)}；{kind} 的列为：{', '.join(allowed)}（请修改第 1 行表头）"
    )


# ---------------------------------------------------------------- running an import


def run_import(
    svc: Services,
    sources: Sequence[RowSource],
    *,
    world: md.World | None = None,
    scope: md.Scope = md.MARKETPLACE,
    dry_run: bool = False,
    report: ImportReport | None = None,
    on_error: Callable[[RowProblem], None] | None = None,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
    part: Part | None = None,
) -> ImportReport:
    """Load the rows of ``sources``, in order, into ``world`` (live data when None), and
    say what became of them.

    ``on_error`` is given every row problem as it is found (the report keeps the
    first :data:`KEEP_ERRORS`); ``progress`` is called after every batch. When
    any source is refused as a whole nothing is loaded. With ``dry_run``
    nothing is kept, and the report says what would have happened. With ``part``
    only that part of the orders is loaded (every source must be a file of orders,
    :func:`splits_by_order`), and the report counts only its rows.
    """
    if part is not None and not all(splits_by_order(s) for s in sources):
        raise InvalidRequest("only files of orders (or order items) can be loaded in parts")
    report = report if report is not None else ImportReport()
    report.dry_run = dry_run
    if on_error is not None:
        report.sink = on_error
    for source in sources:
        report.files.append(source.name)
        report.notices.extend(source.notices)
        why = check_source(source, scope)
        if why is not None:
            report.refuse_file(source.name, why)
    if report.refused_files:
        for source in sources:
            source.close()
        return report
    totals = [s.bytes_total for s in sources]
    report.bytes_total = None if None in totals else sum(t or 0 for t in totals)
    loader = _Loader(svc, world or md.World(), scope, report, progress, max(1, batch_rows), part)
    if part is not None:
        for source in sources:
            only = getattr(source, "only", None)  # a reader that can pass over others' lines
            if only is not None and only(
                lambda key: part.owns(key.strip()), report_unowned=part.index == 0
            ):
                loader.readers_choose.add(id(source))
    try:
        if dry_run:
            # One unit of work, never committed: every batch is written in it (so later
            # rows find the records earlier rows made) and all of it is undone at the end.
            with svc.uow():
                loader.load(sources)
        else:
            loader.load(sources)
    finally:
        for source in sources:
            source.close()
    return report


@dataclass
class _Entry:
    """A record on its way to ``upsert``, with where its parts came from."""

    record: dict[str, Any]
    file: str
    line: int
    flat: bool = False  # read from a table row (its errors name columns)
    children: str | None = None  # the list whose members are rows of their own
    child_lines: list[int] = field(default_factory=list)
    parent_column: str | None = None  # the column the child rows name their record in


@dataclass
class _OrderRun:
    order: dict[str, Any]  # the order's fields
    columns_line: dict[str, int]  # where each order column was first given
    entry: _Entry


@dataclass
class _Batch:
    records: dict[str, list[_Entry]] = field(default_factory=dict)
    orders: dict[str, _OrderRun] = field(default_factory=dict)
    rows: int = 0
    last_order: str | None = None

    def add(self, kind: str, entry: _Entry) -> None:
        self.records.setdefault(kind, []).append(entry)
        self.rows += 1


class _SeenIds:
    """The ids met in one file and the line each was first on, in 16 bytes an id.

    An open-addressing table of 64-bit hashes (of kind and id) and line numbers;
    two different ids with the same hash (about one chance in 10^8 for a million
    ids) would be taken for a repeat.
    """

    def __init__(self) -> None:
        self._size = 1024
        self._used = 0
        self._keys = array("q", bytes(8 * self._size))
        self._lines = array("q", bytes(8 * self._size))

    def first(self, kind: str, key: str, line: int) -> int | None:
        """The line ``key`` was first met on, or None (and it is noted as met on ``line``)."""
        code = hash((kind, key)) or 1
        keys = self._keys
        mask = self._size - 1
        slot = code & mask
        held = keys[slot]
        while held:
            if held == code:
                return self._lines[slot]
            slot = (slot + 1) & mask
            held = keys[slot]
        keys[slot] = code
        self._lines[slot] = line
        self._used += 1
        if self._used * 3 > self._size * 2:
            self._grow()
        return None

    def _grow(self) -> None:
        old_keys, old_lines = self._keys, self._lines
        self._size *= 2
        self._keys = array("q", bytes(8 * self._size))
        self._lines = array("q", bytes(8 * self._size))
        mask = self._size - 1
        for code, line in zip(old_keys, old_lines, strict=True):
            if not code:
                continue
            slot = code & mask
            while self._keys[slot]:
                slot = (slot + 1) & mask
            self._keys[slot] = code
            self._lines[slot] = line


@dataclass
class _FileState:
    name: str
    seen: _SeenIds = field(default_factory=_SeenIds)
    # parent id -> [(line, member)] for coverage (providers) and service centres (brands)
    coverage: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    centres: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    centre_names: dict[tuple[str, str], int] = field(default_factory=dict)


class _Loader:
    def __init__(
        self,
        svc: Services,
        world: md.World,
        scope: md.Scope,
        report: ImportReport,
        progress: Progress | None,
        batch_rows: int,
        part: Part | None = None,
    ) -> None:
        self.svc, self.world, self.scope, self.report = svc, world, scope, report
        self.on_progress = progress
        self.batch_rows = batch_rows
        self.part = part
        self.references = md.References()  # the catalogue as this import has read it
        # Sources whose reader decides which part reports a line it cannot read.
        self.readers_choose: set[int] = set()
        self._done_bytes = 0
        self._source: RowSource | None = None

    # -- reading

    def load(self, sources: Sequence[RowSource]) -> None:
        for source in sources:
            self._source = source
            self._file(source)
            self._done_bytes += source.bytes_read
            self._source = None
            self._progress()

    def _file(self, source: RowSource) -> None:
        state = _FileState(source.name)
        batch = _Batch()
        part = self.part
        # The collector is off from a batch's first row until the batch is written, and on
        # between batches: the rows read are as many, and live as long, as the objects upsert
        # makes while writing them (see master_data._collector_paused, which this extends to
        # the reading); a collection that falls due runs as the next batch starts, when the
        # last one is gone. One someone else turned off stays off.
        pauses = gc.isenabled()
        try:
            for item in source:
                fields = getattr(item, "fields", None)
                if fields is None:  # a row the reader could not read
                    # Of several parts, one reports it: the reader's choice if it chose.
                    if part is None or part.index == 0 or id(source) in self.readers_choose:
                        self.report.rows_read += 1
                        self.report.add(RowProblem(item.file, item.line, item.field, item.message))
                    continue
                kind = _row_kind(item.kind, fields)
                order_id = _text(fields.get("order_id")) if kind == "order_items" else None
                if part is not None and not part.owns(
                    order_id if order_id is not None else _text(fields.get("id"))
                ):
                    continue
                self.report.rows_read += 1
                if batch.rows >= self.batch_rows and (
                    order_id is None or order_id != batch.last_order
                ):
                    self._flush(batch)
                    batch = _Batch()
                    if pauses:
                        gc.enable()
                if kind == "order_items":
                    self._item_row(state, batch, item.file, item.line, fields)
                elif kind == "coverage":
                    self._member_row(state, item.file, item.line, fields, "provider_id")
                elif kind == "service_centres":
                    self._member_row(state, item.file, item.line, fields, "brand_id")
                else:
                    self._record_row(state, batch, kind, item.file, item.line, fields)
                if pauses and batch.rows:
                    gc.disable()
        finally:
            if pauses:
                gc.enable()
        self._flush(batch)
        self._replace_lists(state)

    def _problem(self, file: str, line: int, column: str | None, message: str) -> None:
        # "record": a problem of the row as a whole, not of one column
        self.report.add(RowProblem(file, line, None if column == "record" else column, message))

    def _record_row(
        self,
        state: _FileState,
        batch: _Batch,
        kind: str,
        file: str,
        line: int,
        fields: dict[str, Any],
    ) -> None:
        record, flat = _record_from_fields(kind, fields)
        given = _text(record.get("id"))
        if given:
            first = state.seen.first(kind, given, line)
            if first is not None:
                self._problem(file, line, "id", _repeated(kind, given, first))
                self.report.count(kind, "refused")
                return
        if kind == "order":
            for n, item in enumerate(record.get("items") or []):
                item_id = _text(item.get("id")) if isinstance(item, dict) else ""
                first = state.seen.first("order_item", item_id, line) if item_id else None
                if first is not None:
                    self._problem(
                        file, line, f"items.{n}.id", _repeated("order item", item_id, first)
                    )
                    self.report.count(kind, "refused")
                    return
        batch.add(kind, _Entry(record, file, line, flat=flat))

    def _item_row(
        self, state: _FileState, batch: _Batch, file: str, line: int, fields: dict[str, Any]
    ) -> None:
        order: dict[str, Any] = {}
        item: dict[str, Any] = {}
        unknown: list[str] = []
        for column, value in fields.items():
            if column in _ORDER_COLUMNS:
                order[_ORDER_COLUMNS[column]] = value
            elif column in _ITEM_COLUMNS:
                item[_ITEM_COLUMNS[column]] = value
            else:
                unknown.append(column)
        allowed = TABLE_COLUMNS["order_items"][0]
        for column in unknown:
            self._problem(file, line, column, _not_a_column(column, "order_items", allowed))
        order_id = _text(order.get("id"))
        if not order_id:
            self._problem(file, line, "order_id", "is required: the order this item belongs to")
        try:
            checked = mr.ItemIn.model_validate(item)
        except ValidationError as exc:
            for where, message in mr.describe_errors(exc):
                self._problem(file, line, _ITEM_FIELD_COLUMN.get(where, where), message)
            return
        if unknown or not order_id:
            return
        first = state.seen.first("order_item", checked.id, line)
        if first is not None:
            self._problem(file, line, "item_id", _repeated("order item", checked.id, first))
            return
        run = batch.orders.get(order_id)
        if run is None:
            entry = _Entry(
                {**order, "items": []}, file, line, flat=True, children="items", child_lines=[]
            )
            run = _OrderRun(order, dict.fromkeys(order, line), entry)
            batch.orders[order_id] = run
            batch.records.setdefault("order", []).append(entry)
        else:
            for name, value in order.items():
                if name in run.order and run.order[name] != value:
                    column = _ORDER_FIELD_COLUMN[name]
                    own = {"address": "item_address", "contact_phone": "item_contact_phone"}
                    hint = (
                        f"; an item serviced elsewhere gives its own in {own[column]}"
                        if column in own
                        else ""
                    )
                    self._problem(
                        file,
                        line,
                        column,
                        f"order {order_id} has {column} {run.order[name]!r} on line "
                        f"{run.columns_line[name]} but {value!r} here; the rows of one order must "
                        f"agree on its columns (or leave the cell empty){hint}",
                    )
                    return
            for name, value in order.items():
                if name not in run.order:
                    run.order[name] = run.entry.record[name] = value
                    run.columns_line[name] = line
        run.entry.record["items"].append(item)
        run.entry.child_lines.append(line)
        batch.rows += 1
        batch.last_order = order_id

    def _member_row(
        self, state: _FileState, file: str, line: int, fields: dict[str, Any], parent: str
    ) -> None:
        """A coverage row (``parent`` = provider_id) or a service centre row (brand_id)."""
        model: Any = mr.CoverageIn if parent == "provider_id" else mr.CentreIn
        owner = _text(fields.get(parent))
        member = {k: v for k, v in fields.items() if k != parent}
        if not owner:
            self._problem(file, line, parent, "is required")
        try:
            checked = model.model_validate(member)
        except ValidationError as exc:
            for where, message in mr.describe_errors(exc):
                self._problem(file, line, where, message)
            return
        if not owner:
            return
        if parent == "brand_id":
            first = state.centre_names.setdefault((owner, checked.name), line)
            if first != line:
                self._problem(
                    file,
                    line,
                    "name",
                    f"brand {owner} already has a service centre named {checked.name!r} on line "
                    f"{first}; give each centre its own name, or remove the repeated row",
                )
                return
            state.centres.setdefault(owner, []).append((line, member))
        else:
            state.coverage.setdefault(owner, []).append((line, member))

    # -- writing

    def _flush(self, batch: _Batch) -> None:
        if not batch.records:
            return
        with self.svc.uow() as uow:
            for kind in md.WRITE_ORDER:
                entries = batch.records.get(kind)
                if entries:
                    self._write(kind, entries)
            uow.commit()  # left to the dry run's own unit of work, which never commits
        self._progress()

    def _write(self, kind: str, entries: list[_Entry]) -> None:
        self._keep_stored_lists(kind, entries)
        outcomes = self._upsert(kind, entries)
        if outcomes is None:
            return
        again: list[_Entry] = []
        for entry, outcome in zip(entries, outcomes, strict=True):
            if outcome.result == "refused" and entry.children:
                left = self._leave_out_bad_children(kind, entry, outcome)
                if left is None:
                    pass  # not only children's problems: refused whole, below
                elif left:
                    again.append(entry)
                    continue
                else:
                    self.report.count(kind, "refused")
                    continue
            self._settle(kind, entry, outcome)
        if again:
            retried = self._upsert(kind, again)
            for entry, outcome in zip(again, retried or [], strict=True):
                self._settle(kind, entry, outcome)

    def _upsert(self, kind: str, entries: list[_Entry]) -> list[md.Outcome] | None:
        try:
            return md.upsert(
                self.svc,
                kind,
                [e.record for e in entries],
                world=self.world,
                scope=self.scope,
                lines=[e.line for e in entries],
                references=self.references,
            )
        except Forbidden as exc:  # the loader may not load this kind at all
            for entry in entries:
                lines = entry.child_lines or [entry.line]
                for line in lines:
                    self._problem(entry.file, line, entry.parent_column, str(exc))
                self.report.count(kind, "refused")
            return None

    def _leave_out_bad_children(self, kind: str, entry: _Entry, outcome: md.Outcome) -> int | None:
        """When every problem of a refused record is in some of its child rows, report those
        rows and leave them out; how many children are left (None: not that case)."""
        assert entry.children is not None
        members = entry.record[entry.children]
        bad: set[int] = set()
        for error in outcome.errors:
            index = _child_index(entry.children, error["field"])
            if index is None or index >= len(members):
                return None
            bad.add(index)
        for error in outcome.errors:
            self._report(kind, entry, error)
        keep = [i for i in range(len(members)) if i not in bad]
        entry.record[entry.children] = [members[i] for i in keep]
        entry.child_lines = [entry.child_lines[i] for i in keep]
        return len(keep)

    def _settle(self, kind: str, entry: _Entry, outcome: md.Outcome) -> None:
        self.report.count(kind, outcome.result)
        if outcome.result == "refused":
            for error in outcome.errors:
                self._report(kind, entry, error)

    def _report(self, kind: str, entry: _Entry, error: dict[str, str]) -> None:
        where, message = error["field"], error["message"]
        if entry.children:
            index = _child_index(entry.children, where)
            if index is not None and index < len(entry.child_lines):
                rest = where.split(".", 2)[2] if where.count(".") >= 2 else ""
                name = rest.split(".")[0] or None
                if name is not None and entry.children == "items":
                    name = _ITEM_FIELD_COLUMN.get(name, name)
                self._problem(entry.file, entry.child_lines[index], name, message)
                return
        if entry.parent_column is not None:  # a problem of the provider (brand) itself
            shown = entry.record.get("id")
            self._problem(
                entry.file,
                entry.child_lines[0] if entry.child_lines else entry.line,
                entry.parent_column,
                f"{kind} {shown} cannot be saved with these rows: {where}: {message}",
            )
            return
        column = _flat_column(kind, where) if entry.flat else where
        self._problem(entry.file, entry.line, column, message)

    def _stored(self, kind: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The world's own stored records of ``ids`` (not live ones a sandbox reads through)."""
        by_stored = {self.world.store(i): i for i in ids}
        with self.svc.uow() as uow:
            rows = uow.master.stored(kind, sorted(by_stored))
        return {
            by_stored[stored_id]: md.as_record(kind, row, self.world)
            for stored_id, row in rows.items()
            if row.get("sandbox", LIVE) == self.world.sandbox
        }

    def _keep_stored_lists(self, kind: str, entries: list[_Entry]) -> None:
        """A brand (provider) record without ``service_centres`` (``coverage``) keeps the stored."""
        keys = _LISTS.get(kind, ())
        lacking = [
            e for e in entries if any(k not in e.record for k in keys) and _text(e.record.get("id"))
        ]
        if not lacking:
            return
        stored = self._stored(kind, sorted({_text(e.record["id"]) for e in lacking}))
        for entry in lacking:
            found = stored.get(_text(entry.record["id"]))
            if found is None:
                continue
            kept = _input_of(kind, found)
            for key in keys:
                if key not in entry.record and key in kept:
                    entry.record[key] = kept[key]

    def _replace_lists(self, state: _FileState) -> None:
        """Give each provider (brand) of the file's coverage (centre) rows just those."""
        for kind, key, buffered, parent in (
            ("provider", "coverage", state.coverage, "provider_id"),
            ("brand", "service_centres", state.centres, "brand_id"),
        ):
            owners = list(buffered)
            for start in range(0, len(owners), _STORED_CHUNK):
                chunk = owners[start : start + _STORED_CHUNK]
                with self.svc.uow() as uow:
                    stored = self._stored(kind, chunk)
                    entries: list[_Entry] = []
                    for owner in chunk:
                        rows = buffered[owner]
                        record = stored.get(owner)
                        if record is None:
                            where = (
                                ""
                                if self.world.sandbox == LIVE
                                else f" in sandbox {self.world.sandbox}"
                            )
                            for line, _ in rows:
                                self._problem(
                                    state.name,
                                    line,
                                    parent,
                                    f"no {kind} {owner} is loaded{where}; load the {kind} first "
                                    f"(earlier in this file or in a file before it), then its {key}",
                                )
                            continue
                        entries.append(
                            _Entry(
                                {**_input_of(kind, record), key: [m for _, m in rows]},
                                state.name,
                                rows[0][0],
                                children=key,
                                child_lines=[line for line, _ in rows],
                                parent_column=parent,
                            )
                        )
                    if entries:
                        self._write(kind, entries)
                    uow.commit()
                self._progress()
            buffered.clear()

    def _progress(self) -> None:
        report = self.report
        current = self._source.bytes_read if self._source is not None else 0
        report.bytes_read = self._done_bytes + current
        if self.on_progress is not None:
            self.on_progress(report.rows_read, report.bytes_read, report.bytes_total)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value))


def _row_kind(kind: str, fields: dict[str, Any]) -> str:
    found = _SINGULAR.get(kind, kind)
    if found == "order" and "items" not in fields and ("item_id" in fields or "order_id" in fields):
        return "order_items"
    return found


def _repeated(what: str, key: str, first: int) -> str:
    return (
        f"{what} {key} is already on line {first} of this file; a record may appear once per "
        f"file — merge the two rows into one, or remove this one"
    )


def _not_a_column(column: str, kind: str, allowed: Sequence[str]) -> str:
    near = difflib.get_close_matches(column, allowed, n=1)
    hint = f" (did you mean '{near[0]}'?)" if near else ""
    return f"is not a field of {kind}{hint}; the fields are: {', '.join(allowed)}"


def _split_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part.strip() for part in str(value).split("|")] if str(value).strip() else []


def _record_from_fields(kind: str, fields: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A record from a row's fields, and whether it was written flat (a table's columns)."""
    record = dict(fields)
    flat = False
    if kind == "brand" and any(c in record for c in _BRAND_FLAT):
        flat = True
        zh, en = record.pop("warranty_terms_zh", None), record.pop("warranty_terms_en", None)
        if zh is not None or en is not None:
            record["warranty_terms"] = {"zh": zh or "", "en": en or ""}
        ex_zh = record.pop("exclusions_zh", None)
        ex_en = record.pop("exclusions_en", None)
        if ex_zh is not None or ex_en is not None:
            pairs = zip_longest(_split_list(ex_zh or ""), _split_list(ex_en or ""), fillvalue="")
            record["exclusions"] = [{"zh": z, "en": e} for z, e in pairs]
    elif kind != "order":
        flat = not any(isinstance(v, dict | list) for v in record.values())
    return record, flat


def _flat_column(kind: str, where: str) -> str:
    """The table column a field of ``kind`` is written in."""
    if kind == "brand":
        parts = where.split(".")
        if parts[0] == "warranty_terms" and len(parts) > 1:
            return f"warranty_terms_{parts[1]}"
        if parts[0] == "exclusions" and len(parts) > 2:
            return f"exclusions_{parts[2]}"
    if kind == "order":
        return _ORDER_FIELD_COLUMN.get(where, where)
    return where


def _child_index(key: str, where: str) -> int | None:
    """``N`` of a problem at ``<key>.N[.field]``, else None."""
    if not where.startswith(key + "."):
        return None
    index = where[len(key) + 1 :].split(".", 1)[0]
    return int(index) if index.isdigit() else None


def _input_of(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    """A stored record (as read back) as input of ``upsert``: the fields its model takes.

    The source's ``updated_at`` and ``version`` are kept, so writing it back leaves them.
    """
    fields = mr.MODELS[kind].model_fields
    found = {k: v for k, v in record.items() if k in fields and v is not None}
    if kind == "provider":
        found["coverage"] = [
            {k: v for k, v in c.items() if k != "area_level"} for c in record.get("coverage", [])
        ]
    return found


# ---------------------------------------------------------------- import jobs


def scope_for(role: Role, party: str | None, world: md.World) -> md.Scope:
    """What an account of ``role`` may load: Forbidden unless it may import at all; an
    integration account acting for a shop loads that shop's data only."""
    access.require(role, Action.IMPORT_DATA)
    if role is Role.INTEGRATION and party:
        return md.Scope(merchant=world.store(party))
    return md.MARKETPLACE


def submit_job(
    svc: Services,
    *,
    role: Role,
    account_id: str,
    party: str | None,
    filename: str,
    kind: str | None,
    sandbox: str | None,
    dry_run: bool,
    storage_key: str,
    bytes_total: int | None,
) -> dict[str, Any]:
    """Queue the import of a staged file; the job as :func:`job_view` shows it."""
    world = md.world_of(svc, sandbox or None)
    scope = scope_for(role, party, world)
    if kind is not None and kind not in FILE_KINDS:
        raise InvalidRequest(f"unknown kind {kind!r}; use one of {', '.join(FILE_KINDS)}")
    job: dict[str, Any] = {
        "id": new_id("imp"),
        "sandbox": world.sandbox,
        "filename": filename[:255],
        "kind": kind,
        "dry_run": dry_run,
        "status": "queued",
        "created_by": account_id,
        "merchant": scope.merchant,
        "created_at": svc.clock.now(),
        "started_at": None,
        "finished_at": None,
        "rows_read": 0,
        "bytes_read": 0,
        "bytes_total": bytes_total,
        "counts": {},
        "errors": [],
        "error_count": 0,
        "message": "",
        "storage_key": storage_key,
    }
    with svc.uow() as uow:
        uow.imports.add(job)
        uow.commit()
    return job_view(job)


def _visible(job: dict[str, Any] | None, role: Role, account_id: str) -> bool:
    """Operations see every job; an integration account the jobs it started."""
    return job is not None and (role is Role.OPERATIONS or job["created_by"] == account_id)


def get_job(svc: Services, job_id: str, *, role: Role, account_id: str) -> dict[str, Any]:
    """One job (NotFound when there is none, or it is not the caller's to see)."""
    access.require(role, Action.IMPORT_DATA)
    with svc.uow() as uow:
        job = uow.imports.get(job_id)
    if job is None or not _visible(job, role, account_id):
        raise NotFound("import", job_id)
    return job_view(job)


def list_jobs(
    svc: Services, *, role: Role, account_id: str, limit: int = 50
) -> list[dict[str, Any]]:
    """The newest jobs the caller may see, newest first."""
    access.require(role, Action.IMPORT_DATA)
    with svc.uow() as uow:
        jobs = uow.imports.list(limit=limit if role is Role.OPERATIONS else 500)
    return [job_view(j) for j in jobs if _visible(j, role, account_id)][:limit]


def job_view(job: dict[str, Any]) -> dict[str, Any]:
    """A job as callers see it (the staged file's key left out)."""
    counts: dict[str, dict[str, int]] = job.get("counts") or {}
    total = job.get("bytes_total")
    read = job.get("bytes_read") or 0
    if job["status"] == "done":
        fraction: float | None = 1.0
    elif total:
        fraction = min(1.0, read / total)
    else:
        fraction = None if job["status"] == "running" else 0.0
    return {
        "id": job["id"],
        "status": job["status"],
        "filename": job["filename"],
        "kind": job.get("kind"),
        "sandbox": job.get("sandbox", LIVE),
        "dry_run": bool(job["dry_run"]),
        "created_by": job["created_by"],
        "created_at": _iso(job.get("created_at")),
        "started_at": _iso(job.get("started_at")),
        "finished_at": _iso(job.get("finished_at")),
        "rows_read": job.get("rows_read") or 0,
        "bytes_read": read,
        "bytes_total": total,
        "progress": fraction,
        "counts": counts,
        "totals": {r: sum(c.get(r, 0) for c in counts.values()) for r in RESULTS},
        "error_count": job.get("error_count") or 0,
        "errors": list(job.get("errors") or []),
        "message": job.get("message") or "",
    }


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def claim_job(svc: Services) -> dict[str, Any] | None:
    """The oldest queued job, now running (None when none is queued)."""
    with svc.uow() as uow:
        job = uow.imports.claim_next(svc.clock.now())
        uow.commit()
    return job


def _save(svc: Services, job_id: str, report: ImportReport, **more: Any) -> None:
    with svc.uow() as uow:
        uow.imports.update(
            job_id,
            rows_read=report.rows_read,
            bytes_read=report.bytes_read,
            bytes_total=report.bytes_total,
            counts=report.counts,
            error_count=report.error_count,
            errors=[p.as_dict() for p in report.errors],
            **more,
        )
        uow.commit()


def summary(report: ImportReport) -> str:
    """One sentence: what the import did (or, for a dry run, would do)."""
    totals = report.totals
    done = ", ".join(f"{n:,} {r}" for r, n in totals.items() if n) or "no records"
    lead = "dry run, nothing kept: " if report.dry_run else ""
    problems = f"; {report.error_count:,} row problems" if report.error_count else ""
    return f"{lead}{report.rows_read:,} rows read; {done}{problems}"


class ImportInterrupted(Exception):
    """The worker is stopping: the job was put back in the queue after its last batch."""


def run_job(
    svc: Services,
    job: dict[str, Any],
    *,
    open_source: Callable[[], RowSource],
    on_error: Callable[[RowProblem], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ImportReport:
    """Run a claimed job to its end, saving its progress after every batch.

    The job ends ``done``, or ``failed`` with a message when its file is refused
    as a whole or the import stops on an unexpected error (which is raised
    again, after the job is marked, for the worker to log). A dry run's progress
    is saved at its end only: its one transaction is still open before that.
    When ``should_stop()`` turns true the job stops after the batch it is on and
    goes back to the queue (:class:`ImportInterrupted` is raised); run again, it
    starts over, and the rows loaded the first time are found unchanged.
    """
    job_id = job["id"]
    report = ImportReport(dry_run=bool(job["dry_run"]), sink=on_error)
    try:
        source = open_source()
    except InvalidRequest as exc:  # the reader refused the file as a whole
        report.refuse_file(job["filename"], str(exc))
    else:
        world = md.World.of(job.get("sandbox") or LIVE)
        scope = md.Scope(merchant=job.get("merchant"))

        def saved(rows: int, bytes_read: int, bytes_total: int | None) -> None:
            if should_stop is not None and should_stop():
                raise ImportInterrupted(job_id)
            if not report.dry_run:
                _save(svc, job_id, report)

        try:
            run_import(
                svc,
                [source],
                world=world,
                scope=scope,
                dry_run=report.dry_run,
                report=report,
                progress=saved,
            )
        except ImportInterrupted:
            with svc.uow() as uow:
                uow.imports.update(
                    job_id,
                    status="queued",
                    started_at=None,
                    rows_read=0,
                    bytes_read=0,
                    counts={},
                    errors=[],
                    error_count=0,
                    message="the worker stopped during this import; it will start over",
                )
                uow.commit()
            raise
        except Exception as exc:
            _save(
                svc,
                job_id,
                report,
                status="failed",
                finished_at=svc.clock.now(),
                storage_key=None,
                message=f"the import stopped after {report.rows_read:,} rows: {exc}"
                + ("" if report.dry_run else "; the batches before that were loaded"),
            )
            raise
    if report.refused_files:
        status, message = "failed", report.errors[0].message if report.errors else "refused"
    else:
        status, message = "done", " ".join([summary(report), *report.notices])
    _save(
        svc,
        job_id,
        report,
        status=status,
        finished_at=svc.clock.now(),
        storage_key=None,
        message=message,
    )
    return report
