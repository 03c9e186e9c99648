"""The one place that wires settings, database, policies, clock and adapters together."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from aftersales.adapters.db import reference
from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.policy_files import load_policy_book
from aftersales.domain.policy import PolicyBook
from aftersales.services.cases import Services
from aftersales.services.time import Clock, SystemClock
from aftersales.settings import Settings


@dataclass
class Container:
    settings: Settings
    engine: Engine
    book: PolicyBook
    clock: Clock
    services: Services

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(
    settings: Settings, *, clock: Clock | None = None, migrate: bool | None = None
) -> Container:
    """Build everything the entry points need.

    The embedded SQLite default is migrated at start-up; PostgreSQL is migrated
    explicitly (``aftersales db upgrade``) unless ``migrate=True`` is passed.
    """
    from aftersales.adapters.db import migrate as migrations

    engine = make_engine(settings.resolved_database_url, pool_size=settings.db_pool_size)
    if migrate or (migrate is None and settings.is_embedded):
        migrations.upgrade(engine)
    book = load_policy_book(settings.policy_dirs)
    clock = clock or SystemClock()
    services = Services(engine=engine, book=book, clock=clock, find_provider=_find_provider)
    return Container(settings=settings, engine=engine, book=book, clock=clock, services=services)


def _find_provider(
    conn: Connection, book: PolicyBook, city: str, category_id: str, service_tag: str
) -> str | None:
    """OH-3 routing: the provider registered for the city and service on the nearest category."""
    return reference.find_provider(
        conn, book, city=city, category_id=category_id, service_tag=service_tag
    )
