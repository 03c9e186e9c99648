"""The in-memory store: every table a dict of immutable records, and one lock.

A record in a table is never changed in place: a write puts a new record under
its key. So a snapshot of the whole store is a shallow copy of each dict (a
few pointer copies per row, no deep copy), and restoring a snapshot undoes
every write made since it was taken. The unit of work snapshots on begin,
on commit and on each savepoint (``adapters/memory/uow.py``).

Instants are kept as the SQL columns keep them, in UTC (naive ones are refused),
and reasons as their JSON documents read back, so what the fake hands out
compares and prints as what the database would hand out.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from typing import Any

from aftersales.domain.brands import BrandAfterSales
from aftersales.domain.cases import AuditEntry, Complaint, Decision, Quote
from aftersales.domain.clocks import Clock
from aftersales.domain.dispatch import Closure
from aftersales.domain.eligibility import OrderItem, Product, ServiceAddress
from aftersales.domain.explain import Reason
from aftersales.domain.ledger import Payout
from aftersales.domain.slots import WeeklyWindow
from aftersales.errors import NotFound
from aftersales.services.records import (
    AppointmentChange,
    AppointmentRecord,
    Attachment,
    ChatMessage,
    FormContact,
    NotificationPreferences,
    NotificationRecord,
    Sandbox,
    SignInFailures,
    SolutionText,
)


def utc(value: datetime) -> datetime:
    """``value`` in UTC, as a ``UtcDateTime`` column gives it back; naive ones are refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"refusing to store a naive datetime: {value!r}")
    return value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def stored_reason(reason: Reason) -> Reason:
    """The reason as it comes back from its JSON column."""
    return Reason.from_dict(reason.to_dict())


# ---------------------------------------------------------------- reference rows


@dataclass(frozen=True)
class ProviderRecord:
    name: str
    kind: str
    brand_id: str | None
    calendar: str
    phone: str
    active: bool = True
    sandbox: str = "live"
    windows: tuple[WeeklyWindow, ...] = ()  # SS-2 visit windows
    base_area: str | None = None  # OH-3: where it sets out from


@dataclass(frozen=True)
class OrderRecord:
    sandbox: str
    buyer_account: str
    merchant_id: str
    placed_at: datetime
    contact_phone: str = ""


@dataclass(frozen=True)
class ItemRecord:
    order_id: str
    product_id: str
    paid_price_fen: int
    purchased_on: date
    delivered_on: date | None
    address_text: str
    province: str | None
    city: str | None
    district: str | None
    area_code: str | None = None
    # The entitlements the item was sold with; None for an item loaded without them.
    entitlements: Product | None = None
    entitled_on: date | None = None
    status: str = "paid"
    contact_phone: str = ""


# ---------------------------------------------------------------- case rows


@dataclass(frozen=True)
class CaseRecord:
    """A case's own columns; its clocks, payouts, complaints and history live beside it."""

    id: str
    sandbox: str
    programme: str
    policy_id: str
    order_item_id: str
    state: str
    is_open: bool
    opened_at: datetime
    channel: str
    opened_by: str
    description: str
    service_tag: str | None
    failure: str | None
    overcharge_fen: int | None
    in_warranty: bool | None
    assignee: str | None
    quote: Quote | None
    reached_events: tuple[str, ...]
    version: int
    decision_count: int
    audit_count: int
    caller_name: str = ""
    callback_phone: str = ""
    appointment_at: datetime | None = None


@dataclass(frozen=True)
class LedgerRecord:
    id: int
    sandbox: str
    payout: Payout  # its ``at`` in UTC and its reason as stored
    reason_doc: dict[str, Any]  # the reason's JSON document, for the payout lines


@dataclass(frozen=True)
class DeadlineRecord:
    sandbox: str
    due_at: datetime
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    attempts: int = 0

    def free_at(self, real_now: datetime) -> bool:
        return self.claimed_until is None or self.claimed_until <= real_now


@dataclass(frozen=True)
class OutboxRecord:
    id: int
    sandbox: str
    case_id: str | None
    kind: str
    at: datetime
    payload: dict[str, Any]


# ---------------------------------------------------------------- other rows


@dataclass(frozen=True)
class ThreadRecord:
    order_item_id: str
    brand_id: str
    opened_at: datetime
    case_id: str | None
    messages: tuple[ChatMessage, ...] = ()


@dataclass(frozen=True)
class AccountRecord:
    username: str
    name: str
    role: str
    party: str | None
    password_hash: str
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class SessionRow:
    account_id: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class TokenRecord:
    account_id: str
    name: str
    digest: str
    created_at: datetime
    revoked_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class KeyRecord:
    request_sha256: str
    created_at: datetime
    status: int | None = None
    body_json: str | None = None  # the answer as JSON text: every read gets its own copy


# ---------------------------------------------------------------- the tables


@dataclass
class Tables:
    """One dict per table. Values are immutable; a write replaces the value under a key."""

    sandboxes: dict[str, Sandbox] = field(default_factory=dict)
    brands: dict[str, BrandAfterSales] = field(default_factory=dict)
    merchants: dict[str, str] = field(default_factory=dict)
    buyers: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (name, phone)
    providers: dict[str, ProviderRecord] = field(default_factory=dict)
    # (provider, area code, category, service tag, fulfil) -> the provider's world
    coverage: dict[tuple[str, str, str, str, str], str] = field(default_factory=dict)
    # OH-3: provider -> {capacity area ('' overall): cases a day}; provider -> closures;
    # (world, provider, day, capacity area) -> cases dispatched
    capacity: dict[str, dict[str, int]] = field(default_factory=dict)
    closures: dict[str, tuple[Closure, ...]] = field(default_factory=dict)
    loads: dict[tuple[str, str, date, str], int] = field(default_factory=dict)
    # Master data as written through the MasterData port: (kind, id) -> row
    master: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    inbox: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    import_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    order_items: dict[str, ItemRecord] = field(default_factory=dict)
    cases: dict[str, CaseRecord] = field(default_factory=dict)
    # Per case, in clock-id order: copies that nobody changes (a read copies them again).
    clocks: dict[str, tuple[Clock, ...]] = field(default_factory=dict)
    complaints: dict[str, tuple[Complaint, ...]] = field(default_factory=dict)
    decisions: dict[str, tuple[Decision, ...]] = field(default_factory=dict)
    audit: dict[str, tuple[AuditEntry, ...]] = field(default_factory=dict)
    ledger: dict[int, LedgerRecord] = field(default_factory=dict)
    ledger_keys: dict[str, int] = field(default_factory=dict)  # one entry per key
    case_ledger: dict[str, tuple[int, ...]] = field(default_factory=dict)  # case -> entry ids
    # Providers' shares of payouts (issue 15), kept apart from the payouts as in SQL
    # (``ledger_shares``): per case in the order made, and the keys taken.
    case_shares: dict[str, tuple[Payout, ...]] = field(default_factory=dict)
    share_keys: dict[str, str] = field(default_factory=dict)  # key -> sandbox
    balances: dict[tuple[str, str, str], int] = field(default_factory=dict)
    deadlines: dict[tuple[str, str], DeadlineRecord] = field(default_factory=dict)
    outbox: dict[int, OutboxRecord] = field(default_factory=dict)
    threads: dict[str, ThreadRecord] = field(default_factory=dict)
    contacts: dict[str, FormContact] = field(default_factory=dict)
    attachments: dict[str, Attachment] = field(default_factory=dict)
    solution_texts: dict[str, SolutionText] = field(default_factory=dict)
    appointments: dict[str, AppointmentRecord] = field(default_factory=dict)  # by case
    appointment_changes: dict[str, list[AppointmentChange]] = field(default_factory=dict)
    accounts: dict[str, AccountRecord] = field(default_factory=dict)
    sessions: dict[str, SessionRow] = field(default_factory=dict)
    tokens: dict[str, TokenRecord] = field(default_factory=dict)
    sign_in_failures: dict[str, SignInFailures] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], KeyRecord] = field(default_factory=dict)
    # id -> notification; the unique key (account, case, kind, clock, mark) -> id
    notifications: dict[int, NotificationRecord] = field(default_factory=dict)
    notification_keys: dict[tuple[str, str, str, str, str], int] = field(default_factory=dict)
    notification_preferences: dict[str, NotificationPreferences] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)

    def copy(self) -> Tables:
        return Tables(**{f.name: dict(getattr(self, f.name)) for f in fields(self)})

    def next_id(self, sequence: str) -> int:
        value = self.sequences.get(sequence, 0) + 1
        self.sequences[sequence] = value
        return value


class StoreLock:
    """Held by one holder at a time — a unit of work, not a thread.

    An HTTP request may enter its unit of work on one worker thread and leave it
    on another (each thread-pool hop), so a thread-owned lock would not do: the
    holder that took it releases it, wherever it runs, and may take it again.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._holder: object | None = None
        self._depth = 0

    def acquire(self, holder: object) -> None:
        with self._changed:
            while self._holder is not None and self._holder is not holder:
                self._changed.wait()
            self._holder = holder
            self._depth += 1

    def release(self, holder: object) -> None:
        with self._changed:
            if self._holder is not holder:
                raise RuntimeError("the store's lock is released by one that does not hold it")
            self._depth -= 1
            if self._depth == 0:
                self._holder = None
                self._changed.notify_all()


class MemoryStore:
    """The state every in-memory unit of work on it shares, and the lock they take.

    The outermost unit of work holds ``lock`` from begin to end, so units of
    work on one store run one at a time, like SQLite's writers.
    """

    def __init__(self) -> None:
        self.lock = StoreLock()
        self.tables = Tables()

    def snapshot(self) -> Tables:
        return self.tables.copy()

    def restore(self, snapshot: Tables) -> None:
        self.tables = snapshot.copy()

    # ----- reads shared by the repositories

    def order_item(self, order_item_id: str) -> OrderItem:
        """The item with its order and product, as ``reference.load_order_item`` builds it."""
        t = self.tables
        row = t.order_items.get(order_item_id)
        order = None if row is None else t.orders.get(row.order_id)
        product = None if row is None else t.products.get(row.product_id)
        if row is None or order is None or product is None:
            raise NotFound("order item", order_item_id)
        if row.entitlements is not None:
            product = replace(row.entitlements, name=product.name)
        address = (
            ServiceAddress(row.address_text, row.province, row.city, row.district, row.area_code)
            if row.address_text or row.city
            else None
        )
        return OrderItem(
            id=order_item_id,
            order_id=row.order_id,
            buyer_account=order.buyer_account,
            merchant_id=order.merchant_id,
            product=product,
            paid_price_fen=row.paid_price_fen,
            purchased_on=row.purchased_on,
            address=address,
            delivered_on=row.delivered_on,
            entitled_on=row.entitled_on,
            status=row.status,
        )
