"""The shapes the HTTP API accepts and answers with (Pydantic v2); OpenAPI is built from them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from aftersales.domain.instants import Instant

# ------------------------------------------------------------------ requests


class HelpRequest(BaseModel):
    order_item_id: str = Field(min_length=1, max_length=64)
    failure: str = Field(
        min_length=1, max_length=64, description="e.g. installation_late, not_delivered_into_home"
    )
    description: str = Field(default="", max_length=4000)


class RepairReport(BaseModel):
    order_item_id: str = Field(min_length=1, max_length=64)
    description: str = Field(min_length=1, max_length=4000, description="The fault, in words.")
    contact_phone: str = Field(default="", max_length=40, description="How to reach the buyer.")
    address: str = Field(default="", max_length=400, description="Where the item is.")
    preferred_time: str = Field(
        default="", max_length=200, description="When a visit or pick-up suits the buyer."
    )
    caller_name: str = Field(
        default="", max_length=200, description="Hotline: who called for the buyer (NW-2a)."
    )
    callback_phone: str = Field(
        default="",
        max_length=40,
        description="Hotline: the number to call back, a mainland mobile or a landline with "
        "its area code.",
    )


class Appointment(BaseModel):
    """Either a visit time the handler agreed (``at``) or a window offered by
    ``GET /api/v1/cases/{id}/slots`` (``slot``), never both."""

    at: Instant | None = Field(default=None, description="The agreed visit, with its UTC offset.")
    slot: str | None = Field(
        default=None,
        max_length=40,
        description="SS-2: an offered window, e.g. '2026-12-02T09:00/12:00' (local time); "
        "the same window again changes nothing, another one is the buyer's reschedule.",
    )

    @model_validator(mode="after")
    def _one_of(self) -> Appointment:
        if (self.at is None) == (self.slot is None):
            raise ValueError("give either 'slot' (an offered window) or 'at' (a visit time)")
        return self


class Decline(BaseModel):
    reason: str = Field(
        min_length=1, max_length=500, description="Why the provider gives the request up (X-4)."
    )


class Reassign(BaseModel):
    provider_id: str = Field(
        min_length=1, max_length=64, description="The provider to hand the request to."
    )
    reason: str = Field(min_length=1, max_length=500, description="Why it changes hands (X-4).")


class CaseAction(BaseModel):
    action: str = Field(min_length=1, max_length=40, description="e.g. accept, give_solution")
    note: str = Field(default="", max_length=4000)


class ComplaintFiled(BaseModel):
    clock_id: str | None = Field(default=None, max_length=64)
    text: str = Field(default="", max_length=4000)


class ComplaintDecision(BaseModel):
    uphold: bool
    note: str = Field(default="", max_length=4000)


class PauseRequest(BaseModel):
    reason: str = Field(
        min_length=1,
        max_length=64,
        description="an exemption reason the clock's policy allows, e.g. buyer_unreachable",
    )


class QuoteIssued(BaseModel):
    amount_fen: int = Field(
        ge=0, le=100_000_000, description="the repair's price in fen (¥1 = 100)"
    )


class QuoteAnswer(BaseModel):
    accept: bool


class ChatOpened(BaseModel):
    order_item_id: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=4000, description="the first message")


class ChatMessagePosted(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class NoBody(BaseModel):
    """A POST that carries nothing but its path (resume a clock; turn a chat into a report)."""


class SandboxCreated(BaseModel):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(default="", max_length=200)
    start: Instant | None = Field(
        default=None,
        description="the sandbox clock's first reading, with a UTC offset, e.g. 2026-11-24T10:00+08:00",
    )
    demo_data: bool = Field(
        default=True, description="give the sandbox its own copy of the demo's orders"
    )


class SandboxAdvance(BaseModel):
    """What makes two advances the same request (for Idempotency-Key)."""

    by: timedelta


class AttachmentUpload(BaseModel):
    """What makes two uploads the same request (for Idempotency-Key)."""

    filename: str
    sha256: str
    declared_type: str | None


class ImportUpload(BaseModel):
    """What makes two import uploads the same request (for Idempotency-Key)."""

    filename: str
    sha256: str
    kind: str | None
    sandbox: str | None
    dry_run: bool


# ------------------------------------------------------------------ answers


class Bilingual(BaseModel):
    zh: str
    en: str


class Explanation(Bilingual):
    rule: str


class FieldProblem(BaseModel):
    field: str = Field(description="the parameter, form field or JSON member (dotted)")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error is answered."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    request_id: str | None = Field(
        default=None, description="the X-Request-Id of the request, to find it in the logs"
    )
    errors: list[FieldProblem] | None = Field(
        default=None, description="the fields refused, each with its problem, when known"
    )


class CaseSummary(BaseModel):
    id: str
    sandbox: str
    programme: str
    state: str
    is_open: bool
    opened_at: datetime
    product: str
    assignee: str | None
    city: str | None
    next_due: datetime | None = Field(description="the earliest running deadline, if any")
    order_id: str = ""
    order_item_id: str = ""
    buyer: str = ""
    buyer_name: str = ""
    merchant: str = ""
    merchant_name: str = ""
    brand: str = ""
    brand_name: str = ""
    assignee_name: str = ""


class CasePage(BaseModel):
    items: list[CaseSummary]
    total: int = Field(description="how many cases match the filters in all")
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null at the end"
    )


class PayoutOut(BaseModel):
    key: str
    case_id: str
    sandbox: str
    rule: str
    amount: int
    unit: str = Field(description="points or fen")
    payer: str
    payee: str
    at: datetime
    explanation: Bilingual


class PayoutPage(BaseModel):
    items: list[PayoutOut]
    next_cursor: str | None


class BalanceOut(BaseModel):
    sandbox: str
    account: str
    unit: str
    balance: int = Field(description="payees are credited, payers debited")


class ComplianceRowOut(BaseModel):
    key: str
    met: int
    breached: int
    not_applicable: int
    running: int
    points_paid: int
    rate: float | None


class ComplianceOut(BaseModel):
    by: str
    rows: list[ComplianceRowOut]


class ServiceCentreOut(BaseModel):
    name: str
    city: str
    address: str
    phone: str


class BrandOut(BaseModel):
    id: str
    name: str
    hotline: str
    warranty_terms: Bilingual
    exclusions: list[Bilingual]
    centres: list[ServiceCentreOut]


class SandboxOut(BaseModel):
    id: str
    name: str
    now: datetime


class AdvanceOut(BaseModel):
    id: str
    now: datetime
    payouts: int
    paid: list[str]


class ComplaintOut(BaseModel):
    id: str
    clock: str | None
    status: str
    explanation: Explanation


class ClockDefinitionOut(BaseModel):
    id: str
    rule: str
    duration: str
    calendar: str


class PolicyOut(BaseModel):
    id: str
    programme: str
    version: str
    name: Bilingual
    effective_from: datetime
    effective_until: datetime | None
    in_force: bool
    clocks: list[ClockDefinitionOut]


class PolicyDocumentOut(PolicyOut):
    document: dict[str, Any] = Field(description="the whole policy document, as loaded")


class ChatMessageOut(BaseModel):
    at: datetime
    sender_role: str
    sender_id: str
    text: str


class ChatOut(BaseModel):
    id: str
    order_item_id: str
    brand_id: str
    case_id: str | None
    messages: list[ChatMessageOut]


class AttachmentOut(BaseModel):
    id: str
    case_id: str | None
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    uploaded_by: str


# ------------------------------------------------------------------ marketplace events in


class FieldProblemOut(BaseModel):
    field: str
    message: str


class EventResultOut(BaseModel):
    """How one event was answered (docs/events.md explains each outcome)."""

    id: str | None = Field(description="the event's id, when it could be read")
    type: str | None
    sandbox: str
    outcome: str = Field(description="applied, stale, unknown, refused or duplicate")
    message: str = Field(description="what was done, or what to do")
    first_outcome: str | None = Field(
        default=None, description="for a duplicate: how the first delivery was answered"
    )
    items: list[str] = Field(default_factory=list, description="the order items that moved")
    errors: list[FieldProblemOut] = Field(default_factory=list)


class EventsAnswer(BaseModel):
    received: int
    counts: dict[str, int] = Field(description="events per outcome")
    results: list[EventResultOut] = Field(description="one per event, in the order sent")


class TaobaoResultOut(EventResultOut):
    """How one TMC message was answered: skipped, refused, or its event's outcome."""

    message_id: str | None = Field(description="the TMC message id")
    topic: str
    outcome: str = Field(
        description="skipped (a topic we make no event from), refused, or the event's outcome"
    )


class TaobaoAnswer(BaseModel):
    received: int
    counts: dict[str, int]
    results: list[TaobaoResultOut]


class ImportProblemOut(BaseModel):
    file: str
    line: int = Field(description="1-based line where the row starts; 0 for the whole file")
    field: str | None = Field(description="the column (or field) at fault, when one is")
    message: str = Field(description="what is wrong and how to put it right")


class ImportJobOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    filename: str
    kind: str | None
    sandbox: str
    dry_run: bool = Field(description="true: nothing is kept; the counts say what would happen")
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rows_read: int
    bytes_read: int
    bytes_total: int | None
    progress: float | None = Field(description="0 to 1, by bytes read")
    counts: dict[str, dict[str, int]] = Field(
        description="records per kind and result (created, updated, unchanged, stale, refused)"
    )
    totals: dict[str, int]
    error_count: int = Field(description="row problems in all; errors.csv lists every one")
    errors: list[ImportProblemOut] = Field(description="the first 100 row problems")
    message: str
