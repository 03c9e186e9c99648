"""What a buyer (or a client acting for one) may ask about an order item before acting.

:func:`eligibility_now` answers, for the item at the current time of its world:
which programmes apply (NW-1, OH-1, OH-2), the warranty's last day, whether the
address's city is covered, and which commitments a one-click-help request
pressed now would carry (OH-4's one-hour solution only for requests initiated
in its window) — each with its rule and its sentence in Chinese and English.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aftersales.domain.clocks import Clock, ClockEnv, window_text
from aftersales.domain.eligibility import (
    EligibilityDecision,
    OrderItem,
    assess_national_warranty,
    assess_one_click_help,
)
from aftersales.domain.explain import Bilingual, Reason
from aftersales.domain.lifecycle import Programme
from aftersales.domain.policy import PolicyBook
from aftersales.services.base import Services
from aftersales.services.time import now_in


@dataclass(frozen=True)
class ItemEligibility:
    item: OrderItem
    sandbox: str
    at: datetime
    national_warranty: EligibilityDecision
    one_click_help: EligibilityDecision
    commitments: tuple[tuple[str, Reason], ...]  # clock id, what it would do if pressed now
    # Commitments that hold only for requests made within a window (OH-4's 09:00–18:00):
    # the clock's name, that day's window and the rule, for a notice before pressing.
    windows: tuple[HelpWindow, ...] = ()


@dataclass(frozen=True)
class HelpWindow:
    clock_id: str
    clock: Bilingual
    window: Bilingual  # e.g. "当日 09:00–18:00（当地时间）"
    rule: str


def eligibility_now(svc: Services, order_item_id: str) -> ItemEligibility:
    with svc.uow() as uow:
        item = uow.reference.order_item(order_item_id)
        sandbox = uow.reference.sandbox_of_item(order_item_id)
        at = now_in(uow, sandbox, svc.clock)
    return eligibility_at(svc, item, sandbox, at)


def eligibility_at(svc: Services, item: OrderItem, sandbox: str, at: datetime) -> ItemEligibility:
    """The same, for an item already read, at ``at`` (its world's time)."""
    book = svc.book
    help_decision = assess_one_click_help(book, item, at)
    commitments = _commitments(book, at) if help_decision.eligible else ()
    windows = _windows(book, at) if help_decision.eligible else ()
    return ItemEligibility(
        item=item,
        sandbox=sandbox,
        at=at,
        national_warranty=assess_national_warranty(book, item, at),
        one_click_help=help_decision,
        commitments=commitments,
        windows=windows,
    )


def _commitments(book: PolicyBook, at: datetime) -> tuple[tuple[str, Reason], ...]:
    """Each clock of the one-click-help version in force, started at ``at`` on paper."""
    policy = book.in_force(Programme.ONE_CLICK_HELP, at)
    found: list[tuple[str, Reason]] = []
    for definition in policy.clocks:
        if definition.starts_on != "initiated":
            continue
        window = book.calendar(definition.applies_within) if definition.applies_within else None
        env = ClockEnv(definition, book.calendar(definition.calendar), window, policy.timezone)
        found.append((definition.id, Clock(definition.id).start(env, at)))
    return tuple(found)


def _windows(book: PolicyBook, at: datetime) -> tuple[HelpWindow, ...]:
    """The windows the one-click-help clocks in force apply within, on ``at``'s local day."""
    policy = book.in_force(Programme.ONE_CLICK_HELP, at)
    return tuple(
        HelpWindow(
            definition.id,
            Bilingual(definition.name.zh, definition.name.en),
            window_text(book.calendar(definition.applies_within), at, policy.timezone),
            definition.applies_within_rule or definition.rule,
        )
        for definition in policy.clocks
        if definition.applies_within
    )


def reason_json(reason: Reason) -> dict[str, Any]:
    return {
        "rule": reason.rule,
        "code": reason.code,
        "zh": reason.render("zh"),
        "en": reason.render("en"),
    }
