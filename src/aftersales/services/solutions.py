"""Reusable solution texts (OH-4): each handler keeps a small library of its own.

An installer gives the same few plans again and again ("we will call within the
hour and come tomorrow morning", "the part is ordered, we come when it arrives").
A provider, shop or brand keeps its texts here and picks one when it gives a
solution; the text is then the solution's note, which it may still edit. Texts
belong to the party (the viewer's provider, shop or brand), never to a case, so
editing or deleting one changes no case's history.
"""

from __future__ import annotations

from dataclasses import dataclass

from aftersales.domain import access
from aftersales.domain.access import Action
from aftersales.domain.lifecycle import Role
from aftersales.errors import InvalidRequest, NotFound
from aftersales.services.base import Services, new_id
from aftersales.services.records import SolutionText

TITLE_MAX = 40
BODY_MAX = 1000
TEXTS_MAX = 50  # per owner: a library to pick from, not an archive


@dataclass(frozen=True)
class Problem:
    """A field of the form that cannot be kept as typed, and why (a code the page words)."""

    field: str  # title | body | owner
    code: str  # empty | too_long | too_many

    @property
    def message(self) -> str:
        limits = {"title": TITLE_MAX, "body": BODY_MAX}
        if self.code == "empty":
            return f"the {self.field} is empty"
        if self.code == "too_long":
            return f"the {self.field} is longer than {limits[self.field]} characters"
        return f"a library holds at most {TEXTS_MAX} texts; delete one first"


def problems_of(title: str, body: str) -> list[Problem]:
    """What is wrong with a text as typed (nothing: it can be kept)."""
    found: list[Problem] = []
    for name, value, limit in (("title", title, TITLE_MAX), ("body", body, BODY_MAX)):
        if not value.strip():
            found.append(Problem(name, "empty"))
        elif len(value.strip()) > limit:
            found.append(Problem(name, "too_long"))
    return found


def texts_of(svc: Services, owner: str) -> list[SolutionText]:
    with svc.uow() as uow:
        return uow.solutions.of_owner(owner)


def save_text(
    svc: Services,
    *,
    role: Role,
    owner: str | None,
    title: str,
    body: str,
    text_id: str | None = None,
) -> SolutionText:
    """Add a text to ``owner``'s library, or change one of its own (``text_id``)."""
    access.require(role, Action.KEEP_SOLUTION_TEXTS)
    if not owner:
        raise InvalidRequest(
            "solution texts belong to a provider, shop or brand; this account has none"
        )
    problems = problems_of(title, body)
    if problems:
        raise InvalidRequest("; ".join(p.message for p in problems))
    with svc.uow() as uow:
        now = svc.clock.now()
        if text_id:
            kept = uow.solutions.get(text_id)
            if kept is None or kept.owner != owner:
                raise NotFound("solution text", text_id)
            text = SolutionText(kept.id, owner, title.strip(), body.strip(), kept.created_at, now)
        else:
            if len(uow.solutions.of_owner(owner)) >= TEXTS_MAX:
                raise InvalidRequest(Problem("owner", "too_many").message)
            text = SolutionText(new_id("sol"), owner, title.strip(), body.strip(), now, now)
        uow.solutions.put(text)
        uow.commit()
        return text


def delete_text(svc: Services, *, role: Role, owner: str | None, text_id: str) -> None:
    """Remove one of ``owner``'s texts (NotFound if it has no such text)."""
    access.require(role, Action.KEEP_SOLUTION_TEXTS)
    with svc.uow() as uow:
        kept = uow.solutions.get(text_id)
        if kept is None or kept.owner != owner:
            raise NotFound("solution text", text_id)
        uow.solutions.delete(text_id)
        uow.commit()
