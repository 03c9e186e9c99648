"""The JSON columns the deadline engine reads as text (``types.JsonText``) decode to what
was written, on SQLite and PostgreSQL, including text orjson refuses on its own."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import JSON, Column, Engine, Integer, MetaData, Table, insert, select

from aftersales.adapters.db.types import json_as_text

WRITTEN: list[Any] = [
    {"armed": [["solution@30m", "2026-11-24T09:30:00+00:00"]], "passed": []},
    [{"kind": "provider", "party": "hz-install-01", "why": "师傅生病", "until": None}],
    {"why": "a lone \ud800 surrogate a person typed"},
    None,
]


@pytest.mark.parametrize("value", WRITTEN, ids=["marks", "holders", "surrogate", "null"])
def test_a_json_column_read_as_text_decodes_to_what_was_written(engine: Engine, value: Any) -> None:
    table = Table(
        "json_text_round_trip",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("doc", JSON, nullable=True),
    )
    table.create(engine, checkfirst=True)
    try:
        with engine.begin() as conn:
            conn.execute(insert(table).values(id=1, doc=value))
        with engine.connect() as conn:
            plain = conn.execute(select(table.c.doc)).scalar_one()
            as_text = conn.execute(select(json_as_text(table.c.doc))).scalar_one()
        assert as_text == plain == value
    finally:
        table.drop(engine)
