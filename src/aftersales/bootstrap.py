"""The one place that wires settings, database, policies, clock and adapters together."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Protocol

from sqlalchemy import Connection, Engine

from aftersales.adapters.db import reference
from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.policy_files import load_policy_book
from aftersales.domain.policy import PolicyBook
from aftersales.errors import ConfigurationError
from aftersales.services.cases import Services
from aftersales.services.sandboxes import Sandbox
from aftersales.services.time import Clock, SystemClock
from aftersales.settings import Settings


class SeedSandbox(Protocol):
    """Create a sandbox holding its own copy of the demo's orders (ids prefixed ``<id>.``)."""

    def __call__(
        self, sandbox_id: str, *, start: datetime | None = None, name: str = ""
    ) -> Sandbox: ...


def _no_demo_data(sandbox_id: str, *, start: datetime | None = None, name: str = "") -> Sandbox:
    raise ConfigurationError(f"sandbox '{sandbox_id}': this process has no demo data to copy")


@dataclass
class Container:
    settings: Settings
    engine: Engine
    book: PolicyBook
    clock: Clock
    services: Services
    # The HTTP app reaches the demo data set only through this (the demo stays CLI-side).
    seed_sandbox_with_demo: SeedSandbox = field(default=_no_demo_data)

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
    container = Container(
        settings=settings, engine=engine, book=book, clock=clock, services=services
    )
    container.seed_sandbox_with_demo = partial(_seed_with_demo, container)
    return container


def _seed_with_demo(
    container: Container, sandbox_id: str, *, start: datetime | None = None, name: str = ""
) -> Sandbox:
    """A sandbox with the demo's orders; the demo package is imported here, on first use only."""
    from aftersales.demo.play import create_demo_sandbox

    return create_demo_sandbox(container, sandbox_id, start=start, name=name)


def _find_provider(
    conn: Connection, book: PolicyBook, city: str, category_id: str, service_tag: str
) -> str | None:
    """OH-3 routing: the provider registered for the city and service on the nearest category."""
    return reference.find_provider(
        conn, book, city=city, category_id=category_id, service_tag=service_tag
    )
