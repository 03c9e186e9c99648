"""Booking a visit window for a case, and the buyer's reschedules (SS-2).

The slot itself is checked by the service against the provider's open slots
(:mod:`aftersales.domain.slots`); here the case's side: the programme version
must book visit windows, the case must be open, the same window again changes
nothing (idempotent), and a reschedule keeps within the policy's limits (how
many times, how late before the booked window). Every booking and reschedule is
a decision citing the rule, in zh and en (X-2), and an audit entry (X-4).
"""

from __future__ import annotations

from datetime import datetime

from aftersales.domain.cases import Actor, Case
from aftersales.domain.errors import IllegalTransition
from aftersales.domain.explain import Bilingual, Reason, duration_text, local_time
from aftersales.domain.lifecycle import Role
from aftersales.domain.policy import AppointmentRules, PolicyBook
from aftersales.domain.slots import slot_key


def rules_of(case: Case, book: PolicyBook) -> AppointmentRules:
    rules = case.policy(book).appointments
    if rules is None:
        raise IllegalTransition(
            f"case {case.id}",
            "book a visit window for",
            case.state,
            f"policy {case.policy_id} books no visit windows",
        )
    return rules


def who(actor: Actor) -> Bilingual:
    if actor.role is Role.CONSUMER:
        return Bilingual("买家", "The buyer")
    return Bilingual(f"{actor.id}（与买家通话时）", f"{actor.id} (on the phone with the buyer)")


def reschedule_refusal(case: Case, book: PolicyBook, at: datetime, done: int) -> Reason | None:
    """Why the booked visit may not be moved now, or None when it may (SS-2 limits);
    ``done``: how many times the buyer has moved it so far."""
    rules = rules_of(case, book)
    if case.appointment_at is None:
        return None
    if done >= rules.max_reschedules:
        return Reason(
            "appointment.reschedule_limit", rules.rule, {"limit": str(rules.max_reschedules)}
        )
    latest = case.appointment_at - rules.reschedule_until
    if at > latest:
        return Reason(
            "appointment.reschedule_too_late",
            rules.rule,
            {
                "before": duration_text(rules.reschedule_until),
                "latest": local_time(latest, case.policy(book).timezone),
            },
        )
    return None


def book_window(
    case: Case,
    book: PolicyBook,
    starts_at: datetime,
    ends_at: datetime,
    at: datetime,
    actor: Actor,
    done: int,
) -> bool:
    """Book (or move to) the window; False when that window is already the booked one.
    ``done``: the buyer's reschedules so far."""
    rules = rules_of(case, book)
    case.settle(book, at)
    if not case.is_open:
        raise IllegalTransition(
            f"case {case.id}", "book a visit window for", case.state, "the case has ended"
        )
    if case.appointment_at == starts_at:
        return False
    timezone = case.policy(book).timezone
    params: dict[str, str | Bilingual] = {
        "who": who(actor),
        "at": local_time(at, timezone),
        "slot": slot_key(starts_at, ends_at, timezone),
    }
    if case.appointment_at is None:
        reason = Reason("appointment.booked", rules.rule, params)
        case.agree_visit(book, starts_at, at, actor, reason, rescheduled=False)
        return True
    refusal = reschedule_refusal(case, book, at, done)
    if refusal is not None:
        raise IllegalTransition(
            f"case {case.id}", "reschedule the visit of", case.state, refusal.en
        )
    params.update(
        before=local_time(case.appointment_at, timezone),
        count=str(done + 1),
        limit=str(rules.max_reschedules),
    )
    reason = Reason("appointment.rescheduled", rules.rule, params)
    case.agree_visit(book, starts_at, at, actor, reason, rescheduled=True)
    return True
