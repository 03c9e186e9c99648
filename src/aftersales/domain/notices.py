"""Notices: what a case tells the people concerned, and to whom.

A case collects :class:`Notice` values as things happen to it — a case
assigned, a warning mark of a clock reached (and passed on when nobody
acknowledged it), a breach, a payout, a complaint decided — the way it
collects outbox events. The repository that saves the case turns each notice
into one notification row per account of its :class:`Recipient`, in the same
transaction, under a unique key ``(account, case, kind, clock, mark)``: a
notice saved twice (a retried chunk, two workers racing) is one notification.

A notice carries its words as a :class:`~aftersales.domain.explain.Reason`
(``notice.*`` templates), so it renders in Chinese and English and cites the
rule behind it (X-2). Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from aftersales.domain.eligibility import OrderItem
from aftersales.domain.explain import Bilingual, Reason
from aftersales.domain.lifecycle import Role


class NoticeKind(StrEnum):
    CASE_ASSIGNED = "case_assigned"
    DUE_SOON = "due_soon"
    BREACHED = "breached"
    PAYOUT = "payout"
    COMPLAINT_DECIDED = "complaint_decided"


KIND_NAMES: dict[NoticeKind, Bilingual] = {
    NoticeKind.CASE_ASSIGNED: Bilingual("新指派", "Assigned to you"),
    NoticeKind.DUE_SOON: Bilingual("即将到期", "Due soon"),
    NoticeKind.BREACHED: Bilingual("已逾期", "Breached"),
    NoticeKind.PAYOUT: Bilingual("赔付到账", "Payout"),
    NoticeKind.COMPLAINT_DECIDED: Bilingual("投诉已处理", "Complaint decided"),
}


@dataclass(frozen=True)
class Recipient:
    """Whose accounts a notice goes to.

    Accounts of one of ``roles`` acting for ``party``; with no party, every
    account of those roles (operations). ``account`` adds one account by id
    (a hotline agent or operations person who filed a complaint).
    """

    roles: tuple[Role, ...]
    party: str | None = None
    account: str | None = None


OPERATIONS = Recipient((Role.OPERATIONS,))


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    case_id: str
    at: datetime  # the instant it is about: the mark, the deadline, the payout, the decision
    to: Recipient
    reason: Reason
    clock_id: str = ""
    mark: str = ""  # what makes it one of a kind: a warning mark, a failure, a complaint id
    level: int = 0  # 0, or the escalation level a warning was passed on to


Owner = Literal["brand", "provider", "merchant"]
Level = Literal["brand", "merchant", "operations"]


def responsible(owner: Owner, assignee: str | None, item: OrderItem) -> Recipient:
    """The party answerable for a clock: the assigned provider (or the shop a request was
    dispatched to, OH-3), the brand or the third party it named (NW-4), or the shop."""
    if owner == "provider" and assignee:
        return Recipient((Role.PROVIDER, Role.MERCHANT), assignee)
    if owner == "brand":
        return Recipient((Role.BRAND, Role.PROVIDER), assignee or item.product.brand_id)
    return Recipient((Role.MERCHANT,), item.merchant_id)


def level_recipient(level: Level, item: OrderItem) -> Recipient:
    """Who an unacknowledged warning is passed on to at an escalation level."""
    if level == "merchant":
        return Recipient((Role.MERCHANT,), item.merchant_id)
    if level == "brand":
        return Recipient((Role.BRAND,), item.product.brand_id)
    return OPERATIONS


def complainant(filed_by: str) -> Recipient:
    """Who filed a complaint: the buyer account (consumers act as it) or the person's account."""
    return Recipient((Role.CONSUMER,), filed_by, account=filed_by)


def base_mark(mark: str) -> str:
    """The warning an escalation mark passes on: '30m>2' -> '30m'."""
    return mark.split(">", 1)[0]


def reaches(to: Recipient, account_id: str, role: str, party: str | None) -> bool:
    """Whether an account (its id, role and party) is among ``to``."""
    if to.account is not None and account_id == to.account:
        return True
    return role in to.roles and (to.party is None or party == to.party)


def escalation_base(notice: Notice) -> str | None:
    """For an escalation (level above 0), the warning mark it passes on; else None."""
    return base_mark(notice.mark) if notice.level > 0 else None
