"""Storing and loading case aggregates.

A case is loaded with its clocks, payouts and complaints (what its rules need);
its decision and audit histories are append-only and loaded only on request.
Saving writes what changed: the case row under an optimistic version check,
the clocks, new history rows, new ledger entries (whose unique key makes a
second payout for the same failure impossible, X-1), the deadline rows of its
running clocks, and its events into the outbox — all in the caller's
transaction, so either everything lands or nothing does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.reference import order_item_from_row, order_item_query
from aftersales.adapters.db.schema import LIVE
from aftersales.domain.cases import AuditEntry, Case, Complaint, Decision, Quote
from aftersales.domain.clocks import Clock, ClockStatus
from aftersales.domain.errors import DomainError
from aftersales.domain.explain import Reason
from aftersales.domain.ledger import Payout
from aftersales.domain.lifecycle import Channel, Programme, Role
from aftersales.domain.money import Amount, Unit
from aftersales.domain.policy import PolicyBook


class CaseNotFound(DomainError):
    def __init__(self, case_id: str) -> None:
        super().__init__(f"no case with id '{case_id}'")
        self.case_id = case_id


class ConcurrentUpdate(DomainError):
    """Someone else changed the case since it was loaded; retry the command."""


@dataclass
class _Loaded:
    version: int
    sandbox: str
    decision_base: int
    decisions_loaded: int
    audit_base: int
    audit_loaded: int
    payout_keys: set[str]
    is_new: bool = False


def _upsert(conn: Connection, table: Any) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _us(delta: timedelta | None) -> int | None:
    return (
        None
        if delta is None
        else (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    )


class CaseRepository:
    def __init__(self, conn: Connection, book: PolicyBook, *, defer_balances: bool = False) -> None:
        """``defer_balances``: ``save`` records ledger entries but leaves the balance rows
        alone; the caller sums :func:`balance_deltas` of what was recorded and applies
        them once, with :meth:`apply_balances`, before it commits (the deadline engine
        does this for a whole chunk of cases)."""
        self.conn = conn
        self.book = book
        self.defer_balances = defer_balances
        self._loaded: dict[str, _Loaded] = {}

    # ---------------------------------------------------------------- reading

    def sandbox_of(self, case_id: str) -> str:
        return self._loaded[case_id].sandbox

    def get(self, case_id: str, *, for_update: bool = False, with_history: bool = False) -> Case:
        query = select(s.cases).where(s.cases.c.id == case_id)
        if for_update and self.conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self.conn.execute(query).one_or_none()
        if row is None:
            raise CaseNotFound(case_id)
        item_row = self.conn.execute(
            order_item_query().where(s.order_items.c.id == row.order_item_id)
        ).one()
        case = Case(
            id=row.id,
            programme=Programme(row.programme),
            policy_id=row.policy_id,
            item=order_item_from_row(item_row),
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
            quote=_quote_from(row.quote),
            reached_events=set(row.reached_events or ()),
        )
        for clock_row in self.conn.execute(select(s.clocks).where(s.clocks.c.case_id == case_id)):
            case.clocks[clock_row.clock_id] = Clock(
                clock_id=clock_row.clock_id,
                status=ClockStatus(clock_row.status),
                started_at=clock_row.started_at,
                due_at=clock_row.due_at,
                paused_at=clock_row.paused_at,
                pause_reason=clock_row.pause_reason,
                remaining=None
                if clock_row.remaining_us is None
                else timedelta(microseconds=clock_row.remaining_us),
                stopped_at=clock_row.stopped_at,
                breached_at=clock_row.breached_at,
                reason=Reason.from_dict(clock_row.reason) if clock_row.reason else None,
            )
        case.payouts = [
            payout_from_row(r)
            for r in self.conn.execute(
                select(s.ledger_entries)
                .where(s.ledger_entries.c.case_id == case_id)
                .order_by(s.ledger_entries.c.id)
            )
        ]
        case.complaints = [
            Complaint(
                id=r.id,
                clock_id=r.clock_id,
                filed_at=r.filed_at,
                filed_by=r.filed_by,
                text=r.text,
                status=r.status,
                reason=Reason.from_dict(r.reason),
                decided_at=r.decided_at,
                decided_by=r.decided_by,
            )
            for r in self.conn.execute(
                select(s.complaints)
                .where(s.complaints.c.case_id == case_id)
                .order_by(s.complaints.c.filed_at, s.complaints.c.id)
            )
        ]
        if with_history:
            case.decisions = [
                Decision(r.at, r.subject, Reason.from_dict(r.reason))
                for r in self.conn.execute(
                    select(s.decisions)
                    .where(s.decisions.c.case_id == case_id)
                    .order_by(s.decisions.c.seq)
                )
            ]
            case.audit = [
                AuditEntry(
                    r.at,
                    Role(r.role),
                    r.actor_id,
                    Channel(r.channel),
                    r.action,
                    r.from_state,
                    r.to_state,
                    r.note,
                )
                for r in self.conn.execute(
                    select(s.audit_log)
                    .where(s.audit_log.c.case_id == case_id)
                    .order_by(s.audit_log.c.seq)
                )
            ]
        self._loaded[case_id] = _Loaded(
            version=row.version,
            sandbox=row.sandbox,
            decision_base=row.decision_count,
            decisions_loaded=len(case.decisions),
            audit_base=row.audit_count,
            audit_loaded=len(case.audit),
            payout_keys={p.key for p in case.payouts},
        )
        return case

    def open_case_for_item(self, order_item_id: str, programme: Programme) -> str | None:
        row = self.conn.execute(
            select(s.cases.c.id)
            .where(
                s.cases.c.order_item_id == order_item_id,
                s.cases.c.programme == programme.value,
                s.cases.c.is_open,
            )
            .order_by(s.cases.c.opened_at)
            .limit(1)
        ).first()
        return None if row is None else str(row.id)

    # ---------------------------------------------------------------- writing

    def add(self, case: Case, *, sandbox: str = LIVE) -> list[Payout]:
        self._loaded[case.id] = _Loaded(0, sandbox, 0, 0, 0, 0, set(), is_new=True)
        return self.save(case)

    def save(self, case: Case) -> list[Payout]:
        """Write the case's changes; return the payouts this save recorded in the ledger."""
        loaded = self._loaded[case.id]
        now_row = self._case_row(case, loaded)
        new_decisions = case.decisions[loaded.decisions_loaded :]
        new_audit = case.audit[loaded.audit_loaded :]
        now_row["decision_count"] = loaded.decision_base + len(new_decisions)
        now_row["audit_count"] = loaded.audit_base + len(new_audit)
        if loaded.is_new:
            now_row["version"] = 1
            self.conn.execute(insert(s.cases).values(**now_row))
            self.conn.execute(
                insert(s.clocks), [self._clock_row(case.id, c) for c in case.clocks.values()]
            )
        else:
            result = self.conn.execute(
                update(s.cases)
                .where(s.cases.c.id == case.id, s.cases.c.version == loaded.version)
                .values(**{**now_row, "version": loaded.version + 1})
            )
            if result.rowcount != 1:
                raise ConcurrentUpdate(
                    f"case {case.id} was changed by someone else; load it again and retry"
                )
            for clock in case.clocks.values():
                row = self._clock_row(case.id, clock)
                self.conn.execute(
                    update(s.clocks)
                    .where(s.clocks.c.case_id == case.id, s.clocks.c.clock_id == clock.clock_id)
                    .values(**{k: v for k, v in row.items() if k not in ("case_id", "clock_id")})
                )
        if new_decisions:
            self.conn.execute(
                insert(s.decisions),
                [
                    {
                        "case_id": case.id,
                        "seq": loaded.decision_base + i + 1,
                        "at": d.at,
                        "subject": d.subject,
                        "reason": d.reason.to_dict(),
                    }
                    for i, d in enumerate(new_decisions)
                ],
            )
        if new_audit:
            self.conn.execute(
                insert(s.audit_log),
                [
                    {
                        "case_id": case.id,
                        "seq": loaded.audit_base + i + 1,
                        "at": a.at,
                        "role": a.role.value,
                        "actor_id": a.actor_id,
                        "channel": a.channel.value,
                        "action": a.action,
                        "from_state": a.from_state,
                        "to_state": a.to_state,
                        "note": a.note,
                    }
                    for i, a in enumerate(new_audit)
                ],
            )
        recorded = self._record_payouts(case, loaded)
        self._save_complaints(case.id, case.complaints)
        self._sync_deadlines(case, loaded.sandbox)
        events = case.pull_events()
        if events:
            self.conn.execute(
                insert(s.outbox),
                [
                    {
                        "sandbox": loaded.sandbox,
                        "case_id": e.case_id,
                        "kind": e.kind,
                        "at": e.at,
                        "payload": {
                            **e.data,
                            **({"reason": e.reason.to_dict()} if e.reason else {}),
                        },
                    }
                    for e in events
                ],
            )
        self._loaded[case.id] = _Loaded(
            version=now_row.get("version", loaded.version + 1)
            if loaded.is_new
            else loaded.version + 1,
            sandbox=loaded.sandbox,
            decision_base=now_row["decision_count"],
            decisions_loaded=len(case.decisions),
            audit_base=now_row["audit_count"],
            audit_loaded=len(case.audit),
            payout_keys=loaded.payout_keys | {p.key for p in recorded},
        )
        return recorded

    def _case_row(self, case: Case, loaded: _Loaded) -> dict[str, Any]:
        return {
            "id": case.id,
            "sandbox": loaded.sandbox,
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
            "quote": _quote_to(case.quote),
            "reached_events": sorted(case.reached_events),
            "updated_at": _latest_instant(case),
        }

    @staticmethod
    def _clock_row(case_id: str, clock: Clock) -> dict[str, Any]:
        return {
            "case_id": case_id,
            "clock_id": clock.clock_id,
            "status": clock.status.value,
            "started_at": clock.started_at,
            "due_at": clock.due_at,
            "paused_at": clock.paused_at,
            "pause_reason": clock.pause_reason,
            "remaining_us": _us(clock.remaining),
            "stopped_at": clock.stopped_at,
            "breached_at": clock.breached_at,
            "reason": clock.reason.to_dict() if clock.reason else None,
        }

    def _record_payouts(self, case: Case, loaded: _Loaded) -> list[Payout]:
        recorded: list[Payout] = []
        for payout in case.payouts:
            if payout.key in loaded.payout_keys:
                continue
            statement = (
                _upsert(self.conn, s.ledger_entries)
                .values(**payout_row(payout, loaded.sandbox))
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(s.ledger_entries.c.id)
            )
            if self.conn.execute(statement).first() is None:
                # the unique key already holds this failure's payout; never pay it again.
                raise ConcurrentUpdate(
                    f"payout {payout.key} is already in the ledger; the case was handled concurrently"
                )
            recorded.append(payout)
        if not self.defer_balances:
            self.apply_balances(balance_deltas(recorded, loaded.sandbox))
        return recorded

    def apply_balances(self, deltas: Mapping[tuple[str, str, str], int]) -> None:
        """Add ``{(sandbox, account, unit): delta}`` to the balances, in key order.

        Every writer takes balance rows in this one order, so transactions that
        touch several accounts (two buyers and a shared merchant, say) queue
        behind each other instead of deadlocking.
        """
        for (sandbox, account, unit), delta in sorted(deltas.items()):
            balance = _upsert(self.conn, s.account_balances).values(
                sandbox=sandbox, account=account, unit=unit, balance=delta
            )
            self.conn.execute(
                balance.on_conflict_do_update(
                    index_elements=["sandbox", "account", "unit"],
                    set_={"balance": s.account_balances.c.balance + balance.excluded.balance},
                )
            )

    def _save_complaints(self, case_id: str, complaints: Sequence[Complaint]) -> None:
        for complaint in complaints:
            values = {
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
            statement = _upsert(self.conn, s.complaints).values(**values)
            self.conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["id"],
                    set_={
                        k: statement.excluded[k]
                        for k in ("status", "reason", "decided_at", "decided_by")
                    },
                )
            )

    def _sync_deadlines(self, case: Case, sandbox: str) -> None:
        """Keep exactly one deadline row per running clock (the worker reads only these)."""
        running = case.running_deadlines()
        stale = [cid for cid in case.clocks if cid not in running]
        if stale:
            self.conn.execute(
                delete(s.deadlines).where(
                    s.deadlines.c.case_id == case.id, s.deadlines.c.clock_id.in_(stale)
                )
            )
        for clock_id, due_at in running.items():
            statement = _upsert(self.conn, s.deadlines).values(
                case_id=case.id, clock_id=clock_id, sandbox=sandbox, due_at=due_at, attempts=0
            )
            self.conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["case_id", "clock_id"],
                    set_={
                        "due_at": statement.excluded.due_at,
                        "claimed_by": None,
                        "claimed_until": None,
                        "attempts": 0,
                    },
                    where=s.deadlines.c.due_at != statement.excluded.due_at,
                )
            )


def balance_deltas(payouts: Iterable[Payout], sandbox: str) -> Counter[tuple[str, str, str]]:
    """What ``payouts`` change: ``{(sandbox, account, unit): delta}`` (payee +, payer −)."""
    deltas: Counter[tuple[str, str, str]] = Counter()
    for payout in payouts:
        unit = payout.amount.unit.value
        deltas[(sandbox, payout.payee, unit)] += payout.amount.value
        deltas[(sandbox, payout.payer, unit)] -= payout.amount.value
    return deltas


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


def payout_from_row(row: Any) -> Payout:
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
        gates_complaints=row.gates_complaints,
    )


def _quote_to(quote: Quote | None) -> dict[str, Any] | None:
    if quote is None:
        return None
    return {
        "amount_fen": quote.amount_fen,
        "issued_at": quote.issued_at.isoformat(),
        "status": quote.status,
        "answered_at": quote.answered_at.isoformat() if quote.answered_at else None,
    }


def _quote_from(data: dict[str, Any] | None) -> Quote | None:
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


def _latest_instant(case: Case) -> datetime:
    instants: list[datetime] = [case.opened_at]
    if case.audit:
        instants.append(case.audit[-1].at)
    if case.decisions:
        instants.append(case.decisions[-1].at)
    return max(instants)
