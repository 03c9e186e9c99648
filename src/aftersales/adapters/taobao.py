"""Taobao/Tmall message service (TMC) messages, translated into our marketplace events.

A shop that subscribes to TMC receives one message per change on its trades,
refunds and items. Each message is an envelope::

    {"topic": "taobao_trade_TradeBuyerPay", "id": 2600000000000000001,
     "pub_time": "2026-11-24 10:03:01", "pub_app_key": "12345678",
     "user_id": 1234, "user_nick": "shopnick", "content": "{...}"}

whose ``content`` is a JSON *string* with fields that depend on the topic.
:func:`translate` turns one envelope into the body ``POST /api/v1/events``
takes (:meth:`TranslatedEvent.as_json`), into :class:`Skipped` for a topic we
do not use, or refuses it with :class:`TaobaoMessageError`.

Mapping
-------

| TMC topic                                   | event type       | data (fields taken from the content)                                     |
|---------------------------------------------|------------------|--------------------------------------------------------------------------|
| taobao_trade_TradeBuyerPay                  | order.paid       | order_id←tid, items←[oid], paid_at←event time, paid_price_fen←payment    |
| taobao_trade_TradeSellerShip                | order.shipped    | order_id←tid, items←[oid], shipped_at←event time                         |
| taobao_trade_TradePartlySellerShip          | order.shipped    | as TradeSellerShip; oid required (some items shipped)                    |
| taobao_trade_TradeSuccess                   | order.signed_for | order_id←tid, items←[oid], signed_for_on←event date                      |
| taobao_trade_TradeClose                     | order.closed     | order_id←tid, reason←status                                              |
| taobao_trade_TradeCloseAndModifyDetailOrder | order.closed     | as TradeClose, if status is a closed one; else skipped                   |
| taobao_refund_RefundSuccess                 | order.refunded   | order_id←tid, items←[oid] (required), refund_id, refunded_fen←refund_fee |
| taobao_item_ItemAdd                         | product.changed  | product_id←num_iid                                                       |
| taobao_item_ItemUpdate                      | product.changed  | product_id←num_iid, changed_fields←changed_fields split on ','           |
| any other topic                             | —                | Skipped (not an error)                                                   |

``items`` is left out when the content has no ``oid``; ``paid_price_fen`` is null when it
has no ``payment``; ``signed_for_on`` is the event time's date in Asia/Shanghai.

Rules that hold for every topic:

* **Ids.** ``tid`` → order id, ``oid`` → order item id, ``num_iid`` → product
  id, ``refund_id`` → refund id, each as a decimal string. TMC writes them as
  JSON numbers; digit strings are taken too.
* **Whole order or some items.** On a trade topic without ``oid`` the event
  concerns the whole order: ``items`` is left out of ``data``.
* **Event time** (``occurred_at``) is the content's ``modified`` when present,
  else the envelope's ``pub_time``. TMC writes Beijing time without an offset
  ("2026-11-24 10:03:00"); ``+08:00`` is attached. A time that carries its own
  offset is converted to ``+08:00``.
* **Money** is yuan as a decimal string ("199.00") and becomes whole fen
  exactly (``Decimal``, never float): "0.10" → 10. Negative amounts, amounts
  finer than a fen and non-numbers are refused.
* **Event id** is ``tb-<TMC message id>``, so a message delivered twice gives
  one id. An envelope without an id gets ``tb-`` and a digest of its topic
  and (canonicalised) content instead: still the same for the same message.
* **Refusals** raise :class:`TaobaoMessageError` (an ``InvalidRequest``)
  whose message names the topic and the field, and says what was expected.
  Topics we do not use are skipped *before* their content is read, so an
  unreadable message on such a topic is skipped, not refused.

``taobao_trade_TradeCloseAndModifyDetailOrder`` is sent when one order item
is closed or changed; the trade may well stay open. Our ``order.closed``
closes the whole order, so it is only produced when the message's trade
``status`` is a closed one (``TRADE_CLOSED``, ``TRADE_CLOSED_BY_TAOBAO``);
a closing trade also sends ``taobao_trade_TradeClose``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from aftersales.domain.instants import in_range
from aftersales.errors import InvalidRequest

__all__ = [
    "BEIJING",
    "EVENT_TYPES",
    "TOPICS",
    "EventType",
    "Skipped",
    "TaobaoMessageError",
    "TranslatedEvent",
    "translate",
    "translate_many",
    "yuan_to_fen",
]

EventType = Literal[
    "order.paid",
    "order.shipped",
    "order.signed_for",
    "order.refunded",
    "order.closed",
    "product.changed",
]
EVENT_TYPES: tuple[EventType, ...] = (
    "order.paid",
    "order.shipped",
    "order.signed_for",
    "order.refunded",
    "order.closed",
    "product.changed",
)

# China has kept one offset all year since 1991; a fixed offset prints as "+08:00".
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

_CLOSED_STATUSES = {
    "TRADE_CLOSED": "refunded in full after payment",
    "TRADE_CLOSED_BY_TAOBAO": "closed before payment",
}
_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:?\d{2})?", re.ASCII
)
_YUAN = re.compile(r"\d+(?:\.\d+)?", re.ASCII)
_DIGITS = re.compile(r"\d+", re.ASCII)
_MESSAGE_ID = re.compile(r"[0-9A-Za-z_.:-]{1,64}")


class TaobaoMessageError(InvalidRequest):
    """A TMC message on a topic we use cannot be translated.

    ``topic`` and ``field`` say where the problem is (``field`` is a content
    field such as ``"tid"``, or an envelope field such as ``"content"``);
    ``message_id`` is the TMC message id when the envelope has a usable one.
    """

    def __init__(self, topic: str, field: str, problem: str, message_id: str | None = None) -> None:
        self.topic, self.field, self.message_id = topic, field, message_id
        where = f"TMC message {message_id} ({topic})" if message_id else f"TMC message ({topic})"
        super().__init__(f"{where}: field '{field}' {problem}")


@dataclass(frozen=True)
class Skipped:
    """A message on a topic we have no event for; the subscriber may acknowledge it."""

    topic: str
    reason: str
    message_id: str | None = None


@dataclass(frozen=True)
class TranslatedEvent:
    """One of our marketplace events, made from one TMC message."""

    id: str
    type: EventType
    occurred_at: datetime  # aware, +08:00
    data: Mapping[str, Any]  # JSON-ready: strings, ints, lists and null only
    topic: str = field(default="", compare=False)  # the TMC topic it came from

    def as_json(self) -> dict[str, Any]:
        """The body ``POST /api/v1/events`` takes."""
        return {
            "id": self.id,
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat(),
            "data": {k: list(v) if isinstance(v, list) else v for k, v in self.data.items()},
        }


def translate(message: Mapping[str, Any]) -> TranslatedEvent | Skipped:
    """Translate one TMC envelope; raise :class:`TaobaoMessageError` if it is malformed."""
    if not isinstance(message, Mapping):
        raise TaobaoMessageError(
            "unknown topic", "message", f"must be a JSON object, got {type(message).__name__}"
        )
    topic = message.get("topic")
    if not isinstance(topic, str) or not topic.strip():
        raise TaobaoMessageError(
            "unknown topic",
            "topic",
            f"must be a topic name such as 'taobao_trade_TradeBuyerPay', got {_show(topic)}",
        )
    message_id = _message_id(topic, message.get("id"))
    build = _BUILDERS.get(topic)
    if build is None:
        return Skipped(topic, "no event is made from this topic", message_id)
    reading = _Reading(topic, message_id, _content(topic, message_id, message.get("content")))
    occurred_at = _event_time(reading, message)
    made = build(reading, occurred_at)
    if isinstance(made, str):
        return Skipped(topic, made, message_id)
    event_type, data = made
    event_id = f"tb-{message_id}" if message_id else _digest_id(topic, reading.content)
    return TranslatedEvent(event_id, event_type, occurred_at, data, topic)


def translate_many(
    messages: Iterable[Mapping[str, Any]],
) -> tuple[list[TranslatedEvent], list[Skipped], list[TaobaoMessageError]]:
    """Translate a batch: events, skipped messages and refusals, each in arrival order.

    One malformed message does not stop the others; each refusal names its
    topic, field and (when known) TMC message id.
    """
    events: list[TranslatedEvent] = []
    skipped: list[Skipped] = []
    refused: list[TaobaoMessageError] = []
    for message in messages:
        try:
            result = translate(message)
        except TaobaoMessageError as exc:
            refused.append(exc)
        else:
            if isinstance(result, TranslatedEvent):
                events.append(result)
            else:
                skipped.append(result)
    return events, skipped, refused


def yuan_to_fen(amount: object, *, topic: str = "", field: str = "amount") -> int:
    """``"199.00"`` → 19900 exactly; refuses negatives, non-numbers and fractions of a fen."""
    if isinstance(amount, bool) or not isinstance(amount, str | int | Decimal):
        raise TaobaoMessageError(
            topic, field, f"must be an amount in yuan such as '199.00', got {_show(amount)}"
        )
    text = str(amount).strip()
    if not _YUAN.fullmatch(text):
        if re.fullmatch(r"-\d+(?:\.\d+)?", text):
            raise TaobaoMessageError(topic, field, f"must not be negative, got {_show(amount)}")
        raise TaobaoMessageError(
            topic, field, f"must be an amount in yuan such as '199.00', got {_show(amount)}"
        )
    try:
        fen = Decimal(text) * 100
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
        raise TaobaoMessageError(topic, field, f"is not a number: {_show(amount)}") from None
    if fen != fen.to_integral_value():
        raise TaobaoMessageError(
            topic, field, f"must be whole fen (at most 2 decimals), got {_show(amount)}"
        )
    return int(fen)


# --- reading one message ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reading:
    """The parsed content of one message, with the context every refusal names."""

    topic: str
    message_id: str | None
    content: Mapping[str, Any]

    def refuse(self, field: str, problem: str) -> TaobaoMessageError:
        return TaobaoMessageError(self.topic, field, problem, self.message_id)

    def id_field(self, name: str, *, required: bool) -> str | None:
        """A positive integer id (JSON number or digit string), as a decimal string."""
        value = self.content.get(name)
        if value is None or value == "":
            if required:
                raise self.refuse(name, "is missing from the content")
            return None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return str(value)
        if isinstance(value, str) and _DIGITS.fullmatch(value.strip()) and int(value) > 0:
            return str(int(value))
        raise self.refuse(name, f"must be a positive whole number, got {_show(value)}")

    def items(self, *, required: bool = False) -> dict[str, list[str]]:
        """``{"items": [oid]}``, or ``{}`` when the message concerns the whole order."""
        oid = self.id_field("oid", required=required)
        return {"items": [oid]} if oid else {}

    def money(self, name: str, *, required: bool) -> int | None:
        value = self.content.get(name)
        if value is None or value == "":
            if required:
                raise self.refuse(name, "is missing from the content")
            return None
        return yuan_to_fen(value, topic=self.topic, field=name)

    def text(self, name: str) -> str | None:
        value = self.content.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.refuse(name, f"must be a string, got {_show(value)}")
        return value.strip() or None


def _message_id(topic: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and _MESSAGE_ID.fullmatch(value.strip()):
        return value.strip()
    raise TaobaoMessageError(
        topic, "id", f"must be the TMC message id (a number), got {_show(value)}"
    )


def _content(topic: str, message_id: str | None, raw: object) -> Mapping[str, Any]:
    """The content object. TMC sends a JSON string; an SDK may hand it over already parsed."""
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw, parse_float=Decimal)  # money stays exact if sent as a number
        except json.JSONDecodeError as exc:
            raise TaobaoMessageError(
                topic, "content", f"is not valid JSON ({exc.msg} at position {exc.pos})", message_id
            ) from None
    elif raw is None:
        raise TaobaoMessageError(topic, "content", "is missing", message_id)
    else:
        parsed = raw
    if not isinstance(parsed, Mapping):
        raise TaobaoMessageError(
            topic,
            "content",
            f"must hold a JSON object, got {type(parsed).__name__}",
            message_id,
        )
    return parsed


def _event_time(reading: _Reading, message: Mapping[str, Any]) -> datetime:
    if reading.content.get("modified") not in (None, ""):
        return _beijing_time(reading, "modified", reading.content["modified"])
    if message.get("pub_time") not in (None, ""):
        return _beijing_time(reading, "pub_time", message["pub_time"])
    raise reading.refuse(
        "pub_time", "is missing, and the content has no 'modified': the event has no time"
    )


def _beijing_time(reading: _Reading, name: str, value: object) -> datetime:
    if isinstance(value, str) and _TIME.fullmatch(value.strip()):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=BEIJING)
            try:
                return in_range(parsed).astimezone(BEIJING)
            except ValueError as exc:
                raise reading.refuse(name, str(exc)) from None
    raise reading.refuse(
        name, f"must be a time such as '2026-11-24 10:03:00' (Beijing time), got {_show(value)}"
    )


def _digest_id(topic: str, content: Mapping[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    digest = hashlib.sha256(f"{topic}\n{canonical}".encode()).hexdigest()
    return f"tb-{digest[:32]}"


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- one builder per topic ----------------------------------------------------------------------

_Made = tuple[EventType, dict[str, Any]] | str  # an event's type and data, or why it is skipped


def _paid(reading: _Reading, at: datetime) -> _Made:
    return "order.paid", {
        "order_id": reading.id_field("tid", required=True),
        **reading.items(),
        "paid_at": at.isoformat(),
        "paid_price_fen": reading.money("payment", required=False),
    }


def _shipped(reading: _Reading, at: datetime, *, partly: bool = False) -> _Made:
    return "order.shipped", {
        "order_id": reading.id_field("tid", required=True),
        **reading.items(required=partly),
        "shipped_at": at.isoformat(),
    }


def _partly_shipped(reading: _Reading, at: datetime) -> _Made:
    return _shipped(reading, at, partly=True)


def _signed_for(reading: _Reading, at: datetime) -> _Made:
    return "order.signed_for", {
        "order_id": reading.id_field("tid", required=True),
        **reading.items(),
        "signed_for_on": at.astimezone(BEIJING).date().isoformat(),
    }


def _closed(reading: _Reading, at: datetime) -> _Made:
    data: dict[str, Any] = {"order_id": reading.id_field("tid", required=True)}
    status = reading.text("status")
    if status:
        meaning = _CLOSED_STATUSES.get(status)
        data["reason"] = f"{status} ({meaning})" if meaning else status
    return "order.closed", data


def _detail_order_closed(reading: _Reading, at: datetime) -> _Made:
    reading.id_field("tid", required=True)
    status = reading.text("status")
    if status not in _CLOSED_STATUSES:
        state = f"status {status}" if status else "no trade status"
        return f"an order item was closed or changed ({state}); the trade is not closed"
    return _closed(reading, at)


def _refunded(reading: _Reading, at: datetime) -> _Made:
    return "order.refunded", {
        "order_id": reading.id_field("tid", required=True),
        **reading.items(required=True),
        "refund_id": reading.id_field("refund_id", required=True),
        "refunded_fen": reading.money("refund_fee", required=True),
    }


def _product_changed(reading: _Reading, at: datetime) -> _Made:
    data: dict[str, Any] = {"product_id": reading.id_field("num_iid", required=True)}
    raw = reading.content.get("changed_fields")
    if isinstance(raw, str):
        names = [name.strip() for name in raw.split(",")]
    elif isinstance(raw, list) and all(isinstance(name, str) for name in raw):
        names = [name.strip() for name in raw]
    elif raw is None:
        names = []
    else:
        raise reading.refuse(
            "changed_fields", f"must be a comma-separated list of names, got {_show(raw)}"
        )
    names = list(dict.fromkeys(name for name in names if name))
    if names:
        data["changed_fields"] = names
    return "product.changed", data


def _product_added(reading: _Reading, at: datetime) -> _Made:
    return "product.changed", {"product_id": reading.id_field("num_iid", required=True)}


_BUILDERS: dict[str, Callable[[_Reading, datetime], _Made]] = {
    "taobao_trade_TradeBuyerPay": _paid,
    "taobao_trade_TradeSellerShip": _shipped,
    "taobao_trade_TradePartlySellerShip": _partly_shipped,
    "taobao_trade_TradeSuccess": _signed_for,
    "taobao_trade_TradeClose": _closed,
    "taobao_trade_TradeCloseAndModifyDetailOrder": _detail_order_closed,
    "taobao_refund_RefundSuccess": _refunded,
    "taobao_item_ItemAdd": _product_added,
    "taobao_item_ItemUpdate": _product_changed,
}
TOPICS: frozenset[str] = frozenset(_BUILDERS)
"""The topics :func:`translate` makes events from; every other topic is skipped."""
