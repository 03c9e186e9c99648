"""The deadline engine: claim what is due, breach, pay, record — exactly once.

Every running SLA clock has one row in ``deadlines``, and so has each warning
mark armed on it (``"<clock>@<mark>"``, docs/notifications.md): a mark is a
deadline like any other, and settling a case fires the marks that are due
before it breaches anything. A tick:

1. **claims** due rows in a short transaction (one statement: see
   ``adapters/db/deadline_store.py``), stamping a lease so no other worker takes
   them meanwhile;
2. **handles** the claimed cases in chunks, each chunk one transaction that locks
   its case rows in id order (so two workers can never deadlock), settles each
   case at ``now`` (warning → breach → penalty → ledger entry → outbox event, and
   the notices for the people concerned), and saves it;
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
from datetime import datetime, timedelta

from aftersales.domain.cases import Case
from aftersales.domain.ledger import Payout, balance_deltas
from aftersales.domain.retry import RetryPolicy
from aftersales.services import dispatch as dispatching
from aftersales.services.base import Services
from aftersales.services.ports import UnitOfWork
from aftersales.services.records import LIVE

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
    svc: Services,
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
    with svc.uow() as uow:
        case_ids = uow.deadlines.claim_due(
            sandbox=sandbox,
            now=now,
            worker_id=worker_id,
            limit=limit,
            claimed_until=real_now + lease,
            real_now=real_now,
        )
        uow.commit()
    return case_ids


def handle_cases(
    svc: Services,
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
        with svc.uow() as uow:
            # Balances move once per account per chunk, just before commit: a merchant
            # shared by many cases is then locked for one statement, not for the chunk.
            uow.cases.defer_balances = True
            deltas: Counter[tuple[str, str, str]] = Counter()
            try:
                if not _handle_batch(uow, svc, part, now, real_now, report, deltas):
                    _handle_one_by_one(uow, svc, part, now, real_now, report, deltas)
                uow.cases.apply_balances(deltas)
            finally:
                uow.cases.defer_balances = False
            uow.commit()
    return report


def _handle_batch(
    uow: UnitOfWork,
    svc: Services,
    part: list[str],
    now: datetime,
    real_now: datetime,
    report: TickReport,
    deltas: Counter[tuple[str, str, str]],
) -> bool:
    """The fast path: the whole chunk in one load and one write. False if it must be redone."""
    failed: list[str] = []
    settled: list[Case] = []
    try:
        with uow.savepoint():
            cases = uow.cases.get_many(part, for_update=True)
            for case_id in part:
                case = cases.get(case_id)
                if case is None:
                    log.error(
                        "deadline for case %s, which does not exist; it will be retried", case_id
                    )
                    failed.append(case_id)
                    continue
                try:
                    watched = dispatching.plan_clocks_running(svc.book, case)
                    case.settle(svc.book, now)
                    if watched:
                        dispatching.replace_if_plan_missed(svc, uow, case, watched, now)
                except Exception:
                    log.exception(
                        "deadline handling failed for case %s; it will be retried", case_id
                    )
                    failed.append(case_id)
                    continue
                settled.append(case)
            recorded = uow.cases.save_many(settled)
    except Exception:
        log.warning(
            "a chunk of %d cases could not be saved together; handling them one by one",
            len(part),
            exc_info=True,
        )
        return False
    for case_id in failed:
        _postpone(uow, case_id, real_now)
    report.failed += len(failed)
    for case in settled:
        _count(report, deltas, recorded[case.id], uow.cases.sandbox_of(case.id))
    return True


def _handle_one_by_one(
    uow: UnitOfWork,
    svc: Services,
    part: list[str],
    now: datetime,
    real_now: datetime,
    report: TickReport,
    deltas: Counter[tuple[str, str, str]],
) -> None:
    for case_id in part:
        try:
            with uow.savepoint():
                case = uow.cases.get(case_id, for_update=True)
                watched = dispatching.plan_clocks_running(svc.book, case)
                case.settle(svc.book, now)
                if watched:
                    dispatching.replace_if_plan_missed(svc, uow, case, watched, now)
                recorded = uow.cases.save(case)
        except Exception:
            log.exception("deadline handling failed for case %s; it will be retried", case_id)
            _postpone(uow, case_id, real_now)
            report.failed += 1
            continue
        _count(report, deltas, recorded, uow.cases.sandbox_of(case_id))


def _count(
    report: TickReport,
    deltas: Counter[tuple[str, str, str]],
    recorded: list[Payout],
    sandbox: str,
) -> None:
    deltas.update(balance_deltas(recorded, sandbox))  # the providers' shares move balances too
    paid = [p for p in recorded if p.share_of is None]  # what buyers were paid
    report.cases += 1
    report.payouts += len(paid)
    report.points_paid += sum(p.amount.value for p in paid if p.amount.unit.value == "points")
    report.payout_keys.extend(p.key for p in paid)


def _postpone(uow: UnitOfWork, case_id: str, now: datetime) -> None:
    delay = POSTPONE_RETRY.delay(uow.deadlines.attempts(case_id) + 1, case_id)
    uow.deadlines.postpone(case_id, until=now + delay)


def tick(
    svc: Services,
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
        svc,
        sandbox=sandbox,
        now=now,
        worker_id=worker_id,
        limit=limit,
        lease=lease,
        real_now=real_now,
    )
    report = handle_cases(svc, case_ids, now=now, real_now=real_now)
    report.claimed = len(case_ids)
    return report


def clocks_with_due(svc: Services, *, real_now: datetime) -> list[tuple[str, datetime]]:
    """The sandboxes that have a deadline due on their clock and free to claim, with
    their clocks' readings, in the order they were created.

    One statement (an index probe per sandbox) instead of a claim transaction per
    sandbox: a worker's round then costs the same however many sandboxes sit idle.
    """
    with svc.uow() as uow:
        return uow.deadlines.clocks_with_due(real_now=real_now)


def next_due(
    svc: Services, *, sandbox: str = LIVE, real_now: datetime | None = None
) -> datetime | None:
    """The earliest armed deadline a worker could claim: the worker sleeps until then.

    With ``real_now`` (the worker's own clock), deadlines another worker holds
    under a lease, or that back off after a failure, are passed over: they are
    not this worker's to wake for, and counting them would wake it at once,
    again and again, for nothing. (When such a lease lapses the row is claimed
    on a later round; the worker never sleeps longer than its poll interval.)
    """
    with svc.uow() as uow:
        return uow.deadlines.next_due(sandbox=sandbox, real_now=real_now)


def next_wake(svc: Services, *, real_now: datetime) -> datetime | None:
    """When a worker at ``real_now`` has something to claim next, on any clock (None: nothing
    armed it could sleep for; it then sleeps its poll interval).

    Live deadlines fall due on the real clock. A sandbox's deadlines fall due when
    its clock is moved (which wakes the worker by itself, where the database can say
    so), or — for those already due but held by another worker's lease or a back-off —
    when that hold lapses, which is on the real clock too.
    """
    with svc.uow() as uow:
        live = uow.deadlines.next_due(sandbox=LIVE, real_now=real_now)
        held = uow.deadlines.next_release(real_now=real_now)
    return min((t for t in (live, held) if t is not None), default=None)


def due_count(svc: Services, *, sandbox: str, now: datetime) -> int:
    with svc.uow() as uow:
        return uow.deadlines.due_count(sandbox=sandbox, now=now)
