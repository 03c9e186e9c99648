"""Recording the rows a repository writes for a brand-new case, without a database.

The bulk loaders of the tests and benchmarks build one case per opening instant
in the domain, record the rows ``CaseRepository.add`` writes for it, and copy
them for every other case with their ids put in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Dialect, Insert, Table

Row = dict[str, Any]


class _Inserted:
    """What an insert answers: how many rows it wrote (all of them: nothing is there yet)."""

    def __init__(self, rowcount: int) -> None:
        self.rowcount = rowcount

    def first(self) -> tuple[int] | None:
        return (1,) if self.rowcount else None

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(
            f"the recording connection records inserts only; the repository wanted .{name}"
        )


class RecordingConnection:
    """Stands in for a Connection while ``CaseRepository.add`` runs and keeps the rows it inserts.

    For a brand-new case every write of ``save`` is an INSERT (the deadline
    upsert cannot conflict: its case did not exist). The recorder takes the
    column values from the statement itself — the ``values(...)`` of a single
    row or the parameter list of an ``executemany`` — so nothing is re-derived.
    Anything else (an update, a delete, a statement whose result is read) stops
    with an error rather than being guessed at.
    """

    def __init__(self, dialect: Dialect, tables: Iterable[Table]) -> None:
        self.dialect = dialect
        self.tables = {t.name: t for t in tables}
        self.rows: dict[str, list[Row]] = defaultdict(list)

    def execute(self, statement: Any, parameters: Any = None) -> _Inserted:
        if not isinstance(statement, Insert):
            raise AssertionError(f"the recording connection records inserts only, not {statement}")
        table = statement.table
        if table.name not in self.tables:
            raise AssertionError(f"unexpected insert into {table.name} while adding a new case")
        if parameters is None:
            rows = [self._values_of(statement)]
        elif isinstance(parameters, dict):
            rows = [dict(parameters)]
        else:
            rows = [dict(r) for r in parameters]
        self.rows[table.name].extend(rows)
        return _Inserted(len(rows))

    def _values_of(self, statement: Insert) -> Row:
        table = statement.table
        # Fast path: the statement's own ``values(...)`` (SQLAlchemy keeps them, unrendered,
        # as bound parameters). Compiling every statement instead costs ~2 ms per case.
        given = getattr(statement, "_values", None)
        if given:
            row = {str(getattr(k, "key", k)): getattr(v, "value", v) for k, v in given.items()}
        else:
            row = dict(statement.compile(dialect=self.dialect).params)
        # Bound values of an ON CONFLICT clause carry generated names; keep the row's columns.
        return {k: v for k, v in row.items() if k in table.c}

    def take(self) -> dict[str, list[Row]]:
        """The rows recorded so far, by table name; the recorder starts afresh."""
        rows, self.rows = dict(self.rows), defaultdict(list)
        return rows
