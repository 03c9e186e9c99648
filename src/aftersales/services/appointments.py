"""Appointment slots (SS-2): the windows a case may book, booking one, the installer's days.

* :func:`case_slots` offers the assigned provider's windows with room left, from the
  case's now (the sandbox's clock for a sandbox case) over the policy's horizon,
  leaving out days its business calendar is shut and days it is closed;
* :func:`book_slot` books one for the buyer (or for the provider on the phone with
  them): the same window again changes nothing; another window is the buyer's
  reschedule, within the policy's limits, and an SS-2 exemption pause of the
  agreed-day clock (:mod:`aftersales.domain.appointments`);
* :func:`provider_days` is the installer's day view: each window of each day with its
  capacity, what is booked and the cases booked in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aftersales.domain import access
from aftersales.domain import appointments as visits
from aftersales.domain.access import Action
from aftersales.domain.cases import Actor, Case
from aftersales.domain.errors import IllegalTransition
from aftersales.domain.explain import Reason
from aftersales.domain.lifecycle import Programme, Role
from aftersales.domain.slots import (
    Slot,
    open_slots,
    parse_slot_key,
    slot_key,
    window_instances,
    works_on,
)
from aftersales.errors import Forbidden, InvalidFields, NotFound
from aftersales.services.base import Services
from aftersales.services.ports import UnitOfWork
from aftersales.services.records import LIVE, AppointmentChange, AppointmentRecord
from aftersales.services.time import now_in


@dataclass(frozen=True)
class SlotOffer:
    """What a case may book now, and what it has booked."""

    case_id: str
    provider_id: str | None
    provider_name: str
    timezone: str
    now: datetime
    slots: tuple[Slot, ...]
    booked: AppointmentRecord | None
    appointment_at: datetime | None
    reschedules_left: int
    # Why the booked visit cannot be moved now (limits of SS-2), if it cannot.
    refusal: Reason | None

    def key(self, slot: Slot) -> str:
        return slot_key(slot.starts_at, slot.ends_at, self.timezone)


@dataclass(frozen=True)
class WindowPlan:
    starts_at: datetime
    ends_at: datetime
    capacity: int
    case_ids: tuple[str, ...]

    @property
    def left(self) -> int:
        return max(self.capacity - len(self.case_ids), 0)


@dataclass(frozen=True)
class DayPlan:
    day: date
    open: bool  # the provider works that day (its calendar, its closures)
    windows: tuple[WindowPlan, ...]


def offer_json(offer: SlotOffer) -> dict[str, Any]:
    """The offer as the API answers it (times with their offset, a slot by its key)."""
    booked = offer.booked
    refusal = offer.refusal
    return {
        "case_id": offer.case_id,
        "provider": {"id": offer.provider_id, "name": offer.provider_name}
        if offer.provider_id
        else None,
        "timezone": offer.timezone,
        "now": offer.now.isoformat(),
        "appointment": None
        if booked is None
        else {
            "slot": slot_key(booked.starts_at, booked.ends_at, offer.timezone),
            "starts_at": booked.starts_at.isoformat(),
            "ends_at": booked.ends_at.isoformat(),
            "reschedules": booked.reschedules,
        },
        "reschedules_left": offer.reschedules_left,
        "reschedule_refused": None
        if refusal is None
        else {"code": refusal.code, "rule": refusal.rule, "zh": refusal.zh, "en": refusal.en},
        "slots": [
            {
                "slot": offer.key(s),
                "starts_at": s.starts_at.isoformat(),
                "ends_at": s.ends_at.isoformat(),
                "capacity": s.capacity,
                "left": s.left,
            }
            for s in offer.slots
        ],
    }


def area_codes(code: str | None) -> frozenset[str]:
    """A district's code with its city's and province's (310115 -> 310100, 310000)."""
    if not code or len(code) != 6:
        return frozenset()
    return frozenset({code, code[:4] + "00", code[:2] + "0000"})


def _offer(svc: Services, uow: UnitOfWork, case: Case, sandbox: str, at: datetime) -> SlotOffer:
    rules = visits.rules_of(case, svc.book)
    timezone = case.policy(svc.book).timezone
    booked = uow.appointments.of_case(case.id)
    done = booked.reschedules if booked else 0
    refusal = visits.reschedule_refusal(case, svc.book, at, done) if case.is_open else None
    provider = uow.appointments.windows_of(case.assignee) if case.assignee else None
    slots: list[Slot] = []
    if provider is not None and case.is_open and refusal is None:
        zone = ZoneInfo(timezone)
        first, last = at + rules.lead, at + rules.horizon
        closed = uow.appointments.closed_days(
            provider.provider_id, first.astimezone(zone).date(), last.astimezone(zone).date()
        )
        slots = open_slots(
            provider.windows,
            now=at,
            horizon=rules.horizon,
            lead=rules.lead,
            timezone=timezone,
            calendar=svc.book.calendar(provider.calendar),
            closed_days=closed,
            booked=uow.appointments.booked_counts(provider.provider_id, sandbox, first, last),
            area_codes=area_codes(case.item.address.area_code if case.item.address else None),
        )
    return SlotOffer(
        case.id,
        provider.provider_id if provider else None,
        provider.name if provider else "",
        timezone,
        at,
        tuple(slots),
        booked,
        case.appointment_at,
        max(rules.max_reschedules - done, 0),
        refusal,
    )


def _may_book(actor: Actor, case: Case) -> None:
    access.require(actor.role, Action.BOOK_SLOT)
    if actor.role is Role.CONSUMER and actor.id != case.item.buyer_account:
        raise Forbidden("only the buyer who bought the item books its visit")
    if actor.role in (Role.PROVIDER, Role.MERCHANT, Role.BRAND) and actor.id != case.assignee:
        raise Forbidden(
            f"a {actor.role.value} may book this visit only as the party the case is assigned to"
        )


def case_slots(svc: Services, case_id: str, actor: Actor) -> SlotOffer:
    """The windows the case may book now (GET /api/v1/cases/{id}/slots)."""
    with svc.uow() as uow:
        case = uow.cases.get(case_id)
        _may_book(actor, case)
        sandbox = uow.cases.sandbox_of(case_id)
        return _offer(svc, uow, case, sandbox, now_in(uow, sandbox, svc.clock))


def book_slot(svc: Services, case_id: str, slot: str, actor: Actor) -> tuple[SlotOffer, bool]:
    """Book the window ``slot`` names for the case; True when something changed."""
    with svc.uow() as uow:
        case = uow.cases.get(case_id, for_update=True)
        _may_book(actor, case)
        sandbox = uow.cases.sandbox_of(case_id)
        at = now_in(uow, sandbox, svc.clock)
        timezone = case.policy(svc.book).timezone
        try:
            starts_at, ends_at = parse_slot_key(slot, timezone)
        except ValueError as exc:
            raise InvalidFields({"slot": "slot.unreadable"}, f"slot: {exc}") from None
        booked = uow.appointments.of_case(case_id)
        if booked is not None and (booked.starts_at, booked.ends_at) == (starts_at, ends_at):
            return _offer(svc, uow, case, sandbox, at), False  # the same window: done already
        if case.assignee is None:
            raise IllegalTransition(
                f"case {case_id}", "book a visit window for", case.state, "no one is assigned yet"
            )
        uow.appointments.lock_provider(case.assignee)
        offer = _offer(svc, uow, case, sandbox, at)
        if offer.refusal is not None:
            raise IllegalTransition(
                f"case {case_id}", "reschedule the visit of", case.state, offer.refusal.en
            )
        if not any((s.starts_at, s.ends_at) == (starts_at, ends_at) for s in offer.slots):
            raise InvalidFields(
                {"slot": "slot.not_offered"},
                f"slot: {slot} is not offered: it is full, on a day the provider does not "
                "work, too soon or beyond the horizon; choose one from GET "
                f"/api/v1/cases/{case_id}/slots",
            )
        before = case.appointment_at
        done = booked.reschedules if booked is not None else 0
        visits.book_window(case, svc.book, starts_at, ends_at, at, actor, done)
        moved = done + 1 if before is not None else 0
        record = AppointmentRecord(
            case_id,
            sandbox,
            case.assignee,
            starts_at,
            ends_at,
            at,
            actor.role.value,
            actor.id,
            moved,
        )
        uow.appointments.book(
            record,
            AppointmentChange(case_id, at, starts_at, ends_at, before, actor.role.value, actor.id),
        )
        uow.cases.save(case)
        offer = _offer(svc, uow, case, sandbox, at)
        uow.commit()
        return offer, True


def provider_days(
    svc: Services,
    provider_id: str,
    actor: Actor,
    *,
    first: date | None = None,
    days: int = 7,
    sandbox: str = LIVE,
) -> tuple[str, Sequence[DayPlan]]:
    """The installer's day view: its windows day by day, capacity, bookings (SS-2)."""
    if actor.role is Role.PROVIDER and actor.id != provider_id:
        raise Forbidden("a provider sees its own days only")
    if actor.role not in (Role.PROVIDER, Role.OPERATIONS, Role.SYSTEM):
        raise Forbidden("the day view is the provider's and operations'")
    with svc.uow() as uow:
        provider = uow.appointments.windows_of(provider_id)
        if provider is None:
            raise NotFound("provider", provider_id)
        now = now_in(uow, sandbox, svc.clock)
        zone = ZoneInfo(svc.book.in_force(Programme.ONE_CLICK_HELP, now).timezone)
        today = now.astimezone(zone).date()
        start_day = first or today
        last_day = start_day + timedelta(days=max(days, 1) - 1)
        lo = datetime.combine(start_day, datetime.min.time(), zone)
        hi = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), zone)
        booked = uow.appointments.of_provider(provider_id, sandbox, lo, hi)
        closed = uow.appointments.closed_days(provider_id, start_day, last_day)
        calendar = svc.book.calendar(provider.calendar)
        by_window: dict[tuple[datetime, datetime], list[str]] = {}
        for a in booked:
            by_window.setdefault((a.starts_at, a.ends_at), []).append(a.case_id)
        plans: list[DayPlan] = []
        day = start_day
        while day <= last_day:
            works = day not in closed and works_on(calendar, day)
            windows = tuple(
                WindowPlan(s, e, w.capacity, tuple(by_window.get((s, e), ())))
                for w, s, e in sorted(
                    window_instances(provider.windows, day, zone), key=lambda x: (x[1], x[2])
                )
            )
            plans.append(DayPlan(day, works, windows if works else ()))
            day += timedelta(days=1)
        return provider.name, plans
