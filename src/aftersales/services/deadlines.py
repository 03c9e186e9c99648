"""The deadline engine: claim what is due, breach, pay, record — exactly once.

Every running SLA clock has one row in ``deadlines``. A tick:

1. **claims** due rows in a short transaction — one ``UPDATE … WHERE (case, clock)
   IN (SELECT … ORDER BY due_at LIMIT n FOR UPDATE SKIP LOCKED) RETURNING`` on
   PostgreSQL, the same statement without row locks on SQLite (whose writers are
   serialised) — stamping a lease so no other worker takes them meanwhile;
2. **handles** the claimed cases in chunks, each chunk one transaction that locks
   its case rows in id order (so two workers can never deadlock), settles each
   case at ``now`` (breach → penalty → ledger entry → outbox event), and saves it;
   a case that fails rolls back to its savepoint and is retried after a back-off.

Leases and retry back-offs run on the worker's real clock, never on a
sandbox's test clock: a sandbox clock stands still between advances, so a lease
measured on it would never expire and a killed worker's claims would be stuck.
Whether a row is *due* is judged on the clock of its sandbox.

A worker that dies after claiming leaves rows whose lease expires; they are
claimed again, and the ledger's unique key (X-1) makes a second payout for the
same failure impossible. The cost of a tick depends on how many rows are due,
never on how many cases are open.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, func, or_, select, tuple_, update

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.cases_repo import CaseRepository, balance_deltas
from aftersales.adapters.db.schema import LIVE
from aftersales.domain.cases import Case
from aftersales.domain.ledger import Payout
from aftersales.domain.policy import PolicyBook
from aftersales.domain.retry import RetryPolicy

log = logging.getLogger(__name__)

RETRY_BACKOFF_S = 30.0
# Cases per transaction: a worker's whole claim (the default batch) in one chunk.
HANDLE_CHUNK = 200
MAX_RETRY_BACKOFF_S = 3600.0
POSTPONE_RETRY = RetryPolicy(base_s=RETRY_BACKOFF_S, factor=2, cap_s=MAX_RETRY_BACKOFF_S)


@dataclass
class TickReport:
    claimed: int = 0
    cases: int = 0
    payouts: int = 0
    points_paid: int = 0
    failed: int = 0
    payout_keys: list[str] = field(default_factory=list)

    def __iadd__(self, other: TickReport) -> TickReport:
        self.claimed += other.claimed
        self.cases += other.cases
        self.payouts += other.payouts
        self.points_paid += other.points_paid
        self.failed += other.failed
        self.payout_keys.extend(other.payout_keys)
        return self


def claim_due(
    engine: Engine,
    *,
    sandbox: str,
    now: datetime,
    worker_id: str,
    limit: int,
    lease: timedelta,
    real_now: datetime | None = None,
) -> list[str]:
    """Claim up to ``limit`` rows due at ``now``; return the distinct case ids, in due order.

    ``real_now`` is the worker's own time, which leases are measured on (default ``now``).
    """
    real_now = real_now or now
    d = s.deadlines
    due = (
        select(d.c.case_id, d.c.clock_id)
        .where(
            d.c.sandbox == sandbox,
            d.c.due_at < now,
            or_(d.c.claimed_until.is_(None), d.c.claimed_until <= real_now),
        )
        .order_by(d.c.due_at)
        .limit(limit)
    )
    if engine.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(d)
        .where(tuple_(d.c.case_id, d.c.clock_id).in_(due))
        .values(claimed_by=worker_id, claimed_until=real_now + lease)
        .returning(d.c.case_id, d.c.due_at)
    )
    with engine.begin() as conn:
        rows = conn.execute(statement).all()
    ordered: dict[str, datetime] = {}
    for row in sorted(rows, key=lambda r: r.due_at):
        ordered.setdefault(row.case_id, row.due_at)
    return list(ordered)


def handle_cases(
    engine: Engine,
    book: PolicyBook,
    case_ids: Iterable[str],
    *,
    now: datetime,
    chunk: int = HANDLE_CHUNK,
    real_now: datetime | None = None,
) -> TickReport:
    """Settle each case at ``now`` and save it; one transaction per chunk.

    A chunk is loaded with one query per table and written with one statement
    per table. Should that batch fail (a payout already in the ledger, a case
    changed meanwhile, a database error), it is rolled back to its savepoint and
    the chunk is handled again one case at a time, each in its own savepoint, so
    the one case at fault is set aside without undoing the others. A case that
    fails is retried after a back-off on the worker's clock (``real_now``).
    """
    real_now = real_now or now
    report = TickReport()
    ids = list(dict.fromkeys(case_ids))
    for start in range(0, len(ids), chunk):
        # Lock order = id order: two workers holding overlapping chunks never wait on each other in a cycle.
        part = sorted(ids[start : start + chunk])
        with engine.begin() as conn:
            # Balances move once per account per chunk, just before commit: a merchant
            # shared by many cases is then locked for one statement, not for the chunk.
            repo = CaseRepository(conn, book, defer_balances=True)
            deltas: Counter[tuple[str, str, str]] = Counter()
            if not _handle_batch(conn, repo, book, part, now, real_now, report, deltas):
                _handle_one_by_one(conn, repo, book, part, now, real_now, report, deltas)
            repo.apply_balances(deltas)
    return report


def _handle_batch(
    conn: Connection,
    repo: CaseRepository,
    book: PolicyBook,
    part: list[str],
    now: datetime,
    real_now: datetime,
    report: TickReport,
    deltas: Counter[tuple[str, str, str]],
) -> bool:
    """The fast path: the whole chunk in one load and one write. False if it must be redone."""
    savepoint = conn.begin_nested()
    try:
        cases = repo.get_many(part, for_update=True)
        settled: list[Case] = []
        failed: list[str] = []
        for case_id in part:
            case = cases.get(case_id)
            if case is None:
                log.error("deadline for case %s, which does not exist; it will be retried", case_id)
                failed.append(case_id)
                continue
            try:
                case.settle(book, now)
            except Exception:
                log.exception("deadline handling failed for case %s; it will be retried", case_id)
                failed.append(case_id)
                continue
            settled.append(case)
        recorded = repo.save_many(settled)
        savepoint.commit()
    except Exception:
        savepoint.rollback()
        log.warning(
            "a chunk of %d cases could not be saved together; handling them one by one",
            len(part),
            exc_info=True,
        )
        return False
    for case_id in failed:
        _postpone(conn, case_id, real_now)
    report.failed += len(failed)
    for case in settled:
        _count(report, deltas, recorded[case.id], repo.sandbox_of(case.id))
    return True


def _handle_one_by_one(
    conn: Connection,
    repo: CaseRepository,
    book: PolicyBook,
    part: list[str],
    now: datetime,
    real_now: datetime,
    report: TickReport,
    deltas: Counter[tuple[str, str, str]],
) -> None:
    for case_id in part:
        savepoint = conn.begin_nested()
        try:
            case = repo.get(case_id, for_update=True)
            case.settle(book, now)
            recorded = repo.save(case)
            savepoint.commit()
        except Exception:
            savepoint.rollback()
            log.exception("deadline handling failed for case %s; it will be retried", case_id)
            _postpone(conn, case_id, real_now)
            report.failed += 1
            continue
        _count(report, deltas, recorded, repo.sandbox_of(case_id))


def _count(
    report: TickReport,
    deltas: Counter[tuple[str, str, str]],
    recorded: list[Payout],
    sandbox: str,
) -> None:
    deltas.update(balance_deltas(recorded, sandbox))
    report.cases += 1
    report.payouts += len(recorded)
    report.points_paid += sum(p.amount.value for p in recorded if p.amount.unit.value == "points")
    report.payout_keys.extend(p.key for p in recorded)


def _postpone(conn: Connection, case_id: str, now: datetime) -> None:
    d = s.deadlines
    attempts = (
        conn.execute(select(func.max(d.c.attempts)).where(d.c.case_id == case_id)).scalar() or 0
    )
    delay = POSTPONE_RETRY.delay(attempts + 1, case_id)
    conn.execute(
        update(d)
        .where(d.c.case_id == case_id)
        .values(attempts=d.c.attempts + 1, claimed_by=None, claimed_until=now + delay)
    )


def tick(
    engine: Engine,
    book: PolicyBook,
    *,
    sandbox: str,
    now: datetime,
    worker_id: str,
    limit: int = 200,
    lease: timedelta = timedelta(seconds=30),
    real_now: datetime | None = None,
) -> TickReport:
    """One claim-and-handle round for one sandbox (or live), due at ``now``.

    ``real_now`` is the worker's own clock (leases, back-offs); for live it is ``now``.
    """
    case_ids = claim_due(
        engine,
        sandbox=sandbox,
        now=now,
        worker_id=worker_id,
        limit=limit,
        lease=lease,
        real_now=real_now,
    )
    report = handle_cases(engine, book, case_ids, now=now, real_now=real_now)
    report.claimed = len(case_ids)
    return report


def clocks_with_due(engine: Engine, *, real_now: datetime) -> list[tuple[str, datetime]]:
    """The sandboxes that have a deadline due on their clock and free to claim, with
    their clocks' readings, in the order they were created.

    One statement (an index probe per sandbox) instead of a claim transaction per
    sandbox: a worker's round then costs the same however many sandboxes sit idle.
    """
    d, sb = s.deadlines, s.sandboxes
    due = (
        select(d.c.case_id)
        .where(
            d.c.sandbox == sb.c.id,
            d.c.due_at < sb.c.now,
            or_(d.c.claimed_until.is_(None), d.c.claimed_until <= real_now),
        )
        .exists()
    )
    with engine.connect() as conn:
        rows = conn.execute(
            select(sb.c.id, sb.c.now).where(due).order_by(sb.c.created_at, sb.c.id)
        ).all()
    return [(row.id, row.now) for row in rows]


def next_due(
    engine: Engine, *, sandbox: str = LIVE, real_now: datetime | None = None
) -> datetime | None:
    """The earliest armed deadline a worker could claim: the worker sleeps until then.

    With ``real_now`` (the worker's own clock), deadlines another worker holds
    under a lease, or that back off after a failure, are passed over: they are
    not this worker's to wake for, and counting them would wake it at once,
    again and again, for nothing. (When such a lease lapses the row is claimed
    on a later round; the worker never sleeps longer than its poll interval.)
    One walk of the ``(sandbox, due_at)`` index from its start.
    """
    d = s.deadlines
    query = select(func.min(d.c.due_at)).where(d.c.sandbox == sandbox)
    if real_now is not None:
        query = query.where(or_(d.c.claimed_until.is_(None), d.c.claimed_until <= real_now))
    with engine.connect() as conn:
        value: datetime | None = conn.execute(query).scalar()
    if value is not None and value.tzinfo is None:  # SQLite aggregate results skip the column type
        value = value.replace(tzinfo=UTC)
    return value


def due_count(engine: Engine, *, sandbox: str, now: datetime) -> int:
    d = s.deadlines
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(d).where(d.c.sandbox == sandbox, d.c.due_at < now)
            ).scalar()
            or 0
        )
