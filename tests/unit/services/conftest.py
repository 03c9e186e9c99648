"""Service tests on the in-memory adapter: the use cases end to end, without a database.

Every test gets a fresh store seeded with :func:`tests.unit.services.world.seed`,
a file store taking up to 1,000 bytes, and services on a clock standing at
10:00 Shanghai time (:data:`~tests.unit.services.world.START`).
"""

from __future__ import annotations

import pytest

from aftersales.adapters.memory import MemoryFileStore, MemoryStore, memory_services
from aftersales.domain.policy import PolicyBook
from aftersales.services.base import Services
from aftersales.services.time import FixedClock
from tests.unit.services.world import START, seed


@pytest.fixture
def store() -> MemoryStore:
    seeded = MemoryStore()
    seed(seeded)
    return seeded


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def files() -> MemoryFileStore:
    return MemoryFileStore(max_bytes=1000)


@pytest.fixture
def services(
    store: MemoryStore, book: PolicyBook, clock: FixedClock, files: MemoryFileStore
) -> Services:
    return memory_services(book, clock, files, store=store)
