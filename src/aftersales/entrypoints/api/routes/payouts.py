"""Money and points paid: the payouts the caller may see, and ledger balances."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from aftersales.entrypoints.api import models as m
from aftersales.entrypoints.api.deps import Caller, ServicesDep
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.entrypoints.api.paging import decode_cursor, encode_cursor
from aftersales.services import views

router = APIRouter(prefix="/api/v1", tags=["payouts"], responses=PROBLEMS)


@router.get("/payouts", response_model=m.PayoutPage)
def payouts(
    caller: Caller,
    svc: ServicesDep,
    sandbox: str = Query(
        "live", max_length=64, description="live data unless a sandbox's id is given"
    ),
    kind: Literal["payouts", "shares"] = Query(
        "payouts",
        description="payouts: what buyers were paid; shares: the providers' shares of those "
        "payouts owed to the merchant (operations, the shop owed and the provider owing)",
    ),
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = Query(None, max_length=400),
) -> m.PayoutPage:
    """Payouts the caller may see, newest first, each with its reason in zh and en; with
    ``kind=shares``, the providers' shares instead (issue 15)."""
    if kind == "shares":
        share_after = decode_cursor(cursor, str) if cursor else None
        lines = views.share_lines(
            svc, caller.scope, sandbox=sandbox, limit=limit + 1, after=share_after
        )
    else:
        after = decode_cursor(cursor, int) if cursor else None
        lines = views.payout_lines(svc, caller.scope, sandbox=sandbox, limit=limit + 1, after=after)
    page, more = lines[:limit], len(lines) > limit
    next_cursor = None
    if more:
        last = page[-1]
        next_cursor = encode_cursor(last.at, last.key if kind == "shares" else last.entry_id)
    return m.PayoutPage(
        items=[
            m.PayoutOut(
                key=p.key,
                case_id=p.case_id,
                sandbox=p.sandbox,
                rule=p.rule,
                amount=p.amount,
                unit=p.unit,
                payer=p.payer,
                payee=p.payee,
                at=p.at,
                explanation=m.Bilingual(zh=p.explanation("zh"), en=p.explanation("en")),
            )
            for p in page
        ],
        next_cursor=next_cursor,
    )


@router.get("/balances", response_model=list[m.BalanceOut])
def balances(
    caller: Caller,
    svc: ServicesDep,
    sandbox: str = Query(
        "live", max_length=64, description="live data unless a sandbox's id is given"
    ),
) -> list[m.BalanceOut]:
    """Ledger balances: the caller's own account's, or every account's for operations."""
    return [
        m.BalanceOut(sandbox=b.sandbox, account=b.account, unit=b.unit, balance=b.balance)
        for b in views.balances(svc, caller.scope, sandbox=sandbox)
    ]
