"""Use cases for cases: one function per command, one transaction each.

Every command takes :class:`~aftersales.services.base.Services` (a unit of work
to open, the policies, the clock), checks the actor against the access table
(:mod:`aftersales.domain.access`), reads "now" for the case's sandbox
(:func:`aftersales.services.time.now_in`), and commits once. Errors pass
through unchanged: they already say what was refused and why.

**Size.** ~650 lines, one job: the case commands, each one transaction (dispatch's
hand-overs and the SS-2 bookings already live in ``dispatch.py`` and
``appointments.py``). The chat
commands (open, post, turn into a report) and the repair form's contact are the
first to move out (``services/chats.py``) when they grow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from aftersales.domain import access
from aftersales.domain.access import Action
from aftersales.domain.cases import SYSTEM, Actor, Case, Complaint
from aftersales.domain.contacts import normalise_phone
from aftersales.domain.eligibility import (
    EligibilityDecision,
    OrderItem,
    assess_national_warranty,
    assess_one_click_help,
)
from aftersales.domain.ledger import Payout
from aftersales.domain.lifecycle import Channel, Programme, Role
from aftersales.domain.policy import PolicyBook
from aftersales.errors import (
    CaseNotFound,
    Forbidden,
    InvalidFields,
    InvalidRequest,
    NotFound,
    OpenCaseExists,
)
from aftersales.services import attachments
from aftersales.services import dispatch as dispatching
from aftersales.services.base import Services, new_id
from aftersales.services.ports import UnitOfWork
from aftersales.services.records import (
    LIVE,
    Attachment,
    ChatMessage,
    ChatThread,
    FormContact,
    IntakeItem,
)
from aftersales.services.time import now_in

T = TypeVar("T")


# ------------------------------------------------------------------ intake


@dataclass(frozen=True)
class Opened:
    case: Case
    created: bool  # False: an open case for the item already existed (second click)
    eligibility: EligibilityDecision | None = None
    noted: bool = False  # the report was added to that open case as a note (nothing lost)


def check_eligibility(
    svc: Services, order_item_id: str, programme: Programme, service_tag: str | None = None
) -> EligibilityDecision:
    with svc.uow() as uow:
        item = uow.reference.order_item(order_item_id)
        at = now_in(uow, uow.reference.sandbox_of_item(order_item_id), svc.clock)
    if programme is Programme.NATIONAL_WARRANTY:
        return assess_national_warranty(svc.book, item, at)
    return assess_one_click_help(svc.book, item, at, service_tag)


_REPORT_CHANNELS = frozenset(
    {
        Channel.HOTLINE,
        Channel.SERVICE_FORM,
        Channel.CHAT,
        Channel.API,
        Channel.WEB,
        Channel.CLI,
        Channel.IMPORT,
    }
)


# What each problem of a repair form means, in English (pages say it in their own words).
FORM_PROBLEMS: dict[str, str] = {
    "description.missing": "describe the fault (what happens, since when) so the brand can respond",
    "phone.missing": "give a phone number the brand or its installer can call",
    "phone.invalid": (
        "a phone number is a mainland mobile (11 digits, 13x-19x) "
        "or a landline with its area code, like 010-12345678 or 0571-8888888"
    ),
    "address.missing": "give the address where the item is",
    "address.too_long": "the address is longer than 400 characters",
    "preferred_time.too_long": "the preferred time is longer than 100 characters",
    "preferred_time.past": "the preferred time has already passed; choose a later one",
}
ADDRESS_MAX, PREFERRED_TIME_MAX = 400, 100


@dataclass(frozen=True)
class ServiceForm:
    """NW-2: what the service form asks besides the fault: how to reach the buyer, where
    the item is and when a visit or pick-up suits them.

    ``required`` names the fields that must be given (the buyer's form asks for
    the phone and the address; the API leaves all three optional). A phone, when
    given, must be one that can be dialled; a preferred time written as a local
    date and time (``2026-11-25T14:00``) must not have passed.
    """

    contact_phone: str = ""
    address: str = ""
    preferred_time: str = ""
    required: frozenset[str] = frozenset()

    @property
    def given(self) -> bool:
        return any(v.strip() for v in (self.contact_phone, self.address, self.preferred_time))

    def problems(self, now: datetime | None = None) -> dict[str, str]:
        """Each field that cannot be used, with its problem code (see :data:`FORM_PROBLEMS`)."""
        found: dict[str, str] = {}
        phone, address = self.contact_phone.strip(), self.address.strip()
        if not phone:
            if "phone" in self.required:
                found["phone"] = "phone.missing"
        elif normalise_phone(phone) is None:
            found["phone"] = "phone.invalid"
        if not address and "address" in self.required:
            found["address"] = "address.missing"
        elif len(address) > ADDRESS_MAX:
            found["address"] = "address.too_long"
        when = self.preferred_time.strip()
        if len(when) > PREFERRED_TIME_MAX:
            found["preferred_time"] = "preferred_time.too_long"
        elif now is not None and (wanted := _local_instant(when, now)) and wanted < now:
            found["preferred_time"] = "preferred_time.past"
        return found

    def contact(self, case_id: str, at: datetime, by: str) -> FormContact:
        phone = self.contact_phone.strip()
        return FormContact(
            case_id=case_id,
            phone=normalise_phone(phone) or phone,
            address=self.address.strip(),
            preferred_time=self.preferred_time.strip(),
            given_at=at,
            given_by=by,
        )


def _local_instant(text: str, now: datetime) -> datetime | None:
    """``2026-11-25T14:00`` (a date-time picker's value) in ``now``'s zone; None if not one."""
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=now.tzinfo)


def refuse_fields(problems: dict[str, str]) -> InvalidFields:
    return InvalidFields(problems, "; ".join(FORM_PROBLEMS[code] for code in problems.values()))


def _callback(callback_phone: str) -> str:
    """A callback number as stored, or "" when none is given; InvalidRequest if unusable."""
    if not callback_phone.strip():
        return ""
    normalised = normalise_phone(callback_phone)
    if normalised is None:
        raise InvalidRequest(
            f"'{callback_phone.strip()}' is not a callback number: give a mainland mobile "
            "(11 digits, e.g. 13812345678) or a landline with its area code "
            "(e.g. 0571-88881234)"
        )
    return normalised


def add_caller_note(
    svc: Services,
    case_id: str,
    actor: Actor,
    text: str,
    *,
    caller_name: str = "",
    callback_phone: str = "",
) -> Case:
    """A caller's words added to an open case (X-4): a buyer ringing the hotline about a
    help request already made; a callback number given becomes the one to call back."""
    access.require(actor.role, Action.ADD_NOTE)
    phone = _callback(callback_phone)

    def note(case: Case, at: datetime) -> None:
        case.add_note(svc.book, text, at, actor)
        if phone:
            case.callback_phone, case.caller_name = phone, caller_name.strip()[:200]

    case, _ = _command(svc, case_id, note)
    return case


def report_repair(
    svc: Services,
    *,
    order_item_id: str,
    actor: Actor,
    description: str,
    case_id: str | None = None,
    form: ServiceForm | None = None,
    caller_name: str = "",
    callback_phone: str = "",
    photos: Sequence[attachments.Upload] = (),
    known: IntakeItem | None = None,
) -> Opened:
    """NW-2: a repair report by hotline agent, service form or chat, answered by the brand.

    The form's contact (phone, address, preferred time) is checked with the
    report and kept beside the case (:func:`contact_of`), not in the description
    everyone on the case reads. A hotline report records who called and the number
    to call them back on (a mainland mobile, or a landline with its area code).
    When the item already has an open report, the new one is added to it as a note
    (``Opened.noted``): the caller's words are never dropped, and the caller's
    number becomes the one to call back (the form's contact stays as it was).
    ``photos`` (checked by the caller with :func:`attachments.check_uploads`) are kept
    on the case in the same transaction: a refused report keeps none. ``known``: the
    item as :func:`intake_item` read it in this unit of work, if it was.
    """
    access.require(actor.role, Action.REPORT_REPAIR)
    phone = _callback(callback_phone)
    return _report_repair(
        svc,
        order_item_id,
        actor,
        description,
        case_id,
        form,
        caller_name.strip()[:200],
        phone,
        photos,
        known,
    )


def intake_item(svc: Services, order_item_id: str, programme: Programme) -> IntakeItem:
    """The item, its sandbox and clock and its open case in ``programme``: one read."""
    with svc.uow() as uow:
        return uow.reference.intake_item(order_item_id, programme)


def _report_repair(
    svc: Services,
    order_item_id: str,
    actor: Actor,
    description: str,
    case_id: str | None,
    form: ServiceForm | None = None,
    caller_name: str = "",
    callback_phone: str = "",
    photos: Sequence[attachments.Upload] = (),
    known: IntakeItem | None = None,
) -> Opened:
    if actor.channel not in _REPORT_CHANNELS:
        raise InvalidRequest(
            f"repair reports come by hotline, service form or chat, not '{actor.channel}'"
        )
    if actor.channel is Channel.HOTLINE and actor.role is not Role.AGENT:
        raise InvalidRequest(
            "a hotline report is filed by a hotline agent on the caller's behalf (NW-2)"
        )
    with svc.uow() as uow:
        facts = known or uow.reference.intake_item(order_item_id, Programme.NATIONAL_WARRANTY)
        sandbox = facts.sandbox
        at = facts.sandbox_now or svc.clock.now()
        problems = {} if form is None else form.problems(at)
        if not description.strip():
            problems = {"description": "description.missing", **problems}
        if problems:
            raise refuse_fields(problems)
        existing = facts.open_case
        if existing:
            case = uow.cases.get(existing, for_update=True, with_history=True)
            at = now_in(uow, uow.cases.sandbox_of(existing), svc.clock)
            case.add_note(svc.book, description, at, actor)
            if callback_phone:
                case.callback_phone = callback_phone
                case.caller_name = caller_name
            uow.cases.save(case)
            attachments.store_uploads(svc, uow, photos, case_id=case.id, at=at, by=actor.id)
            uow.commit()
            return Opened(case, created=False, noted=True)
        item = facts.item
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
        case.caller_name, case.callback_phone = caller_name, callback_phone
        # The brand (or the third party it names) responds (NW-4).
        case.assign(svc.book, item.product.brand_id, at)
        uow.cases.add(case, sandbox=sandbox)
        if form is not None and form.given:
            uow.contacts.put(form.contact(case.id, at, actor.id))
        attachments.store_uploads(svc, uow, photos, case_id=case.id, at=at, by=actor.id)
        uow.commit()
        return Opened(case, created=True, eligibility=decision)


def contact_of(svc: Services, case_id: str) -> FormContact | None:
    """How the buyer asked to be reached for the case (NW-2b), if they said."""
    with svc.uow() as uow:
        return uow.contacts.of_case(case_id)


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
    known: IntakeItem | None = None,
) -> Opened:
    """OH-3: open a one-click-help request and dispatch it at once.

    A second click on the same item while a request is open returns that request,
    also when two clicks race: the one that loses finds the other's case.
    ``known``: the item as :func:`intake_item` read it in this unit of work (an HTTP
    request reads it once, to check the caller owns the item); read here if not given.
    """
    access.require(actor.role, Action.REQUEST_HELP)
    with svc.uow() as uow:
        for attempt in range(2):
            facts = known if attempt == 0 and known is not None else None
            if facts is None:
                facts = uow.reference.intake_item(order_item_id, Programme.ONE_CLICK_HELP)
            if facts.open_case:
                return Opened(uow.cases.get(facts.open_case, with_history=True), created=False)
            item, sandbox = facts.item, facts.sandbox
            at = facts.sandbox_now or svc.clock.now()
            tag = service_tag or _service_for_failure(svc.book, item, failure)
            decision = assess_one_click_help(svc.book, item, at, tag)
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
            dispatching.dispatch(svc, uow, case, at, sandbox, facts.preferred_providers)
            try:
                uow.cases.add(case, sandbox=sandbox)
            except OpenCaseExists:
                # The other click won: this case's dispatch never happened; return its case.
                dispatching.withdraw(svc, uow, case, sandbox)
                if attempt:
                    raise
                continue
            uow.commit()
            return Opened(case, created=True, eligibility=decision)
    raise AssertionError("unreachable")


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
        at = now_in(uow, uow.cases.sandbox_of(case_id), svc.clock)
        result = change(case, at)
        uow.cases.save(case)
        uow.commit()
        return case, result


def act(svc: Services, case_id: str, action: str, actor: Actor, note: str = "") -> Case:
    """Provider, brand or consumer actions: accept, reject, give_solution, resolve, close, ..."""
    access.require(actor.role, action)
    case, _ = _command(svc, case_id, lambda c, at: c.act(svc.book, action, at, actor, note))
    return case


def pause_clock(svc: Services, case_id: str, clock_id: str, reason: str, actor: Actor) -> Case:
    access.require(actor.role, Action.PAUSE_CLOCK)
    case, _ = _command(svc, case_id, lambda c, at: c.pause(svc.book, clock_id, reason, at, actor))
    return case


def resume_clock(svc: Services, case_id: str, clock_id: str, actor: Actor) -> Case:
    access.require(actor.role, Action.RESUME_CLOCK)
    case, _ = _command(svc, case_id, lambda c, at: c.resume(svc.book, clock_id, at, actor))
    return case


def set_appointment(svc: Services, case_id: str, when: datetime, actor: Actor) -> Case:
    """Record the visit time agreed with the buyer: later than the case's now, within 90
    days, 07:00-22:00 local time; a change is recorded in the history (X-4)."""
    access.require(actor.role, Action.SET_APPOINTMENT)

    def book(case: Case, at: datetime) -> None:
        # The visit is agreed by whoever calls the buyer: the party the case is assigned to.
        if not access.may_see_contact(actor.role, actor.id, assignee=case.assignee, buyer=None):
            raise Forbidden(
                f"a {actor.role.value} may not book this visit: the party the case is assigned "
                "to books it with the buyer"
            )
        case.set_appointment(svc.book, when, at, actor)

    case, _ = _command(svc, case_id, book)
    return case


def issue_quote(svc: Services, case_id: str, amount_fen: int, actor: Actor) -> Case:
    access.require(actor.role, Action.ISSUE_QUOTE)
    case, _ = _command(svc, case_id, lambda c, at: c.issue_quote(svc.book, amount_fen, at, actor))
    return case


def answer_quote(svc: Services, case_id: str, accept: bool, actor: Actor) -> Case:
    access.require(actor.role, Action.ANSWER_QUOTE)
    case, _ = _command(svc, case_id, lambda c, at: c.answer_quote(svc.book, accept, at, actor))
    return case


class EmptyComplaint(InvalidRequest):
    """A complaint without its text: operations could not decide it."""


def file_complaint(
    svc: Services, case_id: str, clock_id: str | None, actor: Actor, text: str = ""
) -> Complaint:
    """A breach-of-commitment complaint; refused without its text, whoever files it."""
    access.require(actor.role, Action.FILE_COMPLAINT)
    if not text.strip():
        raise EmptyComplaint(
            "a complaint needs its text: say which commitment was not kept, and when"
        )
    _, complaint = _command(
        svc, case_id, lambda c, at: c.file_complaint(svc.book, clock_id, at, actor, text)
    )
    return complaint


def decide_complaint(
    svc: Services, case_id: str, complaint_id: str, uphold: bool, actor: Actor, note: str = ""
) -> Complaint:
    access.require(actor.role, Action.DECIDE_COMPLAINT)
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
        return uow.cases.find_sandbox(case_id)


def payouts_of(svc: Services, *, sandbox: str = LIVE, account: str | None = None) -> list[Payout]:
    with svc.uow() as uow:
        return uow.ledger.payouts(sandbox=sandbox, account=account)


def balances_of(svc: Services, *, sandbox: str = LIVE) -> dict[tuple[str, str], int]:
    with svc.uow() as uow:
        return uow.ledger.balances(sandbox=sandbox)


# ------------------------------------------------------------------ chat and consultation (NW-2c, NW-3)


def open_chat(svc: Services, *, order_item_id: str, actor: Actor, text: str) -> str:
    """Start a chat with the brand's service centre about an order item (consultation, NW-3)."""
    access.require(actor.role, Action.OPEN_CHAT)
    if not text.strip():
        raise InvalidRequest("a chat starts with a message")
    with svc.uow() as uow:
        item = uow.reference.order_item(order_item_id)
        at = now_in(uow, uow.reference.sandbox_of_item(order_item_id), svc.clock)
        thread_id = new_id("chat")
        uow.chats.open(
            ChatThread(thread_id, item.id, item.product.brand_id, item.buyer_account, None, at)
        )
        uow.chats.add_message(thread_id, ChatMessage(at, actor.role.value, actor.id, text.strip()))
        uow.commit()
        return thread_id


def post_chat_message(svc: Services, thread_id: str, actor: Actor, text: str) -> None:
    if not text.strip():
        raise InvalidRequest("an empty message is not sent")
    with svc.uow() as uow:
        thread = _thread(uow, thread_id)
        at = now_in(uow, uow.reference.sandbox_of_item(thread.order_item_id), svc.clock)
        uow.chats.add_message(thread_id, ChatMessage(at, actor.role.value, actor.id, text.strip()))
        uow.commit()


def chat_thread(svc: Services, thread_id: str) -> ChatThread:
    with svc.uow() as uow:
        return _thread(uow, thread_id)


def chat_threads(
    svc: Services,
    *,
    buyer: str | None = None,
    brand: str | None = None,
    order_item_id: str | None = None,
    limit: int = 100,
) -> list[ChatThread]:
    """A buyer's or a brand's chats (or one item's), the most recently opened first."""
    with svc.uow() as uow:
        return uow.chats.threads(buyer=buyer, brand=brand, order_item_id=order_item_id, limit=limit)


def chat_messages(svc: Services, thread_id: str) -> list[ChatMessage]:
    with svc.uow() as uow:
        _thread(uow, thread_id)
        return uow.chats.messages(thread_id)


def chat_to_report(svc: Services, thread_id: str, actor: Actor) -> Opened:
    """NW-2c: turn a chat into a repair report; the chat's consumer messages become its description."""
    access.require(actor.role, Action.CHAT_TO_REPORT)
    with svc.uow() as uow:
        thread = _thread(uow, thread_id)
        if thread.case_id:
            return Opened(uow.cases.get(thread.case_id, with_history=True), created=False)
        lines = [
            m.text
            for m in uow.chats.messages(thread_id)
            if m.sender_role in (Role.CONSUMER.value, Role.AGENT.value)
        ]
        chat_actor = Actor(actor.role, actor.id, Channel.CHAT, actor.name)
        opened = _report_repair(
            svc.bound(uow), thread.order_item_id, chat_actor, "\n".join(lines) or "(chat)", None
        )
        uow.chats.link_case(thread_id, opened.case.id)
        uow.commit()
        return opened


def _thread(uow: UnitOfWork, thread_id: str) -> ChatThread:
    thread = uow.chats.get(thread_id)
    if thread is None:
        raise NotFound("chat", thread_id)
    return thread


# ------------------------------------------------------------------ attachments


def add_attachment(
    svc: Services,
    *,
    data: bytes,
    filename: str,
    declared_type: str | None,
    actor: Actor,
    case_id: str | None = None,
) -> Attachment:
    """Store a photo or document, optionally on a case; return its record. The file is
    checked before anything is written and kept only if the record is committed."""
    access.require(actor.role, Action.ATTACH_FILE)
    upload = attachments.Upload.of(filename, declared_type, data)
    attachments.check_uploads(svc, [upload])
    with svc.uow() as uow:
        sandbox = LIVE if case_id is None else uow.cases.find_sandbox(case_id)
        (record,) = attachments.store_uploads(
            svc, uow, [upload], case_id=case_id, at=now_in(uow, sandbox, svc.clock), by=actor.id
        )
        uow.commit()
        return record


def attachments_of(svc: Services, case_id: str) -> list[Attachment]:
    """The case's attachments, their names cleaned as they are shown."""
    with svc.uow() as uow:
        return [attachments.shown(r) for r in uow.attachments.of_case(case_id)]


__all__ = [
    "SYSTEM",
    "CaseNotFound",
    "InvalidRequest",
    "NotFound",
    "Opened",
    "Services",
    "act",
    "add_attachment",
    "add_caller_note",
    "answer_quote",
    "attachments_of",
    "balances_of",
    "case_sandbox",
    "chat_messages",
    "chat_thread",
    "chat_threads",
    "chat_to_report",
    "check_eligibility",
    "contact_of",
    "decide_complaint",
    "file_complaint",
    "get_case",
    "issue_quote",
    "new_id",
    "open_chat",
    "pause_clock",
    "payouts_of",
    "post_chat_message",
    "report_repair",
    "request_help",
    "resume_clock",
    "set_appointment",
]
