"""Creating engines: SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import json
import select
import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.pool import QueuePool

from aftersales.errors import ConfigurationError

SQLITE_BUSY_TIMEOUT_MS = 30_000
POOL_RECYCLE_S = 1800  # connections older than this are replaced at checkout


class DatabaseConfigError(ConfigurationError):
    """The database URL or data directory cannot be used."""


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'aftersales.sqlite3').resolve()}"


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout.

    Accepts ``postgresql://`` URLs and picks the psycopg 3 driver for them.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseConfigError(f"database URL {url!r} is not valid: {exc}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs: dict[str, Any] = {"future": True, "json_serializer": to_json}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {
            "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
            "check_same_thread": False,
        }
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # Let SQLAlchemy issue BEGIN itself so "BEGIN IMMEDIATE" can take the write lock up front.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise DatabaseConfigError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite:///path or postgresql://…"
        )
    # No ping per checkout (a round trip on every request): a pooled connection the
    # server has closed is found by looking at its socket instead (see _alive).
    kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=POOL_RECYCLE_S)
    engine = create_engine(parsed, **kwargs)
    event.listen(engine, "checkout", _drop_if_closed_by_server)
    event.listen(engine, "after_cursor_execute", _note_writes)
    return engine


def to_json(value: Any) -> str:
    """The text a JSON column stores: by orjson (a stored answer is a whole case, and the
    standard library's encoder was a tenth of a request's CPU), or by the standard
    library for what orjson refuses (an integer beyond 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value)


WROTE = "aftersales_wrote"  # in a connection's info: a statement of this transaction may write


def _note_writes(
    conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
) -> None:
    """Mark the transaction as one that may have written (anything but a plain SELECT).

    psycopg forgets every statement it prepared on a connection when a ROLLBACK
    passes through it (a rolled-back transaction may have changed the schema),
    and the server then logs ``DEALLOCATE ALL``. A unit of work that only read is
    therefore ended with COMMIT (the same outcome for a transaction without writes),
    so the statements prepared on a pooled connection serve the next requests too.
    """
    if not statement.startswith("SELECT"):
        conn.info[WROTE] = True


def end_transaction(conn: Connection, *, failed: bool) -> None:
    """End ``conn``'s transaction, if one is open: ROLLBACK after a failure or a write,
    COMMIT after reads only (keeping the driver's prepared statements; see _note_writes)."""
    if not conn.in_transaction():
        return
    wrote = conn.info.pop(WROTE, False) or conn.dialect.name != "postgresql"
    if failed or wrote:
        conn.rollback()
    else:
        conn.commit()


def steady_connections(engine: Engine) -> int | None:
    """How many connections the engine's pool keeps (its overflow aside); None: no fixed
    number (a pool that is not a queue)."""
    pool = engine.pool
    if isinstance(pool, QueuePool):
        return pool.size()
    return None


def _drop_if_closed_by_server(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection the server has hung up on; the pool then connects anew.

    An idle PostgreSQL connection has nothing to read: if its socket is readable,
    the server has sent a goodbye (a restart, an admin's terminate, an idle
    timeout) or closed it. ``select`` with a zero timeout asks the kernel, not
    the server, so a healthy connection costs no round trip.
    """
    record.info.pop(WROTE, None)  # a new checkout has written nothing yet
    if getattr(dbapi_connection, "closed", False) or getattr(dbapi_connection, "broken", False):
        raise DisconnectionError("the connection was closed")
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError) as exc:
        raise DisconnectionError("the connection's socket is gone") from exc
    if readable:
        raise DisconnectionError("the server closed the connection while it was idle")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = (
        None  # autocommit at the driver; BEGIN comes from _sqlite_begin
    )
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _ensure_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _ensure_wal(cursor: Any) -> None:
    """Switch a database file to WAL once; later connections find it already switched.

    The switch needs the file to itself and SQLite does not wait for that (no busy
    handler), so when several processes open a new database at once, the ones that
    lose the race retry until the winner's switch is visible, instead of failing
    with "database is locked".
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() in ("wal", "memory"):
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE: take the write lock at the start, so two writers never deadlock on upgrade.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
