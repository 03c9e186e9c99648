"""OH-3 dispatch candidates in one query, and the day's load counted as cases are handed over.

:func:`candidates` reads every active provider whose coverage matches the item
(an area holding the address, the item's category or an ancestor, the service
tag; the sandbox's own providers and live ones) together with what the decision
needs: a closure covering the day, its capacity overall and in the areas holding
the address with what was dispatched against each that day, and its on-time
record (SLA clocks met and breached on cases it holds, opened since a day, from
the compliance rollup). The
choice itself is :func:`aftersales.domain.dispatch.decide`.

The statement is built once per dialect (arrays on PostgreSQL, so its text never
changes and the driver keeps it prepared) and cached by SQLAlchemy; its
joins are all by primary key or the coverage index, so it costs what the matching
coverage rows cost, not the number of providers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    and_,
    any_,
    bindparam,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.driver import Prepared
from aftersales.adapters.db.schema import LIVE
from aftersales.domain.dispatch import Candidate, Capacity, Closure
from aftersales.domain.policy import PolicyBook

_pc, _pr, _cap, _cl, _ld = (
    s.provider_coverage,
    s.providers,
    s.provider_capacity,
    s.provider_closures,
    s.provider_loads,
)
_ld_all = _ld.alias("load_all")


def _record(m: Any, status: str) -> Any:
    """Clocks of ``status`` on cases the provider holds, opened since ``record_since``'s hour:
    read from the compliance rollup (migration 0015) through its (assignee, hour) index, so
    it costs the provider's rows per hour and key, not one row per case it ever held."""
    r = s.compliance_rollup
    return (
        select(func.coalesce(func.sum(r.c[status]), 0))
        .where(r.c.assignee == m.c.provider_id, r.c.hour >= bindparam("record_since"))
        .scalar_subquery()
    )


def _in(column: Any, name: str, pg: bool) -> Any:
    """``column IN (:name)``: on PostgreSQL ``= ANY(:name)``, one statement text for any list
    (an expanding IN is rendered again at every execution)."""
    if pg:
        return column == any_(bindparam(name, type_=postgresql.ARRAY(String)))
    return column.in_(bindparam(name, expanding=True))


@cache
def _candidates(pg: bool) -> Any:
    # The few coverage rows matching the item first (MATERIALIZED on PostgreSQL, so the
    # planner knows they are few and reaches closures, capacity and loads by their keys
    # rather than hashing whole tables).
    m = (
        select(
            _pc.c.provider_id,
            _pc.c.category_id,
            _pc.c.area_level,
            _pc.c.fulfil,
            _pc.c.sandbox,
            _pr.c.base_area,
        )
        .select_from(_pc.join(_pr, _pr.c.id == _pc.c.provider_id))
        .where(
            _in(_pc.c.area_code, "areas", pg),
            _pc.c.service_tag == bindparam("service_tag"),
            _in(_pc.c.category_id, "categories", pg),
            _in(_pc.c.sandbox, "sandboxes", pg),
            _pr.c.active.is_(True),
        )
        .cte("matched")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    if pg:
        # Reached per matched provider by their primary keys (a LATERAL join), never by
        # hashing the whole capacity or closures table, which the planner would otherwise
        # choose for a couple of dozen providers. The LIMIT and OFFSET keep PostgreSQL
        # from flattening the subqueries back into plain joins (at most one closure
        # covers a day: they may not overlap).
        cl: Any = (
            select(_cl.c.first_day, _cl.c.last_day, _cl.c.reason)
            .where(
                _cl.c.provider_id == m.c.provider_id,
                _cl.c.first_day <= bindparam("day"),
                _cl.c.last_day >= bindparam("day"),
            )
            .limit(1)
            .lateral("closure")
        )
        cap: Any = (
            select(_cap.c.area_code, _cap.c.per_day)
            .where(
                _cap.c.provider_id == m.c.provider_id,
                _in(_cap.c.area_code, "cap_areas", pg),
            )
            .offset(0)
            .lateral("capacity")
        )
        with_closure = m.outerjoin(cl, true())
        with_capacity = with_closure.outerjoin(cap, true())
    else:  # SQLite has no LATERAL; it reaches them by key in a nested loop anyway
        cl, cap = _cl, _cap
        with_closure = m.outerjoin(
            _cl,
            and_(
                _cl.c.provider_id == m.c.provider_id,
                _cl.c.first_day <= bindparam("day"),
                _cl.c.last_day >= bindparam("day"),
            ),
        )
        # '' (overall) is in the list, so one IN reaches the rows by the primary key.
        with_capacity = with_closure.outerjoin(
            _cap,
            and_(_cap.c.provider_id == m.c.provider_id, _in(_cap.c.area_code, "cap_areas", pg)),
        )
    return select(
        m.c.provider_id,
        m.c.category_id,
        m.c.area_level,
        m.c.fulfil,
        m.c.sandbox,
        m.c.base_area,
        cl.c.first_day,
        cl.c.last_day,
        cl.c.reason,
        cap.c.area_code.label("cap_area"),
        cap.c.per_day,
        func.coalesce(_ld.c.dispatched, 0).label("cap_used"),
        func.coalesce(_ld_all.c.dispatched, 0).label("used_all"),
        _record(m, "met").label("met"),
        _record(m, "breached").label("breached"),
    ).select_from(
        with_capacity.outerjoin(
            _ld,
            and_(
                _ld.c.sandbox == bindparam("world"),
                _ld.c.provider_id == m.c.provider_id,
                _ld.c.day == bindparam("day"),
                _ld.c.area_code == cap.c.area_code,
            ),
        ).outerjoin(
            _ld_all,
            and_(
                _ld_all.c.sandbox == bindparam("world"),
                _ld_all.c.provider_id == m.c.provider_id,
                _ld_all.c.day == bindparam("day"),
                _ld_all.c.area_code == literal(""),
            ),
        )
    )


_CANDIDATES = Prepared.per_dialect(_candidates)


def candidates(
    conn: Connection,
    book: PolicyBook,
    *,
    areas: Sequence[str],
    category_id: str,
    service_tag: str,
    sandbox: str,
    day: date | None,
    record_since: datetime | None,
) -> list[Candidate]:
    """OH-3: every coverage row matching the item, with its provider's facts for ``day``.

    ``areas``: the administrative codes holding the address, most specific first.
    ``day`` None: no closure or load is read; ``record_since`` None: no on-time record.
    """
    if not areas:
        return []
    ancestry = book.catalog.ancestry(category_id)
    depth = {category: i for i, category in enumerate(ancestry)}
    rows = _CANDIDATES.rows(
        conn,
        {
            "areas": list(areas),
            "cap_areas": ["", *areas],
            "service_tag": service_tag,
            "categories": list(ancestry),
            "sandboxes": [sandbox, LIVE] if sandbox != LIVE else [LIVE],
            "world": sandbox,
            "day": day,
            # The rollup keeps whole hours: the record starts at the top of the hour.
            "record_since": (
                record_since.replace(minute=0, second=0, microsecond=0) if record_since else None
            ),
        },
    )
    grouped: dict[tuple[str, str, str, str, str], list[Any]] = {}
    for row in rows:
        key = (row.provider_id, row.category_id, row.area_level, row.fulfil, row.sandbox)
        grouped.setdefault(key, []).append(row)
    out: list[Candidate] = []
    for (provider, category, level, fulfil, world), group in grouped.items():
        first = group[0]
        capacities = {
            r.cap_area: Capacity(r.per_day, r.cap_used, r.cap_area)
            for r in group
            if r.cap_area is not None
        }
        if "" not in capacities and first.used_all:
            # No stated limit overall: the day's load still counts toward the score.
            capacities[""] = Capacity(None, first.used_all, "")
        out.append(
            Candidate(
                provider_id=provider,
                category_depth=depth[category],
                area_level=level,
                fulfil=fulfil,
                own_world=world == sandbox,
                closures=(
                    (Closure(first.first_day, first.last_day, first.reason),)
                    if first.first_day is not None
                    else ()
                ),
                capacities=tuple(capacities[a] for a in sorted(capacities)),
                met=int(first.met or 0),  # a sum: numeric on PostgreSQL
                breached=int(first.breached or 0),
                base_area=first.base_area,
            )
        )
    return out


def count_dispatch(
    conn: Connection, *, sandbox: str, provider_id: str, day: date, areas: Sequence[str]
) -> dict[str, int]:
    """Add one case to the provider's load for ``day``: overall ('') and in each of ``areas``;
    the counts after it, by area."""
    rows = [
        {
            "sandbox": sandbox,
            "provider_id": provider_id,
            "day": day,
            "area_code": a,
            "dispatched": 1,
        }
        for a in sorted({"", *areas})
    ]
    counted: dict[str, int] = {}
    for row in rows:  # one statement each, in key order: racing writers lock alike
        after = _COUNT_ONE.scalar(conn, row)
        counted[str(row["area_code"])] = int(after)
    return counted


def _count_one(dialect: Any) -> Any:
    statement = dialect.insert(_ld)
    return statement.on_conflict_do_update(
        index_elements=[_ld.c.sandbox, _ld.c.provider_id, _ld.c.day, _ld.c.area_code],
        set_={"dispatched": _ld.c.dispatched + 1},
    ).returning(_ld.c.dispatched)


# Built once (composing it per dispatch cost as much as running it).
_COUNT_ONE = Prepared(
    _count_one(postgresql),
    keys=("sandbox", "provider_id", "day", "area_code", "dispatched"),
    elsewhere=_count_one(sqlite),
)


def release_dispatch(
    conn: Connection, *, sandbox: str, provider_id: str, day: date, areas: Sequence[str]
) -> None:
    """Take back one case of :func:`count_dispatch`: one that went over in the same
    transaction, or one the provider no longer holds (a count never falls below zero)."""
    conn.execute(
        update(_ld)
        .where(
            _ld.c.sandbox == sandbox,
            _ld.c.provider_id == provider_id,
            _ld.c.day == day,
            _ld.c.area_code.in_(sorted({"", *areas})),
            _ld.c.dispatched > 0,
        )
        .values(dispatched=_ld.c.dispatched - 1)
    )
