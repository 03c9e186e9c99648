"""Marketplace events in: orders paid, shipped, signed for, refunded or closed; products changed.

An event is a small JSON object (``docs/events.md`` shows each type)::

    {"id": "evt-1", "type": "order.shipped", "occurred_at": "2026-11-25T16:20:04+08:00",
     "data": {"order_id": "o-1", "items": ["o-1-1"], "shipped_at": "…"}}

:func:`receive` takes one, and answers an :class:`EventOutcome`:

* ``applied``: something changed (items moved, a delivery date kept, an order
  created or updated, a product change noted);
* ``stale``: nothing changed, because what is stored is newer (or final);
* ``unknown``: the order, item or product is not loaded in the event's world;
  nothing changed. Send the record first, then the same event again;
* ``refused``: the event is malformed (``errors`` say which field and why),
  or the order it carries is; nothing is kept, so a corrected event may be
  sent again under the same id;
* ``duplicate``: an event with this id was received before in this world;
  nothing changed, and ``first_outcome`` says how the first one was answered.

**Once per id.** The event is kept in the inbox under (world, id) in the same
unit of work that applies it, so a redelivery changes nothing. An event kept
as ``unknown`` changed nothing, so its redelivery is tried again (with the
event as first kept): once the record has been sent, the same event applies.

**Arrival order does not matter.** Each order item holds a status and the
source's time of it (``status_at``). An event moves an item only if it is
*newer*: its ``occurred_at`` is later than the item's ``status_at``. Refunded
and closed are final: they win over any paid, shipped or signed-for state
whatever the times (a later ``order.shipped`` for a refunded item is
``stale``), and between themselves the later one wins. At equal times the
further status wins (paid < shipped < signed_for < refunded < closed). So
every item ends in the state of the greatest of its events, whatever order
they came in. ``order.signed_for`` also keeps the item's ``delivered_on``:
the earliest signed-for date received, kept even when the status itself does
not move (the delivery still happened).

**Orders carried by a paid event.** ``order.paid`` may carry the whole order
(``data.order``, the record of :mod:`aftersales.services.master_records`); it
is loaded with :func:`aftersales.services.master_data.upsert` first. Item
statuses stay the events' business: the record's own item status counts as one
more candidate state (at the record's ``updated_at``) under the rule above,
and a delivery date already stored is never dropped by a record without one.

**Products.** ``product.changed`` notes that the product changed; it moves
nothing: order items keep the entitlements they were sold with (NW-1, OH-1).

The module is long (~640 lines; signed-for now also starts SS-2's contact clock) because it holds the whole of one use case:
checking an event's shape, keeping it once per world, and applying each event
type under the same ordering rule (later wins, refunded and closed are final).
The per-type handlers read and write the same order rows under one lock, so they
stay beside the rule they share.

**Size.** one job: events in, applied once and in any order. It holds
the event shapes (pydantic), the dedupe-and-apply path and one applier per event
type; the shapes would move to ``event_records.py`` (as ``master_records`` is to
``master_data``) when a new event type is added.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from aftersales.domain.instants import Instant
from aftersales.domain.lifecycle import Programme
from aftersales.errors import AftersalesError, InvalidRequest
from aftersales.services import master_data
from aftersales.services import master_records as mr
from aftersales.services.base import Services
from aftersales.services.master_data import World
from aftersales.services.ports import UnitOfWork
from aftersales.services.records import LIVE

__all__ = [
    "EVENT_TYPES",
    "MAX_EVENTS",
    "OUTCOMES",
    "EventOutcome",
    "counts",
    "receive",
    "receive_many",
]

EventType = Literal[
    "order.paid",
    "order.shipped",
    "order.signed_for",
    "order.refunded",
    "order.closed",
    "product.changed",
]
EVENT_TYPES: tuple[str, ...] = (
    "order.paid",
    "order.shipped",
    "order.signed_for",
    "order.refunded",
    "order.closed",
    "product.changed",
)
OUTCOMES = ("applied", "stale", "unknown", "refused", "duplicate")
MAX_EVENTS = 1000  # in one request

# Where an order event moves items to.
_STATUS_OF = {
    "order.paid": "paid",
    "order.shipped": "shipped",
    "order.signed_for": "signed_for",
    "order.refunded": "refunded",
    "order.closed": "closed",
}
_FURTHER = {"paid": 0, "shipped": 1, "signed_for": 2, "refunded": 3, "closed": 4}
FINAL = frozenset({"refunded", "closed"})
_NEVER = datetime.min.replace(tzinfo=UTC)
LIVE_WORLD = World()
_EVENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$")


# ---------------------------------------------------------------- the event's shape


def _event_id(value: str) -> str:
    if not _EVENT_ID.match(value):
        raise ValueError(
            f"{value[:40]!r} is not a usable event id: 1 to 128 letters, digits, "
            "'.', '_', ':', '@', '/' or '-', starting with a letter or digit"
        )
    return value


class EventIn(BaseModel):
    """The envelope every event has."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_event_id)]
    type: EventType
    occurred_at: Instant
    sandbox: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    data: dict[str, Any]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


ItemIds = Annotated[list[mr.Id], Field(min_length=1, max_length=1000)]


class PaidData(_Data):
    order_id: mr.Id
    paid_at: Instant | None = None
    items: ItemIds | None = None
    paid_price_fen: Annotated[int, Field(ge=0, le=mr.MAX_PRICE_FEN)] | None = None
    order: dict[str, Any] | None = None  # the whole order record, loaded first


class ShippedData(_Data):
    order_id: mr.Id
    items: ItemIds | None = None
    shipped_at: Instant | None = None


class SignedForData(_Data):
    order_id: mr.Id
    items: ItemIds | None = None
    signed_for_on: date


class RefundedData(_Data):
    order_id: mr.Id
    items: ItemIds
    refund_id: Annotated[str, Field(min_length=1, max_length=128)]
    refunded_fen: Annotated[int, Field(ge=0, le=mr.MAX_PRICE_FEN)]


class ClosedData(_Data):
    order_id: mr.Id
    reason: Annotated[str, Field(max_length=400)] | None = None


class ProductChangedData(_Data):
    product_id: mr.Id
    changed_fields: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=200)] = (
        Field(default_factory=list)
    )


_DATA: dict[str, type[_Data]] = {
    "order.paid": PaidData,
    "order.shipped": ShippedData,
    "order.signed_for": SignedForData,
    "order.refunded": RefundedData,
    "order.closed": ClosedData,
    "product.changed": ProductChangedData,
}


# ---------------------------------------------------------------- the answer


@dataclass
class EventOutcome:
    id: str | None
    type: str | None
    outcome: str  # applied | stale | unknown | refused | duplicate
    message: str = ""
    sandbox: str = LIVE
    errors: list[dict[str, str]] = field(default_factory=list)
    first_outcome: str | None = None  # for a duplicate: how the first was answered
    items: list[str] = field(default_factory=list)  # the items that moved (ids as sent)

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "sandbox": self.sandbox,
            "outcome": self.outcome,
            "message": self.message,
        }
        if self.first_outcome is not None:
            found["first_outcome"] = self.first_outcome
        if self.items:
            found["items"] = self.items
        if self.errors:
            found["errors"] = self.errors
        return found


def counts(outcomes: Sequence[EventOutcome]) -> dict[str, int]:
    """How many events got each outcome (every outcome named, zero or not)."""
    found = dict.fromkeys(OUTCOMES, 0)
    for o in outcomes:
        found[o.outcome] = found.get(o.outcome, 0) + 1
    return found


class _Refused(AftersalesError):
    """Raised inside the event's savepoint so that nothing of it is kept."""

    def __init__(self, message: str, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        super().__init__(message)


# ---------------------------------------------------------------- receiving


def receive_many(
    svc: Services, events: Sequence[Any], *, world: World = LIVE_WORLD
) -> list[EventOutcome]:
    """Receive events in the order given, in one unit of work; one outcome each."""
    with svc.uow() as uow:
        outcomes = [receive(svc, event, world=world) for event in events]
        uow.commit()
    return outcomes


def receive(svc: Services, event: Any, *, world: World = LIVE_WORLD) -> EventOutcome:
    """Check, keep once and apply one event; see the module docstring for the outcomes.

    ``world`` is where the event goes when it names no sandbox of its own (an
    HTTP request's ``?sandbox=``); an event naming another sandbox is refused.
    """
    parsed = _parse(event)
    if isinstance(parsed, EventOutcome):
        return parsed
    envelope, data = parsed
    try:
        world = _world(svc, envelope, world)
    except AftersalesError as exc:
        return _refused(envelope.id, envelope.type, "", [("sandbox", str(exc))], world)
    stored = envelope.model_dump(mode="json", exclude_none=True)
    stored["sandbox"] = world.sandbox
    with svc.uow() as uow:
        try:
            with uow.savepoint():
                outcome = _keep_and_apply(svc, uow, world, envelope, data, stored)
        except _Refused as exc:
            outcome = EventOutcome(
                envelope.id, envelope.type, "refused", str(exc), world.sandbox, exc.errors
            )
        uow.commit()
    return outcome


def _keep_and_apply(
    svc: Services,
    uow: UnitOfWork,
    world: World,
    envelope: EventIn,
    data: _Data,
    stored: dict[str, Any],
) -> EventOutcome:
    row = {
        "sandbox": world.sandbox,
        "id": envelope.id,
        "type": envelope.type,
        "occurred_at": envelope.occurred_at,
        "received_at": svc.clock.now(),
        "payload": stored,
        "outcome": "unknown",  # until applied, just below
        "message": "",
    }
    if not uow.inbox.add(row):
        first = uow.inbox.get(world.sandbox, envelope.id) or {}
        if first.get("outcome") != "unknown":
            return EventOutcome(
                envelope.id,
                envelope.type,
                "duplicate",
                f"event {envelope.id} was received before in {_where(world)}; nothing changed"
                + (f" (first answer: {first['message']})" if first.get("message") else ""),
                world.sandbox,
                first_outcome=str(first.get("outcome", "")) or None,
            )
        # It changed nothing the first time (a record was missing): try the first one again.
        again = _parse(first.get("payload") or {})
        if not isinstance(again, EventOutcome):
            envelope, data = again
    outcome = _apply(svc, uow, world, envelope, data)
    uow.inbox.set_outcome(world.sandbox, envelope.id, outcome.outcome, outcome.message)
    return outcome


def _parse(event: Any) -> tuple[EventIn, _Data] | EventOutcome:
    """The event checked against its type's shape, or a refusal naming each wrong field."""
    if not isinstance(event, Mapping):
        return _refused(
            None, None, "an event must be a JSON object", [("event", "must be a JSON object")]
        )
    given_id = event.get("id") if isinstance(event.get("id"), str) else None
    given_type = event.get("type") if isinstance(event.get("type"), str) else None
    problems: list[tuple[str, str]] = []
    envelope: EventIn | None = None
    try:
        envelope = EventIn.model_validate(dict(event))
    except ValidationError as exc:
        problems += mr.describe_errors(exc)
    data_model = _DATA.get(given_type or "")
    data: _Data | None = None
    if data_model is not None and isinstance(event.get("data"), Mapping):
        # The data is checked even when the envelope is wrong: every problem is said at once.
        try:
            data = data_model.model_validate(dict(event["data"]))
        except ValidationError as exc:
            problems += [(f"data.{where}", what) for where, what in mr.describe_errors(exc)]
    if problems or envelope is None or data is None:
        return _refused(given_id, given_type, "", problems)
    if isinstance(data, PaidData) and data.order is not None:
        order_id = data.order.get("id")
        if order_id != data.order_id:
            return _refused(
                envelope.id,
                envelope.type,
                "",
                [("data.order.id", f"is {order_id!r} but data.order_id is {data.order_id!r}")],
            )
    return envelope, data


def _refused(
    event_id: str | None,
    event_type: str | None,
    message: str,
    problems: Sequence[tuple[str, str]],
    world: World | None = None,
) -> EventOutcome:
    errors = [{"field": f, "message": m} for f, m in problems]
    text = message or "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return EventOutcome(
        event_id, event_type, "refused", text, world.sandbox if world else LIVE, errors
    )


def _world(svc: Services, envelope: EventIn, given: World) -> World:
    named = envelope.sandbox
    if named is None or named == given.sandbox:
        return given
    if given.sandbox != LIVE:
        raise InvalidRequest(
            f"the event is for sandbox {named!r} but was sent for {_where(given)}; "
            "send it without ?sandbox= or to the sandbox it names"
        )
    return master_data.world_of(svc, named)


def _where(world: World) -> str:
    return "live data" if world.sandbox == LIVE else f"sandbox {world.sandbox!r}"


# ---------------------------------------------------------------- applying


def _apply(
    svc: Services, uow: UnitOfWork, world: World, envelope: EventIn, data: _Data
) -> EventOutcome:
    if isinstance(data, ProductChangedData):
        return _product_changed(uow, world, envelope, data)
    loaded, created = "", False
    if isinstance(data, PaidData) and data.order is not None:
        loaded, created = _load_order(svc, uow, world, data)
    assert hasattr(data, "order_id")
    order = _order_of(uow, world, data.order_id)
    if order is None:
        return _outcome(
            envelope,
            world,
            "unknown",
            f"no order {data.order_id!r} is loaded in {_where(world)}; send the order record "
            "first (or an order.paid event carrying it in data.order), then this event again",
        )
    items = {world.show(i["id"]): i for i in order.get("items", [])}
    wanted = getattr(data, "items", None)
    if wanted is not None:
        missing = [i for i in wanted if i not in items]
        if missing:
            return _outcome(
                envelope,
                world,
                "unknown",
                f"order {data.order_id!r} has no item {', '.join(map(repr, missing))} in "
                f"{_where(world)}; send the order with its items first, then this event again",
            )
        chosen = {k: items[k] for k in dict.fromkeys(wanted)}
    else:
        chosen = items
    outcome = _move(uow, world, envelope, data, order["id"], chosen, loaded, created)
    if isinstance(data, SignedForData):
        _start_contact_clocks(svc, uow, [i["id"] for i in chosen.values()], envelope.occurred_at)
    return outcome


def _start_contact_clocks(
    svc: Services, uow: UnitOfWork, item_ids: Sequence[str], at: datetime
) -> None:
    """SS-2: the goods signed for start "contact the buyer within 24 h" on each item's open
    help request (from its opening, if the request came after the goods were signed for)."""
    for item_id in item_ids:
        case_id = uow.cases.open_case_for_item(item_id, Programme.ONE_CLICK_HELP)
        if case_id is None:
            continue
        case = uow.cases.get(case_id, for_update=True)
        case.signed_for(svc.book, max(at, case.opened_at))
        uow.cases.save(case)


def _order_of(uow: UnitOfWork, world: World, order_id: str) -> dict[str, Any] | None:
    """The order as the world holds it itself (a sandbox never moves live orders)."""
    stored_id = world.store(order_id)
    # Held until the event's unit of work ends: two events for one order are applied one
    # after the other, each reading the statuses the other left.
    uow.reference.lock_order(stored_id)
    row = uow.master.stored("order", [stored_id]).get(stored_id)
    if row is None or row.get("sandbox", LIVE) != world.sandbox:
        return None
    return row


def _key(status: str, at: datetime | None) -> tuple[bool, datetime, int]:
    """Which of two item states wins: final first, then the later, then the further."""
    return (status in FINAL, at or _NEVER, _FURTHER.get(status, -1))


def _move(
    uow: UnitOfWork,
    world: World,
    envelope: EventIn,
    data: Any,
    order_id: str,
    items: Mapping[str, Mapping[str, Any]],
    loaded: str,
    written: bool,
) -> EventOutcome:
    status, at = _STATUS_OF[envelope.type], envelope.occurred_at
    day = data.signed_for_on if isinstance(data, SignedForData) else None
    moved: list[str] = []
    dated: list[str] = []  # items that keep their status but take the delivery date
    kept: dict[str, list[str]] = {}  # why items did not move -> those items
    writes: dict[tuple[str, tuple[tuple[str, Any], ...]], list[str]] = {}
    for shown, item in items.items():
        new_status, new_at = item["status"], item.get("status_at")
        if _key(status, at) > _key(new_status, new_at):
            new_status, new_at = status, at
            moved.append(shown)
        else:
            kept.setdefault(_why_kept(item, at), []).append(shown)
        changes: dict[str, Any] = {"status_at": new_at}
        if day is not None and (item.get("delivered_on") is None or day < item["delivered_on"]):
            changes["delivered_on"] = day
            if shown not in moved:
                dated.append(shown)
        elif shown not in moved:
            continue
        writes.setdefault((new_status, tuple(sorted(changes.items()))), []).append(item["id"])
    for (new_status, changes_given), stored_ids in writes.items():
        uow.master.set_item_status(order_id, stored_ids, new_status, **dict(changes_given))
    parts = [loaded] if loaded else []
    if moved:
        parts.append(f"{_count(moved)} moved to {status} as of {at.isoformat()}")
    for why, which in kept.items():
        parts.append(f"{_count(which)} {why}")
    if dated and day is not None:
        parts.append(f"delivery date {day.isoformat()} kept for {_count(dated)}")
    if isinstance(data, RefundedData):
        parts.append(f"refund {data.refund_id} of {data.refunded_fen} fen")
    if isinstance(data, ClosedData) and data.reason:
        parts.append(f"reason: {data.reason}")
    changed = bool(moved or dated or written)
    outcome = _outcome(envelope, world, "applied" if changed else "stale", "; ".join(parts))
    outcome.items = moved
    return outcome


def _why_kept(item: Mapping[str, Any], at: datetime) -> str:
    current, since = item["status"], item.get("status_at")
    when = f" since {since.isoformat()}" if since is not None else ""
    if current in FINAL:
        return f"still {current}{when}: {current} is final, so this event does not move it"
    return f"still {current}{when}: what is stored is newer than this event of {at.isoformat()}"


def _count(items: Sequence[str]) -> str:
    shown = ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
    return f"{'item' if len(items) == 1 else 'items'} {shown}"


def _outcome(envelope: EventIn, world: World, outcome: str, message: str) -> EventOutcome:
    return EventOutcome(envelope.id, envelope.type, outcome, message, world.sandbox)


def _product_changed(
    uow: UnitOfWork, world: World, envelope: EventIn, data: ProductChangedData
) -> EventOutcome:
    candidates = [world.store(data.product_id)] + ([data.product_id] if world.prefix else [])
    rows = uow.master.stored("product", candidates)
    if not any(r.get("sandbox", LIVE) in world.sandboxes for r in rows.values()):
        return _outcome(
            envelope,
            world,
            "unknown",
            f"no product {data.product_id!r} is loaded in {_where(world)}; send the product "
            "record first, then this event again",
        )
    fields = f" ({', '.join(data.changed_fields)})" if data.changed_fields else ""
    return _outcome(
        envelope,
        world,
        "applied",
        f"product {data.product_id} changed{fields}; send its record to update it; items "
        "already sold keep the entitlements they were sold with",
    )


# ---------------------------------------------------------------- an order carried by order.paid


def _load_order(svc: Services, uow: UnitOfWork, world: World, data: PaidData) -> tuple[str, bool]:
    """Upsert ``data.order``; item states and delivery dates merge as events do. Refuses if
    the record is refused; else says what was done, and whether anything was written."""
    assert data.order is not None
    record = dict(data.order)
    before = _order_of(uow, world, data.order_id)
    before_items = {i["id"]: i for i in (before or {}).get("items", [])}
    items = record.get("items")
    if isinstance(items, list) and before_items:
        record["items"] = [_keep_delivery(world, i, before_items) for i in items]
    outcome = master_data.upsert(svc, "order", [record], world=world)[0]
    if outcome.result == "refused":
        errors = [
            {"field": f"data.order.{e['field']}", "message": e["message"]} for e in outcome.errors
        ]
        raise _Refused(
            "the order in data.order is refused: "
            + "; ".join(f"{e['field']}: {e['message']}" for e in errors),
            errors,
        )
    if outcome.result == "stale":
        return f"the order in data.order is not loaded ({outcome.message})", False
    after = _order_of(uow, world, data.order_id)
    if after is not None and before_items:
        _merge_states(uow, world, after, before_items, record)
    return f"order {outcome.result}", outcome.result in ("created", "updated")


def _keep_delivery(world: World, item: Any, before: Mapping[str, Mapping[str, Any]]) -> Any:
    """The record's item, with the earlier of its delivery date and the one stored."""
    if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
        return item
    stored = before.get(world.store(item["id"]))
    if stored is None or stored.get("delivered_on") is None:
        return item
    given = item.get("delivered_on")
    try:
        day = date.fromisoformat(given) if isinstance(given, str) else given
    except ValueError:
        return item  # the record's own check will say what is wrong with it
    if day is None or (isinstance(day, date) and stored["delivered_on"] < day):
        return {**item, "delivered_on": stored["delivered_on"].isoformat()}
    return item


def _merge_states(
    uow: UnitOfWork,
    world: World,
    after: Mapping[str, Any],
    before: Mapping[str, Mapping[str, Any]],
    record: Mapping[str, Any],
) -> None:
    """Put back the state that wins between the one stored and the record's (see module doc)."""
    updated_at = _instant(record.get("updated_at"))
    given = {
        world.store(i["id"]): i.get("status", "paid")
        for i in record.get("items", [])
        if isinstance(i, Mapping) and isinstance(i.get("id"), str)
    }
    for item in after.get("items", []):
        old = before.get(item["id"])
        if old is None or item["id"] not in given:
            continue
        candidates = [
            (old["status"], old.get("status_at")),
            (given[item["id"]], updated_at),
        ]
        status, at = max(candidates, key=lambda c: _key(*c))
        if (status, at) != (item["status"], item.get("status_at")):
            uow.master.set_item_status(after["id"], [item["id"]], status, status_at=at)


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    return None
