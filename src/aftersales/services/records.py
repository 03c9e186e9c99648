"""The records that cross the ports: small frozen values, no behaviour beyond a derived field.

Services and adapters both speak them; the domain's own objects (``Case``,
``OrderItem``, ``Payout`` …) cross the ports as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aftersales.domain.explain import Language, Reason
from aftersales.domain.lifecycle import Role

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
class BrandLine:
    id: str
    name: str
    hotline: str


GROUPINGS = ("provider", "city", "category", "programme", "clock")


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
