"""Fixtures for tests that talk to a real database.

- ``database_url``: an empty database, once per backend (ids ``sqlite`` and
  ``postgresql``). SQLite is a fresh file under ``tmp_path``; PostgreSQL is a
  fresh database created for the test and dropped (``WITH (FORCE)``) after it,
  and runs only when ``AFTERSALES_TEST_DATABASE_URL`` names a server.
- ``engine``: an engine on ``database_url`` with every migration applied.
- ``pg_admin`` (session): a :class:`~tests.integration.pg.PgAdmin` for the server;
  ``pg_migrated_template`` (session): a database at head that ``engine`` copies.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn

import psycopg
import pytest
from sqlalchemy import Engine

from aftersales.adapters.db.engine import make_engine, sqlite_url
from aftersales.adapters.db.migrate import upgrade
from tests.integration.pg import (
    REQUIRE_ENV,
    PgAdmin,
    connect_admin,
    pg_admin_url,
    pg_required,
    redacted,
)


def _unavailable(reason: str) -> NoReturn:
    if pg_required():
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[PgAdmin]:
    """The PostgreSQL server of ``AFTERSALES_TEST_DATABASE_URL``, or skip (fail if required).

    Session-scoped, so an absent or unreachable server is found out once and every
    PostgreSQL test after that skips (or fails) at once.
    """
    url = pg_admin_url()
    if url is None:
        _unavailable("set AFTERSALES_TEST_DATABASE_URL to run on PostgreSQL")
    try:
        admin = connect_admin(url)
    except psycopg.Error as exc:
        _unavailable(f"PostgreSQL at {redacted(url)} is unreachable: {exc}")
    try:
        yield admin
    finally:
        admin.close()


@pytest.fixture(scope="session")
def pg_migrated_template(pg_admin: PgAdmin) -> Iterator[str]:
    """Name of a database migrated to head once per session, to copy from.

    Copying it (CREATE DATABASE ... TEMPLATE) costs the same as copying an empty
    one, so tests that want a migrated database skip running the migrations.
    """
    name = pg_admin.create_database()
    try:
        upgrade(pg_admin.database_url(name))  # disposes its engine: a template takes no sessions
        yield name
    finally:
        pg_admin.drop_database(name)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a database of the parametrized backend, private to this test.

    Empty, unless the test also uses ``engine``: then on PostgreSQL it is already
    a copy of a migrated database (``engine`` would migrate it anyway).
    """
    if request.param == "sqlite":
        yield sqlite_url(request.getfixturevalue("tmp_path"))
        return
    admin: PgAdmin = request.getfixturevalue("pg_admin")
    template = "template0"
    if "engine" in request.fixturenames:
        # The test will get a migrated database anyway: copy one instead of migrating.
        template = request.getfixturevalue("pg_migrated_template")
    with admin.fresh_database(template) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on ``database_url`` with the schema migrated to head."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
