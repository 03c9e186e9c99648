"""Case aggregates as rows and back: what each table stores of a case, its clocks,
complaints, payouts and quote, and how a loaded row becomes the domain's object.

Pure mapping, no statements: the repository (``cases_repo.py``) decides what to
read and write; this module only says how a row and an object correspond.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aftersales.domain.cases import Case, Complaint, Quote
from aftersales.domain.clocks import Clock, ClockStatus, Holding
from aftersales.domain.eligibility import OrderItem
from aftersales.domain.explain import Reason
from aftersales.domain.ledger import Payout
from aftersales.domain.lifecycle import Channel, Programme
from aftersales.domain.money import Amount, Unit


def microseconds_of(delta: timedelta | None) -> int | None:
    return (
        None
        if delta is None
        else (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    )


def case_from_rows(row: Any, item: OrderItem) -> Case:
    return Case(
        id=row.id,
        programme=Programme(row.programme),
        policy_id=row.policy_id,
        item=item,
        state=row.state,
        opened_at=row.opened_at,
        channel=Channel(row.channel),
        opened_by=row.opened_by,
        description=row.description,
        service_tag=row.service_tag,
        failure=row.failure,
        overcharge_fen=row.overcharge_fen,
        in_warranty=row.in_warranty,
        assignee=row.assignee,
        caller_name=row.caller_name,
        callback_phone=row.callback_phone,
        appointment_at=row.appointment_at,
        quote=quote_from(row.quote),
        reached_events=set(row.reached_events or ()),
    )


def clock_from_row(row: Any) -> Clock:
    return Clock(
        clock_id=row.clock_id,
        status=ClockStatus(row.status),
        started_at=row.started_at,
        due_at=row.due_at,
        paused_at=row.paused_at,
        pause_reason=row.pause_reason,
        remaining=None if row.remaining_us is None else timedelta(microseconds=row.remaining_us),
        stopped_at=row.stopped_at,
        breached_at=row.breached_at,
        reason=Reason.from_dict(row.reason) if row.reason else None,
        **marks_from(row.marks),
        holders=holders_from(row.holders),
    )


def holders_from(document: Any) -> tuple[Holding, ...]:
    """A clock's holding periods from their JSON column (None: none recorded)."""
    if not document:
        return ()
    return tuple(
        Holding(
            kind=str(p["kind"]),
            party=str(p["party"]),
            since=datetime.fromisoformat(p["since"]),
            until=datetime.fromisoformat(p["until"]) if p.get("until") else None,
            why=str(p.get("why", "")),
        )
        for p in document
    )


def holders_document(clock: Clock) -> list[dict[str, Any]] | None:
    """``[{kind, party, since, until, why}, ...]`` in UTC ISO form, or None for none."""
    if not clock.holders:
        return None
    return [
        {
            "kind": h.kind,
            "party": h.party,
            "since": h.since.astimezone(UTC).isoformat(),
            "until": h.until.astimezone(UTC).isoformat() if h.until else None,
            "why": h.why,
        }
        for h in clock.holders
    ]


def marks_from(document: Any) -> dict[str, Any]:
    """A clock's warning marks from their JSON column (None before any were armed)."""
    if not document:
        return {}
    return {
        "warnings": tuple(
            (str(mark), datetime.fromisoformat(at)) for mark, at in document.get("armed", ())
        ),
        "warned": tuple(str(m) for m in document.get("fired", ())),
    }


def marks_document(clock: Clock) -> dict[str, Any] | None:
    if not clock.warnings and not clock.warned:
        return None
    return {
        "armed": [[mark, at.astimezone(UTC).isoformat()] for mark, at in clock.warnings],
        "fired": list(clock.warned),
    }


def complaint_from_row(row: Any) -> Complaint:
    return Complaint(
        id=row.id,
        clock_id=row.clock_id,
        filed_at=row.filed_at,
        filed_by=row.filed_by,
        text=row.text,
        status=row.status,
        reason=Reason.from_dict(row.reason),
        decided_at=row.decided_at,
        decided_by=row.decided_by,
    )


def snapshot(case: Case) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    return (
        {cid: dict(vars(c)) for cid, c in case.clocks.items()},
        {c.id: dict(vars(c)) for c in case.complaints},
    )


def case_row(case: Case, sandbox: str) -> dict[str, Any]:
    return {
        "id": case.id,
        "sandbox": sandbox,
        "programme": case.programme.value,
        "policy_id": case.policy_id,
        "order_item_id": case.item.id,
        "state": case.state,
        "is_open": case.is_open,
        "opened_at": case.opened_at,
        "channel": case.channel.value,
        "opened_by": case.opened_by,
        "description": case.description,
        "service_tag": case.service_tag,
        "failure": case.failure,
        "overcharge_fen": case.overcharge_fen,
        "in_warranty": case.in_warranty,
        "assignee": case.assignee,
        "caller_name": case.caller_name,
        "callback_phone": case.callback_phone,
        "appointment_at": case.appointment_at,
        "quote": quote_to(case.quote),
        "reached_events": sorted(case.reached_events),
        "updated_at": latest_instant(case),
    }


def clock_row(case_id: str, clock: Clock) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "clock_id": clock.clock_id,
        "status": clock.status.value,
        "started_at": clock.started_at,
        "due_at": clock.due_at,
        "paused_at": clock.paused_at,
        "pause_reason": clock.pause_reason,
        "remaining_us": microseconds_of(clock.remaining),
        "stopped_at": clock.stopped_at,
        "breached_at": clock.breached_at,
        "reason": clock.reason.to_dict() if clock.reason else None,
        "marks": marks_document(clock),
        "holders": holders_document(clock),
    }


def complaint_row(case_id: str, complaint: Complaint) -> dict[str, Any]:
    return {
        "id": complaint.id,
        "case_id": case_id,
        "clock_id": complaint.clock_id,
        "filed_at": complaint.filed_at,
        "filed_by": complaint.filed_by,
        "text": complaint.text,
        "status": complaint.status,
        "reason": complaint.reason.to_dict(),
        "decided_at": complaint.decided_at,
        "decided_by": complaint.decided_by,
    }


def payout_row(payout: Payout, sandbox: str) -> dict[str, Any]:
    return {
        "key": payout.key,
        "sandbox": sandbox,
        "case_id": payout.case_id,
        "clock_id": payout.clock_id,
        "failure": payout.failure,
        "penalty_id": payout.penalty_id,
        "rule": payout.rule,
        "payer_role": payout.payer_role,
        "payer": payout.payer,
        "payee": payout.payee,
        "amount": payout.amount.value,
        "unit": payout.amount.unit.value,
        "at": payout.at,
        "gates_complaints": payout.gates_complaints,
        "reason": payout.reason.to_dict(),
    }


def share_row(share: Payout, sandbox: str) -> dict[str, Any]:
    """A provider's share (issue 15) as a ``ledger_shares`` row: a payout's columns and
    the key of the payout it is a share of."""
    row = payout_row(share, sandbox)
    del row["gates_complaints"]
    row["share_of"] = share.share_of
    return row


def share_from_row(row: Any) -> Payout:
    """A provider's share of a payout (``ledger_shares``): never gates a complaint."""
    return _payout(row, gates_complaints=False, share_of=row.share_of)


def payout_from_row(row: Any) -> Payout:
    return _payout(row, gates_complaints=row.gates_complaints)


def _payout(row: Any, *, gates_complaints: bool, share_of: str | None = None) -> Payout:
    return Payout(
        key=row.key,
        case_id=row.case_id,
        clock_id=row.clock_id,
        failure=row.failure,
        penalty_id=row.penalty_id,
        rule=row.rule,
        payer_role=row.payer_role,
        payer=row.payer,
        payee=row.payee,
        amount=Amount(row.amount, Unit(row.unit)),
        at=row.at,
        reason=Reason.from_dict(row.reason),
        gates_complaints=gates_complaints,
        share_of=share_of,
    )


def quote_to(quote: Quote | None) -> dict[str, Any] | None:
    if quote is None:
        return None
    return {
        "amount_fen": quote.amount_fen,
        "issued_at": quote.issued_at.isoformat(),
        "status": quote.status,
        "answered_at": quote.answered_at.isoformat() if quote.answered_at else None,
    }


def quote_from(data: dict[str, Any] | None) -> Quote | None:
    if not data:
        return None
    return Quote(
        amount_fen=int(data["amount_fen"]),
        issued_at=datetime.fromisoformat(data["issued_at"]),
        status=data["status"],
        answered_at=datetime.fromisoformat(data["answered_at"])
        if data.get("answered_at")
        else None,
    )


def latest_instant(case: Case) -> datetime:
    instants: list[datetime] = [case.opened_at]
    if case.audit:
        instants.append(case.audit[-1].at)
    if case.decisions:
        instants.append(case.decisions[-1].at)
    return max(instants)
