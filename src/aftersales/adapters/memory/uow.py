"""The in-memory unit of work: the store's lock, a snapshot to roll back to, every repository.

Entering the outermost block takes the store's lock (held by the unit of work,
whichever thread it runs on) and a snapshot of its tables; ``commit()`` takes a fresh snapshot (what was written stays);
leaving the outermost block restores the last snapshot, so whatever was not
committed is undone, and releases the lock. Nested blocks and a ``commit()``
inside them are left to the outermost block, as in ``SqlUnitOfWork``. A
savepoint snapshots on entry and restores if its block raises.

:func:`unit_of_work_factory` hands a use case called from inside another one
the unit of work already open in the same call stack, as the SQL factory does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import Self

from aftersales.adapters.memory.appointments import MemoryAppointments
from aftersales.adapters.memory.cases import MemoryCases
from aftersales.adapters.memory.master_data import (
    MemoryImportJobs,
    MemoryInbox,
    MemoryMasterData,
)
from aftersales.adapters.memory.notifications import MemoryNotifications
from aftersales.adapters.memory.state import MemoryStore, Tables
from aftersales.adapters.memory.stores import (
    MemoryAccounts,
    MemoryAttachments,
    MemoryCaseContacts,
    MemoryChats,
    MemoryDeadlines,
    MemoryIdempotency,
    MemoryLedger,
    MemoryReference,
    MemorySandboxes,
    MemorySolutionTexts,
)
from aftersales.adapters.memory.views import MemoryReadModels
from aftersales.services import ports

_OPEN: ContextVar[MemoryUnitOfWork | None] = ContextVar("aftersales_open_memory_uow", default=None)


def open_unit_of_work(store: MemoryStore) -> MemoryUnitOfWork | None:
    """The unit of work on ``store`` open in this call stack, if there is one."""
    current = _OPEN.get()
    if current is not None and current.store is store and current.depth > 0:
        return current
    return None


def unit_of_work_factory(store: MemoryStore) -> Callable[[], MemoryUnitOfWork]:
    """``uow()`` for the services: the unit of work open in this call stack, else a new one."""

    def uow() -> MemoryUnitOfWork:
        return open_unit_of_work(store) or MemoryUnitOfWork(store)

    return uow


class MemoryUnitOfWork:
    cases: ports.CaseRepository
    reference: ports.ReferenceData
    master: ports.MasterData
    inbox: ports.Inbox
    imports: ports.ImportJobs
    sandboxes: ports.Sandboxes
    deadlines: ports.Deadlines
    chats: ports.Chats
    contacts: ports.CaseContacts
    attachments: ports.Attachments
    solutions: ports.SolutionTexts
    appointments: ports.Appointments
    ledger: ports.Ledger
    accounts: ports.Accounts
    idempotency: ports.Idempotency
    views: ports.ReadModels
    notifications: ports.Notifications

    def __init__(self, store: MemoryStore, *, defer_balances: bool = False) -> None:
        self.store = store
        self.defer_balances = defer_balances
        self.depth = 0
        self._restore_point: Tables | None = None  # the state a rollback returns to
        self._outer: MemoryUnitOfWork | None = None
        self._undo: list[Callable[[], None]] = []  # for writes not committed yet
        self._done: list[Callable[[], None]] = []  # to run once they are committed

    def __enter__(self) -> Self:
        if self.depth == 0:
            if open_unit_of_work(self.store) is not None:
                # On a database this would be a second connection, waiting on the first
                # one's locks; here it would wait for the store's lock forever.
                raise RuntimeError(
                    "another unit of work on this store is open in this call stack; "
                    "use that one (svc.uow() hands it out) instead of opening a second"
                )
            self.store.lock.acquire(self)
            try:
                self._begin()
            except BaseException:
                self.store.lock.release(self)
                raise
        self.depth += 1
        return self

    def _begin(self) -> None:
        store = self.store
        self.cases = MemoryCases(store, defer_balances=self.defer_balances)
        self.reference = MemoryReference(store)
        self.master = MemoryMasterData(store)
        self.inbox = MemoryInbox(store)
        self.imports = MemoryImportJobs(store)
        self.sandboxes = MemorySandboxes(store)
        self.deadlines = MemoryDeadlines(store)
        self.chats = MemoryChats(store)
        self.contacts = MemoryCaseContacts(store)
        self.attachments = MemoryAttachments(store)
        self.solutions = MemorySolutionTexts(store)
        self.appointments = MemoryAppointments(store)
        self.ledger = MemoryLedger(store)
        self.accounts = MemoryAccounts(store)
        self.idempotency = MemoryIdempotency(store)
        self.views = MemoryReadModels(store)
        self.notifications = MemoryNotifications(store)
        self._restore_point = store.snapshot()
        self._outer = _OPEN.get()
        _OPEN.set(self)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.depth -= 1
        if self.depth > 0:
            return
        _OPEN.set(self._outer)
        self._outer = None
        restore_point, self._restore_point = self._restore_point, None
        try:
            if restore_point is not None:
                self.store.restore(restore_point)  # undo what was not committed
        finally:
            self.store.lock.release(self)
            self._run_undo()

    def _open(self) -> MemoryStore:
        if self.depth == 0:
            raise RuntimeError("the unit of work is used outside its 'with' block")
        return self.store

    def commit(self) -> None:
        if self.depth > 1:
            return  # the outermost block commits
        self._restore_point = self._open().snapshot()
        self._undo.clear()
        done, self._done = self._done, []
        for step in done:
            step()

    def rollback(self) -> None:
        store = self._open()
        if self._restore_point is not None:
            store.restore(self._restore_point)
        self._run_undo()

    def opens_at_once(self) -> bool:
        return False  # entering may wait for the store's lock

    def settled(self) -> bool:
        return False  # leaving restores the store and releases its lock: not on a loop

    def on_rollback(self, undo: Callable[[], None]) -> None:
        self._undo.append(undo)

    def on_commit(self, done: Callable[[], None]) -> None:
        self._done.append(done)

    def _run_undo(self) -> None:
        undo, self._undo = self._undo, []
        self._done.clear()
        for step in reversed(undo):
            step()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        store = self._open()
        before = store.snapshot()
        try:
            yield
        except BaseException:
            store.restore(before)
            raise
