"""The programme policies, every version, read by everyone (OH-8: the version in force judges)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from aftersales.domain.policy import ProgrammePolicy
from aftersales.entrypoints.api import models as m
from aftersales.entrypoints.api.deps import Caller, ServicesDep
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.errors import NotFound
from aftersales.services.base import Services

router = APIRouter(prefix="/api/v1", tags=["policies"], responses=PROBLEMS)


def policy_out(svc: Services, policy: ProgrammePolicy) -> dict[str, Any]:
    return {
        "id": policy.id,
        "programme": policy.programme.value,
        "version": policy.version,
        "name": m.Bilingual(zh=policy.name.zh, en=policy.name.en),
        "effective_from": policy.effective_from,
        "effective_until": policy.effective_until,
        "in_force": policy.in_force_at(svc.clock.now()),
        "clocks": [
            m.ClockDefinitionOut(
                id=c.id,
                rule=c.rule,
                duration=str(c.duration) if c.duration else c.due,
                calendar=c.calendar,
            )
            for c in policy.clocks
        ],
    }


@router.get("/policies", response_model=list[m.PolicyOut])
def policies(
    caller: Caller,
    svc: ServicesDep,
    programme: str | None = Query(None, description="national_warranty or one_click_help"),
) -> list[m.PolicyOut]:
    """Every version of every programme, oldest first, marked in force or not (OH-8)."""
    return [
        m.PolicyOut(**policy_out(svc, p))
        for p in sorted(svc.book.programmes, key=lambda p: p.effective_from)
        if programme is None or p.programme.value == programme
    ]


@router.get("/policies/{policy_id}", response_model=m.PolicyDocumentOut)
def policy(policy_id: str, caller: Caller, svc: ServicesDep) -> m.PolicyDocumentOut:
    """One policy version with its whole document: clocks, penalties, eligibility."""
    try:
        found = svc.book.by_id(policy_id)
    except KeyError:
        raise NotFound("policy version", policy_id, "GET /api/v1/policies lists them") from None
    return m.PolicyDocumentOut(**policy_out(svc, found), document=found.model_dump(mode="json"))


@router.get("/catalog")
def catalog(caller: Caller, svc: ServicesDep) -> dict[str, Any]:
    """What products and coverage rows may name: categories (a rule on a category covers its
    descendants, OH-1), service tags, badges, and the business calendars providers keep."""
    found = svc.book.catalog

    def named(item: Any) -> dict[str, Any]:
        return {"id": item.id, "name": {"zh": item.name.zh, "en": item.name.en}}

    return {
        "categories": [{**named(c), "parent": c.parent} for c in found.categories],
        "service_tags": [named(t) for t in found.service_tags],
        "badges": [named(b) for b in found.badges],
        "calendars": sorted(svc.book.calendars),
    }
