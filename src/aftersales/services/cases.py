"""Use cases for cases: one function per command, one transaction each.

Every command takes its collaborators as :class:`Services` (engine, policies,
clock, address resolver, attachment store), reads "now" for the case's sandbox
(:func:`aftersales.services.time.now_in`), and commits once. Domain errors pass
through unchanged: they already say what was refused and why.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from aftersales.adapters.attachments import AttachmentStore
from aftersales.adapters.db import schema as s
from aftersales.adapters.db.reference import load_order_item
from aftersales.adapters.db.schema import LIVE
from aftersales.adapters.db.uow import UnitOfWork
from aftersales.domain.cases import SYSTEM, Actor, Case, Complaint
from aftersales.domain.eligibility import (
    EligibilityDecision,
    OrderItem,
    assess_national_warranty,
    assess_one_click_help,
)
from aftersales.domain.ledger import Payout
from aftersales.domain.lifecycle import Channel, Programme, Role
from aftersales.domain.policy import PolicyBook
from aftersales.errors import CaseNotFound, InvalidRequest, NotFound
from aftersales.services.time import Clock, now_in

if TYPE_CHECKING:
    from sqlalchemy import Connection

T = TypeVar("T")


@dataclass
class Services:
    engine: Engine
    book: PolicyBook
    clock: Clock
    find_provider: Callable[[Connection, PolicyBook, str, str, str], str | None] | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine, self.book)


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def load_item(conn: Connection, order_item_id: str) -> OrderItem:
    return load_order_item(conn, order_item_id)


def _sandbox_of_item(conn: Connection, order_item_id: str) -> str:
    row = conn.execute(
        select(s.orders.c.sandbox)
        .select_from(s.order_items.join(s.orders, s.order_items.c.order_id == s.orders.c.id))
        .where(s.order_items.c.id == order_item_id)
    ).first()
    if row is None:
        raise NotFound("order item", order_item_id)
    return str(row.sandbox)


# ------------------------------------------------------------------ intake


@dataclass(frozen=True)
class Opened:
    case: Case
    created: bool  # False: an open case for the item already existed (second click)
    eligibility: EligibilityDecision | None = None


def check_eligibility(
    svc: Services, order_item_id: str, programme: Programme, service_tag: str | None = None
) -> EligibilityDecision:
    with svc.uow() as uow:
        item = load_item(uow.conn, order_item_id)
        at = now_in(uow.conn, _sandbox_of_item(uow.conn, order_item_id), svc.clock)
    if programme is Programme.NATIONAL_WARRANTY:
        return assess_national_warranty(svc.book, item, at)
    return assess_one_click_help(svc.book, item, at, service_tag)


def report_repair(
    svc: Services, *, order_item_id: str, actor: Actor, description: str, case_id: str | None = None
) -> Opened:
    """NW-2: a repair report by hotline agent, service form or chat, answered by the brand."""
    if actor.channel not in (
        Channel.HOTLINE,
        Channel.SERVICE_FORM,
        Channel.CHAT,
        Channel.API,
        Channel.WEB,
        Channel.CLI,
        Channel.IMPORT,
    ):
        raise InvalidRequest(
            f"repair reports come by hotline, service form or chat, not '{actor.channel}'"
        )
    if actor.channel is Channel.HOTLINE and actor.role is not Role.AGENT:
        raise InvalidRequest(
            "a hotline report is filed by a hotline agent on the caller's behalf (NW-2)"
        )
    if not description.strip():
        raise InvalidRequest(
            "describe the fault (what happens, since when) so the brand can respond"
        )
    with svc.uow() as uow:
        item = load_item(uow.conn, order_item_id)
        sandbox = _sandbox_of_item(uow.conn, order_item_id)
        existing = uow.cases.open_case_for_item(order_item_id, Programme.NATIONAL_WARRANTY)
        if existing:
            return Opened(uow.cases.get(existing, with_history=True), created=False)
        at = now_in(uow.conn, sandbox, svc.clock)
        decision = assess_national_warranty(svc.book, item, at)
        case = Case.open(
            case_id=case_id or new_id("NW"),
            book=svc.book,
            eligibility=decision,
            item=item,
            at=at,
            actor=actor,
            description=description.strip(),
        )
        case.assign(
            item.product.brand_id
        )  # the brand (or the third party it names) responds (NW-4)
        uow.cases.add(case, sandbox=sandbox)
        uow.commit()
        return Opened(case, created=True, eligibility=decision)


def request_help(
    svc: Services,
    *,
    order_item_id: str,
    actor: Actor,
    failure: str,
    description: str = "",
    service_tag: str | None = None,
    overcharge_fen: int | None = None,
    case_id: str | None = None,
) -> Opened:
    """OH-3: open a one-click-help request and dispatch it at once.

    A second click on the same item while a request is open returns that request.
    """
    for attempt in range(2):
        try:
            return _request_help_once(
                svc,
                order_item_id,
                actor,
                failure,
                description,
                service_tag,
                overcharge_fen,
                case_id,
            )
        except IntegrityError:
            # Two clicks raced; the unique index let one through. Return the one that won.
            if attempt:
                raise
    raise AssertionError("unreachable")


def _request_help_once(
    svc: Services,
    order_item_id: str,
    actor: Actor,
    failure: str,
    description: str,
    service_tag: str | None,
    overcharge_fen: int | None,
    case_id: str | None,
) -> Opened:
    with svc.uow() as uow:
        existing = uow.cases.open_case_for_item(order_item_id, Programme.ONE_CLICK_HELP)
        if existing:
            return Opened(uow.cases.get(existing, with_history=True), created=False)
        item = load_item(uow.conn, order_item_id)
        sandbox = _sandbox_of_item(uow.conn, order_item_id)
        at = now_in(uow.conn, sandbox, svc.clock)
        service_tag = service_tag or _service_for_failure(svc.book, item, failure)
        decision = assess_one_click_help(svc.book, item, at, service_tag)
        case = Case.open(
            case_id=case_id or new_id("OH"),
            book=svc.book,
            eligibility=decision,
            item=item,
            at=at,
            actor=actor,
            description=description.strip(),
            failure=failure,
            overcharge_fen=overcharge_fen,
        )
        provider = None
        if (
            svc.find_provider is not None
            and item.address
            and item.address.city
            and decision.service_tag
        ):
            provider = svc.find_provider(
                uow.conn,
                svc.book,
                item.address.city,
                item.product.category_id,
                decision.service_tag,
            )
        if provider is None:
            case.dispatch(svc.book, item.merchant_id, at, to_merchant=True)
        else:
            case.dispatch(svc.book, provider, at)
        uow.cases.add(case, sandbox=sandbox)
        uow.commit()
        return Opened(case, created=True, eligibility=decision)


def _service_for_failure(book: PolicyBook, item: OrderItem, failure: str) -> str | None:
    """The item's service whose standard lists ``failure`` (a wardrobe may carry two services)."""
    standards = book.service_standards
    for tag in sorted(item.product.service_tags):
        standard = standards.for_tag(tag)
        if standard is not None and any(f.id == failure for f in standards.failures_of(standard)):
            return tag
    return None


# ------------------------------------------------------------------ commands on a case


def _command(svc: Services, case_id: str, change: Callable[[Case, datetime], T]) -> tuple[Case, T]:
    with svc.uow() as uow:
        case = uow.cases.get(case_id, for_update=True)
        at = now_in(uow.conn, uow.cases.sandbox_of(case_id), svc.clock)
        result = change(case, at)
        uow.cases.save(case)
        uow.commit()
        return case, result


def act(svc: Services, case_id: str, action: str, actor: Actor, note: str = "") -> Case:
    """Provider, brand or consumer actions: accept, reject, give_solution, resolve, close, ..."""
    case, _ = _command(svc, case_id, lambda c, at: c.act(svc.book, action, at, actor, note))
    return case


def pause_clock(svc: Services, case_id: str, clock_id: str, reason: str, actor: Actor) -> Case:
    case, _ = _command(svc, case_id, lambda c, at: c.pause(svc.book, clock_id, reason, at, actor))
    return case


def resume_clock(svc: Services, case_id: str, clock_id: str, actor: Actor) -> Case:
    case, _ = _command(svc, case_id, lambda c, at: c.resume(svc.book, clock_id, at, actor))
    return case


def issue_quote(svc: Services, case_id: str, amount_fen: int, actor: Actor) -> Case:
    case, _ = _command(svc, case_id, lambda c, at: c.issue_quote(svc.book, amount_fen, at, actor))
    return case


def answer_quote(svc: Services, case_id: str, accept: bool, actor: Actor) -> Case:
    case, _ = _command(svc, case_id, lambda c, at: c.answer_quote(svc.book, accept, at, actor))
    return case


def file_complaint(
    svc: Services, case_id: str, clock_id: str | None, actor: Actor, text: str = ""
) -> Complaint:
    _, complaint = _command(
        svc, case_id, lambda c, at: c.file_complaint(svc.book, clock_id, at, actor, text)
    )
    return complaint


def decide_complaint(
    svc: Services, case_id: str, complaint_id: str, uphold: bool, actor: Actor, note: str = ""
) -> Complaint:
    _, complaint = _command(
        svc,
        case_id,
        lambda c, at: c.decide_complaint(svc.book, complaint_id, uphold, at, actor, note),
    )
    return complaint


def get_case(svc: Services, case_id: str) -> Case:
    """The case with its whole history (decisions and audit), for explaining and display."""
    with svc.uow() as uow:
        return uow.cases.get(case_id, with_history=True)


def case_sandbox(svc: Services, case_id: str) -> str:
    with svc.uow() as uow:
        row = uow.conn.execute(select(s.cases.c.sandbox).where(s.cases.c.id == case_id)).first()
        if row is None:
            raise CaseNotFound(case_id)
        return str(row.sandbox)


def payouts_of(svc: Services, *, sandbox: str = LIVE, account: str | None = None) -> list[Payout]:
    from aftersales.adapters.db.cases_repo import payout_from_row

    with svc.uow() as uow:
        query = select(s.ledger_entries).where(s.ledger_entries.c.sandbox == sandbox)
        if account:
            query = query.where(
                (s.ledger_entries.c.payee == account) | (s.ledger_entries.c.payer == account)
            )
        return [payout_from_row(r) for r in uow.conn.execute(query.order_by(s.ledger_entries.c.id))]


def balances_of(svc: Services, *, sandbox: str = LIVE) -> dict[tuple[str, str], int]:
    with svc.uow() as uow:
        rows = uow.conn.execute(
            select(s.account_balances).where(s.account_balances.c.sandbox == sandbox)
        )
        return {(r.account, r.unit): int(r.balance) for r in rows}


# ------------------------------------------------------------------ chat and consultation (NW-2c, NW-3)


def open_chat(svc: Services, *, order_item_id: str, actor: Actor, text: str) -> str:
    """Start a chat with the brand's service centre about an order item (consultation, NW-3)."""
    if not text.strip():
        raise InvalidRequest("a chat starts with a message")
    with svc.uow() as uow:
        item = load_item(uow.conn, order_item_id)
        at = now_in(uow.conn, _sandbox_of_item(uow.conn, order_item_id), svc.clock)
        thread_id = new_id("chat")
        uow.conn.execute(
            insert(s.chat_threads).values(
                id=thread_id, order_item_id=item.id, brand_id=item.product.brand_id, opened_at=at
            )
        )
        uow.conn.execute(
            insert(s.chat_messages).values(
                thread_id=thread_id,
                at=at,
                sender_role=actor.role.value,
                sender_id=actor.id,
                text=text.strip(),
            )
        )
        uow.commit()
        return thread_id


def post_chat_message(svc: Services, thread_id: str, actor: Actor, text: str) -> None:
    if not text.strip():
        raise InvalidRequest("an empty message is not sent")
    with svc.uow() as uow:
        thread = _thread(uow.conn, thread_id)
        at = now_in(uow.conn, _sandbox_of_item(uow.conn, thread.order_item_id), svc.clock)
        uow.conn.execute(
            insert(s.chat_messages).values(
                thread_id=thread_id,
                at=at,
                sender_role=actor.role.value,
                sender_id=actor.id,
                text=text.strip(),
            )
        )
        uow.commit()


def chat_messages(svc: Services, thread_id: str) -> list[dict[str, object]]:
    with svc.uow() as uow:
        _thread(uow.conn, thread_id)
        rows = uow.conn.execute(
            select(s.chat_messages)
            .where(s.chat_messages.c.thread_id == thread_id)
            .order_by(s.chat_messages.c.id)
        )
        return [dict(r._mapping) for r in rows]


def chat_to_report(svc: Services, thread_id: str, actor: Actor) -> Opened:
    """NW-2c: turn a chat into a repair report; the chat's consumer messages become its description."""
    with svc.uow() as uow:
        thread = _thread(uow.conn, thread_id)
        if thread.case_id:
            return Opened(uow.cases.get(thread.case_id, with_history=True), created=False)
        lines = [
            r.text
            for r in uow.conn.execute(
                select(s.chat_messages.c.text)
                .where(
                    s.chat_messages.c.thread_id == thread_id,
                    s.chat_messages.c.sender_role.in_(("consumer", "agent")),
                )
                .order_by(s.chat_messages.c.id)
            )
        ]
    chat_actor = Actor(actor.role, actor.id, Channel.CHAT, actor.name)
    opened = report_repair(
        svc,
        order_item_id=thread.order_item_id,
        actor=chat_actor,
        description="\n".join(lines) or "(chat)",
    )
    with svc.uow() as uow:
        uow.conn.execute(
            update(s.chat_threads)
            .where(s.chat_threads.c.id == thread_id)
            .values(case_id=opened.case.id)
        )
        uow.commit()
    return opened


def _thread(conn: Connection, thread_id: str):  # type: ignore[no-untyped-def]
    row = conn.execute(select(s.chat_threads).where(s.chat_threads.c.id == thread_id)).first()
    if row is None:
        raise NotFound("chat", thread_id)
    return row


__all__ = [
    "SYSTEM",
    "InvalidRequest",
    "NotFound",
    "Opened",
    "Services",
    "act",
    "add_attachment",
    "answer_quote",
    "attachments_of",
    "balances_of",
    "case_sandbox",
    "chat_messages",
    "chat_to_report",
    "check_eligibility",
    "decide_complaint",
    "file_complaint",
    "get_case",
    "issue_quote",
    "load_item",
    "new_id",
    "open_chat",
    "pause_clock",
    "payouts_of",
    "post_chat_message",
    "report_repair",
    "request_help",
    "resume_clock",
]


# ------------------------------------------------------------------ attachments


def add_attachment(
    svc: Services,
    store: AttachmentStore,
    *,
    data: bytes,
    filename: str,
    declared_type: str | None,
    actor: Actor,
    case_id: str | None = None,
) -> dict[str, object]:
    """Store a photo or document, optionally on a case; return its record."""
    safe_name = filename.replace("\\", "/").rsplit("/", 1)[-1][:255] or "upload"
    stored = store.put(data, filename=safe_name, declared_type=declared_type)
    with svc.uow() as uow:
        sandbox = LIVE
        if case_id is not None:
            row = uow.conn.execute(select(s.cases.c.sandbox).where(s.cases.c.id == case_id)).first()
            if row is None:
                raise CaseNotFound(case_id)
            sandbox = row.sandbox
        record: dict[str, object] = {
            "id": new_id("att"),
            "case_id": case_id,
            "filename": safe_name,
            "content_type": stored.content_type,
            "size": stored.size,
            "sha256": stored.sha256,
            "storage_key": stored.key,
            "uploaded_at": now_in(uow.conn, sandbox, svc.clock),
            "uploaded_by": actor.id,
        }
        uow.conn.execute(insert(s.attachments).values(**record))
        uow.commit()
        return record


def attachments_of(svc: Services, case_id: str) -> list[dict[str, object]]:
    with svc.uow() as uow:
        rows = uow.conn.execute(
            select(s.attachments)
            .where(s.attachments.c.case_id == case_id)
            .order_by(s.attachments.c.uploaded_at)
        )
        return [dict(r._mapping) for r in rows]
