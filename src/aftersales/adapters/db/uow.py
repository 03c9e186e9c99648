"""The SQL unit of work: one connection, one transaction, every repository on it.

``with uow: ...; uow.commit()`` — leaving the outermost block without a commit
rolls back. The unit may be entered again while open (an HTTP request opens it
around authentication, the idempotency reservation, the command and its stored
answer): only the outermost block begins and ends the transaction, and a
nested ``commit()`` is left to the outermost block, so a request is one
BEGIN … COMMIT however many services it calls.

:func:`unit_of_work_factory` gives the services their ``uow()``: while a unit
of work on the same engine is open in the current call stack (a context
variable marks it), it hands back that one, so a use case called from inside
another one works in the caller's transaction instead of opening a second
connection that would wait on the first one's locks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import Self

from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine

from aftersales.adapters.db.appointments import SqlAppointments
from aftersales.adapters.db.cases_repo import CaseRepository
from aftersales.adapters.db.deadline_store import SqlDeadlines
from aftersales.adapters.db.engine import WROTE, end_transaction
from aftersales.adapters.db.master_data import SqlImportJobs, SqlInbox, SqlMasterData
from aftersales.adapters.db.notifications import SqlNotifications
from aftersales.adapters.db.read_models import SqlReadModels
from aftersales.adapters.db.stores import (
    SqlAccounts,
    SqlAttachments,
    SqlCaseContacts,
    SqlChats,
    SqlIdempotency,
    SqlLedger,
    SqlReference,
    SqlSandboxes,
    SqlSolutionTexts,
)
from aftersales.domain.policy import PolicyBook
from aftersales.services import ports

log = logging.getLogger(__name__)

_OPEN: ContextVar[SqlUnitOfWork | None] = ContextVar("aftersales_open_uow", default=None)


def unit_of_work_factory(engine: Engine, book: PolicyBook) -> Callable[[], SqlUnitOfWork]:
    """``uow()`` for the services: the unit of work open in this call stack, else a new one."""

    def uow() -> SqlUnitOfWork:
        current = _OPEN.get()
        if current is not None and current.engine is engine and current._depth > 0:
            return current
        return SqlUnitOfWork(engine, book)

    return uow


class SqlUnitOfWork:
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

    def __init__(self, engine: Engine, book: PolicyBook, *, defer_balances: bool = False) -> None:
        self.engine = engine
        self.book = book
        self.defer_balances = defer_balances
        self._conn: Connection | None = None
        self._depth = 0
        self._outer: SqlUnitOfWork | None = None  # what the context variable held before
        self._undo: list[Callable[[], None]] = []  # for writes not committed yet
        self._done: list[Callable[[], None]] = []  # to run once they are committed

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the unit of work is used outside its 'with' block")
        return self._conn

    def __enter__(self) -> Self:
        if self._depth == 0:
            conn = self.engine.connect()
            conn.info.pop(WROTE, None)
            conn.begin()
            self._conn = conn
            self.cases = CaseRepository(conn, self.book, defer_balances=self.defer_balances)
            self.reference = SqlReference(conn)
            self.master = SqlMasterData(conn)
            self.inbox = SqlInbox(conn)
            self.imports = SqlImportJobs(conn)
            self.sandboxes = SqlSandboxes(conn)
            self.deadlines = SqlDeadlines(conn)
            self.chats = SqlChats(conn)
            self.contacts = SqlCaseContacts(conn)
            self.attachments = SqlAttachments(conn)
            self.solutions = SqlSolutionTexts(conn)
            self.appointments = SqlAppointments(conn)
            self.ledger = SqlLedger(conn)
            self.accounts = SqlAccounts(conn)
            self.idempotency = SqlIdempotency(conn)
            self.views = SqlReadModels(conn)
            self.notifications = SqlNotifications(conn)
            self._outer = _OPEN.get()
            _OPEN.set(self)
        self._depth += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        # Not ContextVar.reset: an HTTP dependency may enter in one copy of the request's
        # context and leave in another (each thread-pool hop copies it).
        _OPEN.set(self._outer)
        self._outer = None
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            end_transaction(conn, failed=exc_type is not None)
        finally:
            conn.close()
            self._run_undo()

    def commit(self) -> None:
        if self._depth > 1:
            return  # the outermost block commits
        self.conn.commit()  # the next statement begins the next transaction
        self.conn.info.pop(WROTE, None)
        self._undo.clear()
        done, self._done = self._done, []
        for step in done:
            step()

    def rollback(self) -> None:
        self.conn.rollback()
        self.conn.info.pop(WROTE, None)
        self._run_undo()

    def opens_at_once(self) -> bool:
        """PostgreSQL with an idle connection in the pool: checking it out and beginning
        send nothing (SQLite's BEGIN IMMEDIATE may wait for the write lock). The one
        exception is rare and short: a pooled connection past its recycle age, or one
        the server hung up on, is replaced at checkout, a connect of a few
        milliseconds on whichever thread checks it out."""
        if self._depth or self.engine.dialect.name != "postgresql":
            return False
        checkedin = getattr(self.engine.pool, "checkedin", None)
        return checkedin is not None and checkedin() > 0

    def settled(self) -> bool:
        """Committed (or never begun), on SQLAlchemy's side and the driver's."""
        conn = self._conn
        if conn is None or self._depth != 1 or conn.in_transaction() or self._undo:
            return False
        driver = conn.connection.driver_connection
        status = getattr(getattr(driver, "info", None), "transaction_status", None)
        return status is not None and status == TransactionStatus.IDLE

    def on_rollback(self, undo: Callable[[], None]) -> None:
        self._undo.append(undo)

    def on_commit(self, done: Callable[[], None]) -> None:
        self._done.append(done)

    def _run_undo(self) -> None:
        undo, self._undo = self._undo, []
        self._done.clear()
        for step in reversed(undo):
            try:
                step()
            except Exception:  # an undo that fails leaves a file for the sweep, no more
                log.exception("undoing an uncommitted write failed")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        with self.conn.begin_nested():
            yield
