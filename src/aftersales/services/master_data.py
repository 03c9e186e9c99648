"""Master data in: brands, shops, providers, products, buyers and orders, keyed by the
marketplace's own ids.

Every way data comes in (``PUT``/``PATCH`` on the API, an import file, an event)
ends in :func:`upsert`, which answers per record:

* ``created`` / ``updated``: written;
* ``unchanged``: the same fields as stored (a repeat is a no-op);
* ``stale``: the record's ``updated_at`` (or ``version``) is older than the one
  stored, so it is ignored and the answer says which is stored;
* ``refused``: something is wrong with it; ``errors`` say which field and how
  to fix it. Nothing of a refused record is written; the others still are.

**Worlds.** Records go to live data or to a sandbox (test mode). A sandbox's
records are stored under ids prefixed ``<sandbox>.``, so its catalogue can hold
the same ids as live data without touching it; a sandbox reads through to live
records it does not hold itself (its orders can sell live products), and live
data never sees a sandbox's. Answers show the ids as the marketplace sent them.

**Entitlements.** An order item keeps the brand, category, badges, services and
warranty months of its product as they were when the item was first stored
(``entitled_on`` = its purchase date); later product updates do not change
them (NW-1, OH-1), and an item can never change product.

**Scope.** A merchant's integration token may load its own orders, products
and providers (they are marked as the shop's), and buyers not yet known; a
marketplace-wide token loads everything.

The module is long (~1,200 lines, with the providers' capacity, closures and visit
windows and the shops' preferred providers checked in its builder) because upsert is one pipeline — check,
compare with what is stored, resolve references in the world, build rows,
write — and its bulk path (the per-field fast checks, the cheap digest) must
give exactly the answers of the careful one. Reading records back
(``as_record``, lists, patch) is the part that could move out, into a
``master_views`` module, when it next changes.
"""

from __future__ import annotations

import difflib
import functools
import gc
import hashlib
import itertools
import marshal
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from aftersales.domain.policy import PolicyBook
from aftersales.errors import Forbidden, InvalidRequest, NotFound
from aftersales.services import master_records as mr
from aftersales.services.base import Services
from aftersales.services.ports import UnitOfWork
from aftersales.services.records import LIVE
from aftersales.services.time import now_in

__all__ = [
    "Outcome",
    "Scope",
    "World",
    "get_record",
    "list_records",
    "patch_record",
    "upsert",
    "world_of",
]

LOCAL = ZoneInfo("Asia/Shanghai")  # where purchase dates fall when only an instant is given
MAX_BATCH = 5000
# The order in which a mixed batch is written: what a record refers to comes first.
WRITE_ORDER = ("brand", "merchant", "buyer", "provider", "product", "order")


@dataclass(frozen=True)
class World:
    """Live data, or a sandbox whose records are stored under ``<sandbox>.`` ids."""

    sandbox: str = LIVE
    prefix: str = ""

    @staticmethod
    def of(sandbox: str) -> World:
        return World(LIVE, "") if sandbox == LIVE else World(sandbox, f"{sandbox}.")

    @property
    def sandboxes(self) -> tuple[str, ...]:
        return (LIVE,) if self.sandbox == LIVE else (self.sandbox, LIVE)

    def store(self, external_id: str) -> str:
        return self.prefix + external_id

    def show(self, stored_id: str | None) -> str | None:
        if stored_id is None:
            return None
        if self.prefix and stored_id.startswith(self.prefix):
            return stored_id[len(self.prefix) :]
        return stored_id


@dataclass(frozen=True)
class Scope:
    """Who loads: the whole marketplace, or one shop (its id, as stored)."""

    merchant: str | None = None

    def owns(self, stored_id: str | None, world: World) -> bool:
        """Whether the shop is ``stored_id`` (its live id, or its id in the world)."""
        if self.merchant is None:
            return True
        return stored_id in (self.merchant, world.store(self.merchant))


MARKETPLACE = Scope()


@dataclass
class Outcome:
    kind: str
    id: str | None
    result: str  # created | updated | unchanged | stale | refused
    message: str = ""
    errors: list[dict[str, str]] = field(default_factory=list)
    line: int | None = None  # where it came from, for imports

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"kind": self.kind, "id": self.id, "result": self.result}
        if self.message:
            found["message"] = self.message
        if self.errors:
            found["errors"] = self.errors
        return found


class RecordRefused(InvalidRequest):
    """One record is wrong; ``problems`` are ``(field, message)`` pairs."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{f}: {m}" for f, m in self.problems))


def world_of(svc: Services, sandbox: str | None) -> World:
    """The world ``sandbox`` names (live when None); SandboxNotFound if there is no such sandbox."""
    if sandbox is None or sandbox == LIVE:
        return World.of(LIVE)
    with svc.uow() as uow:
        uow.sandboxes.get(sandbox)
    return World.of(sandbox)


# ---------------------------------------------------------------- upsert


class References:
    """The brands, shops and products one import has read, kept for its later batches.

    Each batch of orders refers to most of the catalogue again (a few thousand
    products), so reading those rows once per import rather than once per batch
    spares the database a probe per item and this process the decoding of their
    lists. Buyers are not kept (there are as many as orders). Rows the import
    itself writes are dropped here, so a file of products followed by a file of
    orders sees the products as written. A change someone else makes to a
    product while an import runs reaches the orders loaded by the next import
    (or an event), as it would had the import read that product a moment earlier.
    """

    KINDS = frozenset({"brand", "merchant", "product"})

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in self.KINDS}

    def stored(self, uow: UnitOfWork, kind: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The rows of ``ids`` that are stored: from what was read before, else read now."""
        kept = self._rows.get(kind)
        if kept is None:
            return uow.master.stored(kind, ids, columns=_REF_COLUMNS[kind])
        missing = [i for i in ids if i not in kept]
        if missing:
            kept.update(uow.master.stored(kind, missing, columns=_REF_COLUMNS[kind]))
        return {i: kept[i] for i in ids if i in kept}

    def forget(self, kind: str, ids: Iterable[str]) -> None:
        kept = self._rows.get(kind)
        if kept:
            for i in ids:
                kept.pop(i, None)


@dataclass
class _Pending:
    index: int
    record: Any  # a pydantic model of master_records
    stored_id: str
    outcome: Outcome


def upsert(
    svc: Services,
    kind: str,
    records: Sequence[Mapping[str, Any]],
    *,
    world: World = World(),
    scope: Scope = MARKETPLACE,
    dry_run: bool = False,
    lines: Sequence[int | None] | None = None,
    references: References | None = None,
) -> list[Outcome]:
    """Create or replace records of one ``kind``; one outcome per record, in order.

    In one unit of work (the caller's, if one is open); with ``dry_run`` nothing
    is written and the outcomes say what would happen. ``references``: what an
    import has read of the catalogue already (see :class:`References`).
    """
    if kind not in mr.MODELS:
        raise InvalidRequest(f"unknown kind {kind!r}; use one of {', '.join(mr.KINDS)}")
    if len(records) > MAX_BATCH:
        raise InvalidRequest(
            f"{len(records)} records in one call; send at most {MAX_BATCH} (or use an import)"
        )
    _check_scope_of_kind(kind, scope)
    with _collector_paused():
        outcomes, pending = _checked(kind, records, world, lines)
        if pending:
            _apply(svc, kind, pending, world=world, scope=scope, dry_run=dry_run, refs=references)
        del pending  # gone before the collector runs again (see _collector_paused)
    return outcomes


def _checked(
    kind: str,
    records: Sequence[Mapping[str, Any]],
    world: World,
    lines: Sequence[int | None] | None,
) -> tuple[list[Outcome], list[_Pending]]:
    """An outcome per record (refused until known better) and the records that passed."""
    outcomes: list[Outcome] = []
    pending: list[_Pending] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(records):
        line = lines[index] if lines else None
        given_id = raw.get("id") if isinstance(raw, Mapping) else None
        outcome = Outcome(
            kind, str(given_id) if given_id is not None else None, "refused", line=line
        )
        outcomes.append(outcome)
        if not isinstance(raw, Mapping):
            _refuse(outcome, [("record", "must be a JSON object")])
            continue
        try:
            record = mr.check_record(kind, raw)
        except ValidationError as exc:
            _refuse(outcome, mr.describe_errors(exc))
            continue
        if record.id in seen:
            _refuse(
                outcome,
                [
                    (
                        "id",
                        f"{record.id} appears twice in this batch (first as record {seen[record.id] + 1})",
                    )
                ],
            )
            continue
        seen[record.id] = index
        stored_id = world.store(record.id)
        if len(stored_id) > 64:
            _refuse(
                outcome,
                [
                    (
                        "id",
                        f"with the sandbox's prefix the id is longer than 64 characters: {stored_id}",
                    )
                ],
            )
            continue
        pending.append(_Pending(index, record, stored_id, outcome))
    return outcomes, pending


def _apply(
    svc: Services,
    kind: str,
    pending: list[_Pending],
    *,
    world: World,
    scope: Scope,
    dry_run: bool,
    refs: References | None = None,
) -> None:
    """Compare the checked records with what is stored, build their rows and write them."""
    with svc.uow() as uow:
        stored = uow.master.stored(kind, [p.stored_id for p in pending])
        today = _today(svc, uow, world)
        builder = _Builder(svc, uow, world, scope, kind, today, refs)
        builder.prefetch([p.record for p in pending], stored)
        created: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        for p in pending:
            previous = stored.get(p.stored_id)
            if previous is not None:
                stale = _stale(p.record, previous)
                if stale:
                    p.outcome.result, p.outcome.message = "stale", stale
                    continue
            try:
                if previous is not None:
                    _check_owner(kind, scope, previous, p.record.id, world)
                row = builder.row(p.record, p.stored_id, previous)
            except RecordRefused as exc:
                _refuse(p.outcome, exc.problems)
                continue
            row["digest"] = _digest(kind, row)
            if previous is None:
                p.outcome.result = "created"
                created.append(row)
            elif previous.get("digest") == row["digest"]:
                p.outcome.result = "unchanged"
            else:
                p.outcome.result = "updated"
                updated.append(row)
        if refs is not None and (created or updated):
            refs.forget(kind, [row["id"] for row in (*created, *updated)])
        if (created or updated) and not dry_run:
            # New records can be added without looking for stored ones; so can a new
            # order's items (an item of another order refuses the order).
            uow.master.write(kind, created, new=True)
            uow.master.write(kind, updated)
            uow.commit()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch is checked and written.

    A batch makes tens of thousands of short-lived objects (records, rows) that live
    until it is written, so the collector would move them to its oldest generation
    and then walk every object of the process, again and again: a third of a bulk
    import's time. Paused, it runs once the batch's objects are freed, when there
    is little left to walk. (Refcounting frees what it always frees; whatever another
    thread leaves in cycles meanwhile waits for that run.) A collector someone else
    turned off stays off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _refuse(outcome: Outcome, problems: Iterable[tuple[str, str]]) -> None:
    outcome.result = "refused"
    outcome.errors = [{"field": f, "message": m} for f, m in problems]
    outcome.message = "; ".join(f"{e['field']}: {e['message']}" for e in outcome.errors)


def _today(svc: Services, uow: UnitOfWork, world: World) -> date:
    return now_in(uow, world.sandbox, svc.clock).astimezone(LOCAL).date()


def _stale(record: Any, previous: Mapping[str, Any] | None) -> str:
    """Why ``record`` is older than what is stored, or "" if it is not."""
    if previous is None:
        return ""
    if record.version is not None and previous.get("source_version") is not None:
        if record.version < previous["source_version"]:
            return (
                f"ignored: version {previous['source_version']} is stored and this is "
                f"version {record.version}"
            )
        return ""
    stored_at = previous.get("source_updated_at")
    if record.updated_at is not None and stored_at is not None and record.updated_at < stored_at:
        return (
            f"ignored: the update of {stored_at.isoformat()} is stored and this one is of "
            f"{record.updated_at.isoformat()}"
        )
    return ""


_NOT_DIGESTED = frozenset({"digest", "source_updated_at", "source_version"})
_DAYS_AND_INSTANTS = frozenset({date, datetime})
# The ISO text of a day (never of an instant: equal instants in two zones have two texts).
# An order's items name a few days each and a batch a few hundred in all.
_day_text = functools.lru_cache(maxsize=4096)(date.isoformat)


def _digest(kind: str, row: Mapping[str, Any]) -> str:
    """A hash of what the row says (its source time and version left out).

    What is hashed is the row's values in the order the row is built (a row of a
    kind always has the same keys in the same order), a list of rows (an order's
    items) as lists of their values, days and instants as ISO text, serialised
    by ``marshal`` in its version 2 format (plain values only, no references
    between them, so equal rows give equal bytes in any process).
    """
    values: list[Any] = [kind]
    for key, value in row.items():
        if key in _NOT_DIGESTED:
            continue
        of = type(value)
        if of in _DAYS_AND_INSTANTS:
            value = value.isoformat()
        elif of is list and value and type(value[0]) is dict:
            value = [
                [
                    (_day_text(v) if type(v) is date else v.isoformat())
                    if type(v) in _DAYS_AND_INSTANTS
                    else v
                    for v in member.values()
                ]
                for member in value
            ]
        values.append(value)
    try:
        data = marshal.dumps(values, 2)
    except ValueError:  # a value of a type marshal does not take: its text, then
        data = repr(values).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def _check_scope_of_kind(kind: str, scope: Scope) -> None:
    if scope.merchant is not None and kind in ("brand", "merchant"):
        raise Forbidden(
            f"a shop's integration token cannot load {mr.PLURALS[kind]}; "
            "ask the marketplace to load them with its own token"
        )


def _check_owner(
    kind: str, scope: Scope, previous: Mapping[str, Any] | None, shown: str, world: World
) -> None:
    if scope.merchant is None or previous is None:
        return
    owner = {"product": "owner", "provider": "owner", "order": "merchant_id"}.get(kind)
    if kind == "buyer":
        raise RecordRefused(
            [("id", f"buyer {shown} is already known; a shop may only add new buyers")]
        )
    if owner is not None and not scope.owns(previous.get(owner), world):
        raise RecordRefused(
            [("id", f"{kind} {shown} belongs to another shop or to the marketplace")]
        )


# ---------------------------------------------------------------- building rows

_NO_ROWS: Mapping[str, dict[str, Any]] = {}


# What a record needs of the rows it refers to: their world and what an order item copies
# from its product (the whole row, and its lists, are not needed).
_REF_COLUMNS: dict[str, tuple[str, ...]] = {
    "brand": ("sandbox",),
    "buyer": ("sandbox",),
    "merchant": ("sandbox",),
    "product": (
        "sandbox",
        "brand_id",
        "category_id",
        "badges",
        "service_tags",
        "warranty_months",
    ),
    "order_item": ("order_id",),
}


class _Builder:
    """Turns checked records into rows, resolving what they refer to in the world."""

    def __init__(
        self,
        svc: Services,
        uow: UnitOfWork,
        world: World,
        scope: Scope,
        kind: str,
        today: date,
        refs: References | None = None,
    ) -> None:
        self.svc, self.uow, self.world, self.scope, self.kind = svc, uow, world, scope, kind
        self.refs = refs
        self.book: PolicyBook = svc.book
        self.today = today
        self.known: dict[str, dict[str, dict[str, Any]]] = {}  # kind -> stored id -> row
        self.addresses: dict[str, Any] = {}
        self._sandboxes = world.sandboxes
        self._prefix = world.prefix  # world.store(i) is self._prefix + i
        # The function, not a bound method: that would tie the builder (and every row
        # it has read) into a cycle only the garbage collector can free.
        self._build = getattr(type(self), f"_{kind}")
        self._snapshots: dict[str, tuple[Any, ...]] = {}

    # -- references

    def prefetch(self, records: Sequence[Any], stored: Mapping[str, dict[str, Any]]) -> None:
        wanted: dict[str, set[str]] = {}
        prefix = self.world.prefix

        def want(kind: str, external: str | None) -> None:
            if external is not None:
                ids = wanted.setdefault(kind, set())
                ids.add(external)
                if prefix:
                    ids.add(prefix + external)

        for r in records:
            if self.kind == "provider" or self.kind == "product":
                want("brand", r.brand_id)
            elif self.kind == "order":
                want("buyer", r.buyer_id)
                want("merchant", r.merchant_id)
                for item in r.items:
                    want("product", item.product_id)
            if self.kind == "order":
                wanted.setdefault("order_item", set()).update(
                    self.world.store(item.id) for item in r.items
                )
        for kind, ids in wanted.items():
            if self.refs is not None:
                self.known[kind] = self.refs.stored(self.uow, kind, sorted(ids))
            else:
                self.known[kind] = self.uow.master.stored(
                    kind, sorted(ids), columns=_REF_COLUMNS[kind]
                )
        if self.kind == "order":
            self._resolve_addresses(records, stored)

    def ref(self, kind: str, external: str, field_name: str) -> dict[str, Any]:
        """The row ``external`` names in the world (the sandbox's own first), or refuse."""
        rows = self.known.get(kind, _NO_ROWS)
        row = rows.get(self._prefix + external)  # the world's own (live data: the same id)
        if row is not None and row.get("sandbox") in self._sandboxes:
            return row
        if self._prefix:
            row = rows.get(external)
            if row is not None and row.get("sandbox") in self._sandboxes:
                return row
        raise RecordRefused(
            [(field_name, f"no {kind} with id {external!r} is loaded; load it first")]
        )

    # -- rows

    def row(
        self, record: Any, stored_id: str, previous: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        base = {
            "id": stored_id,
            "sandbox": self.world.sandbox,
            "active": record.active,
            "source_updated_at": record.updated_at,
            "source_version": record.version,
        }
        row: dict[str, Any] = self._build(self, record, base, previous)
        return row

    def _brand(self, r: mr.BrandIn, base: dict[str, Any], _: Any) -> dict[str, Any]:
        return {
            **base,
            "name": r.name,
            "hotline": r.hotline,
            "warranty_terms_zh": r.warranty_terms.zh,
            "warranty_terms_en": r.warranty_terms.en,
            "exclusions": [{"zh": e.zh, "en": e.en} for e in r.exclusions],
            "centres": [c.model_dump() for c in r.service_centres],
        }

    def _merchant(self, r: mr.MerchantIn, base: dict[str, Any], _: Any) -> dict[str, Any]:
        preferred = list(dict.fromkeys(r.preferred_providers))  # in order, each once
        return {**base, "name": r.name, "preferred_providers": preferred}

    def _buyer(self, r: mr.BuyerIn, base: dict[str, Any], _: Any) -> dict[str, Any]:
        return {**base, "name": r.name, "phone": r.phone}

    def _provider(self, r: mr.ProviderIn, base: dict[str, Any], previous: Any) -> dict[str, Any]:
        problems: list[tuple[str, str]] = []
        brand_id = None
        if r.brand_id is not None:
            try:
                brand_id = self.ref("brand", r.brand_id, "brand_id")["id"]
            except RecordRefused as exc:
                problems += exc.problems
        if r.calendar not in self.book.calendars:
            problems.append(
                (
                    "calendar",
                    f"unknown calendar {r.calendar!r}; known: {', '.join(sorted(self.book.calendars))}",
                )
            )
        coverage: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        places = self._places()
        for i, c in enumerate(r.coverage):
            where = f"coverage.{i}"
            try:
                name, level = places.area(c.area_code)
            except InvalidRequest as exc:
                problems.append((f"{where}.area_code", str(exc)))
                continue
            category = self._category(c.category, f"{where}.category", problems)
            tag = self._tag(c.service_tag, f"{where}.service_tag", problems, badges=False)
            if category is None or tag is None:
                continue
            if c.area_name and c.area_name != name:
                problems.append(
                    (f"{where}.area_name", f"area {c.area_code} is {name}, not {c.area_name}")
                )
                continue
            coverage[(c.area_code, category, tag, c.fulfil)] = {
                "area_code": c.area_code,
                "area_name": name,
                "area_level": level,
                "category_id": category,
                "service_tag": tag,
                "fulfil": c.fulfil,
            }
        if r.base_area is not None:
            try:
                places.area(r.base_area)
            except InvalidRequest as exc:
                problems.append(("base_area", str(exc)))
        windows = _windows(r.appointment_windows, problems)
        area_capacity: dict[str, dict[str, Any]] = {}
        for i, a in enumerate(r.area_capacity):
            where = f"area_capacity.{i}.area_code"
            try:
                places.area(a.area_code)
            except InvalidRequest as exc:
                problems.append((where, str(exc)))
                continue
            if a.area_code in area_capacity:
                problems.append((where, f"area {a.area_code} is given twice: give it once"))
                continue
            area_capacity[a.area_code] = {"area_code": a.area_code, "per_day": a.per_day}
        closures = sorted(r.closures, key=lambda c: c.first_day)
        for before, after in itertools.pairwise(closures):
            if after.first_day <= before.last_day:
                problems.append(
                    (
                        "closures",
                        f"the closure from {after.first_day} overlaps the one from "
                        f"{before.first_day} to {before.last_day}: join them into one range",
                    )
                )
                break
        if problems:
            raise RecordRefused(problems)
        return {
            **base,
            "daily_capacity": r.daily_capacity,
            "area_capacity": [area_capacity[k] for k in sorted(area_capacity)],
            "closures": [
                {"first_day": c.first_day, "last_day": c.last_day, "reason": c.reason}
                for c in closures
            ],
            "name": r.name,
            "kind": r.type,
            "brand_id": brand_id,
            "calendar": r.calendar,
            "phone": r.phone,
            "contact": r.contact,
            "base_area": r.base_area,
            "owner": self._owner(previous, "owner"),
            "coverage": [coverage[k] for k in sorted(coverage)],
            "appointment_windows": windows,
        }

    def _product(self, r: mr.ProductIn, base: dict[str, Any], previous: Any) -> dict[str, Any]:
        problems: list[tuple[str, str]] = []
        brand_id = None
        try:
            brand_id = self.ref("brand", r.brand_id, "brand_id")["id"]
        except RecordRefused as exc:
            problems += exc.problems
        category = self._category(r.category, "category", problems)
        badges = [b for b in (self._tag(t, "badges", problems, badges=True) for t in r.badges) if b]
        tags = [
            t
            for t in (self._tag(t, "service_tags", problems, badges=False) for t in r.service_tags)
            if t
        ]
        if problems:
            raise RecordRefused(problems)
        return {
            **base,
            "name": r.name,
            "brand_id": brand_id,
            "category_id": category,
            "category_path": r.category if "/" in r.category or ">" in r.category else "",
            "badges": sorted(set(badges)),
            "service_tags": sorted(set(tags)),
            "warranty_months": r.warranty_months,
            "owner": self._owner(previous, "owner"),
        }

    def _order(self, r: mr.OrderIn, base: dict[str, Any], previous: Any) -> dict[str, Any]:
        problems: list[tuple[str, str]] = []
        buyer = merchant = None
        try:
            buyer = self.ref("buyer", r.buyer_id, "buyer_id")["id"]
        except RecordRefused as exc:
            problems += exc.problems
        try:
            merchant = self.ref("merchant", r.merchant_id, "merchant_id")["id"]
        except RecordRefused as exc:
            problems += exc.problems
        if (
            self.scope.merchant is not None
            and merchant is not None
            and merchant != self.scope.merchant
        ):
            problems.append(("merchant_id", "a shop's token may only load the shop's own orders"))
        stored_items = {i["id"]: i for i in previous.get("items", [])} if previous else {}
        elsewhere_items = self.known.get("order_item", {})
        items: list[dict[str, Any]] = []
        placed_day = (r.paid_at or r.placed_at).astimezone(LOCAL).date()
        prefix, snapshots = self._prefix, self._snapshots
        products = self.known.get("product", _NO_ROWS)
        for n, item in enumerate(r.items):
            item_id = prefix + item.id
            purchased = item.purchased_on or placed_day
            if purchased > self.today:
                problems.append(
                    (
                        f"items.{n}.purchased_on",
                        f"{purchased.isoformat()} is in the future (today is {self.today.isoformat()})",
                    )
                )
            product = products.get(prefix + item.product_id)  # the world's own: ref()'s first try
            if product is None or product.get("sandbox") not in self._sandboxes:
                try:
                    product = self.ref("product", item.product_id, f"items.{n}.product_id")
                except RecordRefused as exc:
                    problems += exc.problems
                    continue
            before = stored_items.get(item_id)
            if before is None:
                elsewhere = elsewhere_items.get(item_id)
                if elsewhere is not None and elsewhere["order_id"] != base["id"]:
                    problems.append(
                        (f"items.{n}.id", f"order item {item.id} belongs to another order")
                    )
                    continue
            elif before["product_id"] != product["id"]:
                problems.append(
                    (
                        f"items.{n}.product_id",
                        f"order item {item.id} was sold as {self.world.show(before['product_id'])}; "
                        "an item cannot change product (send a new item instead)",
                    )
                )
                continue
            text = item.address if item.address is not None else r.address
            if not text:
                problems.append(
                    (
                        f"items.{n}.address",
                        "the service address is empty; give the order's or the item's address",
                    )
                )
                continue
            place = self.addresses.get(text)
            if place is None:
                problems.append(
                    (
                        f"items.{n}.address",
                        f"cannot find the city in the address “{text[:60]}”: give province, city and "
                        "district, e.g. 浙江省杭州市西湖区文三路 90 号",
                    )
                )
                continue
            if before is not None and before.get("entitled_on") is not None:
                brand_id, category_id, badges, tags, months = (
                    before["brand_id"],
                    before["category_id"],
                    before["badges"],
                    before["service_tags"],
                    before["warranty_months"],
                )
                entitled_on = before["entitled_on"]
            else:
                found = snapshots.get(product["id"])
                if found is None:
                    found = self._entitlements(product)
                brand_id, category_id, badges, tags, months = found
                entitled_on = purchased
            status: str
            status_at: datetime | None
            if before is None:  # nothing stored to keep (see _status)
                status, status_at = item.status, r.updated_at
            else:
                status, status_at = _status(item.status, r.updated_at, before)
            items.append(
                {
                    "id": item_id,
                    "order_id": base["id"],
                    "product_id": product["id"],
                    "paid_price_fen": item.paid_price_fen,
                    "purchased_on": purchased,
                    "delivered_on": item.delivered_on,
                    "address_text": text,
                    "province": place.province,
                    "city": place.city,
                    "district": place.district,
                    "area_code": place.area_code,
                    "status": status,
                    "status_at": status_at,
                    "contact_phone": item.contact_phone
                    if item.contact_phone is not None
                    else r.contact_phone,
                    "brand_id": brand_id,
                    "category_id": category_id,
                    "badges": badges,
                    "service_tags": tags,
                    "warranty_months": months,
                    "entitled_on": entitled_on,
                }
            )
        if problems:
            raise RecordRefused(problems)
        return {
            **base,
            "buyer_account": buyer,
            "merchant_id": merchant,
            "placed_at": r.placed_at,
            "paid_at": r.paid_at,
            "contact_phone": r.contact_phone,
            "items": items,
        }

    def _entitlements(self, product: Mapping[str, Any]) -> tuple[Any, ...]:
        """What an item of ``product`` is sold with (NW-1, OH-1); one tuple per product and
        batch, so the items of a batch share their lists (nobody changes a row's lists)."""
        found = self._snapshots.get(product["id"])
        if found is None:
            found = self._snapshots[product["id"]] = (
                product["brand_id"],
                product["category_id"],
                list(product["badges"] or []),
                list(product["service_tags"] or []),
                product["warranty_months"],
            )
        return found

    # -- helpers

    def _owner(self, previous: Mapping[str, Any] | None, column: str) -> str | None:
        if previous is not None and previous.get(column) is not None:
            return str(previous[column])
        return self.scope.merchant

    def _places(self) -> Any:
        if self.svc.places is None:
            raise InvalidRequest("this process was built without an address resolver")
        return self.svc.places

    def _resolve_addresses(self, records: Sequence[Any], stored: Mapping[str, Any]) -> None:
        texts: set[str] = set()
        for r in records:
            for item in r.items:
                text = item.address if item.address is not None else r.address
                if text:
                    texts.add(text)
        # In no particular order: each answer is kept under its text (sorting a batch's
        # texts, which share their first characters, cost more than resolving cached ones).
        unknown = list(texts.difference(self.addresses))
        if unknown:
            for text, place in zip(unknown, self._places().resolve_many(unknown), strict=True):
                self.addresses[text] = place

    def _category(self, given: str, where: str, problems: list[tuple[str, str]]) -> str | None:
        found = category_of(self.book, given)
        if found is None:
            problems.append((where, unknown_category_message(self.book, given)))
        return found

    def _tag(
        self, given: str, where: str, problems: list[tuple[str, str]], *, badges: bool
    ) -> str | None:
        catalog = self.book.catalog
        known = {t.id: t for t in (catalog.badges if badges else catalog.service_tags)}
        if given in known:
            return given
        for t in known.values():
            if given in (t.name.zh, t.name.en):
                return t.id
        what = "badge" if badges else "service tag"
        nearest = difflib.get_close_matches(
            given, [*known, *(t.name.zh for t in known.values())], n=3
        )
        hint = f"; did you mean {', '.join(nearest)}?" if nearest else ""
        problems.append(
            (where, f"unknown {what} {given!r}{hint} Known: {', '.join(sorted(known))}")
        )
        return None


def _status(
    given: str, at: datetime | None, before: Mapping[str, Any] | None
) -> tuple[str, datetime | None]:
    """The item's status and its time: the one given, unless a later one (from an event)
    is stored."""
    if before is not None:
        stored_at = before.get("status_at")
        if stored_at is not None and (at is None or at < stored_at):
            return before["status"], stored_at
    return given, at


def category_of(book: PolicyBook, given: str) -> str | None:
    """The catalogue category a record names: by id, by name, or by the deepest known
    segment of a category path (``家居/灯饰照明/吸顶灯``)."""
    categories = book.catalog.categories
    by_id = {c.id: c.id for c in categories}
    by_name = {n: c.id for c in categories for n in (c.name.zh, c.name.en)}
    if given in by_id:
        return given
    for separator in ("/", ">", "›", "|"):
        if separator in given:
            for segment in reversed([s.strip() for s in given.split(separator)]):
                found = by_id.get(segment) or by_name.get(segment)
                if found:
                    return found
            return None
    return by_name.get(given)


def unknown_category_message(book: PolicyBook, given: str) -> str:
    categories = book.catalog.categories
    names = [c.id for c in categories] + [c.name.zh for c in categories]
    last = given.replace(">", "/").split("/")[-1].strip()
    nearest = difflib.get_close_matches(last, names, n=3, cutoff=0.4)
    if not nearest:
        nearest = [c.id for c in categories if c.parent is None][:3]
    return (
        f"unknown category {given!r}; the nearest known are: {', '.join(nearest)} "
        "(give a category id or name of the catalogue, or a path whose last known segment is one)"
    )


# ---------------------------------------------------------------- reading back


def as_record(kind: str, row: Mapping[str, Any], world: World) -> dict[str, Any]:
    """A stored row as the record the marketplace sent (its own ids)."""
    show = world.show
    common = {
        "id": show(row["id"]),
        "active": bool(row.get("active", True)),
        "updated_at": _iso(row.get("source_updated_at")),
        "version": row.get("source_version"),
    }
    if row.get("sandbox", LIVE) != LIVE:
        common["sandbox"] = row["sandbox"]
    if kind == "brand":
        return {
            **common,
            "name": row["name"],
            "hotline": row["hotline"],
            "warranty_terms": {"zh": row["warranty_terms_zh"], "en": row["warranty_terms_en"]},
            "exclusions": row.get("exclusions") or [],
            "service_centres": row.get("centres", []),
        }
    if kind == "merchant":
        return {
            **common,
            "name": row["name"],
            "preferred_providers": list(row.get("preferred_providers") or []),
        }
    if kind == "buyer":
        return {**common, "name": row["name"], "phone": row["phone"]}
    if kind == "provider":
        return {
            **common,
            "name": row["name"],
            "type": row["kind"],
            "brand_id": show(row.get("brand_id")),
            "calendar": row["calendar"],
            "phone": row["phone"],
            "contact": row.get("contact", ""),
            "base_area": row.get("base_area"),
            "owner": show(row.get("owner")),
            "appointment_windows": list(row.get("appointment_windows") or []),
            "coverage": [
                {
                    "area_code": c["area_code"],
                    "area_name": c["area_name"],
                    "area_level": c["area_level"],
                    "category": c["category_id"],
                    "service_tag": c["service_tag"],
                    "fulfil": c["fulfil"],
                }
                for c in row.get("coverage", [])
            ],
            "daily_capacity": row.get("daily_capacity"),
            "area_capacity": [dict(a) for a in row.get("area_capacity", [])],
            "closures": [
                {
                    "first_day": _day(c["first_day"]),
                    "last_day": _day(c["last_day"]),
                    "reason": c["reason"],
                }
                for c in row.get("closures", [])
            ],
        }
    if kind == "product":
        return {
            **common,
            "name": row["name"],
            "brand_id": show(row["brand_id"]),
            "category": row["category_id"],
            "category_path": row.get("category_path", ""),
            "badges": list(row.get("badges") or []),
            "service_tags": list(row.get("service_tags") or []),
            "warranty_months": row.get("warranty_months"),
            "owner": show(row.get("owner")),
        }
    if kind == "order":
        return {
            **common,
            "buyer_id": show(row["buyer_account"]),
            "merchant_id": show(row["merchant_id"]),
            "placed_at": _iso(row["placed_at"]),
            "paid_at": _iso(row.get("paid_at")),
            "contact_phone": row.get("contact_phone", ""),
            "items": [item_record(i, world) for i in row.get("items", [])],
        }
    raise InvalidRequest(f"unknown kind {kind!r}")


def item_record(i: Mapping[str, Any], world: World) -> dict[str, Any]:
    return {
        "id": world.show(i["id"]),
        "product_id": world.show(i["product_id"]),
        "paid_price_fen": i["paid_price_fen"],
        "purchased_on": _iso(i["purchased_on"]),
        "delivered_on": _iso(i.get("delivered_on")),
        "address": i.get("address_text", ""),
        "area": {
            "province": i.get("province"),
            "city": i.get("city"),
            "district": i.get("district"),
            "code": i.get("area_code"),
        },
        "contact_phone": i.get("contact_phone", ""),
        "status": i.get("status", "paid"),
        "entitlements": {
            "brand_id": world.show(i.get("brand_id")),
            "category": i.get("category_id"),
            "badges": list(i.get("badges") or []),
            "service_tags": list(i.get("service_tags") or []),
            "warranty_months": i.get("warranty_months"),
            "as_of": _iso(i.get("entitled_on")),
        },
    }


def _iso(value: Any) -> Any:
    """Dates as ISO text; instants in the marketplace's time (+08:00), as records are sent."""
    if isinstance(value, datetime):
        return value.astimezone(LOCAL).isoformat()
    return value.isoformat() if isinstance(value, date) else value


def get_record(svc: Services, kind: str, external_id: str, *, world: World) -> dict[str, Any]:
    """One record as stored (the world's own, else live), or NotFound."""
    row = _get_row(svc, kind, external_id, world)
    return as_record(kind, row, world)


def _get_row(svc: Services, kind: str, external_id: str, world: World) -> dict[str, Any]:
    candidates = [world.store(external_id)] + ([external_id] if world.prefix else [])
    with svc.uow() as uow:
        rows = uow.master.stored(kind, candidates)
    for candidate in candidates:
        row = rows.get(candidate)
        if row is not None and row.get("sandbox", LIVE) in world.sandboxes:
            return row
    raise NotFound(kind, external_id)


def owner_of(kind: str, row: Mapping[str, Any]) -> str | None:
    column = {"product": "owner", "provider": "owner", "order": "merchant_id"}.get(kind)
    return None if column is None else row.get(column)


def list_records(
    svc: Services,
    kind: str,
    *,
    world: World,
    after: str | None = None,
    limit: int = 100,
    filters: Mapping[str, str] | None = None,
    scope: Scope = MARKETPLACE,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of records in id order and the cursor of the next page (None at the end)."""
    if kind not in mr.MODELS:
        raise InvalidRequest(f"unknown kind {kind!r}")
    limit = max(1, min(limit, 500))
    wanted = dict(filters or {})
    if scope.merchant is not None:
        column = {"product": "owner", "provider": "owner", "order": "merchant_id"}.get(kind)
        if column is None and kind != "buyer":
            wanted = {**wanted}
        elif column is not None:
            wanted[column] = scope.merchant
    for key in ("brand_id", "merchant_id", "buyer_account", "owner"):
        if key in wanted and key != "owner":
            wanted[key] = _stored_ref(svc, wanted[key], world)
    with svc.uow() as uow:
        rows = uow.master.page(
            kind,
            sandboxes=world.sandboxes if world.sandbox == LIVE else (world.sandbox,),
            after=world.store(after) if after else None,
            limit=limit + 1,
            filters=wanted,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = world.show(rows[-1]["id"]) if more and rows else None
    return [as_record(kind, r, world) for r in rows], cursor


def _stored_ref(svc: Services, external: str, world: World) -> str:
    return world.store(external) if world.prefix else external


def patch_record(
    svc: Services,
    kind: str,
    external_id: str,
    changes: Mapping[str, Any],
    *,
    world: World,
    scope: Scope = MARKETPLACE,
) -> Outcome:
    """Change some fields of a stored record (lists are replaced whole); NotFound if none."""
    if "id" in changes and changes["id"] != external_id:
        raise InvalidRequest("the id in the body differs from the one in the path")
    row = _get_row(svc, kind, external_id, world)
    if row.get("sandbox", LIVE) != world.sandbox:
        raise NotFound(kind, external_id)
    current = as_record(kind, row, world)
    merged = {**_as_input(kind, current), **dict(changes)}
    return upsert(svc, kind, [merged], world=world, scope=scope)[0]


def _windows(given: Sequence[mr.WindowIn], problems: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """SS-2 visit windows as stored. Bookings are counted per window instance (its day,
    start and end), so two windows may not share a weekday, start and end."""
    seen: dict[tuple[int, str, str], int] = {}
    for i, w in enumerate(given):
        for day in w.weekdays:
            first = seen.setdefault((day, w.start, w.end), i)
            if first != i:
                problems.append(
                    (
                        f"appointment_windows.{i}",
                        f"weekday {day} {w.start}-{w.end} is also window {first}; give one "
                        "window with the sum of their capacities",
                    )
                )
    return [
        {
            "weekdays": sorted(w.weekdays),
            "start": w.start,
            "end": w.end,
            "capacity": w.capacity,
            "area_code": w.area_code,
        }
        for w in given
    ]


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _as_input(kind: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """A record read back, with only the fields its kind's model takes."""
    fields = set(mr.MODELS[kind].model_fields)
    out = {k: v for k, v in record.items() if k in fields and v is not None}
    if kind == "order":
        item_fields = set(mr.ItemIn.model_fields)
        out["items"] = [
            {k: v for k, v in item.items() if k in item_fields and v is not None}
            for item in record.get("items", [])
        ]
    if kind == "provider":
        out["coverage"] = [
            {k: v for k, v in c.items() if k != "area_level"} for c in record.get("coverage", [])
        ]
    out.pop("updated_at", None)
    out.pop("version", None)
    return out
