"""The case aggregate: one repair report (NW) or one help request (OH).

A case owns its state (see :mod:`aftersales.domain.lifecycle`), its SLA clocks,
the payouts made for its failures, its complaints, its out-of-warranty quote,
an audit trail (X-4) and a record of every decision with its reason (X-2).

Every method takes the instant it happens at (``at``) and the policy book, and
first *settles* the case at that instant: a clock already past due is breached
before anything else happens, so the result never depends on how late a worker
runs. Changes are collected as :class:`CaseEvent` for the service layer to
publish through the outbox, and what people must be told as
:class:`~aftersales.domain.notices.Notice` (assignment, warning marks, breaches,
payouts, complaint decisions), which the repository turns into notifications.

**Size.** ~1,180 lines, one job: the aggregate and its invariants. It is one
consistency boundary: its commands (open, dispatch and hand over, act, pause, quote,
complain, decide, settle with the providers' shares, the agreed visit and its SS-2
clocks, notes, notices) all guard the same state, clocks and ledger under one lock,
so they live on one class; the slot and reschedule rules of SS-2 already live beside it
in ``domain/appointments.py``. The complaint and quote commands are the natural first split
(``domain/complaints.py``, ``domain/quotes.py`` as functions over a case) once they
grow; the clocks and the ledger already live in their own modules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from aftersales.domain.clocks import Clock, ClockEnv, ClockStatus
from aftersales.domain.contacts import APPOINTMENT_PROBLEMS, appointment_problem
from aftersales.domain.eligibility import EligibilityDecision, OrderItem
from aftersales.domain.errors import EligibilityError, IllegalTransition, LedgerError
from aftersales.domain.explain import Bilingual, Reason, amount_text, duration_text, local_time
from aftersales.domain.ledger import (
    Payout,
    assess_payout,
    gating_payout,
    paid_text,
    payout_key,
    provider_share,
)
from aftersales.domain.lifecycle import LIFECYCLES, Channel, Lifecycle, Programme, Role
from aftersales.domain.money import Amount
from aftersales.domain.notices import (
    Notice,
    NoticeKind,
    Recipient,
    complainant,
    level_recipient,
    responsible,
)
from aftersales.domain.policy import PenaltyDefinition, PolicyBook, ProgrammePolicy


def clock_applies(book: PolicyBook, standard_id: str | None, service_tag: str | None) -> bool:
    """A clock tied to a service standard (SS-2) runs only on cases under that standard
    or one including it (SS-3 includes SS-2)."""
    if standard_id is None:
        return True
    standard = book.service_standards.for_tag(service_tag or "")
    return standard is not None and (standard.id == standard_id or standard_id in standard.includes)


@dataclass(frozen=True)
class Actor:
    """Who did something, in which role, through which channel (X-4)."""

    role: Role
    id: str
    channel: Channel
    name: str = ""


SYSTEM = Actor(Role.SYSTEM, "system", Channel.SYSTEM, "system")
# OH-3: the dispatch decision's parameter naming the capacity areas the case was counted
# against on the provider's day, space-separated, OVERALL standing for the overall count.
LOAD_AREAS = "load_areas"
OVERALL = "*"


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    role: Role
    actor_id: str
    channel: Channel
    action: str
    from_state: str | None
    to_state: str
    note: str = ""


@dataclass(frozen=True)
class Decision:
    """A decision with its reason, as it was taken (X-2)."""

    at: datetime
    subject: (
        str  # "eligibility", "clock:<id>", "payout:<key>", "complaint:<id>", "quote", "dispatch"
    )
    reason: Reason


@dataclass(frozen=True)
class CaseEvent:
    """Something that happened to a case, for the outbox (names are past tense)."""

    case_id: str
    at: datetime
    kind: str  # case.opened, case.<event>, clock.<status>, payout.made, complaint.<status>, ...
    data: Mapping[str, str] = field(default_factory=dict)
    reason: Reason | None = None


ComplaintStatus = Literal["refused", "routed", "pending", "upheld", "dismissed"]


@dataclass
class Complaint:
    id: str
    clock_id: str | None
    filed_at: datetime
    filed_by: str
    text: str
    status: ComplaintStatus
    reason: Reason
    decided_at: datetime | None = None
    decided_by: str | None = None


@dataclass
class Quote:
    """NW-6: the price of an out-of-warranty repair, which the consumer accepts or declines."""

    amount_fen: int
    issued_at: datetime
    status: Literal["issued", "accepted", "declined"] = "issued"
    answered_at: datetime | None = None


@dataclass
class Case:
    id: str
    programme: Programme
    policy_id: str
    item: OrderItem
    state: str
    opened_at: datetime
    channel: Channel
    opened_by: str
    description: str = ""
    service_tag: str | None = None
    failure: str | None = None
    overcharge_fen: int | None = None
    in_warranty: bool | None = None
    assignee: str | None = None
    # Who rang the hotline for the buyer (NW-2a) and the number to call them back on.
    caller_name: str = ""
    callback_phone: str = ""
    # The visit time the handler agreed with the buyer (OH-4's plan, SS-2's agreed day).
    appointment_at: datetime | None = None
    clocks: dict[str, Clock] = field(default_factory=dict)
    payouts: list[Payout] = field(default_factory=list)
    # Providers' shares of those payouts, owed to the merchant (issue 15); apart from
    # ``payouts``, which are what the buyer was paid.
    shares: list[Payout] = field(default_factory=list)
    complaints: list[Complaint] = field(default_factory=list)
    quote: Quote | None = None
    audit: list[AuditEntry] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    events: list[CaseEvent] = field(default_factory=list)
    reached_events: set[str] = field(default_factory=set)
    notices: list[Notice] = field(default_factory=list)

    # ----- construction -----

    @classmethod
    def open(
        cls,
        *,
        case_id: str,
        book: PolicyBook,
        eligibility: EligibilityDecision,
        item: OrderItem,
        at: datetime,
        actor: Actor,
        description: str = "",
        failure: str | None = None,
        overcharge_fen: int | None = None,
    ) -> Case:
        """Open a case under the policy version the eligibility decision found in force (OH-8)."""
        if not eligibility.eligible:
            why = " ".join(r.en for r in eligibility.reasons)
            raise EligibilityError(
                f"item {item.id} is not eligible for {eligibility.programme}: {why}"
            )
        policy = book.by_id(eligibility.policy_id)
        lifecycle = LIFECYCLES[policy.programme]
        if policy.programme is Programme.ONE_CLICK_HELP:
            failure = cls._check_failure(book, eligibility.service_tag, failure, overcharge_fen)
        case = cls(
            id=case_id,
            programme=policy.programme,
            policy_id=policy.id,
            item=item,
            state=lifecycle.initial_state,
            opened_at=at,
            channel=actor.channel,
            opened_by=actor.id,
            description=description,
            service_tag=eligibility.service_tag,
            failure=failure,
            overcharge_fen=overcharge_fen,
            in_warranty=eligibility.in_warranty,
            clocks={
                d.id: Clock(d.id)
                for d in policy.clocks
                if clock_applies(book, d.service_standard, eligibility.service_tag)
            },
        )
        for reason in eligibility.reasons:
            case.decisions.append(Decision(at, "eligibility", reason))
        case.audit.append(
            AuditEntry(
                at, actor.role, actor.id, actor.channel, "open", None, case.state, description
            )
        )
        case._emit(at, "case.opened", {"programme": policy.programme.value, "policy": policy.id})
        case._on_event(book, lifecycle.initial_event, at)
        if item.delivered_on is not None and "signed_for" in lifecycle.events:
            # SS-2: opened on goods already signed for, the contact clock counts from now.
            case._on_event(book, "signed_for", at)
        return case

    @staticmethod
    def _check_failure(
        book: PolicyBook, service_tag: str | None, failure: str | None, overcharge_fen: int | None
    ) -> str:
        """OH-6: the request names which failure of the item's service standard it is about."""
        standard = book.service_standards.for_tag(service_tag or "")
        if standard is None:
            raise EligibilityError(f"no service standard covers the service '{service_tag}'")
        failures = book.service_standards.failures_of(standard)
        known = {f.id: f for f in failures}
        if failure is None:
            raise EligibilityError(
                f"a one-click-help request must say what went wrong; for {standard.id} choose one of: "
                + ", ".join(known)
            )
        if failure not in known:
            raise EligibilityError(
                f"'{failure}' is not a failure of {standard.id}; choose one of: " + ", ".join(known)
            )
        if known[failure].kind == "refund_plus_same" and not overcharge_fen:
            raise EligibilityError(f"'{failure}' needs the overcharged amount in fen (above zero)")
        return failure

    # ----- helpers -----

    def policy(self, book: PolicyBook) -> ProgrammePolicy:
        return book.by_id(self.policy_id)

    @property
    def lifecycle(self) -> Lifecycle:
        return LIFECYCLES[self.programme]

    def _env(self, book: PolicyBook, clock_id: str) -> ClockEnv:
        policy = self.policy(book)
        definition = policy.clock(clock_id)
        window = book.calendar(definition.applies_within) if definition.applies_within else None
        agreed = None
        if self.appointment_at is not None:
            agreed = self.appointment_at.astimezone(ZoneInfo(policy.timezone)).date()
        return ClockEnv(
            definition, book.calendar(definition.calendar), window, policy.timezone, agreed
        )

    def _audit_step(self, at: datetime, actor: Actor, action: str, note: str = "") -> None:
        """An audit entry for a step that leaves the case in its state (a pause, a note, a
        quote, a hand-over, a booking …)."""
        self.audit.append(
            AuditEntry(
                at, actor.role, actor.id, actor.channel, action, self.state, self.state, note
            )
        )

    def _emit(
        self,
        at: datetime,
        kind: str,
        data: Mapping[str, str] | None = None,
        reason: Reason | None = None,
    ) -> None:
        self.events.append(CaseEvent(self.id, at, kind, dict(data or {}), reason))

    def _decide(self, at: datetime, subject: str, reason: Reason) -> None:
        self.decisions.append(Decision(at, subject, reason))

    def _state_name(self, state: str) -> Bilingual:
        zh, en = self.lifecycle.states[state]
        return Bilingual(zh, en)

    def pull_events(self) -> list[CaseEvent]:
        """Hand over the events collected so far (the service writes them to the outbox)."""
        events, self.events = self.events, []
        return events

    def pull_notices(self) -> list[Notice]:
        """Hand over the notices collected so far (the repository makes them notifications)."""
        notices, self.notices = self.notices, []
        return notices

    def _notify(
        self,
        kind: NoticeKind,
        at: datetime,
        to: Recipient,
        reason: Reason,
        *,
        clock_id: str = "",
        mark: str = "",
        level: int = 0,
    ) -> None:
        self.notices.append(Notice(kind, self.id, at, to, reason, clock_id, mark, level))

    def _notice_params(self, book: PolicyBook) -> dict[str, str | Bilingual]:
        return {"case": self.id, "item": self.item.product.name}

    def next_due(self) -> datetime | None:
        """The earliest deadline among running clocks: the case's one row in the deadline index."""
        dues = [
            c.due_at for c in self.clocks.values() if c.status is ClockStatus.RUNNING and c.due_at
        ]
        return min(dues) if dues else None

    def running_deadlines(self) -> dict[str, datetime]:
        """The case's rows in the deadline index: each running clock's deadline, and its
        armed warning marks as ``"<clock>@<mark>"`` (a mark is a deadline like any other)."""
        running: dict[str, datetime] = {}
        for cid, c in self.clocks.items():
            if c.status is ClockStatus.RUNNING and c.due_at:
                running[cid] = c.due_at
                running.update(c.armed_marks())
        return running

    @property
    def is_open(self) -> bool:
        return self.state not in self.lifecycle.terminal

    # ----- clocks reacting to events -----

    def _on_event(self, book: PolicyBook, event: str, at: datetime) -> None:
        self.reached_events.add(event)
        policy = self.policy(book)
        for (
            definition
        ) in policy.clocks:  # stops first: one event may end one clock and start another
            if event in definition.stops_on and definition.id in self.clocks:
                clock = self.clocks[definition.id]
                before = clock.status
                decided = clock.stop(self._env(book, definition.id), at)
                self._release(clock)
                if decided is not None:
                    self._decide(at, f"clock:{definition.id}", decided)
                    if before is ClockStatus.RUNNING and clock.status is ClockStatus.BREACHED:
                        self._after_breach(book, definition.id, at)
                    if clock.status is ClockStatus.MET:
                        self._emit(at, "clock.met", {"clock": definition.id}, decided)
        for definition in policy.clocks:
            if event == definition.starts_on and definition.id in self.clocks:
                clock = self.clocks[definition.id]
                if clock.status is not ClockStatus.PENDING:
                    continue
                decided = clock.start(self._env(book, definition.id), at)
                if clock.due_at is not None:  # started and running (not outside its window)
                    clock.hold(*self.holder(), at, "started")
                self._decide(at, f"clock:{definition.id}", decided)
                data = {"clock": definition.id}
                kind = "clock.not_applicable"
                if clock.due_at is not None:  # started and running
                    kind, data["due_at"] = "clock.started", clock.due_at.isoformat()
                self._emit(at, kind, data, decided)
                if clock.due_at is not None and self.reached_events & set(definition.stops_on):
                    # Started late (goods signed for after the buyer was already
                    # contacted): what stops it has happened, so it is met at once.
                    met = clock.stop(self._env(book, definition.id), at)
                    self._release(clock)
                    if met is not None:
                        self._decide(at, f"clock:{definition.id}", met)
                        self._emit(at, "clock.met", {"clock": definition.id}, met)

    def settle(self, book: PolicyBook, at: datetime) -> list[Payout]:
        """Fire the warning marks due at ``at``, breach every clock that is past due, and
        pay what falls due automatically."""
        made: list[Payout] = []
        for clock in sorted(self.clocks.values(), key=lambda c: c.clock_id):
            for mark, when in clock.fire_warnings(at):
                self._warn(book, clock, mark, when)
        overdue = sorted(
            (c for c in self.clocks.values() if c.is_overdue(at)),
            key=lambda c: (c.due_at or at, c.clock_id),
        )
        for clock in overdue:
            decided = clock.breach(self._env(book, clock.clock_id), at)
            self._release(clock)
            self._decide(at, f"clock:{clock.clock_id}", decided)
            made.extend(self._after_breach(book, clock.clock_id, at))
        return made

    # ----- who holds the clocks (issue 15) -----

    def holder(self) -> tuple[str, str]:
        """Who holds the case now, as (kind, id): the provider it is dispatched to, the
        brand it is assigned to, or else the merchant (OH-3: the merchant stays liable)."""
        if self.assignee is None or self.assignee == self.item.merchant_id:
            return "merchant", self.item.merchant_id
        if self.assignee == self.item.product.brand_id:
            return "brand", self.assignee
        return "provider", self.assignee

    def _hand_clocks(self, at: datetime, why: str) -> None:
        """The running clocks pass to whoever holds the case now (paused ones stay the buyer's)."""
        kind, party = self.holder()
        for clock in self.clocks.values():
            if clock.status is ClockStatus.RUNNING:
                clock.hold(kind, party, at, why)

    @staticmethod
    def _release(clock: Clock) -> None:
        """A clock that has ended closes its open period: at the due instant for a breach,
        else when it stopped."""
        if clock.status is ClockStatus.BREACHED and clock.breached_at is not None:
            clock.release(clock.breached_at)
        elif clock.stopped_at is not None and clock.status is not ClockStatus.RUNNING:
            clock.release(clock.stopped_at)

    def _responsible(self, book: PolicyBook, clock_id: str) -> Recipient:
        return responsible(self.policy(book).clock(clock_id).owner, self.assignee, self.item)

    def _warn(self, book: PolicyBook, clock: Clock, mark: str, when: datetime) -> None:
        """A warning mark of ``clock`` fell due at ``when``: tell the party responsible,
        or, for an escalation mark, the level it names (if the warning is not acknowledged:
        the repository checks that as it writes, see docs/notifications.md)."""
        env = self._env(book, clock.clock_id)
        definition = env.definition
        assert clock.due_at is not None
        base, _, level_text = mark.partition(">")
        params = self._notice_params(book)
        params.update(
            clock=env.name(), due=env.when(clock.due_at), left=duration_text(clock.due_at - when)
        )
        if not level_text:
            to = self._responsible(book, clock.clock_id)
            reason = Reason("notice.due_soon", definition.rule, params)
            self._notify(NoticeKind.DUE_SOON, when, to, reason, clock_id=clock.clock_id, mark=base)
            return
        level = int(level_text)
        to = level_recipient(definition.escalate_to[level - 1], self.item)
        assert definition.escalate_after is not None
        warned_at = when - definition.escalate_after * level
        params.update(level=str(level), since=env.when(warned_at))
        reason = Reason("notice.escalated", definition.rule, params)
        self._notify(
            NoticeKind.DUE_SOON, when, to, reason, clock_id=clock.clock_id, mark=mark, level=level
        )

    def _penalty_for(self, book: PolicyBook, clock_id: str) -> tuple[PenaltyDefinition | None, str]:
        definition = self.policy(book).clock(clock_id)
        if definition.penalty:
            return self.policy(book).penalty(definition.penalty), definition.failure_id
        if definition.penalty_from == "service_standard":
            # OH-6: the penalty the item's service standard sets for the failure the request names.
            # A clock naming its own failure (SS-2's agreed day) pays that failure's penalty.
            wanted = definition.failure or self.failure
            standard = book.service_standards.for_tag(self.service_tag or "")
            if standard is not None and wanted:
                for candidate in book.service_standards.failures_of(standard):
                    if candidate.id == wanted:
                        return candidate, candidate.id
        return None, definition.failure_id

    def _after_breach(self, book: PolicyBook, clock_id: str, at: datetime) -> list[Payout]:
        clock = self.clocks[clock_id]
        assert clock.due_at is not None
        # The breach happens at the due instant; the payout is dated when it is made.
        breach_reason = clock.reason
        self._emit(
            at,
            "clock.breached",
            {"clock": clock_id, "due_at": clock.due_at.isoformat()},
            breach_reason,
        )
        penalty, failure = self._penalty_for(book, clock_id)
        definition = self.policy(book).clock(clock_id)
        name = Bilingual(definition.name.zh, definition.name.en)
        params = self._notice_params(book)
        params.update(clock=name, due=local_time(clock.due_at, self.policy(book).timezone))
        self._notify(
            NoticeKind.BREACHED,
            clock.due_at,
            self._responsible(book, clock_id),
            Reason("notice.breached", definition.rule, params),
            clock_id=clock_id,
        )
        if penalty is None:
            self._decide(
                at,
                f"clock:{clock_id}",
                Reason("penalty.none_defined", definition.rule, {"clock": name}),
            )
            return []
        if penalty.trigger == "upheld_complaint":
            amount = (
                amount_text(Amount.points(penalty.points))
                if penalty.points
                else Bilingual("-", "-")
            )
            self._decide(
                at,
                f"clock:{clock_id}",
                Reason("penalty.awaits_complaint", penalty.rule, {"clock": name, "amount": amount}),
            )
            return []
        payout = self._pay(book, clock_id, failure, penalty, at)
        return [payout] if payout else []

    def _pay(
        self,
        book: PolicyBook,
        clock_id: str,
        failure: str,
        penalty: PenaltyDefinition,
        at: datetime,
    ) -> Payout | None:
        key = payout_key(self.id, clock_id, failure)
        if any(p.key == key for p in self.payouts):
            return None  # this failure is already paid
        earlier = next((p for p in self.payouts if p.failure == failure), None)
        if earlier is not None:
            # X-1: one failure is paid once, even when two clocks stand for it (OH-6's 48
            # hours named 'installation late', and SS-2's agreed day).
            self._decide(
                at,
                f"clock:{clock_id}",
                Reason(
                    "penalty.already_paid",
                    penalty.rule,
                    {"failure": Bilingual(penalty.name.zh, penalty.name.en), "key": earlier.key},
                ),
            )
            return None
        payer = self.item.merchant_id
        if penalty.payer == "provider":
            if self.assignee is None:
                raise LedgerError(
                    f"case {self.id}: penalty '{penalty.id}' is owed by a provider, but none is assigned"
                )
            payer = self.assignee
        payout = assess_payout(
            case_id=self.id,
            clock_id=clock_id,
            failure=failure,
            failure_name=Bilingual(penalty.name.zh, penalty.name.en),
            penalty=penalty,
            payer=payer,
            payee=self.item.buyer_account,
            paid_price_fen=self.item.paid_price_fen,
            at=at,
            timezone=self.policy(book).timezone,
            overcharge_fen=self.overcharge_fen,
        )
        self.payouts.append(payout)
        self._decide(at, f"payout:{payout.key}", payout.reason)
        self._share(book, clock_id, payout, at)
        params = self._notice_params(book)
        params.update(
            amount=amount_text(payout.amount), failure=Bilingual(penalty.name.zh, penalty.name.en)
        )
        self._notify(
            NoticeKind.PAYOUT,
            at,
            Recipient((Role.CONSUMER,), payout.payee),
            Reason("notice.payout", payout.rule, params),
            clock_id=clock_id,
            mark=failure,
        )
        self._emit(
            at,
            "payout.made",
            {
                "key": payout.key,
                "clock": clock_id,
                "amount": str(payout.amount.value),
                "unit": payout.amount.unit.value,
                "payee": payout.payee,
                "payer": payout.payer,
            },
            payout.reason,
        )
        return payout

    def _share(self, book: PolicyBook, clock_id: str, payout: Payout, at: datetime) -> None:
        """Issue 15: the provider that held the clock when it breached owes the merchant its
        share of the penalty the merchant paid; recorded with the payout, in the same save."""
        if payout.payer_role != "merchant":
            return
        clock = self.clocks[clock_id]
        held = clock.holder_at(clock.breached_at) if clock.breached_at else None
        if held is None or held.kind != "provider":
            return
        policy = self.policy(book)
        definition = policy.clock(clock_id)
        share = provider_share(
            payout,
            percent=policy.provider_share.percent_for(payout.rule),
            provider=held.party,
            merchant=self.item.merchant_id,
            clock_name=Bilingual(definition.name.zh, definition.name.en),
            held_since=held.since,
            at=at,
            timezone=policy.timezone,
        )
        if share is None or any(p.key == share.key for p in self.shares):
            return
        self.shares.append(share)
        self._decide(at, f"payout:{share.key}", share.reason)
        self._emit(
            at,
            "payout.provider_share",
            {
                "key": share.key,
                "share_of": payout.key,
                "clock": clock_id,
                "amount": str(share.amount.value),
                "unit": share.amount.unit.value,
                "payee": share.payee,
                "payer": share.payer,
            },
            share.reason,
        )

    # ----- commands -----

    def act(
        self, book: PolicyBook, action: str, at: datetime, actor: Actor, note: str = ""
    ) -> None:
        """Apply a lifecycle action (accept, reject, give_solution, resolve, ...)."""
        self.settle(book, at)
        transition = self.lifecycle.transition(action)
        subject = f"{self.programme.value} case {self.id}"
        if transition is None:
            known = ", ".join(sorted(self.lifecycle.transitions))
            raise IllegalTransition(
                subject, action, self.state, f"'{action}' is not an action here; known: {known}"
            )
        if self.state not in transition.sources:
            allowed = ", ".join(sorted(transition.sources))
            raise IllegalTransition(
                subject, action, self.state, f"'{action}' is allowed only from: {allowed}"
            )
        if actor.role not in transition.roles:
            roles = ", ".join(sorted(r.value for r in transition.roles))
            raise IllegalTransition(
                subject,
                action,
                self.state,
                f"a {actor.role.value} may not do this; allowed: {roles}",
            )
        if transition.needs_note and not note.strip():
            raise IllegalTransition(
                subject, action, self.state, "a note is required (a reason, a plan or a resolution)"
            )
        if action == "mark_repaired" and self.in_warranty is False:
            policy = self.policy(book)
            needs_quote = policy.shipping and policy.shipping.quote_required_out_of_warranty
            if needs_quote and (self.quote is None or self.quote.status != "accepted"):
                rule = policy.shipping.rule if policy.shipping else "NW-6"
                reason = Reason("nw.quote_required", rule)
                raise IllegalTransition(subject, action, self.state, reason.en)
        before = self.state
        self.state = transition.target
        self.audit.append(
            AuditEntry(at, actor.role, actor.id, actor.channel, action, before, self.state, note)
        )
        self._emit(at, f"case.{transition.event}", {"from": before, "to": self.state, "note": note})
        self._on_event(book, transition.event, at)
        if self.state in self.lifecycle.terminal:
            for clock_id, clock in self.clocks.items():
                decided = clock.cancel(self._env(book, clock_id), at, self._state_name(self.state))
                self._release(clock)
                if decided is not None:
                    self._decide(at, f"clock:{clock_id}", decided)
                    self._emit(at, "clock.cancelled", {"clock": clock_id}, decided)

    def dispatch(
        self,
        book: PolicyBook,
        assignee: str,
        at: datetime,
        actor: Actor = SYSTEM,
        *,
        to_merchant: bool = False,
        reasons: Sequence[Reason] = (),
        handed: str = "dispatch",
        counted: Sequence[str] = (),
    ) -> None:
        """OH-3: hand the request to the responsible provider at once (or to the merchant).

        ``reasons``: how the choice was made (:mod:`aftersales.domain.dispatch`) and, for a
        hand-over after the first dispatch, why the case changed hands; all are recorded.
        ``counted``: the capacity areas ('' overall) the case was counted against on the
        provider's day, kept with the decision so that a later hand-over gives them back.
        """
        self.assignee = assignee
        self.act(book, "dispatch", at, actor, note=assignee)
        self._hand_clocks(at, handed)
        params = self._notice_params(book)
        params["due"] = self._first_due(book)
        self._notify(
            NoticeKind.CASE_ASSIGNED,
            at,
            Recipient((Role.MERCHANT,) if to_merchant else (Role.PROVIDER,), assignee),
            Reason("notice.case_assigned", "OH-3", params),
            mark=assignee,
        )
        params = {
            "at": local_time(at, self.policy(book).timezone),
            "assignee": assignee,
            "merchant": self.item.merchant_id,
        }
        if counted:
            params[LOAD_AREAS] = " ".join(a or OVERALL for a in counted)
        code = "oh.dispatched_to_merchant" if to_merchant else "oh.dispatched"
        self._decide(at, "dispatch", Reason(code, "OH-3", params))
        for reason in reasons:
            self._decide(at, "dispatch", reason)

    def hand_over(
        self,
        book: PolicyBook,
        kind: str,
        to: str,
        at: datetime,
        actor: Actor,
        why: str,
        *,
        to_merchant: bool = False,
        reasons: Sequence[Reason] = (),
        counted: Sequence[str] = (),
    ) -> None:
        """OH-3 after the first dispatch: ``kind`` is "declined" (by the provider holding the
        case), "reassigned" (by operations) or "replaced" (missed its OH-4 plan). The step
        is audited as the actor's, the new dispatch as the system's; the merchant stays
        liable, and the reasons say who had it, who has it now and why."""
        self.settle(book, at)
        self._require_open("hand over")
        if self.programme is not Programme.ONE_CLICK_HELP:
            raise IllegalTransition(
                f"case {self.id}",
                "hand over",
                self.state,
                "only help requests (OH-3) are dispatched",
            )
        if self.state not in self.lifecycle.transitions["dispatch"].sources:
            raise IllegalTransition(
                f"case {self.id}",
                "hand over",
                self.state,
                "a request is handed over only before a solution is given",
            )
        before = self.assignee or ""
        self._audit_step(at, actor, kind, why)
        handed = Reason(
            f"dispatch.{kind}",
            "OH-3",
            {
                "at": local_time(at, self.policy(book).timezone),
                "provider": before,
                "assignee": to,
                "merchant": self.item.merchant_id,
                "why": why,
            },
        )
        self.dispatch(
            book,
            to,
            at,
            to_merchant=to_merchant,
            reasons=(handed, *reasons),
            handed=kind,
            counted=counted,
        )

    def assign(self, book: PolicyBook, assignee: str, at: datetime) -> None:
        """Record who handles a national-warranty report (the brand or its named third party)."""
        self.assignee = assignee
        self._hand_clocks(at, "assigned")
        params = self._notice_params(book)
        params["due"] = self._first_due(book)
        self._notify(
            NoticeKind.CASE_ASSIGNED,
            at,
            Recipient((Role.BRAND, Role.PROVIDER), assignee),
            Reason("notice.case_assigned", "NW-4", params),
            mark=assignee,
        )

    def _first_due(self, book: PolicyBook) -> Bilingual:
        """The earliest running deadline as words: what an assignee must act on first."""
        running = [
            (c.due_at, cid)
            for cid, c in self.clocks.items()
            if c.status is ClockStatus.RUNNING and c.due_at
        ]
        if not running:
            return Bilingual("当前没有计时中的时限", "no deadline is running now")
        due_at, clock_id = min(running)
        env = self._env(book, clock_id)
        name = env.name()
        return Bilingual(
            f"「{name.zh}」须在 {env.when(due_at)} 前完成",
            f"'{name.en}' is due by {env.when(due_at)}",
        )

    def pause(
        self, book: PolicyBook, clock_id: str, reason: str, at: datetime, actor: Actor
    ) -> None:
        """Pause a clock for an exemption its definition allows (SS-2), in the clock's own time."""
        self.settle(book, at)
        self._require_open("pause a clock of")
        clock = self._clock(clock_id)
        names = book.service_standards.exemption_names
        name = names.get(reason)
        decided = clock.pause(
            self._env(book, clock_id),
            at,
            reason,
            Bilingual(name.zh, name.en) if name else Bilingual(reason, reason),
        )
        self._audit_step(at, actor, f"pause:{clock_id}", reason)
        # Paused for an exemption on the buyer's side (SS-2): the period is the buyer's.
        clock.hold("buyer", self.item.buyer_account, at, reason)
        self._decide(at, f"clock:{clock_id}", decided)
        self._emit(at, "clock.paused", {"clock": clock_id, "reason": reason}, decided)

    def resume(self, book: PolicyBook, clock_id: str, at: datetime, actor: Actor) -> None:
        self._require_open("resume a clock of")
        clock = self._clock(clock_id)
        decided = clock.resume(self._env(book, clock_id), at)
        clock.hold(*self.holder(), at, "resumed")
        self._audit_step(at, actor, f"resume:{clock_id}")
        self._decide(at, f"clock:{clock_id}", decided)
        assert clock.due_at is not None
        self._emit(
            at, "clock.resumed", {"clock": clock_id, "due_at": clock.due_at.isoformat()}, decided
        )

    def _clock(self, clock_id: str) -> Clock:
        try:
            return self.clocks[clock_id]
        except KeyError:
            raise IllegalTransition(
                f"case {self.id}",
                f"use clock '{clock_id}' of",
                self.state,
                f"known clocks: {', '.join(self.clocks)}",
            ) from None

    def _require_open(self, attempted: str) -> None:
        if not self.is_open:
            raise IllegalTransition(f"case {self.id}", attempted, self.state, "the case has ended")

    # ----- the visit and the caller's notes -----

    def set_appointment(self, book: PolicyBook, when: datetime, at: datetime, actor: Actor) -> None:
        """Record the visit time agreed with the buyer (a change is recorded again, X-4)."""
        self.settle(book, at)
        self._require_open("book a visit for")
        problem = appointment_problem(when, at, self.policy(book).timezone)
        if problem is not None:
            raise IllegalTransition(
                f"case {self.id}", "book a visit for", self.state, APPOINTMENT_PROBLEMS[problem]
            )
        if self.appointment_at == when:
            return
        before = self.appointment_at
        self.appointment_at = when
        self._audit_step(at, actor, "appointment", when.isoformat())
        data = {"appointment_at": when.isoformat()}
        if before is not None:
            data["before"] = before.isoformat()
        self._emit(at, "case.appointment_set", data)
        # SS-2: the first agreed day is the commitment; a handler moving the visit later
        # does not move it (only the buyer's reschedule does, through a slot).
        events = self.lifecycle.events
        if "appointment_booked" in events and "appointment_booked" not in self.reached_events:
            self._on_event(book, "appointment_booked", at)

    def signed_for(self, book: PolicyBook, at: datetime) -> None:
        """The goods were signed for at ``at``: SS-2's contact clock starts (once)."""
        if self.is_open and "signed_for" in self.lifecycle.events:
            self.settle(book, at)
            if "signed_for" not in self.reached_events:
                self._on_event(book, "signed_for", at)

    def agree_visit(
        self,
        book: PolicyBook,
        when: datetime,
        at: datetime,
        actor: Actor,
        reason: Reason,
        *,
        rescheduled: bool,
    ) -> None:
        """Record a visit day agreed through a slot (:mod:`aftersales.domain.appointments`
        checks the slot and the limits): the first starts the agreed-day clock; a buyer's
        reschedule pauses it with the exemption and resumes it on the new day (SS-2)."""
        rules = self.policy(book).appointments
        assert rules is not None
        clock = self.clocks.get(rules.clock)
        pausing = rescheduled and clock is not None and clock.status is ClockStatus.RUNNING
        if pausing:
            self.pause(book, rules.clock, rules.pause_reason, at, actor)
        before = self.appointment_at
        self.appointment_at = when
        action = "reschedule" if rescheduled else "appointment"
        self._audit_step(at, actor, action, when.isoformat())
        self._decide(at, "appointment", reason)
        data = {"appointment_at": when.isoformat()}
        if before is not None:
            data["before"] = before.isoformat()
        self._emit(at, "case.appointment_set", data, reason)
        if pausing:
            self.resume(book, rules.clock, at, actor)
        if "appointment_booked" not in self.reached_events:
            self._on_event(book, "appointment_booked", at)

    def add_note(self, book: PolicyBook, text: str, at: datetime, actor: Actor) -> None:
        """Add what somebody said to an open case (a caller reporting again, X-4)."""
        self.settle(book, at)
        self._require_open("add a note to")
        if not text.strip():
            raise IllegalTransition(
                f"case {self.id}", "add a note to", self.state, "the note is empty"
            )
        self._audit_step(at, actor, "note", text.strip())
        self._emit(at, "case.note_added", {"channel": actor.channel.value})

    # ----- NW-6 quotes -----

    def issue_quote(self, book: PolicyBook, amount_fen: int, at: datetime, actor: Actor) -> None:
        policy = self.policy(book)
        rule = policy.shipping.rule if policy.shipping else "NW-6"
        subject = f"case {self.id}"
        if self.programme is not Programme.NATIONAL_WARRANTY or self.in_warranty is not False:
            raise IllegalTransition(
                subject,
                "issue a repair quote for",
                self.state,
                "quotes are for out-of-warranty repairs (NW-6)",
            )
        if actor.role not in (Role.BRAND, Role.PROVIDER, Role.MERCHANT, Role.OPERATIONS):
            raise IllegalTransition(
                subject, "issue a repair quote for", self.state, "only the brand side quotes"
            )
        if self.state not in ("accepted", "item_received", "feedback_given"):
            raise IllegalTransition(
                subject, "issue a repair quote for", self.state, "accept the report first"
            )
        if amount_fen <= 0:
            raise IllegalTransition(
                subject, "issue a repair quote for", self.state, "the quote must be above zero"
            )
        self.quote = Quote(amount_fen, at)
        reason = Reason("nw.quote_issued", rule, {"amount": amount_text(Amount.fen(amount_fen))})
        self._audit_step(at, actor, "quote", str(amount_fen))
        self._decide(at, "quote", reason)
        self._emit(at, "quote.issued", {"amount_fen": str(amount_fen)}, reason)

    def answer_quote(self, book: PolicyBook, accept: bool, at: datetime, actor: Actor) -> None:
        policy = self.policy(book)
        rule = policy.shipping.rule if policy.shipping else "NW-6"
        subject = f"case {self.id}"
        if self.quote is None or self.quote.status != "issued":
            raise IllegalTransition(
                subject, "answer the quote of", self.state, "there is no open quote"
            )
        if actor.role not in (Role.CONSUMER, Role.AGENT, Role.OPERATIONS):
            raise IllegalTransition(
                subject, "answer the quote of", self.state, "only the consumer answers a quote"
            )
        self.quote.status = "accepted" if accept else "declined"
        self.quote.answered_at = at
        params: dict[str, str | Bilingual] = {
            "amount": amount_text(Amount.fen(self.quote.amount_fen)),
            "at": local_time(at, policy.timezone),
        }
        reason = Reason("nw.quote_accepted" if accept else "nw.quote_declined", rule, params)
        self._audit_step(at, actor, "quote_" + self.quote.status)
        self._decide(at, "quote", reason)
        self._emit(at, f"quote.{self.quote.status}", {}, reason)

    # ----- complaints (OH-7, SS-5, NW-7) -----

    def file_complaint(
        self, book: PolicyBook, clock_id: str | None, at: datetime, actor: Actor, text: str = ""
    ) -> Complaint:
        """A breach-of-commitment complaint about one clock's failure (or a general one)."""
        self.settle(book, at)
        policy = self.policy(book)
        complaint_id = f"{self.id}-C{len(self.complaints) + 1}"
        status: ComplaintStatus
        if clock_id is None:
            status, reason = (
                "pending",
                Reason(
                    "complaint.pending",
                    "OH-7" if self.programme is Programme.ONE_CLICK_HELP else "NW-7",
                ),
            )
        else:
            clock = self._clock(clock_id)
            status, reason = self._assess_complaint(book, policy, clock)
        complaint = Complaint(complaint_id, clock_id, at, actor.id, text, status, reason)
        self.complaints.append(complaint)
        self._audit_step(at, actor, "complain", text)
        self._decide(at, f"complaint:{complaint_id}", reason)
        self._emit(
            at, f"complaint.{status}", {"complaint": complaint_id, "clock": clock_id or ""}, reason
        )
        return complaint

    def _assess_complaint(
        self, book: PolicyBook, policy: ProgrammePolicy, clock: Clock
    ) -> tuple[ComplaintStatus, Reason]:
        definition = policy.clock(clock.clock_id)
        env = self._env(book, clock.clock_id)
        name = env.name()
        penalty, _ = self._penalty_for(book, clock.clock_id)
        gate_rule = "OH-7" if self.programme is Programme.ONE_CLICK_HELP else definition.rule
        paid = gating_payout(self.payouts, clock.clock_id)
        if paid is not None:
            # OH-7 / SS-5: a paid penalty closes breach complaints about the same failure.
            rule = "SS-5" if paid.rule.startswith("SS-") else "OH-7"
            return "refused", Reason(
                "complaint.refused_penalty_paid", rule, paid_text(paid, policy.timezone)
            )
        if self.programme is Programme.NATIONAL_WARRANTY and "accepted" not in self.reached_events:
            # NW-7: a report never accepted (including never answered) gets no payout.
            return "routed", Reason("complaint.routed_not_accepted", "NW-7")
        if clock.status is ClockStatus.NOT_APPLICABLE:
            assert clock.reason is not None
            return "refused", Reason(
                "complaint.refused_not_applicable", clock.reason.rule, {"clock": name}
            )
        if clock.status is ClockStatus.PENDING:
            return "refused", Reason(
                "complaint.refused_not_started", definition.rule, {"clock": name}
            )
        if clock.status is ClockStatus.MET:
            assert clock.stopped_at is not None
            return "refused", Reason(
                "complaint.refused_met",
                definition.rule,
                {"clock": name, "at": env.when(clock.stopped_at)},
            )
        if clock.status in (ClockStatus.RUNNING, ClockStatus.PAUSED):
            due = env.when(clock.due_at) if clock.due_at else Bilingual("暂停中", "paused")
            return "refused", Reason(
                "complaint.refused_not_due", definition.rule, {"clock": name, "due": due}
            )
        rule = penalty.rule if penalty is not None else gate_rule
        return "pending", Reason("complaint.pending", rule)

    def decide_complaint(
        self,
        book: PolicyBook,
        complaint_id: str,
        uphold: bool,
        at: datetime,
        actor: Actor,
        note: str = "",
    ) -> Complaint:
        """Operations decide a pending complaint; upholding pays what the rule sets (NW-7)."""
        subject = f"complaint {complaint_id}"
        complaint = next((c for c in self.complaints if c.id == complaint_id), None)
        if complaint is None:
            raise IllegalTransition(
                subject, "decide", "unknown", f"case {self.id} has no such complaint"
            )
        if complaint.status != "pending":
            raise IllegalTransition(
                subject, "decide", complaint.status, "only a pending complaint can be decided"
            )
        if actor.role not in (Role.OPERATIONS, Role.SYSTEM):
            raise IllegalTransition(
                subject, "decide", complaint.status, "only operations decide complaints"
            )
        rule = complaint.reason.rule
        if not uphold:
            if not note.strip():
                raise IllegalTransition(
                    subject, "dismiss", complaint.status, "say why it is dismissed"
                )
            complaint.status = "dismissed"
            reason = Reason("complaint.dismissed", rule, {"note": note})
        else:
            complaint.status = "upheld"
            detail = Bilingual("按一般规则处理", "it is handled under the general rules")
            if complaint.clock_id is not None:
                penalty, failure = self._penalty_for(book, complaint.clock_id)
                if penalty is not None and penalty.trigger == "upheld_complaint":
                    if penalty.requires_accepted and "accepted" not in self.reached_events:
                        raise IllegalTransition(
                            subject,
                            "uphold",
                            complaint.status,
                            "the report was never accepted (NW-7)",
                        )
                    payout = self._pay(book, complaint.clock_id, failure, penalty, at)
                    if payout is not None:
                        rule = payout.rule
                        detail = Bilingual(
                            f"向买家账户 {payout.payee} 支付 {payout.amount.text_zh()}",
                            f"{payout.amount.text_en()} paid to the buyer account {payout.payee}",
                        )
            reason = Reason("complaint.upheld", rule, {"detail": detail})
        complaint.reason = reason
        complaint.decided_at, complaint.decided_by = at, actor.id
        params = self._notice_params(book)
        outcome = (
            Bilingual(f"投诉成立，{detail.zh}", f"it is upheld, {detail.en}")
            if uphold
            else Bilingual(f"投诉不成立，理由：{note}", f"it is dismissed: {note}")
        )
        params.update(complaint=complaint.id, outcome=outcome)
        accused = (
            self._responsible(book, complaint.clock_id)
            if complaint.clock_id is not None
            else Recipient((Role.MERCHANT,), self.item.merchant_id)
        )
        for to in (complainant(complaint.filed_by), accused):
            self._notify(
                NoticeKind.COMPLAINT_DECIDED,
                at,
                to,
                Reason("notice.complaint_decided", rule, params),
                clock_id=complaint.clock_id or "",
                mark=complaint.id,
            )
        self._audit_step(at, actor, f"complaint_{complaint.status}", note)
        self._decide(at, f"complaint:{complaint.id}", reason)
        self._emit(
            at, "complaint.decided", {"complaint": complaint.id, "status": complaint.status}, reason
        )
        return complaint


def counted_load(
    decisions: Sequence[Decision], provider: str
) -> tuple[datetime, tuple[str, ...]] | None:
    """OH-3: when a case was last dispatched to ``provider`` (among its ``decisions``, in
    order) and the capacity areas ('' overall) it was counted against then; None if it
    never was, or was before the areas were recorded with the decision."""
    for d in reversed(decisions):
        params = d.reason.params
        if d.reason.code == "oh.dispatched" and params.get("assignee") == provider:
            if LOAD_AREAS not in params:
                return None
            areas = str(params[LOAD_AREAS]).split()
            return d.at, tuple("" if a == OVERALL else a for a in areas)
    return None
