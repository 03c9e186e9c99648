"""Master data, inbound events and import jobs in SQL (the ports of ``services/ports.py``).

Rows are written as upserts, one statement per table per batch; a brand's
centres and a provider's coverage are replaced, an order's items upserted.
Reads fetch a batch's rows and their lists in one query per table.

On PostgreSQL a batch of :data:`COPY_FROM_ROWS` rows or more travels by ``COPY``
(psycopg's copy protocol, in the caller's transaction) rather than as an
``executemany``: rows the caller says are new are copied straight into their
table, under a savepoint so that one stored meanwhile by another transaction
sends the batch the other way; the other rows are copied into a temporary
staging table and merged with one ``INSERT … SELECT … ON CONFLICT DO UPDATE``.
SQLite (and a small batch) uses a multi-row ``INSERT … ON CONFLICT DO UPDATE``.
Either way the stored rows are the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Dialect,
    String,
    Table,
    any_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.bulk import _as_sqlalchemy_errors
from aftersales.adapters.db.reference import among, order_item_from_row, order_item_query
from aftersales.domain.eligibility import OrderItem

_TABLES: dict[str, Table] = {
    "brand": s.brands,
    "merchant": s.merchants,
    "provider": s.providers,
    "product": s.products,
    "buyer": s.buyers,
    "order": s.orders,
    "order_item": s.order_items,
}
_CHILDREN = {"brand": "centres", "provider": "coverage", "order": "items"}
_CENTRE_COLUMNS = ("name", "city", "address", "phone", "hours")
_COVERAGE_COLUMNS = (
    "area_code",
    "area_name",
    "area_level",
    "category_id",
    "service_tag",
    "fulfil",
)
# From this many rows a PostgreSQL upsert goes by COPY; a smaller one is one executemany.
COPY_FROM_ROWS = 100
_UNIQUE_VIOLATION = "23505"


def upsert_rows(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *, new: bool = False
) -> None:
    """INSERT … ON CONFLICT (primary key) DO UPDATE of the columns the rows carry.

    ``new``: the caller found none of the rows stored, so on PostgreSQL they are
    copied in directly (falling back to the merge if one was stored meanwhile).
    Rows with the same key: the last one given is stored. Keys of a row that are
    not columns of ``table`` are left out.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_FROM_ROWS:
        _copy_upsert(conn, table, rows, new=new)
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    keys = [c.name for c in table.primary_key.columns]
    others = {
        c.name: statement.excluded[c.name]
        for c in table.columns
        if c.name not in keys and c.name in rows[0]
    }
    statement = (
        statement.on_conflict_do_update(index_elements=keys, set_=others)
        if others
        else statement.on_conflict_do_nothing(index_elements=keys)
    )
    conn.execute(statement, [_columns(table, r) for r in rows])


@cache
def _by_ids(table: Table, columns: tuple[str, ...] | None, joined: bool) -> Any:
    """The rows of ``table`` (only ``columns`` and the id, if given) whose id is among
    the ids given: as one comma-separated text (``:ids``) the server splits, or as
    an expanding list (``:id_list``). Built once per shape."""
    query = (
        select(table)
        if columns is None
        else select(table.c.id, *(table.c[c] for c in columns if c != "id"))
    )
    if joined:
        ids = func.string_to_array(bindparam("ids", type_=String()), ",")
        return query.where(table.c.id == any_(ids))
    return query.where(table.c.id.in_(bindparam("id_list", expanding=True)))


def _columns(table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    return {c.name: row[c.name] for c in table.columns if c.name in row}


def _copy_upsert(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *, new: bool
) -> None:
    columns = tuple(c.name for c in table.columns if c.name in rows[0])
    keys = tuple(c.name for c in table.primary_key.columns)
    values = _copy_values(conn.dialect, table, columns, rows)
    if len(keys) == 1 and len({row[keys[0]] for row in rows}) < len(rows):
        last = {row[keys[0]]: value for row, value in zip(rows, values, strict=True)}
        values = list(last.values())  # one row a key (the last given), as the statements do
    names = ", ".join(f'"{c}"' for c in columns)
    if new:
        try:
            with conn.begin_nested():
                _copy(conn, f'COPY "{table.name}" ({names}) FROM STDIN', values)
            return
        except IntegrityError as exc:
            if getattr(exc.orig, "sqlstate", None) != _UNIQUE_VIOLATION:
                raise
            # Another transaction stored one of them since the caller looked: merge.
    staging = f"_staging_{table.name}"
    conflict = ", ".join(f'"{c}"' for c in keys)
    sets = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in keys)
    _run(
        conn,
        # A table of the session's own, emptied after each use (and gone with the session).
        f'CREATE TEMPORARY TABLE IF NOT EXISTS "{staging}" '
        f'AS SELECT * FROM "{table.name}" WITH NO DATA',
    )
    _copy(conn, f'COPY "{staging}" ({names}) FROM STDIN', values)
    _run(
        conn,
        f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM "{staging}" '
        f"ON CONFLICT ({conflict}) " + (f"DO UPDATE SET {sets}" if sets else "DO NOTHING"),
    )
    _run(conn, f'TRUNCATE "{staging}"')


def _copy_values(
    dialect: Dialect, table: Table, columns: tuple[str, ...], rows: Sequence[Mapping[str, Any]]
) -> list[Any]:
    """The rows' values in ``columns`` order as COPY takes them: instants through their
    column type (checked for a zone, in UTC), JSON as its text."""
    pick = itemgetter(*columns)
    values = [list(pick(row)) if len(columns) > 1 else [pick(row)] for row in rows]
    for i, name in enumerate(columns):
        column_type = table.c[name].type
        if isinstance(column_type, JSON):
            # Rows often share one list (an order's items, their product's badges):
            # its text is made once. (The lists live as long as the rows.)
            texts: dict[int, str] = {}
            for value in values:
                given = value[i]
                if given is None and column_type.none_as_null:
                    continue
                text = texts.get(id(given))
                if text is None:
                    text = texts[id(given)] = json.dumps(given)
                value[i] = text
            continue
        process = column_type.bind_processor(dialect)
        if process is not None:
            for value in values:
                if value[i] is not None:
                    value[i] = process(value[i])
    return values


def _run(conn: Connection, sql: str) -> None:
    """One statement on the driver's cursor, in the connection's transaction."""
    driver = conn.connection.driver_connection
    assert driver is not None
    with _as_sqlalchemy_errors(sql), driver.cursor() as cursor:
        cursor.execute(sql.encode())


def _copy(conn: Connection, sql: str, values: Sequence[Sequence[Any]]) -> None:
    driver = conn.connection.driver_connection
    assert driver is not None
    with _as_sqlalchemy_errors(sql), driver.cursor() as cursor, cursor.copy(sql.encode()) as copy:
        write = copy.write_row
        for value in values:
            write(value)


class SqlMasterData:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def stored(
        self, kind: str, ids: Sequence[str], *, columns: Sequence[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        table = _TABLES[kind]
        if kind == "order_item" and columns is None:
            columns = ("order_id",)  # the memory adapter answers the same
        shape = None if columns is None else tuple(columns)
        on_postgresql = self.conn.dialect.name == "postgresql"
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 5000):
            chunk = list(ids[start : start + 5000])
            # On PostgreSQL the ids go as one text (an array parameter is built element by
            # element in Python); ids are never written with commas, but if one is, the
            # ids go as a list.
            joined = ",".join(chunk)
            if on_postgresql and joined.count(",") == len(chunk) - 1:
                result = self.conn.execute(_by_ids(table, shape, True), {"ids": joined})
            else:
                result = self.conn.execute(_by_ids(table, shape, False), {"id_list": chunk})
            names = list(result.keys())
            for values in result:
                found[values[0]] = dict(zip(names, values, strict=True))
        if columns is None:
            self._children(kind, found)
        return found

    def _children(self, kind: str, rows: dict[str, dict[str, Any]]) -> None:
        if kind not in _CHILDREN or not rows:
            return
        name = _CHILDREN[kind]
        for row in rows.values():
            row[name] = []
        ids = list(rows)
        if kind == "brand":
            sc = s.service_centres
            query = (
                select(sc.c.brand_id, *(sc.c[c] for c in _CENTRE_COLUMNS))
                .where(among(self.conn, sc.c.brand_id, ids))
                .order_by(sc.c.brand_id, sc.c.id)
            )
            for r in self.conn.execute(query):
                rows[r.brand_id][name].append({c: r._mapping[c] for c in _CENTRE_COLUMNS})
        elif kind == "provider":
            pc = s.provider_coverage
            query = (
                select(pc.c.provider_id, *(pc.c[c] for c in _COVERAGE_COLUMNS))
                .where(among(self.conn, pc.c.provider_id, ids))
                .order_by(pc.c.provider_id, pc.c.area_code, pc.c.category_id, pc.c.service_tag)
            )
            for r in self.conn.execute(query):
                rows[r.provider_id][name].append({c: r._mapping[c] for c in _COVERAGE_COLUMNS})
            self._calendar_of(rows)
        else:
            oi = s.order_items
            query = select(oi).where(among(self.conn, oi.c.order_id, ids)).order_by(oi.c.id)
            for r in self.conn.execute(query):
                rows[r.order_id][name].append(dict(r._mapping))

    def _calendar_of(self, rows: dict[str, dict[str, Any]]) -> None:
        """OH-3: each provider's daily capacity, per-area capacity and closures."""
        ids = list(rows)
        for row in rows.values():
            row["daily_capacity"] = None
            row["area_capacity"] = []
            row["closures"] = []
        cap, cl = s.provider_capacity, s.provider_closures
        query = (
            select(cap.c.provider_id, cap.c.area_code, cap.c.per_day)
            .where(among(self.conn, cap.c.provider_id, ids))
            .order_by(cap.c.provider_id, cap.c.area_code)
        )
        for r in self.conn.execute(query):
            if r.area_code:
                rows[r.provider_id]["area_capacity"].append(
                    {"area_code": r.area_code, "per_day": r.per_day}
                )
            else:
                rows[r.provider_id]["daily_capacity"] = r.per_day
        query = (
            select(cl.c.provider_id, cl.c.first_day, cl.c.last_day, cl.c.reason)
            .where(among(self.conn, cl.c.provider_id, ids))
            .order_by(cl.c.provider_id, cl.c.first_day)
        )
        for c in self.conn.execute(query):
            rows[c.provider_id]["closures"].append(
                {"first_day": c.first_day, "last_day": c.last_day, "reason": c.reason}
            )

    def _write_calendar(self, rows: Sequence[Mapping[str, Any]], ids: list[str]) -> None:
        """Replace the capacity and closures of the providers written (the lists are whole)."""
        cap, cl = s.provider_capacity, s.provider_closures
        self.conn.execute(delete(cap).where(among(self.conn, cap.c.provider_id, ids)))
        self.conn.execute(delete(cl).where(among(self.conn, cl.c.provider_id, ids)))
        capacity = [
            {"provider_id": r["id"], "sandbox": r["sandbox"], "area_code": "", "per_day": daily}
            for r in rows
            if (daily := r.get("daily_capacity")) is not None
        ] + [
            {"provider_id": r["id"], "sandbox": r["sandbox"], **a}
            for r in rows
            for a in r.get("area_capacity", [])
        ]
        if capacity:
            self.conn.execute(insert(cap), capacity)
        closures = [
            {"provider_id": r["id"], "sandbox": r["sandbox"], **c}
            for r in rows
            for c in r.get("closures", [])
        ]
        if closures:
            self.conn.execute(insert(cl), closures)

    def write(self, kind: str, rows: Sequence[Mapping[str, Any]], *, new: bool = False) -> None:
        if not rows:
            return
        upsert_rows(self.conn, _TABLES[kind], rows, new=new)
        ids = [str(r["id"]) for r in rows]
        if kind == "brand":
            sc = s.service_centres
            self.conn.execute(delete(sc).where(among(self.conn, sc.c.brand_id, ids)))
            centres = [{"brand_id": r["id"], **c} for r in rows for c in r.get("centres", [])]
            if centres:
                self.conn.execute(insert(sc), centres)
        elif kind == "provider":
            pc = s.provider_coverage
            self.conn.execute(delete(pc).where(among(self.conn, pc.c.provider_id, ids)))
            coverage = [
                {"provider_id": r["id"], "sandbox": r["sandbox"], **c}
                for r in rows
                for c in r.get("coverage", [])
            ]
            if coverage:
                self.conn.execute(insert(pc), coverage)
            self._write_calendar(rows, ids)
        elif kind == "order":
            items = [i for r in rows for i in r.get("items", [])]
            upsert_rows(self.conn, s.order_items, items, new=new)

    def page(
        self,
        kind: str,
        *,
        sandboxes: Sequence[str],
        after: str | None,
        limit: int,
        filters: Mapping[str, str],
    ) -> list[dict[str, Any]]:
        table = _TABLES[kind]
        query = select(table).where(table.c.sandbox.in_(list(sandboxes)))
        for column, value in filters.items():
            if column not in table.c:
                continue
            if column == "active":
                query = query.where(table.c.active.is_(value in ("true", "1", "yes")))
            else:
                query = query.where(table.c[column] == value)
        if after is not None:
            query = query.where(table.c.id > after)
        rows = {
            r.id: dict(r._mapping)
            for r in self.conn.execute(query.order_by(table.c.id).limit(limit))
        }
        self._children(kind, rows)
        return list(rows.values())

    def set_item_status(
        self, order_id: str, item_ids: Sequence[str] | None, status: str, **changes: Any
    ) -> int:
        oi = s.order_items
        statement = update(oi).where(oi.c.order_id == order_id)
        if item_ids is not None:
            statement = statement.where(oi.c.id.in_(list(item_ids)))
        result = self.conn.execute(statement.values(status=status, **changes))
        return int(result.rowcount or 0)

    def order_items(
        self,
        *,
        sandboxes: Sequence[str] | None,
        buyer: str | None = None,
        merchant: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> list[tuple[str, OrderItem]]:
        o, oi = s.orders, s.order_items
        query = order_item_query().add_columns(o.c.sandbox)
        if sandboxes is not None:
            query = query.where(o.c.sandbox.in_(list(sandboxes)))
        if buyer is not None:
            query = query.where(o.c.buyer_account == buyer)
        if merchant is not None:
            query = query.where(o.c.merchant_id == merchant)
        if after is not None:
            query = query.where(oi.c.id > after)
        rows = self.conn.execute(query.order_by(oi.c.id).limit(limit))
        return [(r.sandbox, order_item_from_row(r)) for r in rows]


class SqlInbox:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, event: Mapping[str, Any]) -> bool:
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(s.inbound_events).values(**event))
        except IntegrityError:
            return False
        return True

    def get(self, sandbox: str, event_id: str) -> dict[str, Any] | None:
        e = s.inbound_events
        row = self.conn.execute(select(e).where(e.c.sandbox == sandbox, e.c.id == event_id)).first()
        return None if row is None else dict(row._mapping)

    def set_outcome(self, sandbox: str, event_id: str, outcome: str, message: str) -> None:
        e = s.inbound_events
        self.conn.execute(
            update(e)
            .where(e.c.sandbox == sandbox, e.c.id == event_id)
            .values(outcome=outcome, message=message)
        )


# Built once: the import loop asks every poll interval. SQLite renders no FOR UPDATE.
_NEXT_QUEUED = (
    select(s.import_jobs.c.id)
    .where(s.import_jobs.c.status == "queued")
    .order_by(s.import_jobs.c.created_at, s.import_jobs.c.id)
    .limit(1)
    .with_for_update(skip_locked=True)
)


class SqlImportJobs:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, job: Mapping[str, Any]) -> None:
        self.conn.execute(insert(s.import_jobs).values(**job))

    def get(self, job_id: str) -> dict[str, Any] | None:
        j = s.import_jobs
        row = self.conn.execute(select(j).where(j.c.id == job_id)).first()
        return None if row is None else dict(row._mapping)

    def update(self, job_id: str, **changes: Any) -> None:
        j = s.import_jobs
        self.conn.execute(update(j).where(j.c.id == job_id).values(**changes))

    def claim_next(self, at: datetime) -> dict[str, Any] | None:
        j = s.import_jobs
        row = self.conn.execute(_NEXT_QUEUED).first()
        if row is None:
            return None
        claimed = self.conn.execute(
            update(j)
            .where(j.c.id == row.id, j.c.status == "queued")
            .values(status="running", started_at=at)
        )
        if not claimed.rowcount:
            return None
        return self.get(row.id)

    def list(self, *, limit: int = 50) -> list[dict[str, Any]]:
        j = s.import_jobs
        rows = self.conn.execute(select(j).order_by(j.c.created_at.desc(), j.c.id).limit(limit))
        return [dict(r._mapping) for r in rows]
