"""The statements the case repository runs, built once per dialect.

Composing a statement per row (``.values(**row)``) cost more than running it;
these are built at import and executed with lists of parameter rows
(executemany). Updates name their keys as ``_id``/``_case_id`` parameters so a
row can carry both the new values and the key it updates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite

from aftersales.adapters.db import schema as s

# Composing a statement per row (``.values(**row)``) cost more than running it; these
# are built once and executed with a list of parameter rows (executemany).

UPDATE_CASE = update(s.cases).where(
    s.cases.c.id == bindparam("_id"), s.cases.c.version == bindparam("_version")
)
UPDATE_CLOCK = update(s.clocks).where(
    s.clocks.c.case_id == bindparam("_case_id"), s.clocks.c.clock_id == bindparam("_clock_id")
)
CASE_KEYS = {"id": "_id", "version": "_version"}
CLOCK_KEYS = {"case_id": "_case_id", "clock_id": "_clock_id"}
# Clock fields whose column has another name.
CLOCK_COLUMN_OF = {"remaining": "remaining_us", "warnings": "marks", "warned": "marks"}


def only(row: dict[str, Any], columns: set[str], keys: Mapping[str, str]) -> dict[str, Any]:
    """``row`` cut to ``columns`` plus its key values, in a stable column order."""
    return {
        **{k: row[k] for k in sorted(columns)},
        **{key: row[key] for key in keys.values()},
    }


_COMPLAINT_DECIDED = ("status", "reason", "decided_at", "decided_by")


def _deadlineupsert(dialect: Any) -> Any:
    statement = dialect.insert(s.deadlines)
    return statement.on_conflict_do_update(
        index_elements=["case_id", "clock_id"],
        set_={
            "due_at": statement.excluded.due_at,
            "claimed_by": None,
            "claimed_until": None,
            "attempts": 0,
        },
        where=s.deadlines.c.due_at != statement.excluded.due_at,
    )


def _complaintupsert(dialect: Any) -> Any:
    statement = dialect.insert(s.complaints)
    return statement.on_conflict_do_update(
        index_elements=["id"], set_={k: statement.excluded[k] for k in _COMPLAINT_DECIDED}
    )


# The clause of a new case's INSERT when written with its rows as one statement.
OPEN_CASE_CONFLICT = "ON CONFLICT (order_item_id, programme) WHERE is_open DO NOTHING"


def _case_insert(dialect: Any) -> Any:
    """A new case, or nothing when its item already has an open case of the programme."""
    return (
        dialect.insert(s.cases)
        .on_conflict_do_nothing(
            index_elements=["order_item_id", "programme"], index_where=s.cases.c.is_open
        )
        .returning(s.cases.c.id)
    )


_BY_DIALECT = {
    name: {
        "insert_case": _case_insert(module),
        "deadline": _deadlineupsert(module),
        "complaint": _complaintupsert(module),
    }
    for name, module in (("postgresql", postgresql), ("sqlite", sqlite))
}


def prebuilt(conn: Connection, name: str) -> Any:
    return _BY_DIALECT["postgresql" if conn.dialect.name == "postgresql" else "sqlite"][name]


def upsert(conn: Connection, table: Any) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)
