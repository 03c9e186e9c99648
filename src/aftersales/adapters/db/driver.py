"""Hot statements run by the driver itself on PostgreSQL, below SQLAlchemy's execution layer.

Opening a case runs about ten statements. Through ``Connection.execute`` each
cost about as much CPU again as psycopg's own work: the compiled-statement cache
lookup, the parameters' processing, the result's set-up (psycopg's description
of every column) and the execution events. A :class:`Prepared` statement is a
SQLAlchemy Core statement compiled once for PostgreSQL; what it keeps — the SQL
text, each parameter's bind processor and each result column's result processor,
the same ones SQLAlchemy would apply — lets it run on the unit of work's own
psycopg connection, in its transaction, prepared on the server, with its rows
handed back as named tuples (``row.name`` and ``row[0]``, as SQLAlchemy's rows).

Everything else stays as SQLAlchemy does it:

- on SQLite, and for anything that is not a real SQLAlchemy connection, the
  statement goes through ``Connection.execute`` unchanged, so both databases
  give the same rows;
- a driver error is raised as the SQLAlchemy exception ``Connection.execute``
  would raise (``IntegrityError`` and the others);
- a statement that is not a plain SELECT marks the transaction as one that
  wrote, as the engine's execution event does (see ``engine.end_transaction``);
- a statement run when SQLAlchemy has no transaction open (after a commit) begins
  one, as SQLAlchemy's own next statement would, so commit() reaches the driver.

SQLAlchemy's execution events do not see these statements; :func:`statements_on`
collects every statement an engine runs, by either path (tests that count the
statements of a request use it).

Only statements whose parameters are all named bind parameters are taken
(an ``IN`` list is written ``= ANY(:ids)`` with an array parameter instead).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from sqlalchemy import Connection, Dialect, Engine, String, any_, bindparam, event
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from aftersales.adapters.db.engine import WROTE

_Processor = Any  # a callable of one value, or None


@dataclass(frozen=True)
class _Plan:
    sql: str
    defaults: dict[str, Any]  # values bound in the statement itself (a LIMIT, say)
    binds: tuple[tuple[str, _Processor], ...]  # parameters whose value is processed
    results: tuple[_Processor, ...] | None  # per result column; None: no column needs it
    row: type | None  # the named tuple of a row; None: the statement returns no rows
    writes: bool


class Prepared:
    """A Core statement (or ``text()``) compiled once for PostgreSQL and run by psycopg.

    ``keys``: for an INSERT or UPDATE, the parameter keys it will be given (which
    columns it sets); for other statements, leave it out. ``elsewhere``: the statement
    SQLite runs, when it is written differently there (an upsert of its dialect, an
    ``IN`` list for an array).
    """

    def __init__(
        self,
        statement: Executable,
        *,
        keys: Sequence[str] | None = None,
        elsewhere: Executable | None = None,
    ) -> None:
        self.statement = statement
        self.elsewhere = statement if elsewhere is None else elsewhere
        self.keys = None if keys is None else list(keys)
        # One plan per dialect (per engine); weak, so an engine's going frees its plan.
        self._plans: WeakKeyDictionary[Dialect, _Plan] = WeakKeyDictionary()

    @classmethod
    def per_dialect(cls, build: Callable[[bool], Executable]) -> Prepared:
        """The statement ``build(True)`` for PostgreSQL, ``build(False)`` run elsewhere (a
        builder that writes a list parameter as ``one_of(..., pg=pg)``)."""
        return cls(build(True), elsewhere=build(False))

    def rows(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Every row the statement returns (named tuples on PostgreSQL, SQLAlchemy rows
        elsewhere)."""
        if not _driver_runs(conn):
            return list(conn.execute(self.elsewhere, dict(params or {})).all())
        found: list[Any] = self._run(conn, params or {}, fetch=True)
        return found

    def first(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        found = self.rows(conn, params)
        return found[0] if found else None

    def scalar(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row (None when there is no row)."""
        row = self.first(conn, params)
        return None if row is None else row[0]

    def execute(self, conn: Connection, params: Mapping[str, Any] | None = None) -> int:
        """Run a statement that returns no rows; how many rows it touched."""
        if not _driver_runs(conn):
            return int(conn.execute(self.elsewhere, dict(params or {})).rowcount)
        return int(self._run(conn, params or {}, fetch=False))

    def _run(self, conn: Connection, params: Mapping[str, Any], *, fetch: bool) -> Any:
        plan = self._plans.get(conn.dialect)
        if plan is None:
            plan = self._plans[conn.dialect] = _plan(self.statement, self.keys, conn.dialect)
        values = {**plan.defaults, **params} if plan.defaults else dict(params)
        for name, process in plan.binds:
            if name in values:
                values[name] = process(values[name])
        if not conn.in_transaction():
            # SQLAlchemy begins a transaction at a connection's next statement of its own;
            # one run here must count as that statement, or a later commit() would not
            # reach the driver (and a ROLLBACK at check-in would undo what this wrote).
            conn.begin()
        fairy = conn.connection
        driver = fairy.driver_connection
        cursor = fairy.info.get(_CURSOR)
        if cursor is None or cursor.closed or cursor.connection is not driver:
            cursor = fairy.info[_CURSOR] = driver.cursor()  # type: ignore[union-attr]

        if _WATCHERS:
            for engine, seen in _WATCHERS:
                if engine is conn.engine:
                    seen.append(plan.sql)
        try:
            cursor.execute(plan.sql, values, prepare=True)
        except psycopg.Error as exc:
            raise DBAPIError.instance(plan.sql, values, exc, psycopg.Error) from exc
        if plan.writes:
            conn.info[WROTE] = True
        if not fetch:
            return cursor.rowcount
        if plan.row is None:
            return []
        raw = cursor.fetchall()
        make = plan.row._make  # type: ignore[attr-defined]
        if plan.results is None:
            return [make(r) for r in raw]
        results = plan.results
        return [
            make([v if p is None else p(v) for p, v in zip(results, r, strict=True)]) for r in raw
        ]


def one_of(column: Any, name: str, *, pg: bool) -> Any:
    """``column`` equal to one of the values given as parameter ``name``: ``= ANY(:name)``
    with one array on PostgreSQL (one statement text whatever the count, as a prepared
    statement needs), an ``IN`` list expanded by SQLAlchemy elsewhere."""
    if pg:
        return column == any_(bindparam(name, type_=postgresql.ARRAY(String)))
    return column.in_(bindparam(name, expanding=True))


_CURSOR = "aftersales_cursor"  # the driver cursor kept with a pooled connection
_WATCHERS: list[tuple[Engine, list[str]]] = []  # see statements_on


@contextmanager
def statements_on(engine: Engine) -> Iterator[list[str]]:
    """The SQL text of every statement run on ``engine`` while the block runs, in order:
    those run through SQLAlchemy and those a :class:`Prepared` ran by the driver."""
    seen: list[str] = []

    def through_sqlalchemy(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", through_sqlalchemy)
    _WATCHERS.append((engine, seen))
    try:
        yield seen
    finally:
        _WATCHERS.remove((engine, seen))
        event.remove(engine, "before_cursor_execute", through_sqlalchemy)


def _driver_runs(conn: Connection) -> bool:
    return isinstance(conn, Connection) and conn.dialect.name == "postgresql"


def _row_type(names: Sequence[str]) -> type:
    """A named tuple for rows with these column names (odd names become ``_0``, ``_1`` …)."""
    return namedtuple("Row", list(names), rename=True)


def _plan(statement: Executable, keys: list[str] | None, dialect: Dialect) -> _Plan:
    assert isinstance(statement, ClauseElement)
    compiled = statement.compile(dialect=dialect, column_keys=keys)
    assert isinstance(compiled, SQLCompiler)
    if any(b.expanding for b in compiled.binds.values()):
        raise ValueError("a prepared statement takes no IN list; use = ANY(:array) instead")
    binds = tuple(
        (name, process)
        for name, process in compiled._bind_processors.items()
        if process is not None and not isinstance(process, tuple)
    )
    columns = compiled._result_columns
    sql = compiled.string
    row: type | None = None
    results: tuple[_Processor, ...] | None = None
    if columns:
        row = _row_type([c[0] for c in columns])
        processors = tuple(
            c[3].dialect_impl(dialect).result_processor(dialect, None) for c in columns
        )
        results = processors if any(p is not None for p in processors) else None
    elif sql.lstrip().startswith(("SELECT", "WITH")):  # text(): one column, untyped
        row = _row_type(["value"])
    preset = compiled.construct_params(_check=False) or {}
    defaults = {
        name: value
        for name, value in preset.items()
        if name not in (keys or ()) and compiled.binds[name].value is not None
    }
    return _Plan(
        sql=sql,
        defaults=defaults,
        binds=binds,
        results=results,
        row=row,
        writes=not sql.lstrip().startswith("SELECT"),
    )
