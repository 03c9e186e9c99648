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

One module on purpose (~700 lines, most of them docstrings): it is the whole contract
between services and storage, read
as a list of declarations with no logic, and the contract test
(``tests/integration/test_port_contract.py``) holds both adapters to all of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from aftersales.domain.brands import BrandAfterSales
from aftersales.domain.cases import Case, Decision
from aftersales.domain.dispatch import Candidate
from aftersales.domain.eligibility import OrderItem, ServiceAddress
from aftersales.domain.ledger import Payout
from aftersales.domain.lifecycle import Programme
from aftersales.domain.policy import PolicyBook
from aftersales.domain.slots import WindowKey
from aftersales.services.records import (
    LIVE,
    Account,
    AppointmentChange,
    AppointmentRecord,
    Attachment,
    BalanceLine,
    BrandLine,
    CaseContact,
    CaseFilter,
    CaseLine,
    CasePage,
    ChatMessage,
    ChatThread,
    ComplaintLine,
    Compliance,
    FormContact,
    IntakeItem,
    LiveFigures,
    NotificationPreferences,
    NotificationRecord,
    OpenCaseLine,
    PayoutLine,
    PayoutTotal,
    ProviderWindows,
    QueueLine,
    Sandbox,
    Scope,
    SessionRecord,
    SignInFailures,
    SolutionText,
    StoredAccount,
    StoredAnswer,
    TokenRecord,
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

    def earlier_decisions(self, case_id: str, subject: str) -> list[Decision]:
        """The stored decisions about ``subject`` of a case loaded by this repository that
        the loaded object does not hold: all of them when it was loaded without its history,
        none when with it. Those of the object follow them."""

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

    def intake_item(self, order_item_id: str, programme: Programme) -> IntakeItem:
        """The item, its sandbox and that sandbox's clock, and its open case in ``programme``,
        in one read (NotFound if no such item; SandboxNotFound if its sandbox is gone)."""

    def order_items_of_buyer(
        self, buyer_account: str, *, sandbox: str | None = None
    ) -> list[OrderItem]: ...

    def order_sandboxes_of_buyer(self, buyer_account: str) -> dict[str, str]:
        """``{order id: sandbox}`` for every order of the buyer."""

    def dispatch_candidates(
        self,
        book: PolicyBook,
        *,
        areas: Sequence[str],
        category_id: str,
        service_tag: str,
        sandbox: str,
        day: date | None,
        record_since: datetime | None,
    ) -> list[Candidate]:
        """OH-3: in one read, every active provider's coverage row matching the item (an area
        of ``areas``, most specific first; the category or an ancestor; the service; the
        sandbox's own and live providers), each with a closure covering ``day``, its capacity
        overall and in ``areas`` with what was dispatched against it that day in this world,
        and its clocks met and breached on cases it holds opened since ``record_since``."""

    def count_dispatch(
        self, *, sandbox: str, provider_id: str, day: date, areas: Sequence[str]
    ) -> dict[str, int]:
        """OH-3: one more case for the provider on ``day``, overall ('') and in each capacity
        area; the counts after it. The rows stay locked to this unit of work, so a racing
        dispatch to the same provider waits and then counts on from these."""

    def release_dispatch(
        self, *, sandbox: str, provider_id: str, day: date, areas: Sequence[str]
    ) -> None:
        """OH-3: take back a :meth:`count_dispatch`: one of this unit of work that went over,
        or one of a case the provider gave up (declined, reassigned, replaced). A count
        never falls below zero."""

    def preferred_providers(self, merchant_id: str) -> tuple[str, ...]:
        """OH-3: the provider ids (as the marketplace gives them) the shop prefers."""

    def brand_after_sales(self, brand_id: str) -> BrandAfterSales:
        """NW-3: hotline, terms and centres (NotFound if no such brand)."""

    def brands(self) -> list[BrandLine]: ...

    def find_orders_for_caller(
        self, text: str, *, limit: int = 50, brand: str | None = None
    ) -> list[dict[str, Any]]:
        """Order items whose order id, item id, buyer account or buyer name is ``text``, or
        whose buyer, order, item or a hotline report on it has the phone ``text`` (hotline
        agents); of ``brand``'s products only, when given. Each row carries ``buyer_name``."""

    def lock_order(self, order_id: str) -> None:
        """Hold the order (if stored) until the unit of work ends; others wait for it."""


class MasterData(Protocol):
    """Master data as the marketplace sends it, stored as rows of plain values.

    A row is a dict of the table's columns under stored ids; a brand's row holds
    its ``centres``, a provider's its ``coverage``, an order's its ``items``
    (lists of dicts). Writing a row replaces the stored one; the lists given
    replace the stored lists, except an order's items, which are upserted (an
    item never disappears from its order).
    """

    def stored(
        self, kind: str, ids: Sequence[str], *, columns: Sequence[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """The stored rows of those ``ids`` that exist, with their lists; with ``columns``,
        at least those columns and the id (an adapter may give more), without lists."""

    def write(self, kind: str, rows: Sequence[Mapping[str, Any]], *, new: bool = False) -> None:
        """Store ``rows``. ``new``: none of them (nor an order's items) was stored when this
        unit of work read them, so an adapter may add them without looking for stored
        ones, as long as the result is the same if one was stored meanwhile."""

    def page(
        self,
        kind: str,
        *,
        sandboxes: Sequence[str],
        after: str | None,
        limit: int,
        filters: Mapping[str, str],
    ) -> list[dict[str, Any]]:
        """Rows of the worlds given in id order after ``after``, matching ``filters`` (equality
        on a column; ``owner`` on products and providers; ``buyer_account`` or ``merchant_id``
        on orders)."""

    def set_item_status(
        self, order_id: str, item_ids: Sequence[str] | None, status: str, **changes: Any
    ) -> int:
        """Move items of an order (all when ``item_ids`` is None) to ``status``; how many moved."""

    def order_items(
        self,
        *,
        sandboxes: Sequence[str] | None,
        buyer: str | None = None,
        merchant: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> list[tuple[str, OrderItem]]:
        """``(sandbox, item)`` of a buyer's or a shop's items (or every one) in the worlds
        given (every world when None), by id."""


class Inbox(Protocol):
    """Events from the marketplace, each kept once per world and id."""

    def add(self, event: Mapping[str, Any]) -> bool:
        """Keep the event; False if one with its world and id is kept already."""

    def get(self, sandbox: str, event_id: str) -> dict[str, Any] | None: ...

    def set_outcome(self, sandbox: str, event_id: str, outcome: str, message: str) -> None: ...


class ImportJobs(Protocol):
    """Bulk imports that run in the background."""

    def add(self, job: Mapping[str, Any]) -> None: ...

    def get(self, job_id: str) -> dict[str, Any] | None: ...

    def update(self, job_id: str, **changes: Any) -> None: ...

    def claim_next(self, at: datetime) -> dict[str, Any] | None:
        """The oldest queued job, marked running (none if none is queued)."""

    def list(self, *, limit: int = 50) -> list[dict[str, Any]]: ...


class Places(Protocol):
    """Where addresses are: free text to province, city, district and administrative code."""

    def resolve_many(self, texts: Sequence[str]) -> list[ServiceAddress | None]: ...

    def area(self, code: str) -> tuple[str, str]:
        """``(name, level)`` of an administrative code; InvalidRequest if there is none."""

    def containing(self, code: str | None) -> tuple[str, ...]:
        """The codes an address in area ``code`` lies in, most specific first."""

    def distance_km(self, a: str | None, b: str | None) -> float | None:
        """How far apart the centres of two areas are (km); None when either is unknown."""


class Sandboxes(Protocol):
    """Private worlds with their own test clocks."""

    def get(self, sandbox_id: str, *, for_update: bool = False) -> Sandbox:
        """The sandbox (SandboxNotFound if none); ``for_update`` holds its clock until commit."""

    def exists(self, sandbox_id: str) -> bool: ...

    def list(self) -> list[Sandbox]: ...

    def add(self, sandbox: Sandbox) -> None: ...

    def set_now(self, sandbox_id: str, now: datetime) -> None: ...

    def clear(self, sandbox_id: str) -> int:
        """Remove the sandbox's cases and everything they left (clocks, deadlines, payouts,
        balances, complaints, history, events, chats, attachments); its orders and other
        master data stay. How many cases went. Never for live data."""


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

    def next_release(self, *, real_now: datetime) -> datetime | None:
        """The earliest real instant a sandbox deadline already due on its clock, but held
        by a lease or a back-off at ``real_now``, comes free to claim."""

    def earliest_before(self, sandbox: str, before: datetime) -> datetime | None: ...

    def cases_due(self, sandbox: str, before: datetime) -> list[str]: ...

    def due_count(self, *, sandbox: str, now: datetime) -> int: ...


class Chats(Protocol):
    def open(self, thread: ChatThread) -> None: ...

    def get(self, thread_id: str) -> ChatThread | None: ...

    def add_message(self, thread_id: str, message: ChatMessage) -> None: ...

    def messages(self, thread_id: str) -> list[ChatMessage]: ...

    def link_case(self, thread_id: str, case_id: str) -> None: ...

    def threads(
        self,
        *,
        buyer: str | None = None,
        brand: str | None = None,
        order_item_id: str | None = None,
        limit: int = 100,
    ) -> list[ChatThread]:
        """Threads matching every filter given, the most recently opened first."""


class CaseContacts(Protocol):
    """How the buyer is reached for a case (NW-2b); one per case, the latest kept."""

    def put(self, contact: FormContact) -> None: ...

    def of_case(self, case_id: str) -> FormContact | None: ...


class Appointments(Protocol):
    """SS-2 visit windows: each provider's weekly windows, the window booked per case and
    its history of moves."""

    def windows_of(self, provider_id: str) -> ProviderWindows | None:
        """The provider's windows and calendar (None if no such provider)."""

    def lock_provider(self, provider_id: str) -> None:
        """Hold the provider until the unit of work ends: bookings of its windows are
        counted and taken one at a time, so the last place is never taken twice."""

    def booked_counts(
        self, provider_id: str, sandbox: str, first: datetime, last: datetime
    ) -> dict[WindowKey, int]:
        """Bookings per window instance (start, end) of windows starting in [first, last]."""

    def closed_days(self, provider_id: str, first: date, last: date) -> frozenset[date]:
        """Days in [first, last] the provider is closed (leave, closures)."""

    def of_case(self, case_id: str) -> AppointmentRecord | None: ...

    def book(self, record: AppointmentRecord, change: AppointmentChange) -> None:
        """Keep ``record`` as the case's booking (replacing one stored) and add ``change``."""

    def changes_of(self, case_id: str) -> list[AppointmentChange]:
        """The case's booking history, oldest first."""

    def of_provider(
        self, provider_id: str, sandbox: str, first: datetime, last: datetime
    ) -> list[AppointmentRecord]:
        """The provider's bookings starting in [first, last], in time order (the day view)."""


class SolutionTexts(Protocol):
    """Each handler's reusable solution texts (OH-4), by owner."""

    def of_owner(self, owner: str) -> list[SolutionText]:
        """The owner's texts, by title then id."""

    def get(self, text_id: str) -> SolutionText | None: ...

    def put(self, text: SolutionText) -> None:
        """Add the text, or replace the stored one with its id."""

    def delete(self, text_id: str) -> bool:
        """Remove the text; False if there was none."""


class Attachments(Protocol):
    def add(self, attachment: Attachment) -> None: ...

    def of_case(self, case_id: str) -> list[Attachment]: ...

    def referenced(self, storage_keys: Sequence[str]) -> set[str]:
        """Those of ``storage_keys`` some attachment row points at."""
        ...


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
        self,
        token_id: str,
        account_id: str,
        name: str,
        digest: str,
        created_at: datetime,
        expires_at: datetime | None = None,
    ) -> None: ...

    def account_for_token(self, digest: str) -> Account | None:
        """The account behind a token that is not revoked (active or not)."""

    def revoke_token(self, token_id: str, at: datetime) -> bool: ...

    def set_token_expiry(self, token_id: str, expires_at: datetime | None) -> None: ...

    def token_by_digest(self, digest: str) -> TokenRecord | None:
        """The token with this digest, revoked, expired or not."""

    def token(self, token_id: str) -> TokenRecord | None: ...

    def tokens(self, account_id: str | None = None) -> Sequence[TokenRecord]:
        """Tokens (one account's, or everyone's), newest first, revoked ones included."""

    def sign_in_failures(self, keys: Sequence[str]) -> dict[str, SignInFailures]:
        """The failures counted under each key that has any."""

    def lock_sign_in_failures(self, key: str, at: datetime) -> SignInFailures:
        """The failures under ``key`` (a row of none made at ``at`` if there was no row),
        locked until the unit of work ends, so racing failures each count."""

    def set_sign_in_failures(self, key: str, failures: SignInFailures) -> None: ...

    def clear_sign_in_failures(self, key: str) -> None: ...

    def forget_sign_in_failures(self, last_before: datetime) -> None:
        """Delete the counts whose last failure was before ``last_before``."""


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

    def case_search(
        self,
        scope: Scope,
        f: CaseFilter,
        *,
        limit: int = 50,
        after: tuple[datetime, str] | None = None,
        count: bool = True,
    ) -> CasePage:
        """Cases in ``scope`` matching ``f``, newest first, keyset-paged, with the parties'
        names and the filter's whole count (-1 when ``count`` is False)."""

    def breach_board(
        self, scope: Scope, *, sandbox: str, now: datetime, limit: int = 100
    ) -> list[QueueLine]:
        """Running clocks of open cases in one world, nearest to breach first."""

    def payout_total(self, scope: Scope, *, sandbox: str | None = None) -> PayoutTotal: ...

    def names(self, ids: Sequence[str]) -> dict[str, str]:
        """Names of parties and people by id (shops, providers, brands, buyers, accounts)."""

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

    def share_lines(
        self,
        scope: Scope,
        *,
        sandbox: str | None = None,
        limit: int = 500,
        after: tuple[datetime, str] | None = None,
    ) -> list[PayoutLine]:
        """Providers' shares (issue 15) ``scope`` may see, newest first, paged on (at, key):
        operations every one, a shop those owed to it, a provider those it owes, nobody
        else any (``entry_id`` is 0: a share has its key only)."""
        ...

    def compliance(
        self, scope: Scope, *, by: str, start: datetime, end: datetime, sandbox: str | None = None
    ) -> Compliance: ...

    def balances(self, scope: Scope, *, sandbox: str | None = None) -> list[BalanceLine]: ...

    def open_cases_of_items(self, order_item_ids: Sequence[str]) -> list[OpenCaseLine]: ...

    def payouts_of_cases(self, case_ids: Sequence[str]) -> list[PayoutLine]:
        """Every payout on these cases, oldest first (the caller has checked it may see them)."""

    def pending_complaints(self, *, limit: int = 200) -> list[ComplaintLine]:
        """Complaints waiting for operations, oldest first."""

    def live_figures(self, now: datetime) -> LiveFigures: ...

    def case_contacts(self, case_ids: Sequence[str]) -> dict[str, CaseContact]:
        """Each case's customer contact, unmasked: the buyer's name, the service address,
        and the phone to call (the hotline caller's callback number, else the item's,
        the order's, the buyer's). Callers mask it (``views.case_contacts``)."""

    def case_contact_and_names(
        self, case_id: str, ids: Sequence[str]
    ) -> tuple[CaseContact | None, dict[str, str]]:
        """What a case's page reads besides the case: its contact (as :meth:`case_contacts`)
        and the names of ``ids`` (as :meth:`names`), together."""

    def cases_of_buyers(
        self, buyers: Sequence[str], *, brand: str | None = None, limit: int = 50
    ) -> list[CaseLine]:
        """The cases of items ``buyers`` bought (of ``brand``'s products, when given), newest
        first: what a hotline agent sees of a caller's cases."""


class Notifications(Protocol):
    """Each account's notifications (written by the case repository as it saves a case's
    notices) and its channel preferences."""

    def page(
        self, account_id: str, *, before: int | None = None, limit: int = 20
    ) -> list[NotificationRecord]:
        """Newest first; ``before`` an id: the ones older than it."""
        ...

    def get(self, account_id: str, notification_id: int) -> NotificationRecord | None: ...

    def counts(self, account_id: str) -> tuple[int, int, int]:
        """(all, unread, the newest id or 0): for the badge and for telling a change."""
        ...

    def mark_read(self, account_id: str, ids: Sequence[int] | None, at: datetime) -> int:
        """Mark these (None: all) read; returns how many changed."""
        ...

    def acknowledge(self, account_id: str, notification_id: int, at: datetime) -> bool:
        """Acknowledge (and read) one; False if it was acknowledged already."""
        ...

    def preferences(self, account_id: str) -> NotificationPreferences: ...

    def save_preferences(self, preferences: NotificationPreferences, at: datetime) -> None: ...


class UnitOfWork(Protocol):
    """One transaction and every repository in it; see the module docstring."""

    cases: CaseRepository
    reference: ReferenceData
    master: MasterData
    inbox: Inbox
    imports: ImportJobs
    sandboxes: Sandboxes
    deadlines: Deadlines
    chats: Chats
    contacts: CaseContacts
    attachments: Attachments
    solutions: SolutionTexts
    appointments: Appointments
    ledger: Ledger
    accounts: Accounts
    idempotency: Idempotency
    views: ReadModels
    notifications: Notifications

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def opens_at_once(self) -> bool:
        """Entering now takes no round trip and no wait (an idle pooled connection and no
        statement to begin): an event loop may enter it without a thread."""
        ...

    def settled(self) -> bool:
        """Open with nothing left to commit or roll back: leaving it needs no round trip."""
        ...

    def savepoint(self) -> AbstractContextManager[None]:
        """A block whose writes are undone alone if it raises (the transaction goes on)."""

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Run ``undo`` if the writes made so far are not committed (rolled back, or the
        outermost block left without a commit): how a file written for a row goes with it."""
        ...

    def on_commit(self, done: Callable[[], None]) -> None:
        """Run ``done`` once the writes made so far are committed (not if they are rolled
        back): how a cache in the process forgets what a committed change made stale."""
        ...


class FileStore(Protocol):
    """Where attachment bytes live (disk today); records of them go through ``Attachments``."""

    max_bytes: int  # the largest file taken

    def check(self, data: bytes, *, filename: str, declared_type: str | None) -> str:
        """The content type the file would be stored as; refuses it otherwise; writes nothing."""
        ...

    def put(self, data: bytes, *, filename: str, declared_type: str | None) -> Any: ...

    def discard(self, key: str) -> None:
        """Remove a file a failed transaction brought in."""
        ...

    def open(self, key: str) -> bytes: ...
