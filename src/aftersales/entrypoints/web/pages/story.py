"""The two things a buyer looks for first on a case: the provider's plan and how it ended.

The case's whole history, as sentences with people named, is
:func:`aftersales.services.history.case_history`; this picks out of the audit
trail (X-4) the latest plan (OH-4's solution, NW-5's feedback) and the note
that closed the matter (OH-9's resolution, a repair, a refusal with its reason),
each as "who, when, what they said".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aftersales.domain.cases import AuditEntry, Case
from aftersales.domain.explain import local_time
from aftersales.domain.lifecycle import Role
from aftersales.domain.policy import PolicyBook
from aftersales.entrypoints.web.i18n import Lang, text

PLAN_ACTIONS = frozenset({"give_solution", "give_feedback"})
RESULT_ACTIONS = frozenset({"resolve", "mark_repaired", "reject"})


def who(entry: AuditEntry, lang: Lang, buyer: str | None, names: Mapping[str, str]) -> str:
    """The actor as a person reads it: 您 for the buyer reading their own case, else the
    role and the name (the id when no name is known)."""
    if entry.role is Role.SYSTEM:
        return text("role.system", lang)
    if entry.role is Role.CONSUMER and buyer is not None and entry.actor_id == buyer:
        return text("consumer.you", lang)
    return f"{text(f'role.{entry.role.value}', lang)} {names.get(entry.actor_id, entry.actor_id)}"


def plan_and_result(
    case: Case, book: PolicyBook, lang: Lang, buyer: str | None, names: Mapping[str, str]
) -> dict[str, Any]:
    """The latest plan the provider gave and how the case ended, each as "who, when, what"."""
    tz = case.policy(book).timezone
    found: dict[str, Any] = {"plan": None, "result": None}
    for entry in case.audit:
        slot = (
            "plan"
            if entry.action in PLAN_ACTIONS
            else "result"
            if entry.action in RESULT_ACTIONS
            else None
        )
        if slot and entry.note:
            found[slot] = {
                "who": who(entry, lang, buyer, names),
                "at": local_time(entry.at, tz),
                "note": entry.note,
                "action": entry.action,
            }
    return found
