"""PostgreSQL for the integration tests: where the server is, and a fresh database per test.

Importable by any test (``from tests.integration.pg import pg_admin_url``). The
server is named by ``AFTERSALES_TEST_DATABASE_URL`` (an admin URL such as
``postgresql://postgres@127.0.0.1:5432/test``); ``AFTERSALES_REQUIRE_PG=1`` turns
"PostgreSQL not available" from a skip into a failure (CI sets it).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

URL_ENV = "AFTERSALES_TEST_DATABASE_URL"
REQUIRE_ENV = "AFTERSALES_REQUIRE_PG"
DATABASE_PREFIX = "aftersales_t_"
CONNECT_TIMEOUT_S = 5


def pg_admin_url() -> str | None:
    """The admin URL from ``AFTERSALES_TEST_DATABASE_URL``, or None when unset."""
    url = os.environ.get(URL_ENV, "").strip()
    return url or None


def pg_required() -> bool:
    """True when a missing or unreachable PostgreSQL must fail the run, not skip."""
    return os.environ.get(REQUIRE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _libpq_conninfo(url: str) -> str:
    # libpq understands postgresql:// URIs but not SQLAlchemy's "+driver" suffix.
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class PgAdmin:
    """An autocommit connection to the admin database, able to make throwaway ones."""

    url: str
    connection: psycopg.Connection[Any]

    def database_url(self, name: str) -> str:
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def database_exists(self, name: str) -> bool:
        row = self.connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        return row is not None

    def create_database(self, template: str = "template0") -> str:
        """Create a uniquely named copy of ``template`` (default: empty); return its name."""
        name = f"{DATABASE_PREFIX}{secrets.token_hex(6)}"
        # template0 is never connected to, so the copy cannot be refused because
        # another session sits in the template (as can happen with template1).
        self.connection.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} ENCODING 'UTF8'").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
        return name

    def drop_database(self, name: str) -> None:
        # FORCE (PostgreSQL 13+) ends sessions still connected, e.g. from a
        # subprocess or an engine a test forgot to dispose.
        self.connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    @contextmanager
    def fresh_database(self, template: str = "template0") -> Iterator[str]:
        """A new database (a copy of ``template``) for the duration of the block; yields its URL."""
        name = self.create_database(template)
        try:
            yield self.database_url(name)
        finally:
            self.drop_database(name)

    def close(self) -> None:
        self.connection.close()


def connect_admin(url: str) -> PgAdmin:
    """Connect to the admin database; raises ``psycopg.Error`` when unreachable."""
    connection = psycopg.connect(
        _libpq_conninfo(url), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
    )
    return PgAdmin(url=url, connection=connection)
