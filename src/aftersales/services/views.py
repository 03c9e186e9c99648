"""Read models for the parties' screens: whose cases, what is most urgent, how compliant.

Who sees what is one rule for every screen (a buyer their own items' cases, a
provider the cases dispatched to it, a merchant its shop's, a brand its
products', a hotline agent its brand's or the reports it filed or added a caller's
note to, operations everything); the storage adapter applies it in each query
(``adapters/db/read_models.py``). These functions are the services' face of
the ``ReadModels`` port: each reads in the caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from aftersales.domain import access
from aftersales.domain.brands import BrandAfterSales
from aftersales.domain.cases import Case
from aftersales.domain.contacts import Contact, mask_name, mask_phones_in
from aftersales.domain.dispatch import SCORING_REASONS
from aftersales.domain.eligibility import OrderItem
from aftersales.domain.explain import Reason
from aftersales.domain.lifecycle import Role
from aftersales.services.base import Services
from aftersales.services.history import case_history, party_ids
from aftersales.services.ports import UnitOfWork
from aftersales.services.records import (
    GROUPINGS,
    LIVE,
    BalanceLine,
    BrandLine,
    CaseContact,
    CaseFilter,
    CaseLine,
    CasePage,
    ComplaintLine,
    Compliance,
    ComplianceRow,
    FoundCase,
    LiveFigures,
    OpenCaseLine,
    PayoutLine,
    PayoutTotal,
    QueueLine,
    Scope,
)
from aftersales.services.reports import case_report
from aftersales.services.time import now_in

EXPORT_CHUNK = 1000  # rows read per unit of work while an export streams


def may_see_case(svc: Services, scope: Scope, case_id: str) -> bool:
    with svc.uow() as uow:
        return uow.views.may_see_case(scope, case_id)


def case_lines(
    svc: Services,
    scope: Scope,
    *,
    sandbox: str | None = None,
    open_only: bool = False,
    limit: int = 200,
    after: tuple[datetime, str] | None = None,
) -> list[CaseLine]:
    """The cases ``scope`` may see, newest first, each with its earliest running deadline.

    ``after`` is the (opened_at, id) of the last line of the previous page: the
    next page starts right after it (keyset paging, stable while cases are added).
    """
    with svc.uow() as uow:
        return uow.views.case_lines(
            scope, sandbox=sandbox, open_only=open_only, limit=limit, after=after
        )


def case_search(
    svc: Services,
    scope: Scope,
    f: CaseFilter,
    *,
    limit: int = 50,
    after: tuple[datetime, str] | None = None,
    count: bool = True,
) -> CasePage:
    """A page of the cases ``scope`` may see that match ``f``, newest first, with the
    parties' names and how many match in all; ``after`` as in :func:`case_lines`.

    One world at a time (``f.sandbox``: live unless a sandbox is named); "due
    within" is measured on that world's own clock. SandboxNotFound for a sandbox
    that does not exist.
    """
    with svc.uow() as uow:
        if f.sandbox != LIVE or f.due_within is not None:
            now = now_in(uow, f.sandbox, svc.clock)  # also: the sandbox exists
            f = replace(f, now=f.now or now)
        return uow.views.case_search(scope, f, limit=limit, after=after, count=count)


def all_cases(svc: Services, scope: Scope, f: CaseFilter) -> Iterator[FoundCase]:
    """Every case matching ``f``, newest first, read a chunk per unit of work (for exports).

    Each chunk is its own short transaction, so a long download holds no
    connection between chunks; keyset paging keeps the order while cases are added.
    """
    after: tuple[datetime, str] | None = None
    while True:
        page = case_search(svc, scope, f, limit=EXPORT_CHUNK, after=after, count=False)
        yield from page.lines
        if not page.more or not page.lines:
            return
        after = (page.lines[-1].opened_at, page.lines[-1].id)


def breach_board(
    svc: Services, scope: Scope, *, sandbox: str = LIVE, limit: int = 100
) -> list[QueueLine]:
    """Running clocks of open cases in one world, nearest to breach (on its clock) first."""
    with svc.uow() as uow:
        now = now_in(uow, sandbox, svc.clock)
        return uow.views.breach_board(scope, sandbox=sandbox, now=now, limit=limit)


def payout_total(svc: Services, scope: Scope, *, sandbox: str | None = None) -> PayoutTotal:
    with svc.uow() as uow:
        return uow.views.payout_total(scope, sandbox=sandbox)


def all_payouts(svc: Services, scope: Scope, *, sandbox: str | None = None) -> Iterator[PayoutLine]:
    """Every payout ``scope`` may see, newest first, a chunk per unit of work (for exports)."""
    after: tuple[datetime, int] | None = None
    while True:
        lines = payout_lines(svc, scope, sandbox=sandbox, limit=EXPORT_CHUNK, after=after)
        yield from lines
        if len(lines) < EXPORT_CHUNK:
            return
        after = (lines[-1].at, lines[-1].entry_id)


def provider_queue(
    svc: Services, scope: Scope, *, live_now: datetime, limit: int = 200
) -> list[QueueLine]:
    """Open cases with a running deadline, the one nearest to breach (on its own clock) first."""
    with svc.uow() as uow:
        return uow.views.provider_queue(scope, live_now=live_now, limit=limit)


def payout_lines(
    svc: Services,
    scope: Scope,
    *,
    sandbox: str | None = None,
    limit: int = 500,
    after: tuple[datetime, int] | None = None,
) -> list[PayoutLine]:
    """Payouts on the cases ``scope`` may see, newest first; ``after`` pages on (at, entry id)."""
    with svc.uow() as uow:
        return uow.views.payout_lines(scope, sandbox=sandbox, limit=limit, after=after)


def compliance(
    svc: Services,
    scope: Scope,
    *,
    by: str,
    start: datetime,
    end: datetime,
    sandbox: str | None = None,
) -> Compliance:
    """Commitments kept and missed, per ``by``, for cases opened in ``[start, end)``."""
    with svc.uow() as uow:
        return uow.views.compliance(scope, by=by, start=start, end=end, sandbox=sandbox)


def balances(svc: Services, scope: Scope, *, sandbox: str | None = None) -> list[BalanceLine]:
    """Net ledger balances: every account's for operations, the caller's own party's otherwise."""
    with svc.uow() as uow:
        return uow.views.balances(scope, sandbox=sandbox)


def find_orders_for_caller(
    svc: Services, text: str, *, limit: int = 50, scope: Scope | None = None
) -> list[dict[str, Any]]:
    """For a hotline agent: order items whose order id, item id, buyer account or buyer name
    is ``text``, or whose buyer, order, item or earlier hotline report has the phone ``text``.

    An agent on a brand's line (``scope.party``) finds that brand's items only. Each row
    carries ``buyer_name`` masked: the agent confirms who calls, and reads no more.
    """
    brand = scope.party if scope is not None and scope.role is Role.AGENT else None
    with svc.uow() as uow:
        rows = uow.reference.find_orders_for_caller(text, limit=limit, brand=brand)
    for row in rows:
        row["buyer_name"] = mask_name(row.get("buyer_name") or "")
    return rows


def cases_of_callers(
    svc: Services, scope: Scope, buyers: Sequence[str], *, limit: int = 50
) -> list[CaseLine]:
    """The cases of the buyers an agent found for a caller, newest first, open and closed
    (a brand's agent: that brand's only)."""
    brand = scope.party if scope.role is Role.AGENT else None
    with svc.uow() as uow:
        return uow.views.cases_of_buyers(buyers, brand=brand, limit=limit)


def sees_contact(scope: Scope, contact: CaseContact) -> bool:
    return access.may_see_contact(
        scope.role, scope.party, assignee=contact.assignee, buyer=contact.buyer
    )


def case_contacts(svc: Services, scope: Scope, case_ids: Sequence[str]) -> dict[str, CaseContact]:
    """Each case's customer contact as ``scope`` may see it (whole for the assigned party,
    operations and the buyer; masked, ``张**`` ``138****1572`` and the district, for
    others), with its agreed visit."""
    with svc.uow() as uow:
        stored = uow.views.case_contacts(case_ids)
    return {
        case_id: c if sees_contact(scope, c) else replace(c, contact=c.contact.masked_copy())
        for case_id, c in stored.items()
    }


def names(svc: Services, ids: Iterable[str]) -> dict[str, str]:
    """Display names of accounts, providers, shops, brands and buyers; a sandbox's copy
    (``<sandbox>.<id>``) is named as the record it copies when it has no name of its own."""
    wanted = {i for i in ids if i}
    with svc.uow() as uow:
        return _with_copies_named(uow, wanted, uow.views.names(sorted(wanted)))


def _with_copies_named(uow: UnitOfWork, wanted: set[str], found: dict[str, str]) -> dict[str, str]:
    """``found`` plus a name for each sandbox copy among ``wanted`` that has none of its own."""
    copies = {i: i.split(".", 1)[1] for i in wanted - set(found) if "." in i}
    if copies:
        originals = uow.views.names(sorted(set(copies.values())))
        found.update({i: originals[o] for i, o in copies.items() if o in originals})
    return found


@dataclass(frozen=True)
class CaseView:
    """A case as one viewer sees it: the report, the contact, the history as sentences."""

    report: dict[str, Any]
    contact: Contact | None
    history: list[dict[str, Any]]
    names: dict[str, str]
    private: bool  # the contact is masked for this viewer

    def as_json(self) -> dict[str, Any]:
        contact = None if self.contact is None else asdict(self.contact)
        return {**self.report, "contact": contact, "history": self.history}


def case_view(svc: Services, scope: Scope, case: Case) -> CaseView:
    """The case report for ``scope``: phone numbers in the description and notes, the
    buyer's name and the contact masked unless ``scope`` may see them
    (:func:`aftersales.domain.access.may_see_contact`)."""
    if not may_see_shares(scope, case):
        case = without_shares(case)
    wanted = {i for i in party_ids(case) if i}
    with svc.uow() as uow:  # the contact and the names: one read
        stored, known = uow.views.case_contact_and_names(case.id, sorted(wanted))
        known = _with_copies_named(uow, wanted, known)
    private = not access.may_see_contact(
        scope.role, scope.party, assignee=case.assignee, buyer=case.item.buyer_account
    )
    contact = None
    if stored is not None:
        contact = stored.contact.masked_copy() if private else stored.contact
    report = case_report(case, svc.book)
    if private:
        report["description"] = mask_phones_in(report["description"])
        for entry in report["audit"]:
            entry["note"] = mask_phones_in(entry["note"])
        if case.item.buyer_account in known:
            known[case.item.buyer_account] = mask_name(known[case.item.buyer_account])
    for entry, decision in zip(report["decisions"], case.decisions, strict=True):
        named = _with_names(decision.reason, known)
        if named is not decision.reason:
            entry["zh"], entry["en"] = named.zh, named.en
    if not access.may_see_dispatch_scores(scope.role):
        report["decisions"] = [d for d in report["decisions"] if d["code"] not in SCORING_REASONS]
    history = case_history(case, svc.book, known, private=private)
    return CaseView(report, contact, history, known, private)


def may_see_shares(scope: Scope, case: Case) -> bool:
    """Issue 15: a provider's share of a payout is between the provider and the merchant;
    operations, the case's shop and the provider owing it see it, the buyer never."""
    if scope.role is Role.OPERATIONS:
        return True
    if scope.role is Role.MERCHANT:
        return scope.party == case.item.merchant_id
    if scope.role is Role.PROVIDER:
        return any(share.payer == scope.party for share in case.shares)
    return False


def without_shares(case: Case) -> Case:
    """``case`` as one who may not see the providers' shares reads it: no shares, and no
    decision recording one."""
    keys = {f"payout:{share.key}" for share in case.shares}
    return replace(case, shares=[], decisions=[d for d in case.decisions if d.subject not in keys])


# Parameters of explanations that name a party (a provider, a shop) by its id.
_PARTY_PARAMS = ("assignee", "merchant", "provider")


def _with_names(reason: Reason, known: dict[str, str]) -> Reason:
    """The reason with the parties it names by id named as people read them (X-2 keeps
    its rule and wording; only "hz-install-01" becomes "杭州安装服务站")."""
    named = {
        key: known[value]
        for key in _PARTY_PARAMS
        if isinstance(value := reason.params.get(key), str) and value in known
    }
    if not named:
        return reason
    return Reason(reason.code, reason.rule, {**reason.params, **named})


def brands(svc: Services) -> list[BrandLine]:
    with svc.uow() as uow:
        return uow.reference.brands()


def brand_after_sales(svc: Services, brand_id: str) -> BrandAfterSales:
    """NW-3: the brand's hotline, warranty terms, exclusions and centres (NotFound if none)."""
    with svc.uow() as uow:
        return uow.reference.brand_after_sales(brand_id)


def buyer_of_item(svc: Services, order_item_id: str) -> str | None:
    with svc.uow() as uow:
        return uow.reference.buyer_of_item(order_item_id)


def items_of_buyer(svc: Services, buyer_account: str) -> list[tuple[OrderItem, str]]:
    """Everything the buyer bought, newest first, each with the sandbox of its order."""
    with svc.uow() as uow:
        items = uow.reference.order_items_of_buyer(buyer_account)
        sandbox_of = uow.reference.order_sandboxes_of_buyer(buyer_account)
    return [(item, sandbox_of.get(item.order_id, LIVE)) for item in items]


def open_cases_of_items(svc: Services, order_item_ids: Sequence[str]) -> list[OpenCaseLine]:
    with svc.uow() as uow:
        return uow.views.open_cases_of_items(order_item_ids)


def share_lines(
    svc: Services,
    scope: Scope,
    *,
    sandbox: str | None = None,
    limit: int = 500,
    after: tuple[datetime, str] | None = None,
) -> list[PayoutLine]:
    """Providers' shares ``scope`` may see, newest first (issue 15; never the buyer)."""
    with svc.uow() as uow:
        return uow.views.share_lines(scope, sandbox=sandbox, limit=limit, after=after)


def payouts_of_cases(svc: Services, case_ids: Sequence[str]) -> list[PayoutLine]:
    """Every payout on these cases, oldest first (for lists of cases already scoped)."""
    with svc.uow() as uow:
        return uow.views.payouts_of_cases(case_ids)


def live_figures(svc: Services) -> LiveFigures:
    """Open cases, due deadlines and payouts of live data, now (for the metrics scrape)."""
    with svc.uow() as uow:
        return uow.views.live_figures(svc.clock.now())


def pending_complaints(svc: Services, *, limit: int = 200) -> list[ComplaintLine]:
    with svc.uow() as uow:
        return uow.views.pending_complaints(limit=limit)


__all__ = [
    "GROUPINGS",
    "BalanceLine",
    "CaseLine",
    "Compliance",
    "ComplianceRow",
    "PayoutLine",
    "QueueLine",
    "Scope",
    "all_cases",
    "all_payouts",
    "balances",
    "brand_after_sales",
    "brands",
    "breach_board",
    "buyer_of_item",
    "case_contacts",
    "case_lines",
    "case_search",
    "case_view",
    "cases_of_callers",
    "compliance",
    "find_orders_for_caller",
    "items_of_buyer",
    "live_figures",
    "may_see_case",
    "names",
    "open_cases_of_items",
    "payout_lines",
    "payout_total",
    "payouts_of_cases",
    "pending_complaints",
    "provider_queue",
    "share_lines",
]


def order_item_page(
    svc: Services,
    *,
    sandboxes: Sequence[str] | None,
    buyer: str | None = None,
    merchant: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[tuple[str, OrderItem]]:
    """``(sandbox, item)`` of a buyer's or a shop's items (or all), by id, after ``after``."""
    with svc.uow() as uow:
        return uow.master.order_items(
            sandboxes=sandboxes, buyer=buyer, merchant=merchant, after=after, limit=limit
        )


def order_item(svc: Services, order_item_id: str) -> tuple[OrderItem, str]:
    """The item and its world (NotFound if none)."""
    with svc.uow() as uow:
        return uow.reference.order_item(order_item_id), uow.reference.sandbox_of_item(order_item_id)


def sandbox_of_item(svc: Services, order_item_id: str) -> str:
    with svc.uow() as uow:
        return uow.reference.sandbox_of_item(order_item_id)
