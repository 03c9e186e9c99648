"""The smaller ports in memory: reference data, sandboxes, deadlines, chats,
attachments, ledger, accounts and idempotency keys.

Each class reads and writes the store's current tables (``store.tables`` is
swapped when a unit of work rolls back, so none keeps a table of its own). They
answer as ``adapters/db/stores.py`` and ``adapters/db/deadline_store.py`` do:
the same errors, the same orderings, the same ``None`` for "no such row".

Kept as one module (~750 lines) to mirror ``adapters/db/stores.py`` class for class,
so a change to one side is found beside its twin; it splits when that module does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from aftersales.adapters import areas as areas_
from aftersales.adapters.memory.state import (
    AccountRecord,
    KeyRecord,
    MemoryStore,
    SessionRow,
    Tables,
    ThreadRecord,
    TokenRecord,
    utc,
)
from aftersales.domain.brands import BrandAfterSales
from aftersales.domain.clocks import ClockStatus
from aftersales.domain.contacts import normalise_phone
from aftersales.domain.dispatch import Candidate, Capacity
from aftersales.domain.eligibility import OrderItem
from aftersales.domain.ledger import Payout
from aftersales.domain.lifecycle import Programme, Role
from aftersales.domain.policy import PolicyBook
from aftersales.errors import AlreadyExists, NotFound, SandboxNotFound
from aftersales.services.records import (
    LIVE,
    Account,
    Attachment,
    BrandLine,
    ChatMessage,
    ChatThread,
    FormContact,
    IntakeItem,
    Sandbox,
    SessionRecord,
    SignInFailures,
    SolutionText,
    StoredAccount,
    StoredAnswer,
)
from aftersales.services.records import TokenRecord as StoredToken


class _OnStore:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def _t(self) -> Tables:
        return self.store.tables


class MemoryReference(_OnStore):
    def order_item(self, order_item_id: str) -> OrderItem:
        return self.store.order_item(order_item_id)

    def sandbox_of_item(self, order_item_id: str) -> str:
        row = self._t.order_items.get(order_item_id)
        order = None if row is None else self._t.orders.get(row.order_id)
        if order is None:
            raise NotFound("order item", order_item_id)
        return order.sandbox

    def intake_item(self, order_item_id: str, programme: Programme) -> IntakeItem:
        item = self.store.order_item(order_item_id)
        sandbox = self.sandbox_of_item(order_item_id)
        now = None
        if sandbox != LIVE:
            found = self._t.sandboxes.get(sandbox)
            if found is None:
                raise SandboxNotFound(sandbox)
            now = found.now
        open_rows = [
            row
            for row in self._t.cases.values()
            if row.order_item_id == order_item_id
            and row.programme == programme.value
            and row.is_open
        ]
        first = min(open_rows, key=lambda row: row.opened_at).id if open_rows else None
        return IntakeItem(item, sandbox, now, first, self.preferred_providers(item.merchant_id))

    def buyer_of_item(self, order_item_id: str) -> str | None:
        row = self._t.order_items.get(order_item_id)
        order = None if row is None else self._t.orders.get(row.order_id)
        return None if order is None else order.buyer_account

    def _items(self, ids: list[str]) -> list[OrderItem]:
        items = [self.store.order_item(i) for i in ids]
        items.sort(key=lambda item: item.id)
        items.sort(key=lambda item: item.purchased_on, reverse=True)  # newest first, then id
        return items

    def order_items_of_buyer(
        self, buyer_account: str, *, sandbox: str | None = None
    ) -> list[OrderItem]:
        t = self._t
        return self._items(
            [
                item_id
                for item_id, row in t.order_items.items()
                if (order := t.orders.get(row.order_id)) is not None
                and order.buyer_account == buyer_account
                and (sandbox is None or order.sandbox == sandbox)
            ]
        )

    def order_sandboxes_of_buyer(self, buyer_account: str) -> dict[str, str]:
        return {
            order_id: order.sandbox
            for order_id, order in self._t.orders.items()
            if order.buyer_account == buyer_account
        }

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
        """OH-3: what the SQL adapter's one query reads, from the tables in memory."""
        t = self._t
        depth = {category: i for i, category in enumerate(book.catalog.ancestry(category_id))}
        wanted = set(areas)
        worlds = {sandbox, LIVE}
        out: list[Candidate] = []
        for (provider, area, category, tag, fulfil), world in t.coverage.items():
            record = t.providers.get(provider)
            if not (
                area in wanted
                and tag == service_tag
                and category in depth
                and world in worlds
                and record is not None
                and record.active
            ):
                continue
            stated = t.capacity.get(provider, {})
            capacities = {
                a: Capacity(n, t.loads.get((sandbox, provider, day, a), 0) if day else 0, a)
                for a, n in stated.items()
                if a == "" or a in wanted
            }
            used_all = t.loads.get((sandbox, provider, day, ""), 0) if day else 0
            if "" not in capacities and used_all:
                capacities[""] = Capacity(None, used_all, "")
            met = breached = 0
            if record_since is not None:
                for case in t.cases.values():
                    if case.assignee == provider and case.opened_at >= record_since:
                        for clock in t.clocks.get(case.id, ()):
                            met += clock.status is ClockStatus.MET
                            breached += clock.status is ClockStatus.BREACHED
            out.append(
                Candidate(
                    provider_id=provider,
                    category_depth=depth[category],
                    area_level=areas_.level_of(area),
                    fulfil=fulfil,
                    own_world=world == sandbox,
                    closures=tuple(
                        c for c in t.closures.get(provider, ()) if day is not None and c.covers(day)
                    ),
                    capacities=tuple(capacities[a] for a in sorted(capacities)),
                    met=met,
                    breached=breached,
                    base_area=record.base_area,
                )
            )
        return out

    def count_dispatch(
        self, *, sandbox: str, provider_id: str, day: date, areas: Sequence[str]
    ) -> dict[str, int]:
        counted: dict[str, int] = {}
        for area in sorted({"", *areas}):
            key = (sandbox, provider_id, day, area)
            self._t.loads[key] = counted[area] = self._t.loads.get(key, 0) + 1
        return counted

    def release_dispatch(
        self, *, sandbox: str, provider_id: str, day: date, areas: Sequence[str]
    ) -> None:
        for area in {"", *areas}:
            key = (sandbox, provider_id, day, area)
            if self._t.loads.get(key, 0) > 0:
                self._t.loads[key] -= 1

    def preferred_providers(self, merchant_id: str) -> tuple[str, ...]:
        row = self._t.master.get(("merchant", merchant_id)) or {}
        return tuple(row.get("preferred_providers") or ())

    def lock_order(self, order_id: str) -> None:
        """Nothing to do: a unit of work holds the whole store."""

    def brand_after_sales(self, brand_id: str) -> BrandAfterSales:
        brand = self._t.brands.get(brand_id)
        if brand is None:
            raise NotFound("brand", brand_id)
        # By city, then name; centres written together keep their order (the SQL rows' ids).
        return replace(brand, centres=tuple(sorted(brand.centres, key=lambda c: (c.city, c.name))))

    def brands(self) -> list[BrandLine]:
        return [BrandLine(b.brand_id, b.name, b.hotline) for _, b in sorted(self._t.brands.items())]

    def find_orders_for_caller(
        self, text: str, *, limit: int = 50, brand: str | None = None
    ) -> list[dict[str, Any]]:
        needle = text.strip()
        if not needle:
            return []
        t = self._t
        phone = normalise_phone(needle)
        digits = {phone.replace("-", ""), "86" + phone.replace("-", "")} if phone else set()
        called = (
            {c.order_item_id for c in t.cases.values() if c.callback_phone == phone}
            if phone
            else set()
        )

        def same_phone(*numbers: str) -> bool:
            return any(_digits(n) in digits for n in numbers if n)

        found: list[dict[str, Any]] = []
        for item_id, row in t.order_items.items():
            order, product = t.orders.get(row.order_id), t.products.get(row.product_id)
            if order is None or product is None:
                continue
            entitled = row.entitlements or product
            if brand is not None and entitled.brand_id != brand:
                continue
            buyer_name, buyer_phone = t.buyers.get(order.buyer_account, ("", ""))
            if not (
                needle in (order.buyer_account, row.order_id, item_id)
                or (buyer_name and needle == buyer_name)
                or same_phone(buyer_phone, order.contact_phone, row.contact_phone)
                or item_id in called
            ):
                continue
            found.append(
                {
                    "id": item_id,
                    "order_id": row.order_id,
                    "sandbox": order.sandbox,
                    "buyer_account": order.buyer_account,
                    "buyer_name": buyer_name,
                    "merchant_id": order.merchant_id,
                    "product": product.name,
                    "brand_id": product.brand_id,
                    "badges": sorted(product.badges),
                    "service_tags": sorted(product.service_tags),
                    "purchased_on": row.purchased_on,
                    "city": row.city,
                }
            )
        found.sort(key=lambda r: r["id"])
        found.sort(key=lambda r: r["purchased_on"], reverse=True)
        return found[:limit]


def _digits(phone: str) -> str:
    for mark in (" ", "-", "(", ")", "+"):
        phone = phone.replace(mark, "")
    return phone


class MemorySandboxes(_OnStore):
    def get(self, sandbox_id: str, *, for_update: bool = False) -> Sandbox:
        sandbox = self._t.sandboxes.get(sandbox_id)
        if sandbox is None:
            raise SandboxNotFound(sandbox_id)
        return sandbox

    def exists(self, sandbox_id: str) -> bool:
        return sandbox_id in self._t.sandboxes

    def list(self) -> list[Sandbox]:
        return sorted(self._t.sandboxes.values(), key=lambda sb: (sb.created_at, sb.id))

    def add(self, sandbox: Sandbox) -> None:
        if sandbox.id in self._t.sandboxes:
            raise AlreadyExists(f"sandbox '{sandbox.id}' already exists")
        self._t.sandboxes[sandbox.id] = replace(
            sandbox, now=utc(sandbox.now), created_at=utc(sandbox.created_at)
        )

    def set_now(self, sandbox_id: str, now: datetime) -> None:
        sandbox = self._t.sandboxes.get(sandbox_id)
        if sandbox is not None:
            self._t.sandboxes[sandbox_id] = replace(sandbox, now=utc(now))

    def clear(self, sandbox_id: str) -> int:
        if sandbox_id == LIVE:
            raise ValueError("live data is never cleared")
        t = self._t
        gone = {cid for cid, case in t.cases.items() if case.sandbox == sandbox_id}
        items = {
            iid
            for iid, item in t.order_items.items()
            if (order := t.orders.get(item.order_id)) is not None and order.sandbox == sandbox_id
        }
        entries = {eid for eid, e in t.ledger.items() if e.sandbox == sandbox_id}
        for table in (
            t.cases,
            t.clocks,
            t.complaints,
            t.decisions,
            t.audit,
            t.case_ledger,
            t.case_shares,
            t.contacts,
            t.appointments,
            t.appointment_changes,
        ):
            for cid in gone:
                table.pop(cid, None)
        t.share_keys = {k: v for k, v in t.share_keys.items() if v != sandbox_id}
        for eid in entries:
            t.ledger_keys.pop(t.ledger[eid].payout.key, None)
            del t.ledger[eid]
        t.balances = {k: v for k, v in t.balances.items() if k[0] != sandbox_id}
        t.loads = {k: v for k, v in t.loads.items() if k[0] != sandbox_id}
        t.deadlines = {k: v for k, v in t.deadlines.items() if v.sandbox != sandbox_id}
        t.outbox = {k: v for k, v in t.outbox.items() if v.sandbox != sandbox_id}
        t.threads = {
            k: v
            for k, v in t.threads.items()
            if v.case_id not in gone and v.order_item_id not in items
        }
        t.attachments = {k: v for k, v in t.attachments.items() if v.case_id not in gone}
        t.notifications = {k: v for k, v in t.notifications.items() if v.sandbox != sandbox_id}
        t.notification_keys = {k: v for k, v in t.notification_keys.items() if v in t.notifications}
        return len(gone)


class MemoryDeadlines(_OnStore):
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
        rows = self._t.deadlines
        due = sorted(
            (row.due_at, key)
            for key, row in rows.items()
            if row.sandbox == sandbox and row.due_at < now and row.free_at(real_now)
        )
        chosen = {key[0] for _, key in due[: max(limit, 0)]}
        until = utc(claimed_until)
        case_ids: dict[str, None] = {}
        for _, key in due:  # every due row of the chosen cases, as the SQL claim does
            if key[0] in chosen:
                rows[key] = replace(rows[key], claimed_by=worker_id, claimed_until=until)
                case_ids.setdefault(key[0])
        return list(case_ids)

    def attempts(self, case_id: str) -> int:
        return max(
            (row.attempts for (case, _), row in self._t.deadlines.items() if case == case_id),
            default=0,
        )

    def postpone(self, case_id: str, *, until: datetime) -> None:
        rows = self._t.deadlines
        for key in [key for key in rows if key[0] == case_id]:
            row = rows[key]
            rows[key] = replace(
                row, attempts=row.attempts + 1, claimed_by=None, claimed_until=utc(until)
            )

    def next_due(self, *, sandbox: str = LIVE, real_now: datetime | None = None) -> datetime | None:
        return min(
            (
                row.due_at
                for row in self._t.deadlines.values()
                if row.sandbox == sandbox and (real_now is None or row.free_at(real_now))
            ),
            default=None,
        )

    def clocks_with_due(self, *, real_now: datetime) -> list[tuple[str, datetime]]:
        sandboxes = self._t.sandboxes
        waiting = {
            row.sandbox
            for row in self._t.deadlines.values()
            if row.sandbox in sandboxes
            and row.due_at < sandboxes[row.sandbox].now
            and row.free_at(real_now)
        }
        listed = sorted(sandboxes.values(), key=lambda sb: (sb.created_at, sb.id))
        return [(sb.id, sb.now) for sb in listed if sb.id in waiting]

    def next_release(self, *, real_now: datetime) -> datetime | None:
        sandboxes = self._t.sandboxes
        return min(
            (
                row.claimed_until
                for row in self._t.deadlines.values()
                if row.sandbox in sandboxes
                and row.due_at < sandboxes[row.sandbox].now
                and row.claimed_until is not None
                and row.claimed_until > real_now
            ),
            default=None,
        )

    def earliest_before(self, sandbox: str, before: datetime) -> datetime | None:
        return min(
            (
                row.due_at
                for row in self._t.deadlines.values()
                if row.sandbox == sandbox and row.due_at < before
            ),
            default=None,
        )

    def cases_due(self, sandbox: str, before: datetime) -> list[str]:
        return sorted(
            {
                case_id
                for (case_id, _), row in self._t.deadlines.items()
                if row.sandbox == sandbox and row.due_at < before
            }
        )

    def due_count(self, *, sandbox: str, now: datetime) -> int:
        return sum(
            1 for row in self._t.deadlines.values() if row.sandbox == sandbox and row.due_at < now
        )


class MemoryChats(_OnStore):
    def open(self, thread: ChatThread) -> None:
        if thread.id in self._t.threads:
            raise AlreadyExists(f"chat '{thread.id}' already exists")
        self._t.threads[thread.id] = ThreadRecord(
            thread.order_item_id, thread.brand_id, utc(thread.opened_at), thread.case_id
        )

    def get(self, thread_id: str) -> ChatThread | None:
        row = self._t.threads.get(thread_id)
        buyer = (
            None if row is None else MemoryReference(self.store).buyer_of_item(row.order_item_id)
        )
        if row is None or buyer is None:
            return None
        return ChatThread(
            thread_id, row.order_item_id, row.brand_id, buyer, row.case_id, row.opened_at
        )

    def add_message(self, thread_id: str, message: ChatMessage) -> None:
        row = self._t.threads.get(thread_id)
        if row is None:
            raise NotFound("chat", thread_id)
        stored = replace(message, at=utc(message.at))
        self._t.threads[thread_id] = replace(row, messages=(*row.messages, stored))

    def messages(self, thread_id: str) -> list[ChatMessage]:
        row = self._t.threads.get(thread_id)
        return [] if row is None else list(row.messages)

    def link_case(self, thread_id: str, case_id: str) -> None:
        row = self._t.threads.get(thread_id)
        if row is not None:
            self._t.threads[thread_id] = replace(row, case_id=case_id)

    def threads(
        self,
        *,
        buyer: str | None = None,
        brand: str | None = None,
        order_item_id: str | None = None,
        limit: int = 100,
    ) -> list[ChatThread]:
        found = [
            thread
            for thread in (self.get(thread_id) for thread_id in self._t.threads)
            if thread is not None
            and (buyer is None or thread.buyer_account == buyer)
            and (brand is None or thread.brand_id == brand)
            and (order_item_id is None or thread.order_item_id == order_item_id)
        ]
        # SQL orders by (opened_at desc, id): the same here, spelled in two stable sorts.
        found.sort(key=lambda thread: thread.id)
        found.sort(key=lambda thread: thread.opened_at, reverse=True)
        return found[: max(limit, 0)]


class MemoryCaseContacts(_OnStore):
    def put(self, contact: FormContact) -> None:
        self._t.contacts[contact.case_id] = replace(contact, given_at=utc(contact.given_at))

    def of_case(self, case_id: str) -> FormContact | None:
        return self._t.contacts.get(case_id)


class MemoryAttachments(_OnStore):
    def add(self, attachment: Attachment) -> None:
        if attachment.id in self._t.attachments:
            raise AlreadyExists(f"attachment '{attachment.id}' already exists")
        self._t.attachments[attachment.id] = replace(
            attachment, uploaded_at=utc(attachment.uploaded_at)
        )

    def of_case(self, case_id: str) -> list[Attachment]:
        found = [a for a in self._t.attachments.values() if a.case_id == case_id]
        return sorted(found, key=lambda a: (a.uploaded_at, a.id))

    def referenced(self, storage_keys: Sequence[str]) -> set[str]:
        wanted = set(storage_keys)
        return {a.storage_key for a in self._t.attachments.values() if a.storage_key in wanted}


class MemorySolutionTexts(_OnStore):
    def of_owner(self, owner: str) -> list[SolutionText]:
        found = [x for x in self._t.solution_texts.values() if x.owner == owner]
        return sorted(found, key=lambda x: (x.title, x.id))

    def get(self, text_id: str) -> SolutionText | None:
        return self._t.solution_texts.get(text_id)

    def put(self, text: SolutionText) -> None:
        self._t.solution_texts[text.id] = replace(
            text, created_at=utc(text.created_at), updated_at=utc(text.updated_at)
        )

    def delete(self, text_id: str) -> bool:
        return self._t.solution_texts.pop(text_id, None) is not None


class MemoryLedger(_OnStore):
    def payouts(self, *, sandbox: str = LIVE, account: str | None = None) -> list[Payout]:
        return [
            entry.payout
            for _, entry in sorted(self._t.ledger.items())
            if entry.sandbox == sandbox
            and (not account or account in (entry.payout.payee, entry.payout.payer))
        ]

    def balances(self, *, sandbox: str = LIVE) -> dict[tuple[str, str], int]:
        return {
            (account, unit): balance
            for (in_sandbox, account, unit), balance in self._t.balances.items()
            if in_sandbox == sandbox
        }


def _account(account_id: str, row: AccountRecord) -> Account:
    return Account(account_id, row.username, row.name, Role(row.role), row.party, row.active)


class MemoryAccounts(_OnStore):
    def add(self, account: Account, password_hash: str, created_at: datetime) -> None:
        t = self._t
        if account.id in t.accounts or self.by_username(account.username) is not None:
            raise AlreadyExists(f"username {account.username!r} is taken; choose another")
        t.accounts[account.id] = AccountRecord(
            account.username,
            account.name,
            account.role.value,
            account.party,
            password_hash,
            account.active,
            utc(created_at),
        )

    def by_username(self, username: str) -> StoredAccount | None:
        for account_id, row in self._t.accounts.items():
            if row.username == username:
                return StoredAccount(_account(account_id, row), row.password_hash)
        return None

    def list(self) -> list[Account]:
        rows = sorted(self._t.accounts.items(), key=lambda a: (a[1].role, a[1].username))
        return [_account(account_id, row) for account_id, row in rows]

    def set_password_hash(self, account_id: str, password_hash: str) -> None:
        row = self._t.accounts.get(account_id)
        if row is not None:
            self._t.accounts[account_id] = replace(row, password_hash=password_hash)

    def add_session(
        self,
        digest: str,
        account_id: str,
        csrf_token: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> None:
        if digest in self._t.sessions:
            raise AlreadyExists("a session with this token already exists")
        self._t.sessions[digest] = SessionRow(
            account_id, csrf_token, utc(created_at), utc(expires_at)
        )

    def session(self, digest: str) -> SessionRecord | None:
        row = self._t.sessions.get(digest)
        account = None if row is None else self._t.accounts.get(row.account_id)
        if row is None or account is None:
            return None
        return SessionRecord(_account(row.account_id, account), row.csrf_token, row.expires_at)

    def drop_session(self, digest: str) -> None:
        self._t.sessions.pop(digest, None)

    def drop_sessions_expired(self, before: datetime) -> None:
        sessions = self._t.sessions
        for digest in [d for d, row in sessions.items() if row.expires_at < before]:
            del sessions[digest]

    def add_token(
        self,
        token_id: str,
        account_id: str,
        name: str,
        digest: str,
        created_at: datetime,
        expires_at: datetime | None = None,
    ) -> None:
        t = self._t
        if token_id in t.tokens or any(row.digest == digest for row in t.tokens.values()):
            raise AlreadyExists(f"token '{token_id}' already exists")
        t.tokens[token_id] = TokenRecord(
            account_id,
            name,
            digest,
            utc(created_at),
            expires_at=None if expires_at is None else utc(expires_at),
        )

    def account_for_token(self, digest: str) -> Account | None:
        for row in self._t.tokens.values():
            if row.digest == digest and row.revoked_at is None:
                account = self._t.accounts.get(row.account_id)
                return None if account is None else _account(row.account_id, account)
        return None

    def revoke_token(self, token_id: str, at: datetime) -> bool:
        row = self._t.tokens.get(token_id)
        if row is None or row.revoked_at is not None:
            return False
        self._t.tokens[token_id] = replace(row, revoked_at=utc(at))
        return True

    def set_token_expiry(self, token_id: str, expires_at: datetime | None) -> None:
        row = self._t.tokens.get(token_id)
        if row is not None:
            expiry = None if expires_at is None else utc(expires_at)
            self._t.tokens[token_id] = replace(row, expires_at=expiry)

    def _stored(self, token_id: str, row: TokenRecord) -> StoredToken | None:
        account = self._t.accounts.get(row.account_id)
        if account is None:
            return None
        return StoredToken(
            token_id,
            _account(row.account_id, account),
            row.name,
            row.created_at,
            row.expires_at,
            row.revoked_at,
        )

    def token_by_digest(self, digest: str) -> StoredToken | None:
        for token_id, row in self._t.tokens.items():
            if row.digest == digest:
                return self._stored(token_id, row)
        return None

    def token(self, token_id: str) -> StoredToken | None:
        row = self._t.tokens.get(token_id)
        return None if row is None else self._stored(token_id, row)

    def tokens(self, account_id: str | None = None) -> Sequence[StoredToken]:
        found = [
            stored
            for token_id, row in self._t.tokens.items()
            if account_id is None or row.account_id == account_id
            if (stored := self._stored(token_id, row)) is not None
        ]
        return sorted(found, key=lambda t: (t.created_at, t.id), reverse=True)

    def sign_in_failures(self, keys: Sequence[str]) -> dict[str, SignInFailures]:
        rows = self._t.sign_in_failures
        return {key: rows[key] for key in keys if key in rows and rows[key].failures > 0}

    def lock_sign_in_failures(self, key: str, at: datetime) -> SignInFailures:
        # The store's lock already runs units of work one at a time.
        rows = self._t.sign_in_failures
        if key not in rows:
            rows[key] = SignInFailures(0, utc(at), None)
        return rows[key]

    def set_sign_in_failures(self, key: str, failures: SignInFailures) -> None:
        self._t.sign_in_failures[key] = failures

    def clear_sign_in_failures(self, key: str) -> None:
        self._t.sign_in_failures.pop(key, None)

    def forget_sign_in_failures(self, last_before: datetime) -> None:
        rows = self._t.sign_in_failures
        for key in [k for k, row in rows.items() if row.last_failure_at < last_before]:
            del rows[key]


class MemoryIdempotency(_OnStore):
    """Keys per (account, key). Units of work on one store run one at a time (the store's
    lock), so a repeat always finds the first request's key committed or rolled back."""

    def reserve(self, account_id: str, key: str, digest: str, at: datetime) -> StoredAnswer | None:
        row = self._t.idempotency.get((account_id, key))
        if row is None:
            self._t.idempotency[(account_id, key)] = KeyRecord(digest, utc(at))
            return None
        body = None if row.body_json is None else json.loads(row.body_json)
        return StoredAnswer(row.request_sha256, row.status, body)

    def complete(self, account_id: str, key: str, status: int, body: dict[str, Any]) -> None:
        row = self._t.idempotency.get((account_id, key))
        if row is not None:
            self._t.idempotency[(account_id, key)] = replace(
                row, status=status, body_json=json.dumps(body)
            )
