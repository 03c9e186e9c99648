"""Alembic's entry point for aftersales.

Normally run through :mod:`aftersales.adapters.db.migrate`, which hands over an
open connection (already inside the transaction that holds the migration lock)
in ``config.attributes["connection"]``. When run by the plain ``alembic``
command instead, the URL comes from ``sqlalchemy.url`` in the ini file or, failing
that, from the ``AFTERSALES_*`` settings, as the application would resolve it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.db.migrate import migration_options
from aftersales.settings import load_settings


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **migration_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        raise SystemExit(
            "aftersales migrations run against a live database only; "
            "use `aftersales db upgrade` (offline --sql scripts are not supported)"
        )
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    url = context.config.get_main_option("sqlalchemy.url") or load_settings().resolved_database_url
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


_main()
