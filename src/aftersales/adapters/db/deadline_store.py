"""The SQL side of the ``Deadlines`` port: claiming due rows, back-offs, the next wake-up.

The claim is one statement — ``UPDATE … WHERE case IN (SELECT … ORDER BY due_at
LIMIT n FOR UPDATE SKIP LOCKED) AND due RETURNING`` on PostgreSQL (every due row
of the chosen cases: a clock's deadline and its warning marks go together), the same
without row locks on SQLite (whose writers are serialised) — stamping a lease
so no other worker takes the rows meanwhile. Every lookup walks the
``(sandbox, due_at)`` index from its start: its cost depends on what is due,
never on how many cases are open.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select, text, tuple_, update
from sqlalchemy.sql.elements import ColumnElement

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.types import aware_utc
from aftersales.services.records import LIVE

_d = s.deadlines


def _free(real_now: Any) -> ColumnElement[bool]:
    return or_(_d.c.claimed_until.is_(None), _d.c.claimed_until <= real_now)


# A worker runs these every round, idle or not: built once (composing them cost more
# CPU than running them), with the values bound at each run.
_REAL_NOW = bindparam("real_now", type_=_d.c.claimed_until.type)


def _claim(pg: bool) -> Any:
    """The claim (see ``claim_due``); FOR UPDATE SKIP LOCKED and MATERIALIZED on PostgreSQL."""
    now = bindparam("now", type_=_d.c.due_at.type)
    # The cases of the first ``limit`` due rows, and then every due row of those cases:
    # a case has a row per clock and per armed warning mark, and its worker settles
    # them all at once, so none of them is left for another worker to claim.
    due = (
        select(_d.c.case_id)
        .where(_d.c.sandbox == bindparam("world"), _d.c.due_at < now, _free(_REAL_NOW))
        .order_by(_d.c.due_at)
        .limit(bindparam("limit"))
    )
    if pg:
        due = due.with_for_update(skip_locked=True)
    # Chosen once (a materialised CTE): as a plain IN (subquery) PostgreSQL may run the
    # locking subquery again for each row it updates, claiming far more than ``limit``.
    chosen = due.cte("chosen").prefix_with("MATERIALIZED", dialect="postgresql")
    # The chosen cases' due rows are locked the same way, skipping any another worker
    # holds: waiting for them could deadlock (that worker may be waiting for a row of
    # ours). A row skipped here stays with the worker that holds it, which settles it.
    due_rows = select(_d.c.case_id, _d.c.clock_id).where(
        _d.c.case_id.in_(select(chosen.c.case_id)),
        _d.c.sandbox == bindparam("world"),
        _d.c.due_at < now,
        _free(_REAL_NOW),
    )
    if pg:
        due_rows = due_rows.with_for_update(skip_locked=True)
    mine = due_rows.cte("mine").prefix_with("MATERIALIZED", dialect="postgresql")
    return (
        update(_d)
        .where(tuple_(_d.c.case_id, _d.c.clock_id).in_(select(mine.c.case_id, mine.c.clock_id)))
        .values(claimed_by=bindparam("worker_id"), claimed_until=bindparam("lease_until"))
        .returning(_d.c.case_id, _d.c.due_at)
    )


_CLAIM = {True: _claim(True), False: _claim(False)}
_NEXT_DUE = select(func.min(_d.c.due_at)).where(_d.c.sandbox == bindparam("sandbox"))
_NEXT_FREE_DUE = _NEXT_DUE.where(_free(_REAL_NOW))


def _clocks_with_due() -> Any:
    sb = s.sandboxes
    due = (
        select(_d.c.case_id)
        .where(_d.c.sandbox == sb.c.id, _d.c.due_at < sb.c.now, _free(_REAL_NOW))
        .exists()
    )
    return select(sb.c.id, sb.c.now).where(due).order_by(sb.c.created_at, sb.c.id)


def _next_release() -> Any:
    sb = s.sandboxes
    held = (
        select(func.min(_d.c.claimed_until))
        .where(
            _d.c.sandbox == sb.c.id,
            _d.c.due_at < sb.c.now,
            _d.c.claimed_until > _REAL_NOW,
        )
        .scalar_subquery()
    )
    return select(func.min(held)).select_from(sb)


_CLOCKS_WITH_DUE = _clocks_with_due()
_NEXT_RELEASE = _next_release()
_NO_JIT = text("SET LOCAL jit = off")


class SqlDeadlines:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def claim_due(
        self,
        *,
        sandbox: str,
        now: datetime,
        worker_id: str,
        limit: int,
        claimed_until: datetime,
        real_now: datetime,
    ) -> list[str]:
        statement = _CLAIM[self.conn.dialect.name == "postgresql"]
        rows = self.conn.execute(
            statement,
            {
                "world": sandbox,  # "sandbox" is the column's own name in an UPDATE
                "now": now,
                "real_now": real_now,
                "limit": limit,
                "worker_id": worker_id,
                "lease_until": claimed_until,
            },
        ).all()
        ordered: dict[str, datetime] = {}
        for row in sorted(rows, key=lambda r: r.due_at):
            ordered.setdefault(row.case_id, row.due_at)
        return list(ordered)

    def attempts(self, case_id: str) -> int:
        query = select(func.max(_d.c.attempts)).where(_d.c.case_id == case_id)
        return int(self.conn.execute(query).scalar() or 0)

    def postpone(self, case_id: str, *, until: datetime) -> None:
        self.conn.execute(
            update(_d)
            .where(_d.c.case_id == case_id)
            .values(attempts=_d.c.attempts + 1, claimed_by=None, claimed_until=until)
        )

    def next_due(self, *, sandbox: str = LIVE, real_now: datetime | None = None) -> datetime | None:
        if real_now is None:
            found = self.conn.execute(_NEXT_DUE, {"sandbox": sandbox}).scalar()
        else:
            found = self.conn.execute(
                _NEXT_FREE_DUE, {"sandbox": sandbox, "real_now": real_now}
            ).scalar()
        return aware_utc(found)

    def clocks_with_due(self, *, real_now: datetime) -> list[tuple[str, datetime]]:
        rows = self.conn.execute(_CLOCKS_WITH_DUE, {"real_now": real_now}).all()
        return [(row.id, row.now) for row in rows]

    def next_release(self, *, real_now: datetime) -> datetime | None:
        """The earliest lapse of a hold (lease or back-off) on a deadline already due on its
        sandbox's clock.

        Per sandbox, a walk of the due part of its (sandbox, due_at) index range: what is
        due, not what is open. (As one join, PostgreSQL read every deadline row, 350 ms
        at a million open cases, once a worker round.) The planner cannot know each
        sandbox's clock, so it guesses a third of the table and would JIT-compile the
        statement each time (150 ms); JIT is off for this statement's transaction."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(_NO_JIT)
        return aware_utc(self.conn.execute(_NEXT_RELEASE, {"real_now": real_now}).scalar())

    def earliest_before(self, sandbox: str, before: datetime) -> datetime | None:
        query = select(func.min(_d.c.due_at)).where(_d.c.sandbox == sandbox, _d.c.due_at < before)
        return aware_utc(self.conn.execute(query).scalar())

    def cases_due(self, sandbox: str, before: datetime) -> list[str]:
        query = (
            select(_d.c.case_id)
            .where(_d.c.sandbox == sandbox, _d.c.due_at < before)
            .distinct()
            .order_by(_d.c.case_id)
        )
        return [r.case_id for r in self.conn.execute(query)]

    def due_count(self, *, sandbox: str, now: datetime) -> int:
        query = (
            select(func.count()).select_from(_d).where(_d.c.sandbox == sandbox, _d.c.due_at < now)
        )
        return int(self.conn.execute(query).scalar() or 0)
