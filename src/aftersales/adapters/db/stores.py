"""The SQL side of the smaller ports: reference data, sandboxes, chats, attachments,
ledger, accounts and idempotency keys, each a thin class over one connection.

Every class works in the caller's transaction (the unit of work's connection)
and never commits. Errors a person can act on are raised from the project's
tree (``NotFound``, ``AlreadyExists`` …), translated here from the driver's.

Why one module of some 750 lines: each class is short and reads like its neighbours,
and they share the translation of driver errors. A port that grows past a screen of
its own moves out, as the cases, deadlines, master data, read models and
notifications already have (and dispatch's query, in ``dispatch.py``, and the
appointments, in ``appointments.py``); accounts and sign-in counts would be next.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from aftersales.adapters.db import dispatch, reference
from aftersales.adapters.db import schema as s
from aftersales.adapters.db.case_rows import payout_from_row
from aftersales.adapters.db.driver import Prepared
from aftersales.adapters.db.wakeups import announce
from aftersales.domain.brands import BrandAfterSales
from aftersales.domain.contacts import normalise_phone
from aftersales.domain.dispatch import Candidate
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
    TokenRecord,
)

_oi, _o, _p = s.order_items, s.orders, s.products
_ITEM_SANDBOX = (
    select(_o.c.sandbox, _o.c.buyer_account)
    .select_from(_oi.join(_o, _oi.c.order_id == _o.c.id))
    .where(_oi.c.id == bindparam("item_id"))
)


class SqlReference:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def order_item(self, order_item_id: str) -> OrderItem:
        return reference.load_order_item(self.conn, order_item_id)

    def _item_row(self, order_item_id: str) -> Any:
        row = self.conn.execute(_ITEM_SANDBOX, {"item_id": order_item_id}).first()
        if row is None:
            raise NotFound("order item", order_item_id)
        return row

    def sandbox_of_item(self, order_item_id: str) -> str:
        return str(self._item_row(order_item_id).sandbox)

    def buyer_of_item(self, order_item_id: str) -> str | None:
        row = self.conn.execute(_ITEM_SANDBOX, {"item_id": order_item_id}).first()
        return None if row is None else str(row.buyer_account)

    def order_items_of_buyer(
        self, buyer_account: str, *, sandbox: str | None = None
    ) -> list[OrderItem]:
        return reference.order_items_of_buyer(self.conn, buyer_account, sandbox=sandbox)

    def intake_item(self, order_item_id: str, programme: Programme) -> IntakeItem:
        row = reference.load_intake_item(self.conn, order_item_id, programme.value)
        sandbox = str(row.sandbox)
        if sandbox != LIVE and row.sandbox_now is None:
            raise SandboxNotFound(sandbox)
        return IntakeItem(
            item=reference.order_item_from_row(row),
            sandbox=sandbox,
            sandbox_now=None if sandbox == LIVE else row.sandbox_now,
            open_case=row.open_case,
            preferred_providers=tuple(row.preferred_providers or ()),
        )

    def order_sandboxes_of_buyer(self, buyer_account: str) -> dict[str, str]:
        rows = self.conn.execute(
            select(_o.c.id, _o.c.sandbox).where(_o.c.buyer_account == buyer_account)
        )
        return {r.id: r.sandbox for r in rows}

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
        return dispatch.candidates(
            self.conn,
            book,
            areas=areas,
            category_id=category_id,
            service_tag=service_tag,
            sandbox=sandbox,
            day=day,
            record_since=record_since,
        )

    def count_dispatch(
        self, *, sandbox: str, provider_id: str, day: date, areas: Sequence[str]
    ) -> dict[str, int]:
        return dispatch.count_dispatch(
            self.conn, sandbox=sandbox, provider_id=provider_id, day=day, areas=areas
        )

    def release_dispatch(
        self, *, sandbox: str, provider_id: str, day: date, areas: Sequence[str]
    ) -> None:
        dispatch.release_dispatch(
            self.conn, sandbox=sandbox, provider_id=provider_id, day=day, areas=areas
        )

    def preferred_providers(self, merchant_id: str) -> tuple[str, ...]:
        found = _PREFERRED.scalar(self.conn, {"merchant_id": merchant_id})
        return tuple(found or ())

    def brand_after_sales(self, brand_id: str) -> BrandAfterSales:
        return reference.brand_after_sales(self.conn, brand_id)

    def lock_order(self, order_id: str) -> None:
        if self.conn.dialect.name == "postgresql":  # SQLite: BEGIN IMMEDIATE holds the writes
            self.conn.execute(select(_o.c.id).where(_o.c.id == order_id).with_for_update())

    def brands(self) -> list[BrandLine]:
        b = s.brands
        rows = self.conn.execute(select(b.c.id, b.c.name, b.c.hotline).order_by(b.c.id))
        return [BrandLine(r.id, r.name, r.hotline) for r in rows]

    def find_orders_for_caller(
        self, text: str, *, limit: int = 50, brand: str | None = None
    ) -> list[dict[str, Any]]:
        """Found in steps, each on an index where the column has one (buyer, order, item
        ids); a phone is compared digit for digit, as the marketplace wrote it, so looking
        one up reads the phone columns through."""
        needle = text.strip()
        if not needle:
            return []
        b, c, conn = s.buyers, s.cases, self.conn
        buyers = {needle} | set(conn.scalars(select(b.c.id).where(b.c.name == needle)))
        orders, items = {needle}, {needle}
        phone = normalise_phone(needle)
        if phone is not None:
            digits = phone.replace("-", "")
            numbers = (digits, "86" + digits)
            buyers |= set(conn.scalars(select(b.c.id).where(_digits(b.c.phone).in_(numbers))))
            orders |= set(
                conn.scalars(select(_o.c.id).where(_digits(_o.c.contact_phone).in_(numbers)))
            )
            items |= set(
                conn.scalars(select(_oi.c.id).where(_digits(_oi.c.contact_phone).in_(numbers)))
            )
            items |= set(conn.scalars(select(c.c.order_item_id).where(c.c.callback_phone == phone)))
        orders |= set(conn.scalars(select(_o.c.id).where(_o.c.buyer_account.in_(buyers))))
        items |= set(conn.scalars(select(_oi.c.id).where(_oi.c.order_id.in_(orders))))
        query = (
            select(
                _oi.c.id,
                _oi.c.order_id,
                _o.c.sandbox,
                _o.c.buyer_account,
                func.coalesce(b.c.name, "").label("buyer_name"),
                _o.c.merchant_id,
                _p.c.name.label("product"),
                _p.c.brand_id,
                _p.c.badges,
                _p.c.service_tags,
                _oi.c.purchased_on,
                _oi.c.city,
            )
            .select_from(
                _oi.join(_o, _oi.c.order_id == _o.c.id)
                .join(_p, _oi.c.product_id == _p.c.id)
                .outerjoin(b, b.c.id == _o.c.buyer_account)
            )
            .where(_oi.c.id.in_(sorted(items)))
            .order_by(_oi.c.purchased_on.desc(), _oi.c.id)
            .limit(limit)
        )
        if brand is not None:
            query = query.where(func.coalesce(_oi.c.brand_id, _p.c.brand_id) == brand)
        return [dict(r._mapping) for r in conn.execute(query)]


def _digits(column: Any) -> Any:
    """A phone column with its spaces, dashes, brackets and leading + taken out."""
    for mark in (" ", "-", "(", ")", "+"):
        column = func.replace(column, mark, "")
    return column


def _sandbox(row: Any) -> Sandbox:
    return Sandbox(row.id, row.name, row.now, row.created_at)


class SqlSandboxes:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, sandbox_id: str, *, for_update: bool = False) -> Sandbox:
        query = select(s.sandboxes).where(s.sandboxes.c.id == sandbox_id)
        if for_update and self.conn.dialect.name == "postgresql":
            query = query.with_for_update()  # SQLite: BEGIN IMMEDIATE already holds the writes
        row = self.conn.execute(query).first()
        if row is None:
            raise SandboxNotFound(sandbox_id)
        return _sandbox(row)

    def exists(self, sandbox_id: str) -> bool:
        query = select(s.sandboxes.c.id).where(s.sandboxes.c.id == sandbox_id)
        return self.conn.execute(query).first() is not None

    def list(self) -> list[Sandbox]:
        query = select(s.sandboxes).order_by(s.sandboxes.c.created_at, s.sandboxes.c.id)
        return [_sandbox(r) for r in self.conn.execute(query)]

    def add(self, sandbox: Sandbox) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(s.sandboxes).values(
                        id=sandbox.id,
                        name=sandbox.name,
                        now=sandbox.now,
                        created_at=sandbox.created_at,
                    )
                )
        except IntegrityError as exc:
            raise AlreadyExists(f"sandbox '{sandbox.id}' already exists") from exc

    def set_now(self, sandbox_id: str, now: datetime) -> None:
        self.conn.execute(update(s.sandboxes).where(s.sandboxes.c.id == sandbox_id).values(now=now))
        announce(self.conn, sandbox_id)  # what the clock passed is due: wake the workers

    def clear(self, sandbox_id: str) -> int:
        """Remove every case of the sandbox and what hangs off it; its master data stays."""
        if sandbox_id == LIVE:
            raise ValueError("live data is never cleared")
        c, o, oi = s.cases, s.orders, s.order_items
        case_ids = select(c.c.id).where(c.c.sandbox == sandbox_id)
        threads = select(s.chat_threads.c.id).where(
            or_(
                s.chat_threads.c.case_id.in_(case_ids),
                s.chat_threads.c.order_item_id.in_(
                    select(oi.c.id)
                    .join(o, o.c.id == oi.c.order_id)
                    .where(o.c.sandbox == sandbox_id)
                ),
            )
        )
        outbox = select(s.outbox.c.id).where(s.outbox.c.sandbox == sandbox_id)
        notices = select(s.notifications.c.id).where(s.notifications.c.sandbox == sandbox_id)
        gone = int(
            self.conn.execute(select(func.count()).select_from(case_ids.subquery())).scalar_one()
        )
        for statement in (
            delete(s.webhook_deliveries).where(s.webhook_deliveries.c.outbox_id.in_(outbox)),
            delete(s.outbox).where(s.outbox.c.sandbox == sandbox_id),
            delete(s.notification_deliveries).where(
                s.notification_deliveries.c.notification_id.in_(notices)
            ),
            delete(s.notifications).where(s.notifications.c.sandbox == sandbox_id),
            delete(s.chat_messages).where(s.chat_messages.c.thread_id.in_(threads)),
            delete(s.chat_threads).where(s.chat_threads.c.id.in_(threads)),
            delete(s.attachments).where(s.attachments.c.case_id.in_(case_ids)),
            delete(s.case_contacts).where(s.case_contacts.c.case_id.in_(case_ids)),
            delete(s.appointment_changes).where(s.appointment_changes.c.case_id.in_(case_ids)),
            delete(s.appointments).where(s.appointments.c.case_id.in_(case_ids)),
            delete(s.deadlines).where(s.deadlines.c.sandbox == sandbox_id),
            delete(s.ledger_shares).where(s.ledger_shares.c.sandbox == sandbox_id),
            delete(s.ledger_entries).where(s.ledger_entries.c.sandbox == sandbox_id),
            delete(s.account_balances).where(s.account_balances.c.sandbox == sandbox_id),
            delete(s.complaints).where(s.complaints.c.case_id.in_(case_ids)),
            delete(s.decisions).where(s.decisions.c.case_id.in_(case_ids)),
            delete(s.audit_log).where(s.audit_log.c.case_id.in_(case_ids)),
            delete(s.clocks).where(s.clocks.c.case_id.in_(case_ids)),
            delete(s.provider_loads).where(s.provider_loads.c.sandbox == sandbox_id),
            delete(c).where(c.c.sandbox == sandbox_id),
        ):
            self.conn.execute(statement)
        return gone


class SqlChats:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def open(self, thread: ChatThread) -> None:
        self.conn.execute(
            insert(s.chat_threads).values(
                id=thread.id,
                order_item_id=thread.order_item_id,
                brand_id=thread.brand_id,
                opened_at=thread.opened_at,
                case_id=thread.case_id,
            )
        )

    def get(self, thread_id: str) -> ChatThread | None:
        t = s.chat_threads
        row = self.conn.execute(
            select(t, _o.c.buyer_account)
            .select_from(
                t.join(_oi, _oi.c.id == t.c.order_item_id).join(_o, _o.c.id == _oi.c.order_id)
            )
            .where(t.c.id == thread_id)
        ).first()
        if row is None:
            return None
        return ChatThread(
            row.id, row.order_item_id, row.brand_id, row.buyer_account, row.case_id, row.opened_at
        )

    def add_message(self, thread_id: str, message: ChatMessage) -> None:
        self.conn.execute(
            insert(s.chat_messages).values(
                thread_id=thread_id,
                at=message.at,
                sender_role=message.sender_role,
                sender_id=message.sender_id,
                text=message.text,
            )
        )

    def messages(self, thread_id: str) -> list[ChatMessage]:
        m = s.chat_messages
        rows = self.conn.execute(
            select(m.c.at, m.c.sender_role, m.c.sender_id, m.c.text)
            .where(m.c.thread_id == thread_id)
            .order_by(m.c.id)
        )
        return [ChatMessage(r.at, r.sender_role, r.sender_id, r.text) for r in rows]

    def link_case(self, thread_id: str, case_id: str) -> None:
        self.conn.execute(
            update(s.chat_threads).where(s.chat_threads.c.id == thread_id).values(case_id=case_id)
        )

    def threads(
        self,
        *,
        buyer: str | None = None,
        brand: str | None = None,
        order_item_id: str | None = None,
        limit: int = 100,
    ) -> list[ChatThread]:
        t = s.chat_threads
        query = select(t, _o.c.buyer_account).select_from(
            t.join(_oi, _oi.c.id == t.c.order_item_id).join(_o, _o.c.id == _oi.c.order_id)
        )
        if buyer is not None:
            query = query.where(_o.c.buyer_account == buyer)
        if brand is not None:
            query = query.where(t.c.brand_id == brand)
        if order_item_id is not None:
            query = query.where(t.c.order_item_id == order_item_id)
        query = query.order_by(t.c.opened_at.desc(), t.c.id).limit(limit)
        return [
            ChatThread(r.id, r.order_item_id, r.brand_id, r.buyer_account, r.case_id, r.opened_at)
            for r in self.conn.execute(query)
        ]


class SqlCaseContacts:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def put(self, contact: FormContact) -> None:
        k = s.case_contacts
        values = {
            "phone": contact.phone,
            "address": contact.address,
            "preferred_time": contact.preferred_time,
            "given_at": contact.given_at,
            "given_by": contact.given_by,
        }
        changed = self.conn.execute(update(k).where(k.c.case_id == contact.case_id).values(values))
        if not changed.rowcount:
            self.conn.execute(insert(k).values(case_id=contact.case_id, **values))

    def of_case(self, case_id: str) -> FormContact | None:
        k = s.case_contacts
        r = self.conn.execute(select(k).where(k.c.case_id == case_id)).first()
        if r is None:
            return None
        return FormContact(r.case_id, r.phone, r.address, r.preferred_time, r.given_at, r.given_by)


class SqlAttachments:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, attachment: Attachment) -> None:
        self.conn.execute(insert(s.attachments).values(**attachment.__dict__))

    def of_case(self, case_id: str) -> list[Attachment]:
        a = s.attachments
        rows = self.conn.execute(
            select(a).where(a.c.case_id == case_id).order_by(a.c.uploaded_at, a.c.id)
        )
        return [Attachment(**dict(r._mapping)) for r in rows]

    def referenced(self, storage_keys: Sequence[str]) -> set[str]:
        if not storage_keys:
            return set()
        a = s.attachments
        found = select(a.c.storage_key).where(a.c.storage_key.in_(list(storage_keys))).distinct()
        return {r.storage_key for r in self.conn.execute(found)}


class SqlSolutionTexts:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def of_owner(self, owner: str) -> list[SolutionText]:
        t = s.solution_texts
        rows = self.conn.execute(select(t).where(t.c.owner == owner))
        # Sorted here, not by ORDER BY, so Chinese titles sort alike on every database.
        return sorted(
            (SolutionText(**dict(r._mapping)) for r in rows), key=lambda x: (x.title, x.id)
        )

    def get(self, text_id: str) -> SolutionText | None:
        t = s.solution_texts
        row = self.conn.execute(select(t).where(t.c.id == text_id)).first()
        return None if row is None else SolutionText(**dict(row._mapping))

    def put(self, text: SolutionText) -> None:
        t = s.solution_texts
        values = dict(text.__dict__)
        done = self.conn.execute(
            update(t)
            .where(t.c.id == text.id)
            .values(**{k: v for k, v in values.items() if k != "id"})
        )
        if done.rowcount == 0:
            self.conn.execute(insert(t).values(**values))

    def delete(self, text_id: str) -> bool:
        t = s.solution_texts
        return bool(self.conn.execute(delete(t).where(t.c.id == text_id)).rowcount)


class SqlLedger:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def payouts(self, *, sandbox: str = LIVE, account: str | None = None) -> list[Payout]:
        le = s.ledger_entries
        query = select(le).where(le.c.sandbox == sandbox)
        if account:
            query = query.where((le.c.payee == account) | (le.c.payer == account))
        return [payout_from_row(r) for r in self.conn.execute(query.order_by(le.c.id))]

    def balances(self, *, sandbox: str = LIVE) -> dict[tuple[str, str], int]:
        b = s.account_balances
        rows = self.conn.execute(select(b).where(b.c.sandbox == sandbox))
        return {(r.account, r.unit): int(r.balance) for r in rows}


def _account(row: Any) -> Account:
    return Account(
        id=row.id,
        username=row.username,
        name=row.name,
        role=Role(row.role),
        party=row.party,
        active=bool(row.active),
    )


class SqlAccounts:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, account: Account, password_hash: str, created_at: datetime) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(s.accounts).values(
                        id=account.id,
                        username=account.username,
                        name=account.name,
                        role=account.role.value,
                        party=account.party,
                        password_hash=password_hash,
                        active=account.active,
                        created_at=created_at,
                    )
                )
        except IntegrityError as exc:
            raise AlreadyExists(f"username {account.username!r} is taken; choose another") from exc

    def by_username(self, username: str) -> StoredAccount | None:
        row = self.conn.execute(select(s.accounts).where(s.accounts.c.username == username)).first()
        return None if row is None else StoredAccount(_account(row), row.password_hash)

    def list(self) -> list[Account]:
        a = s.accounts
        return [_account(r) for r in self.conn.execute(select(a).order_by(a.c.role, a.c.username))]

    def set_password_hash(self, account_id: str, password_hash: str) -> None:
        self.conn.execute(
            update(s.accounts)
            .where(s.accounts.c.id == account_id)
            .values(password_hash=password_hash)
        )

    def add_session(
        self,
        digest: str,
        account_id: str,
        csrf_token: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> None:
        self.conn.execute(
            insert(s.web_sessions).values(
                token_sha256=digest,
                account_id=account_id,
                csrf_token=csrf_token,
                created_at=created_at,
                expires_at=expires_at,
            )
        )

    def session(self, digest: str) -> SessionRecord | None:
        ws, a = s.web_sessions, s.accounts
        row = self.conn.execute(
            select(ws.c.csrf_token, ws.c.expires_at, a)
            .select_from(ws.join(a, ws.c.account_id == a.c.id))
            .where(ws.c.token_sha256 == digest)
        ).first()
        return None if row is None else SessionRecord(_account(row), row.csrf_token, row.expires_at)

    def drop_session(self, digest: str) -> None:
        self.conn.execute(delete(s.web_sessions).where(s.web_sessions.c.token_sha256 == digest))

    def drop_sessions_expired(self, before: datetime) -> None:
        self.conn.execute(delete(s.web_sessions).where(s.web_sessions.c.expires_at < before))

    def add_token(
        self,
        token_id: str,
        account_id: str,
        name: str,
        digest: str,
        created_at: datetime,
        expires_at: datetime | None = None,
    ) -> None:
        self.conn.execute(
            insert(s.api_tokens).values(
                id=token_id,
                account_id=account_id,
                name=name,
                token_sha256=digest,
                created_at=created_at,
                expires_at=expires_at,
            )
        )

    def account_for_token(self, digest: str) -> Account | None:
        t, a = s.api_tokens, s.accounts
        row = self.conn.execute(
            select(a)
            .select_from(t.join(a, t.c.account_id == a.c.id))
            .where(t.c.token_sha256 == digest, t.c.revoked_at.is_(None))
        ).first()
        return None if row is None else _account(row)

    def revoke_token(self, token_id: str, at: datetime) -> bool:
        result = self.conn.execute(
            update(s.api_tokens)
            .where(s.api_tokens.c.id == token_id, s.api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return result.rowcount == 1

    def set_token_expiry(self, token_id: str, expires_at: datetime | None) -> None:
        self.conn.execute(
            update(s.api_tokens).where(s.api_tokens.c.id == token_id).values(expires_at=expires_at)
        )

    def _tokens(self) -> Any:
        t, a = s.api_tokens, s.accounts
        return (
            select(
                t.c.id.label("token_id"),
                t.c.name.label("token_name"),
                t.c.created_at.label("token_created_at"),
                t.c.expires_at,
                t.c.revoked_at,
                a,
            )
            .select_from(t.join(a, t.c.account_id == a.c.id))
            .order_by(t.c.created_at.desc(), t.c.id.desc())
        )

    def token_by_digest(self, digest: str) -> TokenRecord | None:
        row = self.conn.execute(self._tokens().where(s.api_tokens.c.token_sha256 == digest)).first()
        return None if row is None else _token(row)

    def token(self, token_id: str) -> TokenRecord | None:
        row = self.conn.execute(self._tokens().where(s.api_tokens.c.id == token_id)).first()
        return None if row is None else _token(row)

    def tokens(self, account_id: str | None = None) -> Sequence[TokenRecord]:
        query = self._tokens()
        if account_id is not None:
            query = query.where(s.api_tokens.c.account_id == account_id)
        return [_token(row) for row in self.conn.execute(query)]

    def sign_in_failures(self, keys: Sequence[str]) -> dict[str, SignInFailures]:
        f = s.sign_in_failures
        rows = self.conn.execute(select(f).where(f.c.key.in_(list(keys))))
        return {row.key: _failures(row) for row in rows if row.failures > 0}

    def lock_sign_in_failures(self, key: str, at: datetime) -> SignInFailures:
        # A row of none first, so that racing failures on PostgreSQL queue on its lock
        # (SQLite's BEGIN IMMEDIATE already runs writers one at a time).
        f = s.sign_in_failures
        values = {"key": key, "failures": 0, "last_failure_at": at, "blocked_until": None}
        self.conn.execute(_NEW_FAILURES[self.conn.dialect.name], values)
        row = self.conn.execute(select(f).where(f.c.key == key).with_for_update()).one()
        return _failures(row)

    def set_sign_in_failures(self, key: str, failures: SignInFailures) -> None:
        f = s.sign_in_failures
        self.conn.execute(
            update(f)
            .where(f.c.key == key)
            .values(
                failures=failures.failures,
                last_failure_at=failures.last_failure_at,
                blocked_until=failures.blocked_until,
            )
        )

    def clear_sign_in_failures(self, key: str) -> None:
        self.conn.execute(delete(s.sign_in_failures).where(s.sign_in_failures.c.key == key))

    def forget_sign_in_failures(self, last_before: datetime) -> None:
        f = s.sign_in_failures
        self.conn.execute(delete(f).where(f.c.last_failure_at < last_before))


def _token(row: Any) -> TokenRecord:
    return TokenRecord(
        id=row.token_id,
        account=_account(row),
        name=row.token_name,
        created_at=row.token_created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def _failures(row: Any) -> SignInFailures:
    return SignInFailures(row.failures, row.last_failure_at, row.blocked_until)


_NEW_FAILURES = {
    name: dialect.insert(s.sign_in_failures).on_conflict_do_nothing(index_elements=["key"])
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


_PREFERRED = Prepared(
    select(s.merchants.c.preferred_providers).where(s.merchants.c.id == bindparam("merchant_id"))
)


def _reserve_key(dialect: Any) -> Any:
    return (
        dialect.insert(s.idempotency_keys)
        .on_conflict_do_nothing(index_elements=["account_id", "key"])
        .returning(s.idempotency_keys.c.key)
    )


_RESERVE_KEY = Prepared(  # built once: a unit of work is made for every request
    _reserve_key(postgresql),
    keys=("account_id", "key", "request_sha256", "created_at"),
    elsewhere=_reserve_key(sqlite),
)

_COMPLETE_KEY = Prepared(
    update(s.idempotency_keys)
    .where(
        s.idempotency_keys.c.account_id == bindparam("_account_id"),
        s.idempotency_keys.c.key == bindparam("_key"),
    )
    .values(status=bindparam("status"), body=bindparam("body"))
)


class SqlIdempotency:
    """Keys reserved with ``INSERT … ON CONFLICT DO NOTHING`` under the (account, key) primary key.

    On PostgreSQL a second insert of a key another open transaction inserted
    waits for that transaction: if it commits, the insert does nothing and the
    stored answer is read; if it rolls back, the insert goes ahead. On SQLite
    the write lock taken at BEGIN IMMEDIATE orders the requests the same way.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def reserve(self, account_id: str, key: str, digest: str, at: datetime) -> StoredAnswer | None:
        inserted = _RESERVE_KEY.first(
            self.conn,
            {"account_id": account_id, "key": key, "request_sha256": digest, "created_at": at},
        )
        if inserted is not None:
            return None
        k = s.idempotency_keys
        row = self.conn.execute(
            select(k.c.request_sha256, k.c.status, k.c.body).where(
                k.c.account_id == account_id, k.c.key == key
            )
        ).one()
        return StoredAnswer(
            row.request_sha256, row.status, None if row.body is None else dict(row.body)
        )

    def complete(self, account_id: str, key: str, status: int, body: dict[str, Any]) -> None:
        _COMPLETE_KEY.execute(
            self.conn, {"_account_id": account_id, "_key": key, "status": status, "body": body}
        )
