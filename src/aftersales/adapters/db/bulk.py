"""Writing many rows at once: one statement (or one COPY) per table instead of one per row.

The repository composes rows as dicts keyed by column name; these helpers write
a list of them in bulk:

- :func:`insert_rows` — ``COPY … FROM STDIN`` on PostgreSQL (inside the caller's
  transaction; a unique-key clash fails the whole COPY, as a plain INSERT would);
- :func:`update_rows` — one ``UPDATE … FROM json_to_recordset(:rows)``, each row
  found by key columns (a version among them makes it an optimistic check);
  returns how many rows matched;
- :func:`delete_rows` — one ``DELETE … USING json_to_recordset(:rows)``;
- :func:`add_to_rows` — one ``INSERT … ON CONFLICT DO UPDATE`` adding amounts
  (balances), its rows applied in the order given.

On PostgreSQL the rows of an update, delete or addition travel as one JSON
document: the statement is the same whatever the number of rows (so the driver
prepares it once) and one parameter replaces an array per column. Elsewhere
(SQLite) each helper is an ``executemany``.

Values go through the column types as SQLAlchemy would bind them (instants are
checked for a zone and turned to UTC by :class:`UtcDateTime`; JSON is
serialised), so the stored rows are the ones a per-row statement would write.

:class:`RecordingConnection` stands in for a connection while the repository
*adds new cases* and keeps the rows it inserts, so set-up code (bulk imports,
load tests, benchmarks) can write many new cases with the repository's own rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Dialect, Table, TextClause, bindparam, insert, text
from sqlalchemy.exc import DBAPIError

from aftersales.adapters.db.driver import Prepared

Row = dict[str, Any]
_Processor = Callable[[Any], Any]


def _is_postgresql(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


@cache
def _processors(
    table: Table, columns: tuple[str, ...], dialect: Dialect
) -> tuple[_Processor | None, ...]:
    """Per column: what turns a Python value into what the driver is given (None: as is).

    JSON becomes its text; like SQLAlchemy's JSON type (``none_as_null`` off), a None
    is stored as JSON ``null``.
    """
    found: list[_Processor | None] = []
    for name in columns:
        column_type = table.c[name].type
        if isinstance(column_type, JSON):
            found.append(_json_or_null if column_type.none_as_null else _dumps)
        else:
            found.append(column_type.bind_processor(dialect))
    return tuple(found)


def _dumps(value: Any) -> str:
    """JSON text, by orjson: a chunk of the deadline engine encodes thousands of
    reasons and events, and the standard library's encoder was a tenth of its time."""
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()


def _json_or_null(value: Any) -> Any:
    return None if value is None else _dumps(value)


def driver_values(
    table: Table, columns: tuple[str, ...], rows: Iterable[Row], dialect: Dialect
) -> list[list[Any]]:
    """The rows' values in ``columns`` order as the driver is given them (for
    :func:`copy_tuples`): each through its column type's processing, JSON as text."""
    processors = _processors(table, columns, dialect)
    values = [[row[c] for c in columns] for row in rows]
    for i, processor in enumerate(processors):
        if processor is not None:
            for value in values:
                value[i] = processor(value[i])
    return values


def insert_rows(conn: Connection, table: Table, rows: Sequence[Row]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in one go."""
    if not rows:
        return
    if not _is_postgresql(conn):
        conn.execute(insert(table), list(rows))
        return
    columns = tuple(rows[0])
    copy_tuples(conn, table, columns, driver_values(table, columns, rows, conn.dialect))


@contextmanager
def _as_sqlalchemy_errors(sql: str) -> Iterator[None]:
    """Driver errors from COPY (run on the driver's cursor) as SQLAlchemy raises them elsewhere."""
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, None, exc, psycopg.Error) from exc


def copy_tuples(
    conn: Connection, table: Table, columns: Sequence[str], values: Iterable[Sequence[Any]]
) -> None:
    """COPY already-processed values (in ``columns`` order) into ``table`` (PostgreSQL)."""
    names = ", ".join(f'"{c}"' for c in columns)
    sql = f'COPY "{table.name}" ({names}) FROM STDIN'
    raw = conn.connection.driver_connection
    assert raw is not None
    with _as_sqlalchemy_errors(sql), raw.cursor() as cursor, cursor.copy(sql) as copy:
        for value in values:
            copy.write_row(value)


# On PostgreSQL the rows travel as one JSON document, unpacked by json_to_recordset:
# one constant statement (prepared once by the driver) and one parameter, however
# many rows — arrays per column cost more to send, element by element.


def _document(
    table: Table, names: tuple[tuple[str, str], ...], rows: Sequence[Row], dialect: Dialect
) -> str:
    """``rows`` as a JSON array of objects; ``names`` pairs each row key with its column."""
    processors = _processors(table, tuple(column for _, column in names), dialect)
    keys = [key for key, _ in names]
    records = []
    for n, row in enumerate(rows):
        record = {"_n": n}
        for key, processor in zip(keys, processors, strict=True):
            value = row[key]
            record[key] = value if processor is None else processor(value)
        records.append(record)
    return _dumps(records)


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot send {value!r} as JSON")


def _recordset(
    dialect: Dialect, table: Table, names: tuple[tuple[str, str], ...], param: str = "rows"
) -> str:
    """``json_to_recordset(:rows) AS v(...)``, JSON columns arriving as text."""
    defs = ", ".join(
        f'"{key}" '
        + ("TEXT" if isinstance(table.c[column].type, JSON) else _sql_type(dialect, table, column))
        for key, column in names
    )
    return f'json_to_recordset(CAST(:{param} AS JSON)) AS v("_n" BIGINT, {defs})'


def _sql_type(dialect: Dialect, table: Table, column: str) -> str:
    return str(table.c[column].type.compile(dialect))


def _value(table: Table, key: str, column: str) -> str:
    if isinstance(table.c[column].type, JSON):
        return f'CAST(v."{key}" AS JSON)'
    return f'v."{key}"'


@cache
def _update_sql(
    dialect: Dialect, table: Table, keys: tuple[tuple[str, str], ...], columns: tuple[str, ...]
) -> TextClause:
    names = tuple((key, column) for column, key in keys) + tuple((c, c) for c in columns)
    sets = ", ".join(f'"{c}" = {_value(table, c, c)}' for c in columns)
    where = " AND ".join(f't."{column}" = v."{key}"' for column, key in keys)
    return text(
        f'UPDATE "{table.name}" AS t SET {sets} '
        f"FROM {_recordset(dialect, table, names)} WHERE {where}"
    )


def update_rows(
    conn: Connection, table: Table, keys: Mapping[str, str], rows: Sequence[Row]
) -> int:
    """Update ``rows`` of ``table`` in one go; return how many rows matched.

    ``keys`` maps a column to the row key holding the value it must equal (say
    ``{"id": "_id", "version": "_version"}``: a version check); every other key
    of a row is a column to set. All rows carry the same keys.
    """
    if not rows:
        return 0
    key_names = set(keys.values())
    columns = tuple(c for c in rows[0] if c not in key_names)
    if not _is_postgresql(conn):
        statement = table.update()
        for column, key in keys.items():
            statement = statement.where(table.c[column] == bindparam(key))
        return int(conn.execute(statement, list(rows)).rowcount)
    key_pairs = tuple(keys.items())
    names = tuple((key, column) for column, key in key_pairs) + tuple((c, c) for c in columns)
    document = _document(table, names, rows, conn.dialect)
    sql = _update_sql(conn.dialect, table, key_pairs, columns)
    return int(conn.execute(sql, {"rows": document}).rowcount)


Family = tuple[tuple[Table, tuple[str, ...]], ...]  # (table, its columns), the parent first


@cache
def _family_sql(dialect: Dialect, family: Family, on_conflict: str) -> Prepared:
    """One statement: the parent row (``ON CONFLICT`` ``on_conflict``), and the children's
    rows only when the parent row was written; it returns the parent rows written."""
    parts = []
    for n, (table, columns) in enumerate(family):
        names = ", ".join(f'"{c}"' for c in columns)
        selected = ", ".join(_value(table, c, c) for c in columns)
        recordset = _recordset(dialect, table, tuple((c, c) for c in columns), f"rows_{n}")
        if n == 0:
            parts.append(
                f'parent AS (INSERT INTO "{table.name}" ({names}) SELECT {selected} '
                f"FROM {recordset} {on_conflict} RETURNING 1)"
            )
        else:
            parts.append(
                f'child_{n} AS (INSERT INTO "{table.name}" ({names}) SELECT {selected} '
                f'FROM {recordset} WHERE EXISTS (SELECT 1 FROM parent) ORDER BY v."_n")'
            )
    return Prepared(text(f"WITH {', '.join(parts)} SELECT count(*) FROM parent"))


def insert_family(
    conn: Connection,
    parent: tuple[Table, Row],
    children: Sequence[tuple[Table, Sequence[Row]]],
    *,
    on_conflict: str,
) -> bool:
    """Insert a parent row and its children's rows as one statement (PostgreSQL only).

    ``on_conflict`` is the parent's ``ON CONFLICT … DO NOTHING`` clause: when it
    leaves the parent out, no child row is written either, and this returns False.
    The children's foreign keys to the parent are checked at the end of the
    statement, when the parent row is there. A child table with no rows is left
    out; the statement's text is the same for the same tables and columns, so the
    driver prepares it once.
    """
    if not _is_postgresql(conn):
        raise ValueError(
            "insert_family is PostgreSQL's; elsewhere insert the rows one table at a time"
        )
    table, row = parent
    members = [(table, [row])] + [(t, rows) for t, rows in children if rows]
    family = tuple((t, tuple(rows[0])) for t, rows in members)
    params = {
        f"rows_{n}": _document(t, tuple((c, c) for c in columns), rows, conn.dialect)
        for n, ((t, columns), (_, rows)) in enumerate(zip(family, members, strict=True))
    }
    return bool(_family_sql(conn.dialect, family, on_conflict).scalar(conn, params))


@cache
def _delete_sql(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> TextClause:
    names = tuple((c, c) for c in keys)
    where = " AND ".join(f't."{c}" = v."{c}"' for c in keys)
    return text(
        f'DELETE FROM "{table.name}" AS t USING {_recordset(dialect, table, names)} WHERE {where}'
    )


def delete_rows(conn: Connection, table: Table, keys: Sequence[str], rows: Sequence[Row]) -> int:
    """Delete the rows of ``table`` whose ``keys`` columns equal one of ``rows``; return how many."""
    if not rows:
        return 0
    key_columns = tuple(keys)
    if not _is_postgresql(conn):
        statement = table.delete()
        for c in key_columns:
            statement = statement.where(table.c[c] == bindparam(f"_key_{c}"))
        keyed = [{f"_key_{c}": row[c] for c in key_columns} for row in rows]
        return int(conn.execute(statement, keyed).rowcount)
    document = _document(table, tuple((c, c) for c in key_columns), rows, conn.dialect)
    sql = _delete_sql(conn.dialect, table, key_columns)
    return int(conn.execute(sql, {"rows": document}).rowcount)


@cache
def _add_sql(dialect: Dialect, table: Table, keys: tuple[str, ...], amount: str) -> TextClause:
    columns = (*keys, amount)
    names = ", ".join(f'"{c}"' for c in columns)
    selected = ", ".join(_value(table, c, c) for c in columns)
    conflict = ", ".join(f'"{c}"' for c in keys)
    recordset = _recordset(dialect, table, tuple((c, c) for c in columns))
    return text(
        f'INSERT INTO "{table.name}" ({names}) SELECT {selected} '
        f'FROM {recordset} ORDER BY v."_n" '
        f'ON CONFLICT ({conflict}) DO UPDATE SET "{amount}" = '
        f'"{table.name}"."{amount}" + excluded."{amount}"'
    )


def add_to_rows(
    conn: Connection, table: Table, keys: Sequence[str], amount: str, rows: Sequence[Row]
) -> None:
    """Add each row's ``amount`` to the row of ``table`` with its ``keys`` (made if missing).

    Rows are applied in the order given, so a caller that sorts them takes the
    row locks in that order. ``keys`` must be the table's primary key.
    """
    if not rows:
        return
    key_columns = tuple(keys)
    if not _is_postgresql(conn):
        from sqlalchemy.dialects import sqlite

        statement = sqlite.insert(table)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=list(key_columns),
                set_={amount: table.c[amount] + statement.excluded[amount]},
            ),
            list(rows),
        )
        return
    columns = (*key_columns, amount)
    document = _document(table, tuple((c, c) for c in columns), rows, conn.dialect)
    conn.execute(_add_sql(conn.dialect, table, key_columns, amount), {"rows": document})
