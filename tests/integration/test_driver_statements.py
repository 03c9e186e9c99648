"""Statements the driver runs itself (``driver.Prepared``) answer as SQLAlchemy would, on
SQLite and PostgreSQL: the same values and types, the same errors, and a write that is
not committed is not kept."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from aftersales.adapters.db.driver import Prepared, statements_on
from aftersales.adapters.db.types import UtcDateTime
from aftersales.adapters.db.uow import SqlUnitOfWork
from aftersales.testing import shipped_policies

_meta = MetaData()
_things = Table(
    "driver_things",
    _meta,
    Column("id", String(20), primary_key=True),
    Column("at", UtcDateTime(timezone=True), nullable=True),
    Column("on", Date, nullable=True),
    Column("doc", JSON, nullable=True),
    Column("ok", Boolean, nullable=False, default=False),
    Column("n", Integer, nullable=True),
)

_BY_ID = Prepared(select(_things).where(_things.c.id == bindparam("id")))
_FIRST_TWO = Prepared(select(_things.c.id).order_by(_things.c.id).limit(2))
_ADD = Prepared(
    postgresql.insert(_things).on_conflict_do_nothing().returning(_things.c.id),
    keys=("id", "at", "on", "doc", "ok", "n"),
    elsewhere=sqlite.insert(_things).on_conflict_do_nothing().returning(_things.c.id),
)
_PLAIN_ADD = Prepared(insert(_things), keys=("id", "at", "on", "doc", "ok", "n"))
_RENAME = Prepared(update(_things).where(_things.c.id == bindparam("old")).values(n=bindparam("n")))
_COUNT = Prepared(text("SELECT count(*) FROM driver_things"))

EAST_8 = timezone(timedelta(hours=8))
ROW: dict[str, Any] = {
    "id": "a",
    "at": datetime(2026, 11, 24, 10, 0, tzinfo=EAST_8),
    "on": date(2026, 11, 24),
    "doc": {"zh": "师傅", "n": [1, 2], "none": None},
    "ok": True,
    "n": 7,
}


@pytest.fixture
def things(engine: Engine) -> Any:
    _things.create(engine)
    yield engine
    _things.drop(engine)


def test_a_prepared_select_answers_as_sqlalchemy_does(things: Engine) -> None:
    with things.begin() as conn:
        assert _ADD.first(conn, ROW) is not None
        assert _ADD.first(conn, {**ROW, "id": "b", "at": None, "doc": None}) is not None
    with things.connect() as conn:
        ours = _BY_ID.first(conn, {"id": "a"})
        theirs = conn.execute(select(_things).where(_things.c.id == "a")).one()
        assert tuple(ours) == tuple(theirs)
        assert ours.at == datetime(2026, 11, 24, 2, 0, tzinfo=UTC) and ours.at.tzinfo == UTC
        assert ours.doc == ROW["doc"] and ours.on == ROW["on"] and ours.ok is True
        assert _BY_ID.first(conn, {"id": "b"}).doc is None
        assert _BY_ID.first(conn, {"id": "nobody"}) is None
        # A value bound in the statement itself (the LIMIT) is sent along.
        assert [r.id for r in _FIRST_TWO.rows(conn)] == ["a", "b"]
        assert _COUNT.scalar(conn) == 2


def test_a_conflict_does_nothing_and_returns_no_row(things: Engine) -> None:
    with things.begin() as conn:
        assert _ADD.first(conn, ROW) is not None
        assert _ADD.first(conn, {**ROW, "n": 8}) is None
        assert _RENAME.execute(conn, {"old": "a", "n": 9}) == 1
        assert _RENAME.execute(conn, {"old": "nobody", "n": 9}) == 0
    with things.connect() as conn:
        assert _BY_ID.first(conn, {"id": "a"}).n == 9


def test_a_driver_error_is_the_sqlalchemy_error_and_nothing_is_kept(things: Engine) -> None:
    with things.connect() as conn:
        _PLAIN_ADD.execute(conn, ROW)
        with pytest.raises(IntegrityError):
            _PLAIN_ADD.execute(conn, ROW)  # the same primary key
        conn.rollback()
    with things.connect() as conn:
        assert _COUNT.scalar(conn) == 0


def test_a_unit_of_work_left_without_commit_keeps_no_write_the_driver_ran(
    things: Engine,
) -> None:
    """A unit of work that only read ends with COMMIT (to keep prepared statements); one
    that wrote must roll back when it is not committed, driver writes included."""
    with SqlUnitOfWork(things, shipped_policies()) as uow:
        _PLAIN_ADD.execute(uow.conn, ROW)
    with SqlUnitOfWork(things, shipped_policies()) as uow:
        _PLAIN_ADD.execute(uow.conn, {**ROW, "id": "kept"})
        uow.commit()
    with things.connect() as conn:
        assert [r.id for r in _FIRST_TWO.rows(conn)] == ["kept"]


def test_statements_on_sees_both_paths(things: Engine) -> None:
    with statements_on(things) as seen, things.begin() as conn:
        _ADD.first(conn, ROW)
        conn.execute(select(_things.c.id))
    ran = [s for s in seen if not s.startswith("BEGIN")]  # SQLite's BEGIN IMMEDIATE
    assert len(ran) == 2 and "INSERT INTO driver_things" in ran[0]


def test_an_in_list_is_refused_with_the_way_to_write_it(engine: Engine) -> None:
    listed = Prepared(
        select(_things.c.id).where(_things.c.id.in_(bindparam("ids", expanding=True)))
    )
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs the statement through SQLAlchemy, which expands the list")
    with engine.connect() as conn, pytest.raises(ValueError, match="ANY"):
        listed.rows(conn, {"ids": ["a"]})


def test_a_driver_write_after_a_commit_is_committed_by_the_next_one(things: Engine) -> None:
    """After a commit SQLAlchemy begins its next transaction lazily; a statement the driver
    runs must begin it, or the next commit would not reach the driver."""
    with SqlUnitOfWork(things, shipped_policies()) as uow:
        _PLAIN_ADD.execute(uow.conn, ROW)
        uow.commit()
        _PLAIN_ADD.execute(uow.conn, {**ROW, "id": "b"})
        uow.commit()
    with things.connect() as conn:
        assert [r.id for r in _FIRST_TWO.rows(conn)] == ["a", "b"]
