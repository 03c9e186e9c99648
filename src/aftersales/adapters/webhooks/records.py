"""What the webhook modules hand each other and their callers: statuses, errors, records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from aftersales.errors import InvalidRequest

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"


class WebhookError(InvalidRequest):
    """A webhook endpoint or delivery request cannot be honoured as asked."""


@dataclass(frozen=True)
class Endpoint:
    """A registered receiver. The secret is not part of it: it is shown once, at registration."""

    id: str
    url: str
    event_kinds: tuple[str, ...]  # empty: every kind
    sandbox: str
    active: bool
    created_at: datetime

    def wants(self, kind: str) -> bool:
        return not self.event_kinds or kind in self.event_kinds


@dataclass(frozen=True)
class DeliveryRecord:
    """One line of the delivery log: an event, an endpoint, and how delivery is going."""

    id: int
    outbox_id: int
    endpoint_id: str
    url: str
    kind: str
    sandbox: str
    case_id: str | None
    event_at: datetime
    idempotency_key: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class AttemptOutcome:
    """What one POST came to. ``recorded`` is False when another worker got there first."""

    delivery_id: int
    idempotency_key: str
    status: str  # the delivery's status after this attempt
    attempts: int
    status_code: int | None
    error: str | None
    next_attempt_at: datetime | None
    recorded: bool = True


@dataclass
class DeliveryReport:
    """What one dispatcher round did (or, counted without outcomes, a delivery loop so far)."""

    fanned_out: int = 0  # outbox rows marked dispatched
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    superseded: int = 0  # outcomes not recorded: the claim had been taken over meanwhile
    outcomes: list[AttemptOutcome] = field(default_factory=list)

    def add(self, outcome: AttemptOutcome) -> None:
        """Keep ``outcome`` and count it."""
        self.outcomes.append(outcome)
        self.count(outcome)

    def count(self, outcome: AttemptOutcome) -> None:
        """Count ``outcome`` without keeping it (a long-running loop would pile them up)."""
        if not outcome.recorded:
            self.superseded += 1
        elif outcome.status == DELIVERED:
            self.delivered += 1
        elif outcome.status == DEAD:
            self.dead += 1
        else:
            self.retrying += 1
