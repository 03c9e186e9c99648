"""The shape of master data a marketplace sends: one model per kind of record.

The same models check a record whatever way it comes: ``PUT``/``PATCH`` on the
API, a line of an import file, an event. They check what can be checked on the
record alone (types, required fields, lengths, dates, money, control
characters); what needs the catalogue or stored data (does the category exist,
is the brand known) is checked by :mod:`aftersales.services.master_data`.

Ids are the marketplace's own: letters, digits, ``.``, ``_`` and ``-``, up to
64 characters. Every record may carry the source's ``updated_at`` (an instant
with its offset) or an integer ``version``; an update older than the one
stored is ignored (see ``master_data``). ``active: false`` deactivates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo

from aftersales.domain.instants import Instant

__all__ = [
    "KINDS",
    "MODELS",
    "BrandIn",
    "BuyerIn",
    "CoverageIn",
    "ItemIn",
    "MerchantIn",
    "OrderIn",
    "ProductIn",
    "ProviderIn",
    "RecordIn",
    "WindowIn",
    "check_record",
    "describe_errors",
]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PHONE = re.compile(r"^[0-9+()\- ]{3,40}$")
MAX_PRICE_FEN = 10**12  # ten billion yuan: anything above is a unit mistake


def _no_control(value: Any) -> Any:
    if isinstance(value, str):
        found = _CONTROL.search(value)
        if found:
            raise ValueError(
                f"contains the control character U+{ord(found.group()):04X}; remove it"
            )
        return value.strip()
    return value


def _id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(
            f"{value!r} is not a usable id: 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def _phone(value: str) -> str:
    if value and not _PHONE.match(value):
        raise ValueError(f"{value!r} is not a phone number (digits, +, -, spaces, brackets)")
    return value


def _list(value: Any) -> Any:
    """A list, or text split on ``|`` (how an import file writes a list in one cell)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split("|") if part.strip()]
    return value


Clean = BeforeValidator(_no_control)
Id = Annotated[str, Clean, Field(min_length=1, max_length=64), AfterValidator(_id)]
Name = Annotated[str, Clean, Field(min_length=1, max_length=200)]
Phone = Annotated[str, Clean, Field(max_length=40), AfterValidator(_phone)]
ShortText = Annotated[str, Clean, Field(max_length=400)]
LongText = Annotated[str, Clean, Field(max_length=4000)]
Tags = Annotated[
    list[Annotated[str, Clean, Field(min_length=1, max_length=64)]], BeforeValidator(_list)
]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: Id
    updated_at: Instant | None = None
    version: int | None = Field(default=None, ge=0)
    active: bool = True

    @model_validator(mode="before")
    @classmethod
    def _drop_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("kind") in MODELS:
            data = {k: v for k, v in data.items() if k != "kind"}
        return data


class Bilingual(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: Annotated[str, Clean, Field(max_length=4000)] = ""
    en: Annotated[str, Clean, Field(max_length=4000)] = ""


class CentreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    city: Annotated[str, Clean, Field(min_length=1, max_length=64)]
    address: ShortText = ""
    phone: Phone = ""
    hours: Annotated[str, Clean, Field(max_length=100)] = ""


class BrandIn(_Record):
    """A brand with its after-sales information (NW-3, NW-8)."""

    name: Name
    hotline: Phone = ""  # NW-2a: the brand's 400 line
    warranty_terms: Bilingual = Field(default_factory=Bilingual)
    exclusions: list[Bilingual] = Field(default_factory=list, max_length=100)
    service_centres: list[CentreIn] = Field(default_factory=list, max_length=5000)


class MerchantIn(_Record):
    """A shop, and the service providers it prefers for its requests (OH-3's score)."""

    name: Name
    # Provider ids as the marketplace knows them; the whole list, replacing what is stored.
    # They need not be loaded yet (providers come after shops in a load), and an id no
    # provider has simply never matches.
    preferred_providers: Annotated[list[Id], BeforeValidator(_list)] = Field(
        default_factory=list, max_length=100
    )


Fulfil = Literal["on_site", "in_store", "mail_in"]
# OH-3: among equally near providers, who comes to the buyer first.
FULFIL_PREFERENCE = {"on_site": 0, "in_store": 1, "mail_in": 2}


class CoverageIn(BaseModel):
    """OH-3: the provider serves ``service_tag`` on ``category`` (and below) in an area."""

    model_config = ConfigDict(extra="forbid")
    area_code: Annotated[str, Clean, Field(pattern=r"^[0-9]{6}$")]
    area_name: Annotated[str, Clean, Field(max_length=64)] = ""
    category: Annotated[str, Clean, Field(min_length=1, max_length=400)]
    service_tag: Annotated[str, Clean, Field(min_length=1, max_length=64)]
    fulfil: Fulfil = "on_site"


_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class WindowIn(BaseModel):
    """SS-2: a weekly visit window: ISO weekdays (1 = Monday .. 7 = Sunday), a local start
    and end (``HH:MM``, the end after the start, within one day), how many visits fit, and
    optionally the one area (six-digit code) it serves."""

    model_config = ConfigDict(extra="forbid")
    weekdays: Annotated[list[Annotated[int, Field(ge=1, le=7)]], Field(min_length=1, max_length=7)]
    start: Annotated[str, Field(pattern=_HHMM)]
    end: Annotated[str, Field(pattern=_HHMM)]
    capacity: int = Field(ge=1, le=10_000)
    area_code: Annotated[str, Field(pattern=r"^[0-9]{6}$")] | None = None

    @model_validator(mode="after")
    def _end_after_start(self) -> WindowIn:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must come after start {self.start} on the same day")
        if len(set(self.weekdays)) != len(self.weekdays):
            raise ValueError("a weekday is given twice")
        return self


class AreaCapacityIn(BaseModel):
    """OH-3: how many cases a day the provider takes in one area it names."""

    model_config = ConfigDict(extra="forbid")
    area_code: Annotated[str, Clean, Field(pattern=r"^[0-9]{6}$")]
    per_day: Annotated[int, Field(ge=0, le=100_000)]


class ClosureIn(BaseModel):
    """OH-3: local days the provider takes no case (leave, a closure), both ends included."""

    model_config = ConfigDict(extra="forbid")
    first_day: date
    last_day: date
    reason: Annotated[str, Clean, Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _in_order(self) -> ClosureIn:
        if self.last_day < self.first_day:
            raise ValueError("last_day comes before first_day: give the range in order")
        return self


class ProviderIn(_Record):
    """A service provider: installer, repairer, delivery team or a brand's service centre."""

    name: Name
    type: Literal["brand_centre", "installer", "repairer", "delivery"]
    brand_id: Id | None = None
    calendar: Annotated[str, Clean, Field(min_length=1, max_length=64)] = "wall"
    phone: Phone = ""
    contact: Annotated[str, Clean, Field(max_length=200)] = ""
    # OH-3: the district (or city) the provider sets out from, by its six-digit code;
    # dispatch weighs how near it is to the address.
    base_area: Annotated[str, Clean, Field(pattern=r"^[0-9]{6}$")] | None = None
    coverage: list[CoverageIn] = Field(default_factory=list, max_length=100_000)
    appointment_windows: list[WindowIn] = Field(default_factory=list, max_length=500)
    # OH-3: cases a day overall (none: no stated limit), per area if it says so, and
    # leave and closures; each list given replaces the stored one.
    daily_capacity: Annotated[int, Field(ge=0, le=100_000)] | None = None
    area_capacity: list[AreaCapacityIn] = Field(default_factory=list, max_length=10_000)
    closures: list[ClosureIn] = Field(default_factory=list, max_length=1_000)


class ProductIn(_Record):
    """A product (SKU) with the entitlements it is sold with."""

    name: Name
    brand_id: Id
    # A category id of the catalogue, or the marketplace's category path
    # ("家居/灯饰照明/吸顶灯"): its deepest segment the catalogue knows is used.
    category: Annotated[str, Clean, Field(min_length=1, max_length=400)]
    badges: Tags = Field(default_factory=list)
    service_tags: Tags = Field(default_factory=list)
    warranty_months: int | None = Field(default=None, ge=0, le=600)


class BuyerIn(_Record):
    """A buyer, by the marketplace's account id."""

    name: Annotated[str, Clean, Field(max_length=200)] = ""
    phone: Phone = ""


ItemStatus = Literal["paid", "shipped", "signed_for", "refunded", "closed"]


class ItemIn(BaseModel):
    """An order item: what was bought, for how much, and where it is to be serviced."""

    model_config = ConfigDict(extra="forbid")
    id: Id
    product_id: Id
    paid_price_fen: int | None = Field(default=None, ge=0, le=MAX_PRICE_FEN)
    paid_price: Annotated[str, Clean] | None = None  # yuan as written, "199.00"
    purchased_on: date | None = None
    delivered_on: date | None = None  # signed for
    address: LongText | None = None  # free Chinese text; the order's when absent
    contact_phone: Phone | None = None
    status: ItemStatus = "paid"

    @model_validator(mode="after")
    def _price(self) -> ItemIn:
        if self.paid_price is not None:
            try:
                yuan = Decimal(self.paid_price.replace(",", "").replace("¥", ""))
            except InvalidOperation:
                raise ValueError(
                    f"paid_price {self.paid_price!r} is not an amount in yuan, e.g. 199.00"
                ) from None
            if yuan < 0:
                raise ValueError(f"paid_price {self.paid_price} is negative")
            fen = yuan * 100
            if fen != fen.to_integral_value():
                raise ValueError(f"paid_price {self.paid_price} has more than two decimals")
            if self.paid_price_fen is not None and self.paid_price_fen != int(fen):
                raise ValueError("paid_price and paid_price_fen disagree; send one of them")
            self.paid_price_fen = int(fen)
            self.paid_price = None
        if self.paid_price_fen is None:
            raise ValueError("paid_price_fen (or paid_price in yuan) is required")
        if self.paid_price_fen > MAX_PRICE_FEN:
            raise ValueError("paid_price is too large")
        return self


class OrderIn(_Record):
    """An order with its items. Items not listed again are left as stored."""

    buyer_id: Id
    merchant_id: Id
    placed_at: Instant
    paid_at: Instant | None = None
    address: LongText = ""  # the service address, free Chinese text
    contact_phone: Phone = ""
    items: list[ItemIn] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _items(self) -> OrderIn:
        ids = [i.id for i in self.items]
        if len(set(ids)) < len(ids):  # only then look for which
            doubled = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"item ids used twice in the order: {', '.join(doubled)}")
        if self.paid_at is not None and self.paid_at < self.placed_at:
            raise ValueError("paid_at is before placed_at")
        for item in self.items:
            if item.delivered_on and item.purchased_on and item.delivered_on < item.purchased_on:
                raise ValueError(f"item {item.id}: delivered_on is before purchased_on")
        return self


RecordIn = BrandIn | MerchantIn | ProviderIn | ProductIn | BuyerIn | OrderIn

MODELS: dict[str, type[_Record]] = {
    "brand": BrandIn,
    "merchant": MerchantIn,
    "provider": ProviderIn,
    "product": ProductIn,
    "buyer": BuyerIn,
    "order": OrderIn,
}
KINDS = tuple(MODELS)
# What a kind is called in a URL and an import file's name.
PLURALS = {
    "brand": "brands",
    "merchant": "merchants",
    "provider": "providers",
    "product": "products",
    "buyer": "buyers",
    "order": "orders",
}


def describe_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """``(field, message)`` for each problem pydantic found, in words a person can act on."""
    found: list[tuple[str, str]] = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "record"
        kind = error["type"]
        message = str(error["msg"]).removeprefix("Value error, ")
        if kind == "missing":
            message = "is required"
        elif kind == "extra_forbidden":
            message = "is not a field of this kind of record; remove it or check its spelling"
        elif kind == "timezone_aware":
            message = "needs a UTC offset, e.g. 2026-11-24T10:00:00+08:00"
        found.append((where, message))
    return found


# ---------------------------------------------------------------- the fast path
#
# Checking a record costs a few Python calls per text field (control characters,
# id and phone shapes); in a bulk import they are most of the validation. Each
# model has a twin below (a subclass, so it *is* the model's type) in which those
# checks are done by pydantic's core instead: control characters are looked for
# once over the whole record before validating, whitespace is stripped by the
# core (the same characters ``str.strip`` strips, control characters apart), and
# ids and phones are checked with the same patterns. A record the twin accepts
# is the record the model would make; anything the twin refuses is validated
# again by the model itself, so problems are reported exactly as the model
# reports them. ``tests/unit/services/test_master_records.py`` holds the two
# side by side.

_PHONE_OR_EMPTY = r"^(?:[0-9+() \-]{3,40})?$"
# AfterValidators the twins replace with a pattern the core checks.
_AS_PATTERN: dict[Any, str] = {_id: _ID.pattern, _phone: _PHONE_OR_EMPTY}
_PLAIN_VALUES = (str, int, float, bool, type(None), date, datetime)
_TWINS: dict[type[BaseModel], type[BaseModel]] = {}


def _twin_metadata(metadata: Any) -> list[Any]:
    found: list[Any] = []
    for m in metadata:
        if m is Clean:
            continue  # control characters: looked for before; whitespace: the twin's config
        if isinstance(m, AfterValidator) and m.func in _AS_PATTERN:
            found.append(StringConstraints(pattern=_AS_PATTERN[m.func]))
        elif isinstance(m, FieldInfo):
            found.extend(_twin_metadata(m.metadata))
        else:
            found.append(m)
    return found


def _twin_type(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = get_args(annotation)
        kept = _twin_metadata(metadata)
        return Annotated[(_twin_type(inner), *kept)] if kept else _twin_type(inner)
    if origin in (Union, UnionType):
        return Union[tuple(_twin_type(a) for a in get_args(annotation))]  # noqa: UP007
    if origin is list:
        return list[_twin_type(get_args(annotation)[0])]  # type: ignore[misc]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _twin(annotation)
    return annotation


def _twin(model: type[BaseModel]) -> type[BaseModel]:
    """The model with its per-field Python checks done by pydantic's core (see above)."""
    twin = _TWINS.get(model)
    if twin is not None:
        return twin
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {
        "__module__": __name__,
        "__qualname__": f"{model.__qualname__}Twin",
        "model_config": ConfigDict(**{**model.model_config, "str_strip_whitespace": True}),
    }
    for name, info in model.model_fields.items():
        if info.alias or info.validation_alias or info.discriminator or info.validate_default:
            raise TypeError(f"{model.__name__}.{name}: the fast twin does not carry this over")
        metadata = _twin_metadata(info.metadata)
        annotation = _twin_type(info.annotation)
        annotations[name] = Annotated[(annotation, *metadata)] if metadata else annotation
        if info.default_factory is not None:
            namespace[name] = Field(default_factory=info.default_factory)
        elif not info.is_required():
            namespace[name] = info.default
    namespace["__annotations__"] = annotations
    twin = type(f"{model.__name__}Twin", (model,), namespace)
    _TWINS[model] = twin
    return twin


def _plain(raw: Any) -> bool:
    """Whether ``raw`` is made of dicts, lists and plain values only, with no control
    character in any text: what the twins may check instead of the models."""
    texts: list[str] = []
    add = texts.append
    # Containers still to walk; their scalars are looked at in place, never queued.
    pending: list[Iterable[Any]] = [(raw,)]
    while pending:
        for value in pending.pop():
            kind = type(value)
            if kind is str:
                add(value)
            elif kind is dict:
                pending.append(value.values())
            elif kind is list:
                pending.append(value)
            elif kind not in _PLAIN_VALUES:
                return False
    return _CONTROL.search("".join(texts)) is None


def check_record(kind: str, raw: Mapping[str, Any]) -> Any:
    """``raw`` as the model of ``kind``; the model's ValidationError if it is refused.

    The same result as ``MODELS[kind].model_validate(raw)``, faster for the usual
    record (see the fast path above).
    """
    model = MODELS[kind]
    if type(raw) is dict and _plain(raw):
        try:
            return _FAST[kind].model_validate(raw)
        except ValidationError:
            pass  # the model says what is wrong, in its own words
    return model.model_validate(dict(raw))


_FAST: dict[str, type[BaseModel]] = {kind: _twin(model) for kind, model in MODELS.items()}
