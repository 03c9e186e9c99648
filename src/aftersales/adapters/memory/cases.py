"""Case aggregates in memory, with the SQL repository's checks and side effects.

A save checks first and writes after, so a refused save leaves nothing behind:
the version of the case row (ConcurrentUpdate when someone saved it since it
was loaded), at most one open case per item and programme (OpenCaseExists),
and a ledger key per payout (X-1: ConcurrentUpdate when the key is taken).
Then it writes what the SQL save writes: the case row, its clocks, the new
decisions and audit entries, the new ledger entries and (unless
``defer_balances``) the balances they move, the complaints, one deadline row
per running clock (a moved due instant frees the row's claim and attempts) and
the case's events into the outbox.

Locks (``for_update``) need nothing here: the outermost unit of work holds the
store's lock until it ends.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from aftersales.adapters.memory.notifications import write_notices
from aftersales.adapters.memory.state import (
    CaseRecord,
    DeadlineRecord,
    LedgerRecord,
    MemoryStore,
    OutboxRecord,
    Tables,
    stored_reason,
    utc,
    utc_or_none,
)
from aftersales.domain.cases import Case, CaseEvent, Complaint, Decision, Quote
from aftersales.domain.clocks import Clock
from aftersales.domain.ledger import Payout, balance_deltas
from aftersales.domain.lifecycle import Channel, Programme
from aftersales.errors import AlreadyExists, CaseNotFound, ConcurrentUpdate, OpenCaseExists
from aftersales.services.records import LIVE


@dataclass
class _Loaded:
    """What this repository knows of a case since it loaded (or added) it."""

    sandbox: str
    version: int = 0
    decision_base: int = 0  # decisions stored when loaded
    decisions_loaded: int = 0  # of them, in the loaded object
    audit_base: int = 0
    audit_loaded: int = 0
    payout_keys: set[str] = field(default_factory=set)
    is_new: bool = False


def _json_copy(document: Any) -> Any:
    return json.loads(json.dumps(document))


def _stored_clock(clock: Clock) -> Clock:
    return replace(
        clock,
        started_at=utc_or_none(clock.started_at),
        due_at=utc_or_none(clock.due_at),
        paused_at=utc_or_none(clock.paused_at),
        stopped_at=utc_or_none(clock.stopped_at),
        breached_at=utc_or_none(clock.breached_at),
        reason=None if clock.reason is None else stored_reason(clock.reason),
        warnings=tuple((mark, utc(at)) for mark, at in clock.warnings),
        holders=tuple(
            replace(h, since=utc(h.since), until=utc_or_none(h.until)) for h in clock.holders
        ),
    )


def _stored_complaint(complaint: Complaint) -> Complaint:
    return replace(
        complaint,
        filed_at=utc(complaint.filed_at),
        decided_at=utc_or_none(complaint.decided_at),
        reason=stored_reason(complaint.reason),
    )


def _stored_quote(quote: Quote | None) -> Quote | None:
    """As the JSON column keeps it: instants as ISO text with their offset."""

    def text_and_back(value: datetime | None) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value.isoformat())

    if quote is None:
        return None
    issued_at = text_and_back(quote.issued_at)
    assert issued_at is not None
    return replace(quote, issued_at=issued_at, answered_at=text_and_back(quote.answered_at))


def _outbox_payload(event: CaseEvent) -> dict[str, Any]:
    reason = {"reason": event.reason.to_dict()} if event.reason else {}
    payload: dict[str, Any] = _json_copy({**event.data, **reason})
    return payload


class MemoryCases:
    def __init__(self, store: MemoryStore, *, defer_balances: bool = False) -> None:
        self.store = store
        self.defer_balances = defer_balances
        self._loaded: dict[str, _Loaded] = {}

    @property
    def _t(self) -> Tables:
        return self.store.tables

    # ---------------------------------------------------------------- reading

    def sandbox_of(self, case_id: str) -> str:
        return self._loaded[case_id].sandbox

    def earlier_decisions(self, case_id: str, subject: str) -> list[Decision]:
        if self._loaded[case_id].decisions_loaded:
            return []
        return [d for d in self._t.decisions.get(case_id, ()) if d.subject == subject]

    def get(self, case_id: str, *, for_update: bool = False, with_history: bool = False) -> Case:
        row = self._t.cases.get(case_id)
        if row is None:
            raise CaseNotFound(case_id)
        return self._load(row, with_history)

    def get_many(self, case_ids: Iterable[str], *, for_update: bool = False) -> dict[str, Case]:
        rows = [self._t.cases.get(case_id) for case_id in sorted(set(case_ids))]
        return {row.id: self._load(row, False) for row in rows if row is not None}

    def _load(self, row: CaseRecord, with_history: bool) -> Case:
        t = self._t
        case = Case(
            id=row.id,
            programme=Programme(row.programme),
            policy_id=row.policy_id,
            item=self.store.order_item(row.order_item_id),
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
            quote=None if row.quote is None else replace(row.quote),
            reached_events=set(row.reached_events),
        )
        case.clocks = {c.clock_id: replace(c) for c in t.clocks.get(row.id, ())}
        case.payouts = [t.ledger[i].payout for i in t.case_ledger.get(row.id, ())]
        case.shares = list(t.case_shares.get(row.id, ()))
        case.complaints = sorted(
            (replace(c) for c in t.complaints.get(row.id, ())), key=lambda c: (c.filed_at, c.id)
        )
        if with_history:
            case.decisions = list(t.decisions.get(row.id, ()))
            case.audit = list(t.audit.get(row.id, ()))
        self._loaded[row.id] = _Loaded(
            sandbox=row.sandbox,
            version=row.version,
            decision_base=row.decision_count,
            decisions_loaded=len(case.decisions),
            audit_base=row.audit_count,
            audit_loaded=len(case.audit),
            payout_keys={p.key for p in (*case.payouts, *case.shares)},
        )
        return case

    def find_sandbox(self, case_id: str) -> str:
        row = self._t.cases.get(case_id)
        if row is None:
            raise CaseNotFound(case_id)
        return row.sandbox

    def open_case_for_item(self, order_item_id: str, programme: Programme) -> str | None:
        open_rows = [
            row
            for row in self._t.cases.values()
            if row.order_item_id == order_item_id
            and row.programme == programme.value
            and row.is_open
        ]
        return min(open_rows, key=lambda row: row.opened_at).id if open_rows else None

    # ---------------------------------------------------------------- writing

    def add(self, case: Case, *, sandbox: str = LIVE) -> list[Payout]:
        self._loaded[case.id] = _Loaded(sandbox=sandbox, is_new=True)
        return self.save(case)

    def save(self, case: Case) -> list[Payout]:
        loaded = self._loaded[case.id]
        events = case.pull_events()
        fresh = [p for p in (*case.payouts, *case.shares) if p.key not in loaded.payout_keys]
        if loaded.is_new:
            if case.id in self._t.cases:
                raise AlreadyExists(f"case {case.id} already exists")
            if case.is_open and self.open_case_for_item(case.item.id, case.programme):
                raise OpenCaseExists(
                    f"order item {case.item.id} already has an open {case.programme.value} case"
                )
        elif not self._unchanged_since_loaded(case.id, loaded):
            raise ConcurrentUpdate(
                f"case {case.id} was changed by someone else; load it again and retry"
            )
        for payout in fresh:
            if payout.key in self._t.ledger_keys or payout.key in self._t.share_keys:
                # the key already holds this failure's payout; never pay it again.
                raise ConcurrentUpdate(
                    f"payout {payout.key} is already in the ledger; the case was handled concurrently"
                )
        self._write(case, loaded, fresh, events)
        if not self.defer_balances:
            self.apply_balances(balance_deltas(fresh, loaded.sandbox))
        return fresh

    def save_many(self, cases: Sequence[Case]) -> dict[str, list[Payout]]:
        """All or nothing: every check passes for the whole batch before anything is written."""
        if not cases:
            return {}
        batch = [(case, self._loaded[case.id]) for case in cases]
        if any(loaded.is_new for _, loaded in batch):
            raise ValueError("save_many writes loaded cases; add new ones with add()")
        events = {case.id: case.pull_events() for case, _ in batch}
        fresh = {
            case.id: [p for p in (*case.payouts, *case.shares) if p.key not in loaded.payout_keys]
            for case, loaded in batch
        }
        if not all(self._unchanged_since_loaded(case.id, loaded) for case, loaded in batch):
            raise ConcurrentUpdate(
                "a case of this batch was changed by someone else; load them again and retry"
            )
        keys = [p.key for payouts in fresh.values() for p in payouts]
        taken = self._t.ledger_keys.keys() | self._t.share_keys.keys()
        if len(set(keys)) != len(keys) or any(k in taken for k in keys):
            raise ConcurrentUpdate(
                "a payout of this batch is already in the ledger; a case was handled concurrently"
            )
        deltas: Counter[tuple[str, str, str]] = Counter()
        for case, loaded in batch:
            self._write(case, loaded, fresh[case.id], events[case.id])
            deltas.update(balance_deltas(fresh[case.id], loaded.sandbox))
        if not self.defer_balances:
            self.apply_balances(deltas)
        return fresh

    def apply_balances(self, deltas: Mapping[tuple[str, str, str], int]) -> None:
        balances = self._t.balances
        for key, delta in sorted(deltas.items()):
            balances[key] = balances.get(key, 0) + delta

    def _unchanged_since_loaded(self, case_id: str, loaded: _Loaded) -> bool:
        row = self._t.cases.get(case_id)
        return row is not None and row.version == loaded.version

    def _write(
        self, case: Case, loaded: _Loaded, fresh: list[Payout], events: list[CaseEvent]
    ) -> None:
        t = self._t
        new_decisions = tuple(
            replace(d, at=utc(d.at), reason=stored_reason(d.reason))
            for d in case.decisions[loaded.decisions_loaded :]
        )
        new_audit = tuple(replace(a, at=utc(a.at)) for a in case.audit[loaded.audit_loaded :])
        t.cases[case.id] = self._record(case, loaded, len(new_decisions), len(new_audit))
        t.clocks[case.id] = tuple(
            _stored_clock(c) for c in sorted(case.clocks.values(), key=lambda c: c.clock_id)
        )
        if new_decisions:
            t.decisions[case.id] = t.decisions.get(case.id, ()) + new_decisions
        if new_audit:
            t.audit[case.id] = t.audit.get(case.id, ()) + new_audit
        entry_ids = []
        for payout in fresh:
            if payout.share_of is not None:
                stored = replace(payout, at=utc(payout.at), reason=stored_reason(payout.reason))
                t.case_shares[case.id] = (*t.case_shares.get(case.id, ()), stored)
                t.share_keys[payout.key] = loaded.sandbox
                continue
            entry_id = t.next_id("ledger")
            stored = replace(payout, at=utc(payout.at), reason=stored_reason(payout.reason))
            t.ledger[entry_id] = LedgerRecord(
                entry_id, loaded.sandbox, stored, _json_copy(payout.reason.to_dict())
            )
            t.ledger_keys[payout.key] = entry_id
            entry_ids.append(entry_id)
        if entry_ids:
            t.case_ledger[case.id] = t.case_ledger.get(case.id, ()) + tuple(entry_ids)
        t.complaints[case.id] = tuple(_stored_complaint(c) for c in case.complaints)
        self._write_deadlines(case, loaded.sandbox)
        write_notices(self.store, loaded.sandbox, case.pull_notices())
        for event in events:
            event_id = t.next_id("outbox")
            t.outbox[event_id] = OutboxRecord(
                event_id,
                loaded.sandbox,
                event.case_id,
                event.kind,
                utc(event.at),
                _outbox_payload(event),
            )
        self._loaded[case.id] = _Loaded(
            sandbox=loaded.sandbox,
            version=t.cases[case.id].version,
            decision_base=t.cases[case.id].decision_count,
            decisions_loaded=len(case.decisions),
            audit_base=t.cases[case.id].audit_count,
            audit_loaded=len(case.audit),
            payout_keys=loaded.payout_keys | {p.key for p in fresh},
        )

    def _write_deadlines(self, case: Case, sandbox: str) -> None:
        """One row per running clock and armed warning mark; a row whose due instant moves
        is claimable afresh."""
        deadlines = self._t.deadlines
        running = case.running_deadlines()
        for key in [k for k in deadlines if k[0] == case.id and k[1] not in running]:
            del deadlines[key]
        for clock_id, due_at in running.items():
            due = utc(due_at)
            current = deadlines.get((case.id, clock_id))
            if current is None or current.due_at != due:
                deadlines[(case.id, clock_id)] = DeadlineRecord(sandbox, due)

    def _record(self, case: Case, loaded: _Loaded, decisions: int, audit: int) -> CaseRecord:
        return CaseRecord(
            id=case.id,
            sandbox=loaded.sandbox,
            programme=case.programme.value,
            policy_id=case.policy_id,
            order_item_id=case.item.id,
            state=case.state,
            is_open=case.is_open,
            opened_at=utc(case.opened_at),
            channel=case.channel.value,
            opened_by=case.opened_by,
            description=case.description,
            service_tag=case.service_tag,
            failure=case.failure,
            overcharge_fen=case.overcharge_fen,
            in_warranty=case.in_warranty,
            assignee=case.assignee,
            quote=_stored_quote(case.quote),
            reached_events=tuple(sorted(case.reached_events)),
            version=1 if loaded.is_new else loaded.version + 1,
            decision_count=loaded.decision_base + decisions,
            audit_count=loaded.audit_base + audit,
            caller_name=case.caller_name,
            callback_phone=case.callback_phone,
            appointment_at=None if case.appointment_at is None else utc(case.appointment_at),
        )
