"""A case's history told as sentences in the page's language, and the three things a buyer
looks for first: the provider's plan, the resolution, and how they will be reached.

The audit trail (X-4) records actions by their codes (``give_solution``,
``pause:resolution``); here each entry becomes "who did what, and what they
said", with the role, the clock and the exemption by name, never by code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aftersales.domain.cases import AuditEntry, Case
from aftersales.domain.explain import local_time
from aftersales.domain.lifecycle import Role
from aftersales.domain.policy import PolicyBook
from aftersales.entrypoints.web.i18n import Lang, keys, text
from aftersales.entrypoints.web.pages.formats import yuan

# The notes that are the provider's plan (OH-4's solution, NW-5's feedback) and the
# ones that close the matter (OH-9's resolution note, a repair, a refusal with its reason).
PLAN_ACTIONS = frozenset({"give_solution", "give_feedback"})
RESULT_ACTIONS = frozenset({"resolve", "mark_repaired", "reject"})


@dataclass(frozen=True)
class Step:
    at: str  # local time
    sentence: str
    note: str
    action: str
    channel: str  # the channel's code, shown by its name


def who(entry: AuditEntry, lang: Lang, buyer: str | None) -> str:
    """The actor as a person reads it: 您 for the buyer reading their own case, else role and id."""
    if entry.role is Role.SYSTEM:
        return text("role.system", lang)
    if entry.role is Role.CONSUMER and buyer is not None and entry.actor_id == buyer:
        return text("consumer.you", lang)
    named = f"{text(f'role.{entry.role.value}', lang)} {entry.actor_id}"
    # Chinese runs on without spaces, except after a Latin id ("服务方 hz-01 给出了…").
    return f"{named} " if lang == "zh" else named


def _what(
    case: Case, book: PolicyBook, entry: AuditEntry, lang: Lang
) -> tuple[str, dict[str, str]]:
    """The step's catalogue key and the values it is written with."""
    action, _, clock_id = entry.action.partition(":")
    values: dict[str, str] = {}
    if clock_id:
        definition = next((d for d in case.policy(book).clocks if d.id == clock_id), None)
        values["clock"] = (
            (definition.name.zh if lang == "zh" else definition.name.en) if definition else clock_id
        )
    if action == "pause":
        named = book.service_standards.exemption_names.get(entry.note)
        values["reason"] = (named.zh if lang == "zh" else named.en) if named else entry.note
    if action == "quote" and entry.note.isdigit():
        values["amount"] = f"¥{yuan(int(entry.note))}"
    key = f"consumer.step.{action}"
    if key not in keys():
        transition = case.lifecycle.transitions.get(action)
        label = (
            transition.label_zh
            if transition and lang == "zh"
            else (transition.label_en if transition else action)
        )
        values["action"] = label
        key = "consumer.step.other"
    return key, values


# Steps whose note is a code, said in the sentence already (not repeated as a quote).
_NOTE_IN_SENTENCE = frozenset({"dispatch", "pause", "quote"})


def story(case: Case, book: PolicyBook, lang: Lang, buyer: str | None = None) -> list[Step]:
    """Every audited step of ``case``, oldest first, as a sentence."""
    tz = case.policy(book).timezone
    steps = []
    for entry in case.audit:
        key, values = _what(case, book, entry, lang)
        action = entry.action.partition(":")[0]
        sentence = text(key, lang).format(who=who(entry, lang, buyer), note=entry.note, **values)
        note = "" if action in _NOTE_IN_SENTENCE or action == "open" else entry.note
        steps.append(Step(local_time(entry.at, tz), sentence, note, action, entry.channel.value))
    return steps


def plan_and_result(case: Case, book: PolicyBook, lang: Lang, buyer: str | None) -> dict[str, Any]:
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
                "who": who(entry, lang, buyer),
                "at": local_time(entry.at, tz),
                "note": entry.note,
                "action": entry.action,
            }
    return found
