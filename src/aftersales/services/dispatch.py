"""OH-3 dispatch and hand-overs: who gets a help request, and who gets it next.

:func:`dispatch` runs on initiation: the candidates come from the reference data
in one read, :func:`aftersales.domain.dispatch.decide` chooses, the case records
the decision with its reasons and the provider's day load grows by one. Nobody
qualified: the merchant (OH-3).

A hand-over dispatches again, leaving out the providers that already gave the
case up (declined, or were replaced): :func:`decline` (the provider holding the
case, with its reason), :func:`reassign` (operations, to a provider they name,
which must cover the item like any dispatch), :func:`replace_on_missed_plan`
(the deadline engine, when the OH-4 clock breaches and the dispatch policy says
so). The merchant stays liable throughout; each step is in the audit and the
decisions (the case's timeline). The provider handing the case on gets back the
place it took on its day (the dispatch decision records the capacity areas it
was counted against), so its capacity counts only the cases it holds.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aftersales.domain import access
from aftersales.domain.access import Action
from aftersales.domain.cases import SYSTEM, Actor, Case, Decision, counted_load
from aftersales.domain.clocks import ClockStatus
from aftersales.domain.dispatch import Candidate, DispatchDecision, decide
from aftersales.domain.eligibility import OrderItem
from aftersales.domain.lifecycle import Programme, Role
from aftersales.domain.policy import PolicyBook
from aftersales.errors import Forbidden, InvalidFields
from aftersales.services.base import Services
from aftersales.services.master_data import World
from aftersales.services.ports import Places, UnitOfWork
from aftersales.services.time import now_in


class HandOverRefused(InvalidFields):
    """A decline or reassignment that cannot be made as asked; names the field (422)."""

    @property
    def field_errors(self) -> list[dict[str, str]]:
        return [{"field": field, "message": str(self)} for field in self.problems]


def decision_for(
    svc: Services,
    uow: UnitOfWork,
    item: OrderItem,
    service_tag: str | None,
    at: datetime,
    sandbox: str,
    timezone: str,
    excluded: frozenset[str] = frozenset(),
    preferred: tuple[str, ...] | None = None,
) -> DispatchDecision | None:
    """OH-3: the decision for ``item`` at ``at``; None when there is nothing to decide on
    (no area resolved from the address, no service, no places to resolve it with).
    ``preferred``: the shop's preferred providers when already read (else read here)."""
    if not (item.address and item.address.area_code and service_tag and svc.places):
        return None
    policy = svc.book.dispatch
    day = at.astimezone(ZoneInfo(timezone)).date()
    found = uow.reference.dispatch_candidates(
        svc.book,
        areas=svc.places.containing(item.address.area_code),
        category_id=item.product.category_id,
        service_tag=service_tag,
        sandbox=sandbox,
        day=day,
        record_since=at - timedelta(days=policy.record_days),
    )
    found = with_distances(svc.places, found, item.address.area_code)
    # The shop names providers as the marketplace knows them; a sandbox's own provider of
    # that id is stored under the sandbox's prefix, a live one as it is.
    world = World.of(sandbox)
    if preferred is None:  # read only when there is someone to prefer
        preferred = uow.reference.preferred_providers(item.merchant_id) if found else ()
    stored = {as_stored for given in preferred for as_stored in (given, world.store(given))}
    return decide(
        policy, found, service_tag=service_tag, day=day, excluded=excluded, preferred=stored
    )


def _take(
    uow: UnitOfWork, decision: DispatchDecision | None, sandbox: str, day_of: datetime, tz: str
) -> bool:
    """Count the chosen provider's case against its day; False (and counted back) when that
    took it past a stated capacity: another dispatch raced this one to the last place."""
    if decision is None or decision.chosen is None:
        return True
    provider, day = decision.chosen.provider_id, day_of.astimezone(ZoneInfo(tz)).date()
    areas = decision.capacity_used()
    counted = uow.reference.count_dispatch(
        sandbox=sandbox, provider_id=provider, day=day, areas=areas
    )
    if all(
        c.per_day is None or counted.get(c.area_code, 0) <= c.per_day
        for c in decision.chosen.candidate.capacities
    ):
        return True
    uow.reference.release_dispatch(sandbox=sandbox, provider_id=provider, day=day, areas=areas)
    return False


def with_distances(places: Places, found: list[Candidate], area_code: str) -> list[Candidate]:
    """OH-3: each candidate with how far its base is from the address's area, where it
    names a base."""
    return [
        c
        if c.base_area is None
        else replace(c, distance_km=places.distance_km(c.base_area, area_code))
        for c in found
    ]


def _counted(decision: DispatchDecision) -> tuple[str, ...]:
    """What :func:`_take` counted the chosen provider's case against ('' overall)."""
    return tuple(sorted({"", *decision.capacity_used()}))


def _history(uow: UnitOfWork, case: Case) -> list[Decision]:
    """Every dispatch decision of the case in order: the stored ones the loaded object does
    not hold (the worker loads cases without their history), then its own."""
    return [*uow.cases.earlier_decisions(case.id, "dispatch"), *case.decisions]


def _give_back(
    uow: UnitOfWork, history: list[Decision], leaving: str, sandbox: str, tz: str
) -> None:
    """OH-3: the provider handing the case on no longer holds it: its case comes off the
    day it was counted against (so that day's capacity is free again)."""
    counted = counted_load(history, leaving) if leaving else None
    if counted is None:
        return
    at, areas = counted
    day = at.astimezone(ZoneInfo(tz)).date()
    uow.reference.release_dispatch(sandbox=sandbox, provider_id=leaving, day=day, areas=areas)


RACES = 3  # decisions made again when racing dispatches took the chosen provider's last place


def _decide_and_take(
    svc: Services,
    uow: UnitOfWork,
    item: OrderItem,
    service_tag: str | None,
    at: datetime,
    sandbox: str,
    timezone: str,
    excluded: frozenset[str] = frozenset(),
    preferred: tuple[str, ...] | None = None,
) -> DispatchDecision | None:
    """:func:`decision_for`, with the chosen provider's case counted against its capacity.

    Capacity is judged on what was committed when the candidates were read; a dispatch
    that commits meanwhile may take the last place. Counting locks the day's rows, so
    the later of two racing dispatches finds it went over, counts it back and decides
    again on a fresh read (which now shows that provider full, with the reason), and
    leaves the provider out after :data:`RACES` tries."""
    out = excluded
    for attempt in range(RACES + 1):
        decision = decision_for(svc, uow, item, service_tag, at, sandbox, timezone, out, preferred)
        if _take(uow, decision, sandbox, at, timezone):
            return decision
        assert decision is not None
        assert decision.chosen is not None
        if attempt + 1 >= RACES:
            out = out | {decision.chosen.provider_id}
    return decision_for(svc, uow, item, service_tag, at, sandbox, timezone, out, preferred)


def dispatch(
    svc: Services,
    uow: UnitOfWork,
    case: Case,
    at: datetime,
    sandbox: str,
    preferred: tuple[str, ...] | None = None,
) -> None:
    """OH-3 on initiation: to the chosen provider, else to the merchant, with the reasons.
    ``preferred``: the shop's preferred providers, when the intake read them already."""
    tz = case.policy(svc.book).timezone
    decision = _decide_and_take(
        svc, uow, case.item, case.service_tag, at, sandbox, tz, preferred=preferred
    )
    reasons = decision.reasons if decision else ()
    if decision is None or decision.chosen is None:
        case.dispatch(svc.book, case.item.merchant_id, at, to_merchant=True, reasons=reasons)
        return
    case.dispatch(
        svc.book, decision.chosen.provider_id, at, reasons=reasons, counted=_counted(decision)
    )


def withdraw(svc: Services, uow: UnitOfWork, case: Case, sandbox: str) -> None:
    """OH-3: a case dispatched here but never saved (a racing click opened the item's
    request first) gives its provider's day back, as a hand-over does."""
    _give_back(uow, case.decisions, case.assignee or "", sandbox, case.policy(svc.book).timezone)


def _gave_up(history: list[Decision]) -> frozenset[str]:
    """Providers that declined the case or were replaced on it (from its decisions)."""
    return frozenset(
        str(d.reason.params.get("provider", ""))
        for d in history
        if d.reason.code in ("dispatch.declined", "dispatch.replaced")
    )


def qualified_now(svc: Services, case: Case) -> list[str]:
    """OH-3: the providers that would qualify for ``case`` now, best first, leaving out the
    one holding it: what operations may reassign it to (offered on the case page)."""
    with svc.uow() as uow:
        sandbox = uow.cases.sandbox_of(case.id)
        at = now_in(uow, sandbox, svc.clock)
        tz = case.policy(svc.book).timezone
        held = frozenset({case.assignee}) if case.assignee else frozenset()
        decision = decision_for(svc, uow, case.item, case.service_tag, at, sandbox, tz, held)
        return [s.provider_id for s in decision.ranked] if decision else []


def _hand_over_to_next(
    svc: Services, uow: UnitOfWork, case: Case, kind: str, at: datetime, actor: Actor, why: str
) -> None:
    sandbox = uow.cases.sandbox_of(case.id)
    tz = case.policy(svc.book).timezone
    leaving = case.assignee or ""
    history = _history(uow, case)
    excluded = _gave_up(history) | {leaving}
    decision = _decide_and_take(svc, uow, case.item, case.service_tag, at, sandbox, tz, excluded)
    reasons = decision.reasons if decision else ()
    _give_back(uow, history, leaving, sandbox, tz)
    if decision is None or decision.chosen is None:
        case.hand_over(
            svc.book, kind, case.item.merchant_id, at, actor, why, to_merchant=True, reasons=reasons
        )
        return
    case.hand_over(
        svc.book,
        kind,
        decision.chosen.provider_id,
        at,
        actor,
        why,
        reasons=reasons,
        counted=_counted(decision),
    )


def _why(why: str) -> str:
    text = why.strip()
    if not text:
        raise HandOverRefused(
            {"reason": "reason.missing"}, "give the reason for the hand-over (X-4)"
        )
    if len(text) > 500:
        raise HandOverRefused({"reason": "reason.too_long"}, "keep the reason to 500 characters")
    return text


def decline(svc: Services, case_id: str, actor: Actor, why: str) -> Case:
    """OH-3: the provider holding a help request gives it up, saying why; it goes to the next
    qualified provider (never back to one that gave it up), else to the merchant."""
    access.require(actor.role, Action.DECLINE_CASE)
    reason = _why(why)
    with svc.uow() as uow:
        case = uow.cases.get(case_id, for_update=True, with_history=True)
        if actor.role is Role.PROVIDER and case.assignee != actor.id:
            raise Forbidden("only the provider the request is assigned to may decline it")
        at = now_in(uow, uow.cases.sandbox_of(case_id), svc.clock)
        _hand_over_to_next(svc, uow, case, "declined", at, actor, reason)
        uow.cases.save(case)
        uow.commit()
        return case


def reassign(svc: Services, case_id: str, actor: Actor, provider_id: str, why: str) -> Case:
    """OH-3: operations give a help request to a provider they name. The provider must
    qualify like any dispatch (coverage, fulfilment, calendar, capacity) that day."""
    access.require(actor.role, Action.REASSIGN_CASE)
    reason = _why(why)
    with svc.uow() as uow:
        case = uow.cases.get(case_id, for_update=True, with_history=True)
        sandbox = uow.cases.sandbox_of(case_id)
        at = now_in(uow, sandbox, svc.clock)
        tz = case.policy(svc.book).timezone
        if case.programme is not Programme.ONE_CLICK_HELP:
            raise HandOverRefused(
                {"case": "case.not_dispatched"}, "only help requests (OH-3) are dispatched"
            )
        if provider_id == case.assignee:
            raise HandOverRefused(
                {"provider_id": "provider.already_assigned"},
                f"the request is already with '{provider_id}': name another provider",
            )
        everyone = decision_for(svc, uow, case.item, case.service_tag, at, sandbox, tz)
        if everyone is None:
            raise HandOverRefused(
                {"case": "case.no_area"},
                "the request's address has no area to dispatch by: correct the address first",
            )
        others = frozenset(everyone.considered() - {provider_id})
        chosen = decision_for(svc, uow, case.item, case.service_tag, at, sandbox, tz, others)
        assert chosen is not None
        if chosen.provider_id != provider_id:
            refused = next((x for x in chosen.skipped if x.provider_id == provider_id), None)
            if refused is not None:
                raise HandOverRefused(
                    {"provider_id": f"provider.{refused.constraint}"},
                    f"'{provider_id}' does not qualify: {refused.reason.en}",
                )
            raise HandOverRefused(
                {"provider_id": "provider.coverage"},
                f"'{provider_id}' does not cover this item's category, service and area "
                "(OH-3): name a provider that does",
            )
        if not _take(uow, chosen, sandbox, at, tz):
            raise HandOverRefused(
                {"provider_id": "provider.capacity"},
                f"'{provider_id}' has just used up its capacity for the day (OH-3): "
                "name another provider",
            )
        _give_back(uow, _history(uow, case), case.assignee or "", sandbox, tz)
        case.hand_over(
            svc.book,
            "reassigned",
            provider_id,
            at,
            actor,
            reason,
            reasons=chosen.reasons[:1],
            counted=_counted(chosen),
        )
        uow.cases.save(case)
        uow.commit()
        return case


def replace_on_missed_plan(svc: Services, uow: UnitOfWork, case: Case, at: datetime) -> bool:
    """OH-4 breached with the provider still holding the case: when the dispatch policy says
    so, hand it to the next qualified provider; with nobody else qualified the provider
    keeps it. True if handed over."""
    if not svc.book.dispatch.replace_on_missed_plan:
        return False
    if case.programme is not Programme.ONE_CLICK_HELP or not case.is_open:
        return False
    if case.assignee in (None, case.item.merchant_id):
        return False
    if case.state not in case.lifecycle.transitions["dispatch"].sources:
        return False
    sandbox = uow.cases.sandbox_of(case.id)
    tz = case.policy(svc.book).timezone
    leaving = case.assignee or ""
    history = _history(uow, case)
    excluded = _gave_up(history) | {leaving}
    decision = _decide_and_take(svc, uow, case.item, case.service_tag, at, sandbox, tz, excluded)
    if decision is None or decision.chosen is None:
        return False  # nobody else qualifies: the provider keeps it (the merchant is liable)
    _give_back(uow, history, leaving, sandbox, tz)
    case.hand_over(
        svc.book,
        "replaced",
        decision.chosen.provider_id,
        at,
        SYSTEM,
        "OH-4",
        reasons=decision.reasons,
        counted=_counted(decision),
    )
    return True


def plan_clocks_running(book: PolicyBook, case: Case) -> frozenset[str]:
    """The case's OH-4 clocks (the 1-hour plan) not yet breached: watched while settling."""
    if case.programme is not Programme.ONE_CLICK_HELP:
        return frozenset()
    policy = case.policy(book)
    return frozenset(
        cid
        for cid, clock in case.clocks.items()
        if policy.clock(cid).rule == "OH-4" and clock.status is not ClockStatus.BREACHED
    )


def replace_if_plan_missed(
    svc: Services, uow: UnitOfWork, case: Case, watched: frozenset[str], at: datetime
) -> bool:
    """After settling: an OH-4 clock of ``watched`` breached, so replace the provider (policy)."""
    if not any(case.clocks[cid].status is ClockStatus.BREACHED for cid in watched):
        return False
    return replace_on_missed_plan(svc, uow, case, at)
