"""Penalties, payouts and the complaint gate.

A payout is a ledger entry: payer, payee, amount (integer points or fen), the rule
it applies and the case, clock and failure it pays for. Its key is
``case/clock/failure``: storage keeps that key unique, so one failure of one case
is paid once and only once, whatever retries or concurrent workers do (X-1).

A penalty is paid to the buyer by the merchant. When a provider held the clock as
it breached, the ledger also records the provider's share as owed to the merchant
(:func:`provider_share`): its key is the payout's key with ``/provider-share``
appended, its ``share_of`` names the payout, and it is made in the same save as the
payout, so it exists exactly when the payout does.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from aftersales.domain.errors import LedgerError
from aftersales.domain.explain import Bilingual, Reason, amount_text, local_time
from aftersales.domain.money import FEN_PER_YUAN, Amount, Unit
from aftersales.domain.policy import PenaltyDefinition

PAYER_NAMES = {
    "merchant": Bilingual("商家", "the merchant"),
    "provider": Bilingual("服务方", "the provider"),
}


def payout_key(case_id: str, clock_id: str, failure: str) -> str:
    """The idempotency key of a payout: one per (case, clock, failure) (X-1)."""
    for part in (case_id, clock_id, failure):
        if not part or "/" in part:
            raise LedgerError(f"key parts must be non-empty and free of '/', got {part!r}")
    return f"{case_id}/{clock_id}/{failure}"


@dataclass(frozen=True)
class Payout:
    key: str
    case_id: str
    clock_id: str
    failure: str
    penalty_id: str
    rule: str
    payer_role: str
    payer: str
    payee: str
    amount: Amount
    at: datetime
    reason: Reason
    gates_complaints: bool
    # For a provider's share (issue 15): the key of the payout it is a share of.
    share_of: str | None = None


def penalty_amount(
    penalty: PenaltyDefinition, *, paid_price_fen: int, overcharge_fen: int | None = None
) -> tuple[Amount, dict[str, str | Bilingual]]:
    """The amount a penalty comes to, and the figures that explain it.

    - ``fixed``: the points the rule sets (OH-5: 5,000; NW-7: 10,000; SS-1: 30,000 / 5,000).
    - ``per_yuan``: rate × paid price in whole yuan-fractions, rounded down, capped (SS-4:
      15 points per yuan, at most 100,000).
    - ``refund_plus_same``: the overcharge refunded plus the same again, in fen (SS-2).
    """
    if penalty.kind == "fixed":
        assert penalty.points is not None
        return Amount.points(penalty.points), {}
    if penalty.kind == "per_yuan":
        assert penalty.points_per_yuan is not None
        if paid_price_fen < 0:
            raise LedgerError("the paid price cannot be negative")
        raw = paid_price_fen * penalty.points_per_yuan // FEN_PER_YUAN
        capped = min(raw, penalty.cap_points) if penalty.cap_points is not None else raw
        cap = Amount.points(penalty.cap_points) if penalty.cap_points is not None else None
        return Amount.points(capped), {
            "price": Amount.fen(paid_price_fen).yuan_text(),
            "rate": str(penalty.points_per_yuan),
            "raw": f"{raw:,}",
            "cap": amount_text(cap) if cap else Bilingual("无", "none"),
        }
    if overcharge_fen is None or overcharge_fen <= 0:
        raise LedgerError(
            f"penalty '{penalty.id}' refunds an overcharge plus the same again; "
            "the overcharged amount (fen, above zero) must be recorded first"
        )
    return Amount.fen(2 * overcharge_fen), {"overcharge": Amount.fen(overcharge_fen).yuan_text()}


def assess_payout(
    *,
    case_id: str,
    clock_id: str,
    failure: str,
    failure_name: Bilingual,
    penalty: PenaltyDefinition,
    payer: str,
    payee: str,
    paid_price_fen: int,
    at: datetime,
    timezone: str,
    overcharge_fen: int | None = None,
) -> Payout:
    amount, figures = penalty_amount(
        penalty, paid_price_fen=paid_price_fen, overcharge_fen=overcharge_fen
    )
    params: dict[str, str | Bilingual] = {
        "failure": failure_name,
        "payer": PAYER_NAMES[penalty.payer],
        "payee": payee,
        "amount": amount_text(amount),
        "at": local_time(at, timezone),
        **figures,
    }
    code = {
        "fixed": "penalty.fixed",
        "per_yuan": "penalty.per_yuan",
        "refund_plus_same": "penalty.refund_plus_same",
    }
    return Payout(
        key=payout_key(case_id, clock_id, failure),
        case_id=case_id,
        clock_id=clock_id,
        failure=failure,
        penalty_id=penalty.id,
        rule=penalty.rule,
        payer_role=penalty.payer,
        payer=payer,
        payee=payee,
        amount=amount,
        at=at,
        reason=Reason(code[penalty.kind], penalty.rule, params),
        gates_complaints=penalty.gates_complaints,
    )


SHARE_SUFFIX = "provider-share"


def share_key(payout_key_: str) -> str:
    """The ledger key of the provider's share of the payout keyed ``payout_key_``."""
    return f"{payout_key_}/{SHARE_SUFFIX}"


def provider_share(
    payout: Payout,
    *,
    percent: int,
    provider: str,
    merchant: str,
    clock_name: Bilingual,
    held_since: datetime,
    at: datetime,
    timezone: str,
) -> Payout | None:
    """The provider's share of ``payout``, owed to the merchant, or None when it comes to
    nothing (a share of 0 % in policy, or rounded down to zero)."""
    if not 0 <= percent <= 100:
        raise LedgerError(f"a provider's share is a per cent from 0 to 100, got {percent}")
    value = payout.amount.value * percent // 100
    if value <= 0:
        return None
    amount = Amount(value, payout.amount.unit)
    return Payout(
        key=share_key(payout.key),
        case_id=payout.case_id,
        clock_id=payout.clock_id,
        failure=payout.failure,
        penalty_id=payout.penalty_id,
        rule=payout.rule,
        payer_role="provider",
        payer=provider,
        payee=merchant,
        amount=amount,
        at=at,
        reason=Reason(
            "penalty.provider_share",
            payout.rule,
            {
                "clock": clock_name,
                "provider": provider,
                "merchant": merchant,
                "since": local_time(held_since, timezone),
                "percent": str(percent),
                "penalty": amount_text(payout.amount),
                "amount": amount_text(amount),
            },
        ),
        gates_complaints=False,
        share_of=payout.key,
    )


def gating_payout(payouts: Iterable[Payout], clock_id: str) -> Payout | None:
    """OH-7 / SS-5: the paid penalty that closes breach complaints about this clock's failure."""
    for payout in payouts:
        if payout.clock_id == clock_id and payout.gates_complaints:
            return payout
    return None


def balances(payouts: Iterable[Payout]) -> Mapping[tuple[str, Unit], int]:
    """Net balance per (account, unit): payees credited, payers debited."""
    totals: dict[tuple[str, Unit], int] = defaultdict(int)
    for payout in payouts:
        totals[(payout.payee, payout.amount.unit)] += payout.amount.value
        totals[(payout.payer, payout.amount.unit)] -= payout.amount.value
    return dict(totals)


def paid_text(payout: Payout, timezone: str) -> dict[str, str | Bilingual]:
    return {
        "paid_at": local_time(payout.at, timezone),
        "amount": amount_text(payout.amount),
        "penalty_rule": payout.rule,
    }


def balance_deltas(payouts: Iterable[Payout], sandbox: str) -> Counter[tuple[str, str, str]]:
    """What ``payouts`` change: ``{(sandbox, account, unit): delta}`` (payee +, payer −)."""
    deltas: Counter[tuple[str, str, str]] = Counter()
    for payout in payouts:
        unit = payout.amount.unit.value
        deltas[(sandbox, payout.payee, unit)] += payout.amount.value
        deltas[(sandbox, payout.payer, unit)] -= payout.amount.value
    return deltas
