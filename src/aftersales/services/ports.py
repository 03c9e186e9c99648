"""What the services need from storage, declared as Protocols: the ports.

Services see only these names; the SQL adapters (``adapters/db``) and the
in-memory ones (``adapters/memory``) implement them. Everything a command
reads or writes goes through one :class:`UnitOfWork`: entering it opens one
transaction; ``commit()`` makes its writes durable, and leaving the block
without committing undoes them. A unit of work may be entered again while it is
open (an HTTP request opens one, and every service the request calls works in
it): only the outermost block begins and ends the transaction, and a
``commit()`` inside a nested block is left to the outermost one.

The records that cross the ports are the domain's objects (``Case``,
``OrderItem``, ``Payout`` …) or the small frozen records of
:mod:`aftersales.services.records`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from aftersales.domain.brands import BrandAfterSales
from aftersales.domain.cases import Case
from aftersales.domain.eligibility import OrderItem
from aftersales.domain.ledger import Payout
from aftersales.domain.lifecycle import Programme
from aftersales.domain.policy import PolicyBook
from aftersales.services.records import (
    LIVE,
    Account,
    Attachment,
    BalanceLine,
    BrandLine,
    CaseLine,
    ChatMessage,
    ChatThread,
    ComplaintLine,
    Compliance,
    LiveFigures,
    OpenCaseLine,
    PayoutLine,
    QueueLine,
    Sandbox,
    Scope,
    SessionRecord,
    StoredAccount,
    StoredAnswer,
)

# ---------------------------------------------------------------- ports


class CaseRepository(Protocol):
    """Case aggregates: loaded whole, saved as the changes since they were loaded."""

    defer_balances: bool  # True: saves leave balances to one apply_balances() per batch

    def get(self, case_id: str, *, for_update: bool = False, with_history: bool = False) -> Case:
        """The case (CaseNotFound if none); ``for_update`` locks it until the transaction ends."""

    def get_many(self, case_ids: Iterable[str], *, for_update: bool = False) -> dict[str, Case]:
        """The cases that exist among ``case_ids``, locked in id order with ``for_update``."""

    def sandbox_of(self, case_id: str) -> str:
        """The sandbox of a case loaded by this repository."""

    def find_sandbox(self, case_id: str) -> str:
        """The sandbox of any case (CaseNotFound if none)."""

    def open_case_for_item(self, order_item_id: str, programme: Programme) -> str | None: ...

    def add(self, case: Case, *, sandbox: str = LIVE) -> list[Payout]:
        """Record a new case; OpenCaseExists when the item already has an open one."""

    def save(self, case: Case) -> list[Payout]:
        """Write the case's changes; the payouts this save recorded. ConcurrentUpdate if raced."""

    def save_many(self, cases: Sequence[Case]) -> dict[str, list[Payout]]: ...

    def apply_balances(self, deltas: Mapping[tuple[str, str, str], int]) -> None:
        """Move (sandbox, account, unit) balances by the deltas (with ``defer_balances``)."""


class ReferenceData(Protocol):
    """Orders, products, brands and providers: what the marketplace told us."""

    def order_item(self, order_item_id: str) -> OrderItem:
        """The item with its order and product (NotFound if none)."""

    def sandbox_of_item(self, order_item_id: str) -> str:
        """The sandbox the item's order lives in (NotFound if none)."""

    def buyer_of_item(self, order_item_id: str) -> str | None: ...

    def order_items_of_buyer(
        self, buyer_account: str, *, sandbox: str | None = None
    ) -> list[OrderItem]: ...

    def order_sandboxes_of_buyer(self, buyer_account: str) -> dict[str, str]:
        """``{order id: sandbox}`` for every order of the buyer."""

    def find_provider(
        self, book: PolicyBook, *, city: str, category_id: str, service_tag: str
    ) -> str | None:
        """OH-3: the provider registered for the service on the nearest category, or None."""

    def brand_after_sales(self, brand_id: str) -> BrandAfterSales:
        """NW-3: hotline, terms and centres (NotFound if no such brand)."""

    def brands(self) -> list[BrandLine]: ...

    def find_orders_for_caller(self, text: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """Order items whose order id, item id or buyer account is ``text`` (hotline agents)."""


class Sandboxes(Protocol):
    """Private worlds with their own test clocks."""

    def get(self, sandbox_id: str, *, for_update: bool = False) -> Sandbox:
        """The sandbox (SandboxNotFound if none); ``for_update`` holds its clock until commit."""

    def exists(self, sandbox_id: str) -> bool: ...

    def list(self) -> list[Sandbox]: ...

    def add(self, sandbox: Sandbox) -> None: ...

    def set_now(self, sandbox_id: str, now: datetime) -> None: ...


class Deadlines(Protocol):
    """One row per running clock, claimed by workers when due."""

    def claim_due(
        self,
        *,
        sandbox: str,
        now: datetime,
        worker_id: str,
        limit: int,
        claimed_until: datetime,
        real_now: datetime,
    ) -> list[str]:
        """Claim up to ``limit`` rows due at ``now`` and free at ``real_now``; case ids, due order."""

    def attempts(self, case_id: str) -> int:
        """How often handling the case's deadlines has failed so far."""

    def postpone(self, case_id: str, *, until: datetime) -> None:
        """Count one more failed attempt and hold the case's rows until ``until`` (real time)."""

    def next_due(self, *, sandbox: str = LIVE, real_now: datetime | None = None) -> datetime | None:
        """The earliest armed deadline (free at ``real_now``, if given)."""

    def clocks_with_due(self, *, real_now: datetime) -> list[tuple[str, datetime]]:
        """Sandboxes with a deadline due on their own clock and free to claim, with their clocks."""

    def earliest_before(self, sandbox: str, before: datetime) -> datetime | None: ...

    def cases_due(self, sandbox: str, before: datetime) -> list[str]: ...

    def due_count(self, *, sandbox: str, now: datetime) -> int: ...


class Chats(Protocol):
    def open(self, thread: ChatThread) -> None: ...

    def get(self, thread_id: str) -> ChatThread | None: ...

    def add_message(self, thread_id: str, message: ChatMessage) -> None: ...

    def messages(self, thread_id: str) -> list[ChatMessage]: ...

    def link_case(self, thread_id: str, case_id: str) -> None: ...


class Attachments(Protocol):
    def add(self, attachment: Attachment) -> None: ...

    def of_case(self, case_id: str) -> list[Attachment]: ...


class Ledger(Protocol):
    def payouts(self, *, sandbox: str = LIVE, account: str | None = None) -> list[Payout]: ...

    def balances(self, *, sandbox: str = LIVE) -> dict[tuple[str, str], int]: ...


class Accounts(Protocol):
    """Accounts, web sessions (by token digest) and API tokens (by digest)."""

    def add(self, account: Account, password_hash: str, created_at: datetime) -> None:
        """AlreadyExists if the username is taken."""

    def by_username(self, username: str) -> StoredAccount | None: ...

    def list(self) -> list[Account]: ...

    def set_password_hash(self, account_id: str, password_hash: str) -> None: ...

    def add_session(
        self,
        digest: str,
        account_id: str,
        csrf_token: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> None: ...

    def session(self, digest: str) -> SessionRecord | None: ...

    def drop_session(self, digest: str) -> None: ...

    def drop_sessions_expired(self, before: datetime) -> None: ...

    def add_token(
        self, token_id: str, account_id: str, name: str, digest: str, created_at: datetime
    ) -> None: ...

    def account_for_token(self, digest: str) -> Account | None:
        """The account behind a token that is not revoked (active or not)."""

    def revoke_token(self, token_id: str, at: datetime) -> bool: ...


class Idempotency(Protocol):
    """The first answer to a request with an ``Idempotency-Key``, per account."""

    def reserve(self, account_id: str, key: str, digest: str, at: datetime) -> StoredAnswer | None:
        """Take the key for this request (None), or the row an earlier request left.

        Under a unique constraint: of concurrent requests with one key, one
        reserves it; the others wait for its transaction, then find its answer.
        """

    def complete(self, account_id: str, key: str, status: int, body: dict[str, Any]) -> None: ...


class ReadModels(Protocol):
    """The parties' screens: single statements over indexed columns, scoped to the viewer."""

    def may_see_case(self, scope: Scope, case_id: str) -> bool: ...

    def case_lines(
        self,
        scope: Scope,
        *,
        sandbox: str | None = None,
        open_only: bool = False,
        limit: int = 200,
        after: tuple[datetime, str] | None = None,
    ) -> list[CaseLine]: ...

    def provider_queue(
        self, scope: Scope, *, live_now: datetime, limit: int = 200
    ) -> list[QueueLine]: ...

    def payout_lines(
        self,
        scope: Scope,
        *,
        sandbox: str | None = None,
        limit: int = 500,
        after: tuple[datetime, int] | None = None,
    ) -> list[PayoutLine]: ...

    def compliance(
        self, scope: Scope, *, by: str, start: datetime, end: datetime, sandbox: str | None = None
    ) -> Compliance: ...

    def balances(self, scope: Scope, *, sandbox: str | None = None) -> list[BalanceLine]: ...

    def open_cases_of_items(self, order_item_ids: Sequence[str]) -> list[OpenCaseLine]: ...

    def pending_complaints(self, *, limit: int = 200) -> list[ComplaintLine]:
        """Complaints waiting for operations, oldest first."""

    def live_figures(self, now: datetime) -> LiveFigures: ...


class UnitOfWork(Protocol):
    """One transaction and every repository in it; see the module docstring."""

    cases: CaseRepository
    reference: ReferenceData
    sandboxes: Sandboxes
    deadlines: Deadlines
    chats: Chats
    attachments: Attachments
    ledger: Ledger
    accounts: Accounts
    idempotency: Idempotency
    views: ReadModels

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def savepoint(self) -> AbstractContextManager[None]:
        """A block whose writes are undone alone if it raises (the transaction goes on)."""


class FileStore(Protocol):
    """Where attachment bytes live (disk today); records of them go through ``Attachments``."""

    max_bytes: int  # the largest file taken

    def put(self, data: bytes, *, filename: str, declared_type: str | None) -> Any: ...

    def open(self, key: str) -> bytes: ...
