"""Read models: a case as every party sees it, in both languages."""

from __future__ import annotations

from typing import Any

from aftersales.domain.cases import Case
from aftersales.domain.clocks import STATUS_NAMES
from aftersales.domain.explain import local_time
from aftersales.domain.ledger import Payout
from aftersales.domain.policy import PolicyBook


def _ledger_line(p: Payout) -> dict[str, Any]:
    """A payout or a provider's share as the case report shows it."""
    return {
        "key": p.key,
        "clock": p.clock_id,
        "rule": p.rule,
        "payer": p.payer,
        "payee": p.payee,
        "amount": p.amount.value,
        "unit": p.amount.unit.value,
        "at": _iso(p.at),
        "explanation": {"rule": p.reason.rule, "zh": p.reason.zh, "en": p.reason.en},
    }


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def case_report(case: Case, book: PolicyBook) -> dict[str, Any]:
    policy = case.policy(book)
    tz = policy.timezone
    state_zh, state_en = case.lifecycle.states[case.state]
    clocks = []
    for definition in policy.clocks:
        if definition.id not in case.clocks:
            continue  # a clock of another service standard (SS-2's on a delivery case)
        clock = case.clocks[definition.id]
        status = STATUS_NAMES[clock.status]
        clocks.append(
            {
                "id": clock.clock_id,
                "rule": definition.rule,
                "name": {"zh": definition.name.zh, "en": definition.name.en},
                "status": clock.status.value,
                "status_name": {"zh": status.zh, "en": status.en},
                "started_at": _iso(clock.started_at),
                "due_at": _iso(clock.due_at),
                "stopped_at": _iso(clock.stopped_at),
                "breached_at": _iso(clock.breached_at),
                "paused_at": _iso(clock.paused_at),
                "pause_reason": clock.pause_reason,
                # Who held the case while the clock ran (issue 15).
                "holders": [
                    {
                        "kind": h.kind,
                        "party": h.party,
                        "since": _iso(h.since),
                        "until": _iso(h.until),
                        "why": h.why,
                    }
                    for h in clock.holders
                ],
                "explanation": (
                    {"rule": clock.reason.rule, "zh": clock.reason.zh, "en": clock.reason.en}
                    if clock.reason
                    else None
                ),
            }
        )
    return {
        "id": case.id,
        "programme": case.programme.value,
        "programme_name": {"zh": policy.name.zh, "en": policy.name.en},
        "policy_id": case.policy_id,
        "state": case.state,
        "state_name": {"zh": state_zh, "en": state_en},
        "is_open": case.is_open,
        "opened_at": _iso(case.opened_at),
        "opened_at_local": local_time(case.opened_at, tz),
        "channel": case.channel.value,
        "opened_by": case.opened_by,
        "description": case.description,
        "order_item": {
            "id": case.item.id,
            "order_id": case.item.order_id,
            "product": case.item.product.name,
            "buyer_account": case.item.buyer_account,
            "merchant_id": case.item.merchant_id,
            "paid_price_fen": case.item.paid_price_fen,
            "city": case.item.address.city if case.item.address else None,
        },
        "service_tag": case.service_tag,
        "failure": case.failure,
        "in_warranty": case.in_warranty,
        "assignee": case.assignee,
        "appointment_at": _iso(case.appointment_at),
        "quote": None
        if case.quote is None
        else {
            "amount_fen": case.quote.amount_fen,
            "status": case.quote.status,
            "issued_at": _iso(case.quote.issued_at),
        },
        "clocks": clocks,
        "payouts": [{**_ledger_line(p), "failure": p.failure} for p in case.payouts],
        # The providers' shares of those payouts, owed to the merchant (issue 15); a
        # view for the buyer leaves them out (services/views.py, case_view).
        "shares": [{**_ledger_line(p), "share_of": p.share_of} for p in case.shares],
        "complaints": [
            {
                "id": c.id,
                "clock": c.clock_id,
                "status": c.status,
                "filed_at": _iso(c.filed_at),
                "text": c.text,
                "explanation": {"rule": c.reason.rule, "zh": c.reason.zh, "en": c.reason.en},
            }
            for c in case.complaints
        ],
        "decisions": [
            {
                "at": _iso(d.at),
                "at_local": local_time(d.at, tz),
                "subject": d.subject,
                "rule": d.reason.rule,
                "code": d.reason.code,
                "zh": d.reason.zh,
                "en": d.reason.en,
            }
            for d in case.decisions
        ],
        "audit": [
            {
                "at": _iso(a.at),
                "role": a.role.value,
                "actor": a.actor_id,
                "channel": a.channel.value,
                "action": a.action,
                "from": a.from_state,
                "to": a.to_state,
                "note": a.note,
            }
            for a in case.audit
        ],
    }
