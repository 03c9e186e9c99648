"""The one place that wires settings, database, policies, clock and adapters together."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from aftersales.adapters.attachments import DiskAttachmentStore
from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.db.uow import unit_of_work_factory
from aftersales.adapters.policy_files import load_policy_book
from aftersales.domain.policy import PolicyBook
from aftersales.services.base import Services
from aftersales.services.ports import FileStore
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


def sql_services(
    engine: Engine, book: PolicyBook, clock: Clock, files: FileStore | None = None
) -> Services:
    """Services whose units of work are SQL transactions on ``engine``."""
    return Services(uow=unit_of_work_factory(engine, book), book=book, clock=clock, files=files)


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
    files = DiskAttachmentStore(settings.attachments_dir, max_bytes=settings.attachment_max_bytes)
    services = sql_services(engine, book, clock, files)
    return Container(settings=settings, engine=engine, book=book, clock=clock, services=services)
