"""Scaffolding shared by the tests and the benchmarks; production code never imports it."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Engine

from aftersales.adapters.policy_files import load_policy_book
from aftersales.bootstrap import sql_services
from aftersales.domain.policy import PolicyBook
from aftersales.services.base import Services
from aftersales.services.ports import FileStore
from aftersales.services.time import Clock, SystemClock


@cache
def shipped_policies() -> PolicyBook:
    """The policies shipped with the package, loaded once per process."""
    return load_policy_book()


def services_on(
    engine: Engine,
    clock: Clock | None = None,
    book: PolicyBook | None = None,
    files: FileStore | None = None,
) -> Services:
    """Services on a test's database: the shipped policies and the real clock unless given."""
    return sql_services(engine, book or shipped_policies(), clock or SystemClock(), files)
