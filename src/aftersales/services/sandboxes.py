"""Sandboxes: a private world with its own test clock.

Advancing a sandbox's clock steps through every deadline on the way, handling
each just after it falls due, so a 48-hour commitment plays out in one call and
every breach and payout carries the instant it really happened in the sandbox.
Sandbox cases, ledger entries and balances are tagged with the sandbox id and
never touch live ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, insert, select, update

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.schema import LIVE
from aftersales.domain.policy import PolicyBook
from aftersales.errors import AlreadyExists, InvalidRequest, SandboxNotFound
from aftersales.services.deadlines import TickReport, handle_cases
from aftersales.services.time import Clock

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_ONE_US = timedelta(microseconds=1)
MAX_STEPS_PER_ADVANCE = 100_000


class SandboxError(InvalidRequest):
    pass


@dataclass(frozen=True)
class Sandbox:
    id: str
    name: str
    now: datetime
    created_at: datetime


def create_sandbox(
    engine: Engine, clock: Clock, *, sandbox_id: str, name: str = "", start: datetime | None = None
) -> Sandbox:
    if sandbox_id == LIVE or not _ID.match(sandbox_id):
        raise SandboxError(
            f"sandbox id {sandbox_id!r}: use lower-case letters, digits, '-' or '_' (not 'live')"
        )
    if start is not None and start.tzinfo is None:
        raise SandboxError("the sandbox start time needs a UTC offset, e.g. 2026-11-24T09:00+08:00")
    created = clock.now()
    with engine.begin() as conn:
        if conn.execute(select(s.sandboxes.c.id).where(s.sandboxes.c.id == sandbox_id)).first():
            raise AlreadyExists(f"sandbox '{sandbox_id}' already exists")
        now = start or created
        conn.execute(
            insert(s.sandboxes).values(
                id=sandbox_id, name=name or sandbox_id, now=now, created_at=created
            )
        )
    return Sandbox(sandbox_id, name or sandbox_id, now, created)


def get_sandbox(engine: Engine, sandbox_id: str) -> Sandbox:
    with engine.connect() as conn:
        row = conn.execute(select(s.sandboxes).where(s.sandboxes.c.id == sandbox_id)).first()
    if row is None:
        raise SandboxNotFound(sandbox_id)
    return Sandbox(row.id, row.name, row.now, row.created_at)


def list_sandboxes(engine: Engine) -> list[Sandbox]:
    with engine.connect() as conn:
        rows = conn.execute(select(s.sandboxes).order_by(s.sandboxes.c.created_at)).all()
    return [Sandbox(r.id, r.name, r.now, r.created_at) for r in rows]


def advance_sandbox(
    engine: Engine,
    book: PolicyBook,
    sandbox_id: str,
    *,
    by: timedelta | None = None,
    to: datetime | None = None,
    real_now: datetime | None = None,
) -> tuple[Sandbox, TickReport]:
    """Move the sandbox clock forward, handling every deadline passed on the way.

    ``real_now`` (the caller's own clock) times the back-off of a case that fails.
    """
    current = get_sandbox(engine, sandbox_id)
    if (by is None) == (to is None):
        raise SandboxError("give either how far to advance (by) or the instant to advance to (to)")
    target = current.now + by if by is not None else to
    assert target is not None
    if target.tzinfo is None:
        raise SandboxError("the target time needs a UTC offset")
    if target < current.now:
        raise SandboxError(
            f"a sandbox clock only moves forward: it is at {current.now.isoformat()}, asked for {target.isoformat()}"
        )
    report = TickReport()
    d = s.deadlines
    for _ in range(MAX_STEPS_PER_ADVANCE):
        with engine.connect() as conn:
            due_at = conn.execute(
                select(func.min(d.c.due_at)).where(d.c.sandbox == sandbox_id, d.c.due_at < target)
            ).scalar()
        if due_at is None:
            break
        if due_at.tzinfo is None:
            from datetime import UTC

            due_at = due_at.replace(tzinfo=UTC)
        step = due_at + _ONE_US  # strictly past due: "within" is inclusive
        _set_now(engine, sandbox_id, step)
        with engine.connect() as conn:
            case_ids = [
                r.case_id
                for r in conn.execute(
                    select(d.c.case_id)
                    .where(d.c.sandbox == sandbox_id, d.c.due_at < step)
                    .distinct()
                )
            ]
        report += handle_cases(engine, book, case_ids, now=step, real_now=real_now)
        report.claimed += len(case_ids)
    else:
        raise SandboxError(
            f"advancing sandbox '{sandbox_id}' needed more than {MAX_STEPS_PER_ADVANCE} steps"
        )
    _set_now(engine, sandbox_id, target)
    return get_sandbox(engine, sandbox_id), report


def _set_now(engine: Engine, sandbox_id: str, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(update(s.sandboxes).where(s.sandboxes.c.id == sandbox_id).values(now=now))
