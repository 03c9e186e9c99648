"""Column types shared by the schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, ColumnElement, DateTime, Dialect, Text, cast
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """An instant, stored in UTC.

    PostgreSQL keeps ``timestamptz``; SQLite keeps the naive UTC text, which sorts
    in time order so ``due_at < :now`` works the same on both. Naive datetimes
    are refused on the way in: every instant in this code base is aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"refusing to store a naive datetime: {value!r}")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def aware_utc(value: datetime | None) -> datetime | None:
    """An instant SQLite handed back naive (aggregates skip the column type) as aware UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class JsonText(TypeDecorator[Any]):
    """A JSON column read as its text and decoded by orjson, for the columns the deadline
    engine reads thousands of a chunk (a clock's reason, warning marks and holders).

    Only for JSON the domain writes (strings, small numbers, lists and objects of them):
    orjson would turn an integer beyond 64 bits into a float, which such columns never
    hold. Text orjson refuses (an unpaired surrogate escape a person typed into a reason)
    is read by the standard decoder instead.
    """

    impl = Text
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return json.loads(value)


def json_as_text(column: Any) -> ColumnElement[Any]:
    """``column`` (a JSON column) selected as text and decoded by :class:`JsonText`,
    under its own name."""
    assert isinstance(column.type, JSON)
    return cast(column, JsonText()).label(column.name)
