"""Reconciliation: a marketplace's full export held against what is stored, and put right.

Events can be lost and pushes can fail; a periodic full export (every product,
every order …) says what should be stored. :func:`reconcile` compares it,
kind by kind, and reports per record:

* **missing**: in the file, not stored (an upsert would create it);
* **different**: stored, but not as the file has it (an upsert would update it);
* **extra**: stored and active in the world, but not in the file (the
  marketplace no longer has it; reconciling deactivates it, never deletes it);
* **stale**: the file's record is older than the stored one (its
  ``updated_at``/``version``), so it is left alone, as any upsert would;
* **refused**: the file's record is wrong; the problem names its field.

The comparison *is* the upsert of :mod:`aftersales.services.master_data`, run
kind by kind (brands before the products that name them, and so on) inside
one unit of work that is rolled back unless ``apply`` is given: a report says
exactly what ``apply`` would do, and a record that refers to one only the file
holds is compared as it would be loaded. With ``apply`` the same unit of work
commits, and the extra records are deactivated (``active: false``) in it;
except when a row of the file could not be read (it may be one of them), or
the file holds no record of the kind at all (an export cut short, more likely
than a catalogue that emptied): then extras are reported and left as they are.

Extras are looked for only among the kinds the file holds (or the ``kinds``
given): a file of products never deactivates a brand. In a sandbox, only the
sandbox's own records are compared for extras, never the live ones it reads
through to.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aftersales.errors import InvalidRequest
from aftersales.services import master_data
from aftersales.services import master_records as mr
from aftersales.services.base import Services
from aftersales.services.master_data import WRITE_ORDER, World

__all__ = [
    "FILE_KINDS",
    "FileProblem",
    "FileRecord",
    "KindReport",
    "ReconcileReport",
    "kind_named",
    "reconcile",
]

BATCH = 500
LIVE_WORLD = World()
# The names a file may give a kind: ``product`` or ``products`` (a file name, a ``kind``
# field); ``order_items`` is known so that it can be answered in words.
FILE_KINDS: frozenset[str] = frozenset(
    {*mr.KINDS, *mr.PLURALS.values(), "order_items", "order_item"}
)
# The flat layout of orders (one row per item, as ``aftersales import`` reads it):
# the item's own columns, renamed into the nested record's fields.
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


def kind_named(name: str) -> str:
    """``products`` → ``product`` (``order_items`` rows are orders); InvalidRequest for a
    kind reconciliation cannot read."""
    if name in mr.MODELS:
        return name
    for kind, plural in mr.PLURALS.items():
        if name == plural:
            return kind
    if name in ("order_items", "order_item"):
        return "order"
    raise InvalidRequest(f"unknown kind {name!r}; use one of {', '.join(mr.KINDS)}")


def _orders_from_item_rows(
    rows: Iterable[FileRecord | FileProblem],
) -> Iterator[FileRecord | FileProblem]:
    """Rows of the flat order layout, one per item, as one order record per run of rows with
    the same ``order_id`` (the file keeps an order's rows together); other rows as they are."""
    current: FileRecord | None = None
    for row in rows:
        if not isinstance(row, FileRecord) or row.kind not in ("order_items", "order_item"):
            if current is not None:
                yield current
                current = None
            yield row
            continue
        fields = dict(row.fields)
        item = {new: fields.pop(old) for old, new in _ITEM_COLUMNS.items() if old in fields}
        order_id = fields.pop("order_id", None)
        if current is not None and current.fields.get("id") == order_id:
            current.fields["items"].append(item)
            continue
        if current is not None:
            yield current
        current = FileRecord("order", {"id": order_id, **fields, "items": [item]}, row.line)
    if current is not None:
        yield current


@dataclass(frozen=True)
class FileRecord:
    """One record of the file, not yet checked: its kind as the file names it."""

    kind: str
    fields: dict[str, Any]
    line: int


@dataclass(frozen=True)
class FileProblem:
    """A row of the file that cannot be read, or a record that is refused."""

    line: int | None  # None: not a row of the file (a stored record)
    field: str | None
    message: str


@dataclass
class KindReport:
    kind: str
    in_file: int = 0
    same: int = 0
    missing: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    refused: list[FileProblem] = field(default_factory=list)
    extra_kept: str = ""  # why the extra records are not deactivated, if they are not

    @property
    def drift(self) -> int:
        return len(self.missing) + len(self.different) + len(self.extra)


@dataclass
class ReconcileReport:
    world: str
    applied: bool
    kinds: dict[str, KindReport] = field(default_factory=dict)
    problems: list[FileProblem] = field(default_factory=list)  # rows not read, or refused

    @property
    def drift(self) -> int:
        """Records that differ between the file and what is (or, applied, was) stored."""
        return sum(k.drift for k in self.kinds.values())

    @property
    def refused(self) -> int:
        return len(self.problems) + sum(len(k.refused) for k in self.kinds.values())


def reconcile(
    svc: Services,
    rows: Iterable[FileRecord | FileProblem],
    *,
    world: World = LIVE_WORLD,
    kinds: Collection[str] | None = None,
    apply: bool = False,
) -> ReconcileReport:
    """Compare the file's rows with what ``world`` stores; with ``apply``, make them agree.

    ``kinds`` are the kinds the file is a full export of (default: those it holds).
    """
    report = ReconcileReport(world.sandbox, apply)
    records: dict[str, list[FileRecord]] = {}
    seen: dict[str, dict[str, int]] = {}
    for row in _orders_from_item_rows(rows):
        if isinstance(row, FileProblem):
            report.problems.append(row)
            continue
        try:
            kind = kind_named(row.kind)
        except InvalidRequest as exc:
            report.problems.append(FileProblem(row.line, "kind", str(exc)))
            continue
        given = row.fields.get("id")
        first = seen.setdefault(kind, {}).get(str(given)) if given is not None else None
        if first is not None:
            report.problems.append(
                FileProblem(
                    row.line, "id", f"{kind} {given} is in the file twice (first on line {first})"
                )
            )
            continue
        if given is not None:
            seen[kind][str(given)] = row.line
        records.setdefault(kind, []).append(row)
    wanted = {kind_named(k) for k in kinds} if kinds else set(records)
    for kind in WRITE_ORDER:
        if kind in wanted:
            report.kinds[kind] = KindReport(kind, in_file=len(records.get(kind, [])))
    with svc.uow() as uow:
        for kind, kind_report in report.kinds.items():
            _compare(svc, world, kind_report, records.get(kind, []))
        for kind, kind_report in report.kinds.items():
            kind_report.extra_kept = _keep_extras(report, kind_report, set(seen.get(kind, {})))
            _extras(svc, world, kind_report, set(seen.get(kind, {})))
        if apply:
            uow.commit()
        # else: leaving the block rolls back what the comparison wrote
    return report


def _compare(svc: Services, world: World, report: KindReport, records: list[FileRecord]) -> None:
    for start in range(0, len(records), BATCH):
        batch = records[start : start + BATCH]
        outcomes = master_data.upsert(
            svc,
            report.kind,
            [r.fields for r in batch],
            world=world,
            lines=[r.line for r in batch],
        )
        for record, outcome in zip(batch, outcomes, strict=True):
            shown = outcome.id or f"line {record.line}"
            if outcome.result == "created":
                report.missing.append(shown)
            elif outcome.result == "updated":
                report.different.append(shown)
            elif outcome.result == "unchanged":
                report.same += 1
            elif outcome.result == "stale":
                report.stale.append(shown)
            else:
                report.refused.append(FileProblem(record.line, None, outcome.message))


def _keep_extras(report: ReconcileReport, kind: KindReport, in_file: set[str]) -> str:
    """Why the extra records of ``kind`` must not be deactivated ("" when they may be)."""
    if report.problems:
        return (
            f"not deactivated: {len(report.problems)} rows of the file could not be read, "
            "and they may hold some of them; fix those rows first"
        )
    if not in_file:
        return (
            f"not deactivated: the file holds no {mr.PLURALS[kind.kind]} at all, which looks "
            "like an incomplete export rather than a catalogue that emptied"
        )
    return ""


def _extras(svc: Services, world: World, report: KindReport, in_file: set[str]) -> None:
    """Find the world's active records the file does not hold, and deactivate them (kept
    only if the caller's unit of work commits)."""
    after: str | None = None
    extra: list[str] = []
    with svc.uow() as uow:
        while True:
            rows = uow.master.page(
                report.kind,
                sandboxes=(world.sandbox,),
                after=after,
                limit=BATCH,
                filters={"active": "true"},
            )
            for row in rows:
                shown = world.show(row["id"])
                if shown is not None and shown not in in_file and row.get("active", True):
                    extra.append(shown)
            if len(rows) < BATCH:
                break
            after = rows[-1]["id"]
    report.extra = extra
    if report.extra_kept:
        return
    for shown in extra:
        outcome = master_data.patch_record(svc, report.kind, shown, {"active": False}, world=world)
        if outcome.result == "refused":
            report.refused.append(
                FileProblem(
                    None, None, f"{report.kind} {shown} cannot be deactivated: {outcome.message}"
                )
            )
