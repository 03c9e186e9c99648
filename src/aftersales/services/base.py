"""What every use case is given: a unit of work to open, the policies, the clock.

Use cases are plain functions taking :class:`Services` first. Each opens
``svc.uow()`` for its transaction; an HTTP request binds one unit of work for
its whole life (:meth:`Services.bound`), so the use cases it calls share it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace

from aftersales.domain.policy import PolicyBook
from aftersales.services.ports import FileStore, Places, UnitOfWork
from aftersales.services.time import Clock
from aftersales.services.token_cache import TokenCache


@dataclass(frozen=True)
class Services:
    uow: Callable[[], UnitOfWork]
    book: PolicyBook
    clock: Clock
    files: FileStore | None = None  # where attachment bytes go
    places: Places | None = None  # addresses to areas (master data, eligibility)
    tokens: TokenCache | None = None  # bearer tokens checked a moment ago (one per process)

    def bound(self, uow: UnitOfWork) -> Services:
        """The same services, every use case working in ``uow`` (one request, one transaction)."""
        return replace(self, uow=lambda: uow)


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"
