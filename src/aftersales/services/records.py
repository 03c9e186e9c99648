"""The records that cross the ports: small frozen values, no behaviour beyond a derived field.

Services and adapters both speak them; the domain's own objects (``Case``,
``OrderItem``, ``Payout`` …) cross the ports as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aftersales.domain.contacts import Contact
from aftersales.domain.eligibility import OrderItem
from aftersales.domain.explain import Language, Reason
from aftersales.domain.lifecycle import Role
from aftersales.domain.slots import WeeklyWindow

LIVE = "live"  # the sandbox id of live data


@dataclass(frozen=True)
class Sandbox:
    id: str
    name: str
    now: datetime
    created_at: datetime


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    name: str
    role: Role
    party: str | None
    active: bool = True


@dataclass(frozen=True)
class StoredAccount:
    account: Account
    password_hash: str


@dataclass(frozen=True)
class SessionRecord:
    account: Account
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenRecord:
    """An API token as stored: never the token itself, only what it is and whose."""

    id: str
    account: Account
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class SignInFailures:
    """Failed sign-ins under one key (an account name or a client address)."""

    failures: int
    last_failure_at: datetime
    blocked_until: datetime | None


@dataclass(frozen=True)
class ChatThread:
    id: str
    order_item_id: str
    brand_id: str
    buyer_account: str
    case_id: str | None
    opened_at: datetime


@dataclass(frozen=True)
class ChatMessage:
    at: datetime
    sender_role: str
    sender_id: str
    text: str


@dataclass(frozen=True)
class FormContact:
    """Where and how the buyer is reached for a case, as the repair form gave it (NW-2b).

    ``phone`` is written the one way a dialler takes it
    (:func:`aftersales.domain.contacts.normalise_phone`); ``preferred_time`` is the
    buyer's own words or a local date and time (``2026-11-25T14:00``).
    """

    case_id: str
    phone: str
    address: str
    preferred_time: str
    given_at: datetime
    given_by: str


@dataclass(frozen=True)
class Attachment:
    id: str
    case_id: str | None
    filename: str
    content_type: str
    size: int
    sha256: str
    storage_key: str
    uploaded_at: datetime
    uploaded_by: str


@dataclass(frozen=True)
class StoredAnswer:
    """The answer kept for an ``Idempotency-Key`` (``status`` None: not answered yet)."""

    request_sha256: str
    status: int | None
    body: dict[str, Any] | None


@dataclass(frozen=True)
class Scope:
    """Whose view: a role and the party it acts for (buyer account, provider, shop, brand)."""

    role: Role
    party: str | None = None
    account: str | None = None

    @property
    def sees_everything(self) -> bool:
        return self.role is Role.OPERATIONS


@dataclass(frozen=True)
class CaseLine:
    id: str
    sandbox: str
    programme: str
    state: str
    is_open: bool
    opened_at: datetime
    product: str
    buyer: str
    merchant: str
    assignee: str | None
    city: str | None
    next_due: datetime | None = None


@dataclass(frozen=True)
class FoundCase(CaseLine):
    """A case line with what a person reads instead of ids: the names of the parties."""

    order_id: str = ""
    order_item_id: str = ""
    brand: str = ""
    buyer_name: str = ""
    merchant_name: str = ""
    assignee_name: str = ""
    brand_name: str = ""


CLOCK_STATES = ("running", "paused", "met", "breached", "not_applicable")


@dataclass(frozen=True)
class CaseFilter:
    """What a case list is narrowed to; every field left empty narrows nothing.

    ``text`` finds a case by its id, its order or order item id (bare or with the
    sandbox's prefix), the buyer's account, name (its start) or phone, or the
    order's contact phone. ``clock_state``: a clock of the case is in that state.
    ``due_within``: a running clock of the case falls due within that long of the
    world's own time (``now``: the sandbox clock, or the real time for live data).
    A list shows one world at a time: live data, or one sandbox.
    """

    sandbox: str = LIVE
    text: str = ""
    programme: str | None = None
    state: str | None = None
    provider: str | None = None
    merchant: str | None = None
    brand: str | None = None
    city: str | None = None
    clock_state: str | None = None
    due_within: timedelta | None = None
    open_only: bool = False
    now: datetime | None = None

    def due_by(self) -> datetime | None:
        """The instant a running clock must fall due by to match ``due_within``."""
        if self.due_within is None:
            return None
        if self.now is None:
            raise ValueError("a 'due within' filter needs the world's time (now)")
        return self.now + self.due_within


@dataclass(frozen=True)
class CasePage:
    """One page of a filtered case list, and how many cases the whole filter matches."""

    lines: list[FoundCase]
    total: int
    more: bool  # another page follows the last line


@dataclass(frozen=True)
class QueueLine:
    """One open case in a provider's queue, with the clock that breaches first."""

    case: CaseLine
    clock_id: str
    due_at: datetime
    now: datetime  # the case's own time: the sandbox clock for sandbox cases

    @property
    def seconds_left(self) -> float:
        return (self.due_at - self.now).total_seconds()


@dataclass(frozen=True)
class PayoutLine:
    key: str
    case_id: str
    sandbox: str
    rule: str
    amount: int
    unit: str
    payer: str
    payee: str
    at: datetime
    reason: dict[str, Any]
    entry_id: int

    def explanation(self, language: Language) -> str:
        """Why this payout was made, in ``language``, citing its rule (X-2)."""
        return Reason.from_dict(self.reason).render(language)


@dataclass
class ComplianceRow:
    key: str
    met: int = 0
    breached: int = 0
    not_applicable: int = 0
    running: int = 0
    points_paid: int = 0

    @property
    def judged(self) -> int:
        return self.met + self.breached

    @property
    def rate(self) -> float | None:
        """Share of judged commitments kept (met ÷ (met + breached)); None with none judged."""
        return None if not self.judged else self.met / self.judged


@dataclass
class Compliance:
    by: str
    rows: list[ComplianceRow] = field(default_factory=list)

    @property
    def total(self) -> ComplianceRow:
        total = ComplianceRow("total")
        for row in self.rows:
            total.met += row.met
            total.breached += row.breached
            total.not_applicable += row.not_applicable
            total.running += row.running
            total.points_paid += row.points_paid
        return total


@dataclass(frozen=True)
class BalanceLine:
    sandbox: str
    account: str
    unit: str
    balance: int


@dataclass(frozen=True)
class OpenCaseLine:
    id: str
    order_item_id: str
    programme: str


@dataclass(frozen=True)
class PayoutTotal:
    """How many payouts a list holds, and the points among them."""

    count: int
    points: int


@dataclass(frozen=True)
class ComplaintLine:
    id: str
    case_id: str
    clock_id: str | None
    filed_at: datetime
    text: str


@dataclass(frozen=True)
class LiveFigures:
    """What the metrics scrape reports of live data."""

    open_cases: dict[str, int]  # by programme
    deadlines_due: int
    oldest_due: datetime | None
    payouts: dict[str, tuple[int, int]]  # rule -> (count, points)
    at: datetime  # when they were read

    @property
    def claim_lag_s(self) -> float:
        """How long the oldest due deadline has waited for a worker."""
        return 0.0 if self.oldest_due is None else (self.at - self.oldest_due).total_seconds()


@dataclass(frozen=True)
class CaseContact:
    """A case's customer contact as stored, with the two parties that decide who sees it."""

    case_id: str
    buyer: str
    assignee: str | None
    contact: Contact
    appointment_at: datetime | None = None  # the agreed visit


@dataclass(frozen=True)
class SolutionText:
    """One of a handler's reusable solution texts (OH-4)."""

    id: str
    owner: str  # the provider, shop or brand
    title: str
    body: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class BrandLine:
    id: str
    name: str
    hotline: str


# "holder": who held each judged clock when it was judged (issue 15), "<kind>:<party>".
GROUPINGS = ("provider", "city", "category", "programme", "clock", "holder")


@dataclass(frozen=True)
class NotificationRecord:
    """One notification of one account (see docs/notifications.md)."""

    id: int
    account_id: str
    sandbox: str
    case_id: str
    kind: str  # a NoticeKind value
    clock_id: str
    mark: str
    level: int
    at: datetime  # the instant it is about
    reason: Reason  # its words, in both languages
    read_at: datetime | None = None
    acked_at: datetime | None = None


@dataclass(frozen=True)
class NotificationPreferences:
    """The channels an account chose beside the in-app list, which is always on."""

    account_id: str
    email: str | None = None
    email_on: bool = False
    phone: str | None = None
    sms_on: bool = False
    chat_id: str | None = None
    chat_on: bool = False
    language: Language = "zh"


@dataclass(frozen=True)
class IntakeItem:
    """What opening a case on an order item reads first, read in one go: the item (with its
    order and product), the world its order lives in and that world's clock reading (None
    for live data, whose time is the service's clock), and the item's open case in the
    programme asked about, if it has one; and the shop's preferred providers (None: not
    read with it)."""

    item: OrderItem
    sandbox: str
    sandbox_now: datetime | None
    open_case: str | None
    preferred_providers: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ProviderWindows:
    """SS-2: a provider's weekly visit windows, the business calendar they follow, its world."""

    provider_id: str
    name: str
    calendar: str
    windows: tuple[WeeklyWindow, ...]
    sandbox: str = LIVE


@dataclass(frozen=True)
class AppointmentRecord:
    """The visit window booked for a case (SS-2), who booked it and how often it moved."""

    case_id: str
    sandbox: str
    provider_id: str
    starts_at: datetime
    ends_at: datetime
    booked_at: datetime
    booked_by_role: str
    booked_by: str
    reschedules: int = 0


@dataclass(frozen=True)
class AppointmentChange:
    """One line of a case's booking history: booked, or moved from ``before`` (SS-2)."""

    case_id: str
    at: datetime
    starts_at: datetime
    ends_at: datetime
    before: datetime | None
    actor_role: str
    actor_id: str
