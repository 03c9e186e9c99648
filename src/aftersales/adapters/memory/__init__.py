"""Every port in memory: the services without a database, for fast tests and trials.

In the spirit of procrastinate's ``InMemoryConnector`` and cosmicpython's
``FakeUnitOfWork``, but shipped in the package and held to the SQL adapters by a
contract test (``tests/integration/test_port_contract.py``) that plays one
scenario on both and compares the answers.

* :class:`MemoryStore` holds the tables (dicts of immutable records) and one lock;
* :class:`MemoryUnitOfWork` takes the lock for its outermost block and rolls
  back by restoring a snapshot (savepoints likewise), see ``uow.py``;
* the repositories answer as the SQL ones do: the same errors, orderings and
  ledger, balance and deadline behaviour (``cases.py``, ``stores.py``,
  ``views.py``);
* ``loading.py`` writes reference data (and the demo's data set) into a store;
* :class:`MemoryFileStore` keeps attachment bytes in a dict.

It imports no SQLAlchemy: only the domain, the services' ports and records,
the error tree and the attachment checks.

Usage::

    store = MemoryStore()
    upsert_brands(store, [...]); ...            # or load the demo: demo.dataset.load_demo(svc)
    svc = memory_services(book, FixedClock(at), store=store, files=MemoryFileStore())
"""

from __future__ import annotations

from aftersales.adapters.memory.files import MemoryFileStore
from aftersales.adapters.memory.loading import (
    upsert_brands,
    upsert_buyers,
    upsert_merchants,
    upsert_order_items,
    upsert_orders,
    upsert_products,
    upsert_providers,
)
from aftersales.adapters.memory.state import MemoryStore
from aftersales.adapters.memory.uow import MemoryUnitOfWork, unit_of_work_factory
from aftersales.domain.policy import PolicyBook
from aftersales.services.base import Services
from aftersales.services.ports import FileStore, Places
from aftersales.services.time import Clock


def memory_services(
    book: PolicyBook,
    clock: Clock,
    files: FileStore | None = None,
    *,
    store: MemoryStore | None = None,
    places: Places | None = None,
) -> Services:
    """Services whose units of work run on ``store`` (a new, empty one unless given).

    Addresses are resolved by the real parser unless ``places`` is given (it is
    not storage: there is nothing to fake).
    """
    if places is None:
        from aftersales.adapters.places import ChinaPlaces

        places = ChinaPlaces()
    return Services(
        uow=unit_of_work_factory(store if store is not None else MemoryStore()),
        book=book,
        clock=clock,
        files=files,
        places=places,
    )


__all__ = [
    "MemoryFileStore",
    "MemoryStore",
    "MemoryUnitOfWork",
    "memory_services",
    "upsert_brands",
    "upsert_buyers",
    "upsert_merchants",
    "upsert_order_items",
    "upsert_orders",
    "upsert_products",
    "upsert_providers",
]
