"""Read models for the parties' screens: whose cases, what is most urgent, how compliant.

Who sees what is one rule for every screen (a buyer their own items' cases, a
provider the cases dispatched to it, a merchant its shop's, a brand its
products', a hotline agent its brand's or the reports it filed, operations
everything); the storage adapter applies it in each query
(``adapters/db/read_models.py``). These functions are the services' face of
the ``ReadModels`` port: each reads in the caller's unit of work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aftersales.services.base import Services
from aftersales.services.ports import (
    GROUPINGS,
    BalanceLine,
    BrandLine,
    CaseLine,
    Compliance,
    ComplianceRow,
    PayoutLine,
    QueueLine,
    Scope,
)


def may_see_case(svc: Services, scope: Scope, case_id: str) -> bool:
    with svc.uow() as uow:
        return uow.views.may_see_case(scope, case_id)


def case_lines(
    svc: Services,
    scope: Scope,
    *,
    sandbox: str | None = None,
    open_only: bool = False,
    limit: int = 200,
    after: tuple[datetime, str] | None = None,
) -> list[CaseLine]:
    """The cases ``scope`` may see, newest first, each with its earliest running deadline.

    ``after`` is the (opened_at, id) of the last line of the previous page: the
    next page starts right after it (keyset paging, stable while cases are added).
    """
    with svc.uow() as uow:
        return uow.views.case_lines(
            scope, sandbox=sandbox, open_only=open_only, limit=limit, after=after
        )


def provider_queue(
    svc: Services, scope: Scope, *, live_now: datetime, limit: int = 200
) -> list[QueueLine]:
    """Open cases with a running deadline, the one nearest to breach (on its own clock) first."""
    with svc.uow() as uow:
        return uow.views.provider_queue(scope, live_now=live_now, limit=limit)


def payout_lines(
    svc: Services,
    scope: Scope,
    *,
    sandbox: str | None = None,
    limit: int = 500,
    after: tuple[datetime, int] | None = None,
) -> list[PayoutLine]:
    """Payouts on the cases ``scope`` may see, newest first; ``after`` pages on (at, entry id)."""
    with svc.uow() as uow:
        return uow.views.payout_lines(scope, sandbox=sandbox, limit=limit, after=after)


def compliance(
    svc: Services,
    scope: Scope,
    *,
    by: str,
    start: datetime,
    end: datetime,
    sandbox: str | None = None,
) -> Compliance:
    """Commitments kept and missed, per ``by``, for cases opened in ``[start, end)``."""
    with svc.uow() as uow:
        return uow.views.compliance(scope, by=by, start=start, end=end, sandbox=sandbox)


def balances(svc: Services, scope: Scope, *, sandbox: str | None = None) -> list[BalanceLine]:
    """Net ledger balances: every account's for operations, the caller's own party's otherwise."""
    with svc.uow() as uow:
        return uow.views.balances(scope, sandbox=sandbox)


def find_orders_for_caller(svc: Services, text: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """For a hotline agent: order items whose order id, item id or buyer account match ``text``."""
    with svc.uow() as uow:
        return uow.reference.find_orders_for_caller(text, limit=limit)


def brands(svc: Services) -> list[BrandLine]:
    with svc.uow() as uow:
        return uow.reference.brands()


__all__ = [
    "GROUPINGS",
    "BalanceLine",
    "CaseLine",
    "Compliance",
    "ComplianceRow",
    "PayoutLine",
    "QueueLine",
    "Scope",
    "balances",
    "brands",
    "case_lines",
    "compliance",
    "find_orders_for_caller",
    "may_see_case",
    "payout_lines",
    "provider_queue",
]
