"""Storing and loading case aggregates.

A case is loaded with its clocks, payouts and complaints (what its rules need);
its decision and audit histories are append-only and loaded only on request.
Saving writes what changed: the case row under an optimistic version check,
the clocks, new history rows, new ledger entries (whose unique key makes a
second payout for the same failure impossible, X-1), the deadline rows of its
running clocks, and its events into the outbox — all in the caller's
transaction, so either everything lands or nothing does. On PostgreSQL a new
case with all its rows is one statement (``bulk.insert_family``).

The deadline engine works on chunks of cases: :meth:`CaseRepository.get_many`
loads a chunk with one query per table (locking the case rows in id order on
PostgreSQL) and :meth:`CaseRepository.save_many` writes the chunk's changes
with one ``executemany`` per table, from statements built once. Both write
only what changed: a clock or complaint equal to the one loaded is left alone.

How a case maps to rows is in ``case_rows.py`` and the statements are built in
``case_statements.py``; loading and saving stay together here (~690 lines,
one job: a case to rows and back; the chunk's reads, built once, are its
largest addition) because saving compares the case with the
snapshot taken when it was loaded, and only this repository knows which of a
loaded case's decisions are stored (:meth:`CaseRepository.earlier_decisions`).
If it grows further, the chunked paths (``get_many``/``save_many``) are the
part to move out, beside ``case_statements.py``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Connection, Select, delete, insert, select
from sqlalchemy.exc import IntegrityError

from aftersales.adapters.db import case_rows
from aftersales.adapters.db import case_statements as st
from aftersales.adapters.db import schema as s
from aftersales.adapters.db.bulk import (
    add_to_rows,
    delete_rows,
    insert_family,
    insert_rows,
    update_rows,
)
from aftersales.adapters.db.driver import Prepared, one_of
from aftersales.adapters.db.notifications import write_notices
from aftersales.adapters.db.reference import (
    load_order_items,
    order_item_from_row,
    order_item_query,
)
from aftersales.adapters.db.schema import LIVE
from aftersales.adapters.db.types import json_as_text
from aftersales.adapters.db.wakeups import announce_near
from aftersales.domain.cases import AuditEntry, Case, Decision
from aftersales.domain.explain import Reason
from aftersales.domain.ledger import Payout, balance_deltas
from aftersales.domain.lifecycle import Channel, Programme, Role
from aftersales.domain.notices import Notice
from aftersales.domain.policy import PolicyBook
from aftersales.errors import CaseNotFound, ConcurrentUpdate, OpenCaseExists

# A clock's JSON columns (reason, warning marks, holders) read as text and decoded by
# orjson: settling a chunk reads a dozen of them a case (adapters/db/types.JsonText).
_CLOCK_COLUMNS = [json_as_text(c) if isinstance(c.type, JSON) else c for c in s.clocks.c]


# The reads of a chunk of cases (given as ``ids``), run by the driver on PostgreSQL:
# loading a deadline chunk reads seven tables, and through SQLAlchemy's execution each
# read cost as much CPU again as the driver's.
def _cases_query(pg: bool) -> Select[Any]:
    return select(s.cases).where(one_of(s.cases.c.id, "ids", pg=pg)).order_by(s.cases.c.id)


_CASES = Prepared.per_dialect(_cases_query)
# FOR NO KEY UPDATE (as in get()), in id order; SQLite serialises writers instead.
_CASES_LOCKED = Prepared.per_dialect(
    lambda pg: _cases_query(pg).with_for_update(key_share=True) if pg else _cases_query(pg)
)
_CLOCKS = Prepared.per_dialect(
    lambda pg: (
        select(*_CLOCK_COLUMNS)
        .where(one_of(s.clocks.c.case_id, "ids", pg=pg))
        .order_by(s.clocks.c.case_id, s.clocks.c.clock_id)
    )
)
_PAYOUTS = Prepared.per_dialect(
    lambda pg: (
        select(s.ledger_entries)
        .where(one_of(s.ledger_entries.c.case_id, "ids", pg=pg))
        .order_by(s.ledger_entries.c.id)
    )
)
_SHARES = Prepared.per_dialect(
    lambda pg: (
        select(s.ledger_shares)
        .where(one_of(s.ledger_shares.c.case_id, "ids", pg=pg))
        .order_by(s.ledger_shares.c.case_id, s.ledger_shares.c.at, s.ledger_shares.c.key)
    )
)
_COMPLAINTS = Prepared.per_dialect(
    lambda pg: (
        select(s.complaints)
        .where(one_of(s.complaints.c.case_id, "ids", pg=pg))
        .order_by(s.complaints.c.filed_at, s.complaints.c.id)
    )
)
_DEADLINES = Prepared.per_dialect(
    lambda pg: select(s.deadlines.c.case_id, s.deadlines.c.clock_id, s.deadlines.c.due_at).where(
        one_of(s.deadlines.c.case_id, "ids", pg=pg)
    )
)


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
    # The fields of the clocks and complaints as loaded (or last saved): save writes only
    # those that differ. The fields hold immutable values, so a copy of them is a snapshot.
    clocks: dict[str, dict[str, Any]] = field(default_factory=dict)
    complaints: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The case's deadline rows as loaded, {clock: due_at}, when they were (get_many):
    # save then writes only the rows that change; None means "not known, rewrite them".
    deadlines: dict[str, datetime] | None = None
    # The case row as the domain object gave it when loaded (or last saved): an update
    # sets only the columns that differ from it (and the counters and version).
    case_row: dict[str, Any] | None = None


@dataclass
class _Changes:
    """The rows one save of one case writes (built once, written singly or in bulk)."""

    case_row: dict[str, Any]  # every column (an update's carries the _id/_version keys)
    case_columns: set[str]  # the columns an update must set
    clock_rows: list[dict[str, Any]]  # every column of each changed clock
    clock_columns: set[str]  # the clock columns an update must set
    decision_rows: list[dict[str, Any]]
    audit_rows: list[dict[str, Any]]
    payouts: list[Payout]
    complaint_rows: list[dict[str, Any]]
    # deadline rows that go (clocks and "<clock>@<mark>" warning marks); None when the rows
    # as stored are not known: then every row of the case but the running ones goes
    stale_deadlines: list[str] | None
    running: list[str]  # every deadline row the case has after the save
    deadline_rows: list[dict[str, Any]]  # deadline rows to insert or move
    outbox_rows: list[dict[str, Any]]
    notices: list[Notice]
    after: _Loaded


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
        # PostgreSQL writes a new case with all its rows as one statement; a stand-in
        # connection (the tests' and benchmarks' row recorder) is given one table at a time.
        self._one_statement_cases = (
            isinstance(conn, Connection) and conn.dialect.name == "postgresql"
        )

    # ---------------------------------------------------------------- reading

    def sandbox_of(self, case_id: str) -> str:
        return self._loaded[case_id].sandbox

    def earlier_decisions(self, case_id: str, subject: str) -> list[Decision]:
        if self._loaded[case_id].decisions_loaded:
            return []
        return [
            Decision(r.at, r.subject, Reason.from_dict(r.reason))
            for r in self.conn.execute(
                select(s.decisions.c.at, s.decisions.c.subject, s.decisions.c.reason)
                .where(s.decisions.c.case_id == case_id, s.decisions.c.subject == subject)
                .order_by(s.decisions.c.seq)
            )
        ]

    def get(self, case_id: str, *, for_update: bool = False, with_history: bool = False) -> Case:
        query = select(s.cases).where(s.cases.c.id == case_id)
        if for_update and self.conn.dialect.name == "postgresql":
            # FOR NO KEY UPDATE: writers of the case still exclude each other, while rows
            # that merely reference the case (ledger, attachments) can still be inserted.
            query = query.with_for_update(key_share=True)
        row = self.conn.execute(query).one_or_none()
        if row is None:
            raise CaseNotFound(case_id)
        item_row = self.conn.execute(
            order_item_query().where(s.order_items.c.id == row.order_item_id)
        ).one()
        case = case_rows.case_from_rows(row, order_item_from_row(item_row))
        for clock_row in self.conn.execute(
            select(*_CLOCK_COLUMNS).where(s.clocks.c.case_id == case_id)
        ):
            case.clocks[clock_row.clock_id] = case_rows.clock_from_row(clock_row)
        case.payouts = [
            case_rows.payout_from_row(r)
            for r in self.conn.execute(
                select(s.ledger_entries)
                .where(s.ledger_entries.c.case_id == case_id)
                .order_by(s.ledger_entries.c.id)
            )
        ]
        case.shares.extend(
            case_rows.share_from_row(r)
            for r in self.conn.execute(
                select(s.ledger_shares)
                .where(s.ledger_shares.c.case_id == case_id)
                .order_by(s.ledger_shares.c.at, s.ledger_shares.c.key)
            )
        )
        case.complaints = [
            case_rows.complaint_from_row(r)
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
        self._remember(case, row)
        return case

    def get_many(self, case_ids: Iterable[str], *, for_update: bool = False) -> dict[str, Case]:
        """Load several cases (without histories) with one query per table.

        Returns ``{case_id: case}``; an id with no case is simply absent. With
        ``for_update`` on PostgreSQL the case rows are locked in id order, the
        order every chunk of the deadline engine locks in, so two workers never
        wait on each other in a cycle. (SQLite serialises writers instead.)
        """
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        rows = (_CASES_LOCKED if for_update else _CASES).rows(self.conn, {"ids": ids})
        if not rows:
            return {}
        found = [r.id for r in rows]
        of_found = {"ids": found}
        items = load_order_items(self.conn, sorted({r.order_item_id for r in rows}))
        cases = {r.id: case_rows.case_from_rows(r, items[r.order_item_id]) for r in rows}
        for clock_row in _CLOCKS.rows(self.conn, of_found):
            cases[clock_row.case_id].clocks[clock_row.clock_id] = case_rows.clock_from_row(
                clock_row
            )
        for ledger_row in _PAYOUTS.rows(self.conn, of_found):
            cases[ledger_row.case_id].payouts.append(case_rows.payout_from_row(ledger_row))
        for share_row in _SHARES.rows(self.conn, of_found):
            cases[share_row.case_id].shares.append(case_rows.share_from_row(share_row))
        for complaint_row in _COMPLAINTS.rows(self.conn, of_found):
            cases[complaint_row.case_id].complaints.append(
                case_rows.complaint_from_row(complaint_row)
            )
        deadlines: dict[str, dict[str, datetime]] = {case_id: {} for case_id in found}
        for deadline_row in _DEADLINES.rows(self.conn, of_found):
            deadlines[deadline_row.case_id][deadline_row.clock_id] = deadline_row.due_at
        for row in rows:
            self._remember(cases[row.id], row, deadlines[row.id])
        return cases

    def _remember(self, case: Case, row: Any, deadlines: dict[str, datetime] | None = None) -> None:
        clocks, complaints = case_rows.snapshot(case)
        case_row = case_rows.case_row(case, row.sandbox)
        self._loaded[case.id] = _Loaded(
            version=row.version,
            sandbox=row.sandbox,
            decision_base=row.decision_count,
            decisions_loaded=len(case.decisions),
            audit_base=row.audit_count,
            audit_loaded=len(case.audit),
            payout_keys={p.key for p in (*case.payouts, *case.shares)},
            clocks=clocks,
            complaints=complaints,
            deadlines=deadlines,
            case_row=case_row,
        )

    def find_sandbox(self, case_id: str) -> str:
        row = self.conn.execute(select(s.cases.c.sandbox).where(s.cases.c.id == case_id)).first()
        if row is None:
            raise CaseNotFound(case_id)
        return str(row.sandbox)

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
        """Write the case's changes; return the payouts (and providers' shares, which have
        ``share_of``) this save recorded in the ledger."""
        loaded = self._loaded[case.id]
        changes = self._changes(case, loaded)
        if loaded.is_new and self._one_statement_cases:
            # A new case is one statement: its row, clocks, decisions, audit entries,
            # deadlines and events (six round trips and executemany pipelines cost
            # about a third of a request's CPU before).
            if not insert_family(
                self.conn,
                (s.cases, changes.case_row),
                [
                    (s.clocks, changes.clock_rows),
                    (s.decisions, changes.decision_rows),
                    (s.audit_log, changes.audit_rows),
                    (s.deadlines, changes.deadline_rows),
                    (s.outbox, changes.outbox_rows),
                ],
                on_conflict=st.OPEN_CASE_CONFLICT,
            ):
                raise self._open_case_exists(case)
            self._after_rows(case, loaded, changes, in_family=True)
            return changes.payouts
        if loaded.is_new:
            # At most one open case per item and programme (OH-3's second click): a
            # racing twin finds the index taken, and nothing of this case is written.
            inserted = self.conn.execute(st.prebuilt(self.conn, "insert_case"), changes.case_row)
            if inserted.first() is None:
                raise self._open_case_exists(case)
            self.conn.execute(insert(s.clocks), changes.clock_rows)
        else:
            result = self.conn.execute(
                st.UPDATE_CASE, [st.only(changes.case_row, changes.case_columns, st.CASE_KEYS)]
            )
            if result.rowcount != 1:
                raise ConcurrentUpdate(
                    f"case {case.id} was changed by someone else; load it again and retry"
                )
            if changes.clock_rows:
                self.conn.execute(
                    st.UPDATE_CLOCK,
                    [st.only(r, changes.clock_columns, st.CLOCK_KEYS) for r in changes.clock_rows],
                )
        if changes.decision_rows:
            self.conn.execute(insert(s.decisions), changes.decision_rows)
        if changes.audit_rows:
            self.conn.execute(insert(s.audit_log), changes.audit_rows)
        self._after_rows(case, loaded, changes, in_family=False)
        return changes.payouts

    @staticmethod
    def _open_case_exists(case: Case) -> OpenCaseExists:
        return OpenCaseExists(
            f"order item {case.item.id} already has an open {case.programme.value} case"
        )

    def _after_rows(
        self, case: Case, loaded: _Loaded, changes: _Changes, *, in_family: bool
    ) -> None:
        """The rest of a save once the case, clock, decision and audit rows are written:
        payouts and shares, balances, complaints, deadlines, events and notices
        (``in_family``: a new case's deadlines and events went with its row)."""
        for payout in changes.payouts:
            if payout.share_of is not None:
                continue  # written after the payouts, which it names
            statement = (
                st.upsert(self.conn, s.ledger_entries)
                .values(**case_rows.payout_row(payout, loaded.sandbox))
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(s.ledger_entries.c.id)
            )
            if self.conn.execute(statement).first() is None:
                # the unique key already holds this failure's payout; never pay it again.
                raise ConcurrentUpdate(
                    f"payout {payout.key} is already in the ledger; the case was handled concurrently"
                )
        self._insert_shares([(loaded.sandbox, p) for p in changes.payouts])
        if not self.defer_balances:
            self.apply_balances(balance_deltas(changes.payouts, loaded.sandbox))
        for complaint_row in changes.complaint_rows:
            self.conn.execute(st.prebuilt(self.conn, "complaint"), complaint_row)
        if not in_family:
            self._drop_stale_deadlines(case.id, changes)
            if changes.deadline_rows:
                self.conn.execute(st.prebuilt(self.conn, "deadline"), changes.deadline_rows)
            if changes.outbox_rows:
                self.conn.execute(insert(s.outbox), changes.outbox_rows)
        announce_near(self.conn, ((r["sandbox"], r["due_at"]) for r in changes.deadline_rows))
        write_notices(self.conn, [(loaded.sandbox, n) for n in changes.notices])
        self._loaded[case.id] = changes.after

    def save_many(self, cases: Sequence[Case]) -> dict[str, list[Payout]]:
        """Write the changes of several loaded cases with one statement per table.

        Returns ``{case_id: payouts recorded}``. It is all or nothing for the batch:
        if any case was changed by someone else, or any payout is already in the
        ledger (X-1), it raises :class:`ConcurrentUpdate` (any other database error
        as it comes), and the caller must roll back to before the call — a
        savepoint — and may then save the cases one by one to find the culprit.
        """
        if not cases:
            return {}
        batch = [(case, self._loaded[case.id]) for case in cases]
        if any(loaded.is_new for _, loaded in batch):
            raise ValueError("save_many writes loaded cases; add new ones with add()")
        changes = [(case, loaded, self._changes(case, loaded)) for case, loaded in batch]
        case_columns = set().union(*(c.case_columns for _, _, c in changes))
        matched = update_rows(
            self.conn,
            s.cases,
            st.CASE_KEYS,
            [st.only(c.case_row, case_columns, st.CASE_KEYS) for _, _, c in changes],
        )
        if matched != len(changes):
            raise ConcurrentUpdate(
                "a case of this batch was changed by someone else; load them again and retry"
            )
        clock_columns = set().union(*(c.clock_columns for _, _, c in changes))
        update_rows(
            self.conn,
            s.clocks,
            st.CLOCK_KEYS,
            [st.only(r, clock_columns, st.CLOCK_KEYS) for _, _, c in changes for r in c.clock_rows],
        )
        insert_rows(self.conn, s.decisions, [r for _, _, c in changes for r in c.decision_rows])
        insert_rows(self.conn, s.audit_log, [r for _, _, c in changes for r in c.audit_rows])
        try:
            insert_rows(
                self.conn,
                s.ledger_entries,
                [
                    case_rows.payout_row(p, loaded.sandbox)
                    for _, loaded, c in changes
                    for p in c.payouts
                    if p.share_of is None
                ],
            )
            self._insert_shares(
                [(loaded.sandbox, p) for _, loaded, c in changes for p in c.payouts]
            )
        except IntegrityError as exc:
            # a key already in the ledger fails the whole batch; never pay it again.
            raise ConcurrentUpdate(
                "a payout of this batch is already in the ledger; a case was handled concurrently"
            ) from exc
        if not self.defer_balances:
            deltas: Counter[tuple[str, str, str]] = Counter()
            for _, loaded, c in changes:
                deltas.update(balance_deltas(c.payouts, loaded.sandbox))
            self.apply_balances(deltas)
        for _, _, c in changes:
            for complaint_row in c.complaint_rows:
                self.conn.execute(st.prebuilt(self.conn, "complaint"), complaint_row)
        delete_rows(
            self.conn,
            s.deadlines,
            ("case_id", "clock_id"),
            [
                {"case_id": case.id, "clock_id": clock_id}
                for case, _, c in changes
                for clock_id in c.stale_deadlines or ()
            ],
        )
        for case, _, c in changes:
            if c.stale_deadlines is None:
                self._drop_stale_deadlines(case.id, c)
        deadline_rows = [r for _, _, c in changes for r in c.deadline_rows]
        if deadline_rows:
            self.conn.execute(st.prebuilt(self.conn, "deadline"), deadline_rows)
            announce_near(self.conn, ((r["sandbox"], r["due_at"]) for r in deadline_rows))
        insert_rows(self.conn, s.outbox, [r for _, _, c in changes for r in c.outbox_rows])
        write_notices(
            self.conn, [(loaded.sandbox, n) for _, loaded, c in changes for n in c.notices]
        )
        for case, _, c in changes:
            self._loaded[case.id] = c.after
        return {case.id: c.payouts for case, _, c in changes}

    def _insert_shares(self, payouts: Sequence[tuple[str, Payout]]) -> None:
        """Providers' shares (issue 15) into ``ledger_shares``, after the payouts they name.

        A share is made only in the save that records its payout, which the payout's
        unique key lets happen once (X-1); the share's own key is unique besides.
        """
        rows = [case_rows.share_row(p, sandbox) for sandbox, p in payouts if p.share_of]
        if rows:
            insert_rows(self.conn, s.ledger_shares, rows)

    def _drop_stale_deadlines(self, case_id: str, changes: _Changes) -> None:
        d = s.deadlines
        if changes.stale_deadlines is None:  # not known: keep only the running rows
            self.conn.execute(
                delete(d).where(d.c.case_id == case_id, d.c.clock_id.not_in(changes.running))
            )
        elif changes.stale_deadlines:
            self.conn.execute(
                delete(d).where(d.c.case_id == case_id, d.c.clock_id.in_(changes.stale_deadlines))
            )

    def _changes(self, case: Case, loaded: _Loaded) -> _Changes:
        """What saving ``case`` writes, and what the repository knows of it afterwards."""
        new_decisions = case.decisions[loaded.decisions_loaded :]
        new_audit = case.audit[loaded.audit_loaded :]
        decision_count = loaded.decision_base + len(new_decisions)
        audit_count = loaded.audit_base + len(new_audit)
        version = 1 if loaded.is_new else loaded.version + 1
        full_row = case_rows.case_row(case, loaded.sandbox)
        case_row = dict(full_row)
        case_row.update(decision_count=decision_count, audit_count=audit_count, version=version)
        case_columns = set(case_row)
        clock_columns: set[str] = set()
        if loaded.is_new:
            clock_rows = [case_rows.clock_row(case.id, c) for c in case.clocks.values()]
        else:
            before = loaded.case_row or {}
            case_columns = {
                k for k, v in full_row.items() if k != "id" and (k not in before or before[k] != v)
            } | {"decision_count", "audit_count", "version"}
            del case_row["id"]
            case_row.update(_id=case.id, _version=loaded.version)
            clock_rows = []
            for clock in case.clocks.values():
                fields = vars(clock)
                snapshot = loaded.clocks.get(clock.clock_id)
                if snapshot == fields:
                    continue  # unchanged since it was loaded
                row = case_rows.clock_row(case.id, clock)
                row["_case_id"] = row.pop("case_id")
                row["_clock_id"] = row.pop("clock_id")
                clock_rows.append(row)
                if snapshot is None:
                    clock_columns.update(k for k in row if not k.startswith("_"))
                else:
                    clock_columns.update(
                        st.CLOCK_COLUMN_OF.get(f, f)
                        for f, v in fields.items()
                        if f not in snapshot or snapshot[f] != v
                    )
        # The payouts and providers' shares not yet in the ledger (shares: ``share_of``).
        payouts = [p for p in (*case.payouts, *case.shares) if p.key not in loaded.payout_keys]
        complaint_rows = [
            case_rows.complaint_row(case.id, c)
            for c in case.complaints
            if loaded.complaints.get(c.id) != vars(c)
        ]
        running = case.running_deadlines()
        known = {} if loaded.is_new else loaded.deadlines  # a new case has no rows yet
        stale: list[str] | None
        if known is None:  # not loaded: remove every other row, write every running one
            stale = None
            moved = running
        else:
            stale = [cid for cid in known if cid not in running]
            moved = {cid: due for cid, due in running.items() if known.get(cid) != due}
        events = case.pull_events()
        notices = case.pull_notices()
        clocks, complaints = case_rows.snapshot(case)
        return _Changes(
            case_row=case_row,
            case_columns=case_columns,
            clock_rows=clock_rows,
            clock_columns=clock_columns,
            decision_rows=[
                {
                    "case_id": case.id,
                    "seq": loaded.decision_base + i + 1,
                    "at": d.at,
                    "subject": d.subject,
                    "reason": d.reason.to_dict(),
                }
                for i, d in enumerate(new_decisions)
            ],
            audit_rows=[
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
            payouts=payouts,
            complaint_rows=complaint_rows,
            stale_deadlines=stale,
            running=sorted(running),
            deadline_rows=[
                {
                    "case_id": case.id,
                    "clock_id": clock_id,
                    "sandbox": loaded.sandbox,
                    "due_at": due_at,
                    "attempts": 0,
                }
                for clock_id, due_at in moved.items()
            ],
            outbox_rows=[
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
            notices=notices,
            after=_Loaded(
                version=version,
                sandbox=loaded.sandbox,
                decision_base=decision_count,
                decisions_loaded=len(case.decisions),
                audit_base=audit_count,
                audit_loaded=len(case.audit),
                payout_keys=loaded.payout_keys | {p.key for p in payouts},
                clocks=clocks,
                complaints=complaints,
                deadlines=None if known is None else dict(running),
                case_row=full_row,
            ),
        )

    def apply_balances(self, deltas: Mapping[tuple[str, str, str], int]) -> None:
        """Add ``{(sandbox, account, unit): delta}`` to the balances, in key order.

        Every writer takes balance rows in this one order, so transactions that
        touch several accounts (two buyers and a shared merchant, say) queue
        behind each other instead of deadlocking. One statement carries them all;
        its rows are applied in the order given.
        """
        rows = [
            {"sandbox": sandbox, "account": account, "unit": unit, "balance": delta}
            for (sandbox, account, unit), delta in sorted(deltas.items())
        ]
        add_to_rows(self.conn, s.account_balances, ("sandbox", "account", "unit"), "balance", rows)
