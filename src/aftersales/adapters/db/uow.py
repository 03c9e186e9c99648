"""The unit of work: one transaction per command, with the case repository in it."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine

from aftersales.adapters.db.cases_repo import CaseRepository
from aftersales.domain.policy import PolicyBook


class UnitOfWork:
    """``with uow: ...; uow.commit()`` — leaving the block without commit rolls back."""

    def __init__(self, engine: Engine, book: PolicyBook) -> None:
        self.engine = engine
        self.book = book
        self._conn: Connection | None = None

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the unit of work is used outside its 'with' block")
        return self._conn

    def __enter__(self) -> UnitOfWork:
        self._conn = self.engine.connect()
        self._conn.begin()
        self.cases = CaseRepository(self._conn, self.book)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                conn.rollback()
        finally:
            conn.close()

    def commit(self) -> None:
        self.conn.commit()
        self.conn.begin()

    def rollback(self) -> None:
        self.conn.rollback()
        self.conn.begin()
