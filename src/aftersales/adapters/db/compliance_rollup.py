"""The compliance report's counts, from the rollup where it can answer and the cases where not.

The rollup (``compliance_rollup``, kept by the triggers of migration 0015) holds the
counts per world, UTC hour of opening and every key the report groups or is scoped
by. A window ``[start, end)`` is answered in up to three parts added together:

* its whole hours, from the rollup (a few rows per hour, whatever the cases);
* the part-hours at either edge, from the cases themselves (the full query over
  that sliver, found through ``cases (sandbox, opened_at)``).

A scope the rollup holds no key for (a buyer's own cases, a platform hotline agent's
reports) is answered by the full query over the whole window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from aftersales.adapters.db import schema as s
from aftersales.domain.lifecycle import Role
from aftersales.services.records import ComplianceRow, Scope

_r = s.compliance_rollup
HOUR = timedelta(hours=1)

# The rollup's column for each grouping of the report.
ROLLUP_GROUPS = {
    "provider": _r.c.assignee,
    "city": _r.c.city,
    "category": _r.c.category,
    "programme": _r.c.programme,
    "clock": _r.c.clock_id,
}


@dataclass
class Tally:
    """One group's counts: its started clocks and points payouts, and what they say."""

    clocks: int = 0
    met: int = 0
    breached: int = 0
    not_applicable: int = 0
    running: int = 0
    payouts: int = 0
    points: int = 0

    def add(self, other: Tally) -> None:
        self.clocks += other.clocks
        self.met += other.met
        self.breached += other.breached
        self.not_applicable += other.not_applicable
        self.running += other.running
        self.payouts += other.payouts
        self.points += other.points


Tallies = dict[str, Tally]
COUNTS = ("clocks", "met", "breached", "not_applicable", "running", "payouts", "points")


def key_of(value: Any) -> str:
    """The row a group's key shows as: NULL and '' are one row, "—"."""
    return str(value or "—")


def merged(parts: Iterable[Tallies]) -> Tallies:
    out: Tallies = {}
    for part in parts:
        for key, tally in part.items():
            out.setdefault(key, Tally()).add(tally)
    return out


def rows_of(tallies: Tallies) -> list[ComplianceRow]:
    """The report's rows: every group with a clock or a payout, most judged first."""
    rows = [
        ComplianceRow(key, t.met, t.breached, t.not_applicable, t.running, t.points)
        for key, t in tallies.items()
        if t.clocks or t.payouts
    ]
    return sorted(rows, key=lambda row: (-row.judged, row.key))


def _scope_filter(scope: Scope) -> list[Any] | None:
    """The rollup's conditions for what ``scope`` may see, or None if it holds no such key."""
    party = scope.party
    if not party:
        return [] if scope.role is Role.OPERATIONS else None
    match scope.role:
        case Role.OPERATIONS:
            return []
        case Role.PROVIDER:
            return [_r.c.assignee == party]
        case Role.MERCHANT:
            return [_r.c.merchant == party]
        case Role.BRAND | Role.AGENT:  # an agent with a party staffs that brand's line
            return [_r.c.brand == party]
    return None


def _hour_up(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    floor = at.replace(minute=0, second=0, microsecond=0)
    return floor if floor == at else floor + HOUR


def _hour_down(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# The full query over [start, end), for cases of the given worlds only (None: every world).
FullQuery = Callable[[datetime, datetime, "list[str] | None"], Tallies]


def compliance_tallies(
    conn: Connection,
    scope: Scope,
    *,
    by: str,
    start: datetime,
    end: datetime,
    sandbox: str | None,
    full: FullQuery,
) -> Tallies:
    """The report's counts per group for cases opened in ``[start, end)``: whole hours from
    the rollup, the edges (and any scope it cannot answer) through ``full``."""
    where = _scope_filter(scope)
    first, last = _hour_up(start), _hour_down(end)
    if where is None or first >= last:
        return full(start, end, None) if start < end else {}
    parts = [_from_rollup(conn, by, first, last, sandbox, where)]
    for edge_start, edge_end in ((start, first), (last, end)):
        if edge_start < edge_end:
            # Only the worlds with a clock or a payout in that hour can add anything: the
            # edge is read for those (so the cases' (sandbox, opened_at) index bounds it
            # even when every world is asked for), and not at all when there are none.
            worlds = _worlds_in(conn, _hour_down(edge_start), sandbox)
            if worlds:
                parts.append(full(edge_start, edge_end, worlds))
    return merged(parts)


def _worlds_in(conn: Connection, hour: datetime, sandbox: str | None) -> list[str]:
    query = select(_r.c.sandbox).distinct().where(_r.c.hour == hour)
    if sandbox is not None:
        query = query.where(_r.c.sandbox == sandbox)
    return list(conn.execute(query).scalars())


def _from_rollup(
    conn: Connection,
    by: str,
    first: datetime,
    last: datetime,
    sandbox: str | None,
    where: list[Any],
) -> Tallies:
    group = ROLLUP_GROUPS[by]
    counts = [getattr(_r.c, name) for name in COUNTS]
    query = (
        select(group, *(func.sum(c) for c in counts))
        .where(_r.c.hour >= first, _r.c.hour < last, *where)
        .group_by(group)
    )
    if sandbox is not None:
        query = query.where(_r.c.sandbox == sandbox)
    out: Tallies = {}
    for key, *sums in conn.execute(query):
        out.setdefault(key_of(key), Tally()).add(Tally(*(int(n or 0) for n in sums)))
    return out
