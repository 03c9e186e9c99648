"""The parties' screens in memory, scoped exactly as ``adapters/db/read_models.py`` scopes them.

Each case is joined to its item, order and product, and a viewer sees the rows
:func:`visible` lets through (the same rule as the SQL ``scoped``: a buyer
their items' cases, a provider the cases assigned to it, a merchant its
shop's, a brand its products', an agent its brand's or the ones they filed,
operations everything). A buyer's, provider's, merchant's or brand's scope
without a party sees nothing.

One module (~600 lines) to mirror ``adapters/db/read_models.py`` screen for screen,
behind the one rule :func:`visible`, so the contract test's memory and SQL answers
are found side by side; it splits where that module does.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from aftersales.adapters.memory.state import (
    CaseRecord,
    ItemRecord,
    LedgerRecord,
    MemoryStore,
    OrderRecord,
    Tables,
)
from aftersales.domain.contacts import Contact, district_of
from aftersales.domain.eligibility import Product
from aftersales.domain.ledger import Payout
from aftersales.domain.lifecycle import Role
from aftersales.errors import InvalidRequest
from aftersales.services.records import (
    GROUPINGS,
    LIVE,
    BalanceLine,
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


@dataclass(frozen=True)
class _Row:
    """A case joined to its item, order and product."""

    case: CaseRecord
    item: ItemRecord
    order: OrderRecord
    product: Product

    def line(self, next_due: datetime | None) -> CaseLine:
        c = self.case
        return CaseLine(
            c.id,
            c.sandbox,
            c.programme,
            c.state,
            c.is_open,
            c.opened_at,
            self.product.name,
            self.order.buyer_account,
            self.order.merchant_id,
            c.assignee,
            self.item.city,
            next_due,
        )

    def group(self, by: str, clock_id: str | None) -> str | None:
        if by == "provider":
            return self.case.assignee
        if by == "city":
            return self.item.city
        if by == "category":
            return self.product.category_id
        if by == "programme":
            return self.case.programme
        return clock_id


_PARTY_ROLES = frozenset({Role.CONSUMER, Role.PROVIDER, Role.MERCHANT, Role.BRAND})


def visible(scope: Scope, row: _Row, acted_on: frozenset[str] = frozenset()) -> bool:
    """May ``scope`` see the case of ``row``? (The SQL ``scoped``, row by row.)

    ``acted_on``: the cases the scope's account appears in the audit of (an agent
    sees the ones they added a caller's note to).
    """
    party = scope.party
    if scope.role in _PARTY_ROLES and not party:
        return False
    match scope.role:
        case Role.OPERATIONS:
            return True
        case Role.CONSUMER:
            return row.order.buyer_account == party
        case Role.PROVIDER:
            return row.case.assignee == party
        case Role.MERCHANT:
            return row.order.merchant_id == party
        case Role.BRAND:
            return row.product.brand_id == party
        case Role.AGENT:
            if party:
                return row.product.brand_id == party
            return row.case.opened_by == scope.account or row.case.id in acted_on
    return False


def _ids_forms(text: str, sandbox: str) -> set[str]:
    return {text} if sandbox == LIVE else {text, f"{sandbox}.{text}"}


class MemoryReadModels:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def _t(self) -> Tables:
        return self.store.tables

    def _rows(self, scope: Scope) -> dict[str, _Row]:
        """The cases ``scope`` may see, joined, by case id."""
        t = self._t
        rows: dict[str, _Row] = {}
        acted_on: frozenset[str] = frozenset()
        if scope.role is Role.AGENT and not scope.party and scope.account:
            acted_on = frozenset(
                case_id
                for case_id, entries in t.audit.items()
                if any(e.actor_id == scope.account for e in entries)
            )
        for case in t.cases.values():
            item = t.order_items.get(case.order_item_id)
            order = None if item is None else t.orders.get(item.order_id)
            product = None if item is None else t.products.get(item.product_id)
            if item is None or order is None or product is None:
                continue
            row = _Row(case, item, order, product)
            if visible(scope, row, acted_on):
                rows[case.id] = row
        return rows

    def may_see_case(self, scope: Scope, case_id: str) -> bool:
        return case_id in self._rows(scope)

    def case_lines(
        self,
        scope: Scope,
        *,
        sandbox: str | None = None,
        open_only: bool = False,
        limit: int = 200,
        after: tuple[datetime, str] | None = None,
    ) -> list[CaseLine]:
        next_due: dict[str, datetime] = {}
        for (case_id, clock_id), deadline in self._t.deadlines.items():
            if "@" in clock_id:  # a warning mark, not a clock's own deadline
                continue
            if case_id not in next_due or deadline.due_at < next_due[case_id]:
                next_due[case_id] = deadline.due_at
        rows = [
            row
            for row in self._rows(scope).values()
            if (sandbox is None or row.case.sandbox == sandbox)
            and (not open_only or row.case.is_open)
        ]
        if after is not None:
            at, last_id = after
            rows = [
                r
                for r in rows
                if r.case.opened_at < at or (r.case.opened_at == at and r.case.id > last_id)
            ]
        rows.sort(key=lambda r: r.case.id)
        rows.sort(key=lambda r: r.case.opened_at, reverse=True)  # newest first, then id
        return [r.line(next_due.get(r.case.id)) for r in rows[: max(limit, 0)]]

    # ----- filtered case lists (the SQL ``filtered``, row by row)

    def _buyer(self, account: str) -> dict[str, object]:
        return self._t.master.get(("buyer", account), {})

    def _found(self, row: _Row, next_due: datetime | None) -> FoundCase:
        t = self._t
        c = row.case
        provider = t.providers.get(row.case.assignee or "")
        brand = t.brands.get(row.product.brand_id)
        return FoundCase(
            c.id,
            c.sandbox,
            c.programme,
            c.state,
            c.is_open,
            c.opened_at,
            row.product.name,
            row.order.buyer_account,
            row.order.merchant_id,
            c.assignee,
            row.item.city,
            next_due,
            order_id=row.item.order_id,
            order_item_id=row.case.order_item_id,
            brand=row.product.brand_id,
            buyer_name=str(self._buyer(row.order.buyer_account).get("name") or ""),
            merchant_name=t.merchants.get(row.order.merchant_id, ""),
            assignee_name=provider.name
            if provider
            else t.merchants.get(c.assignee or "")
            or (t.brands[c.assignee].name if c.assignee in t.brands else ""),
            brand_name=brand.name if brand else "",
        )

    def _text_matches(self, row: _Row, text: str, sandbox: str) -> bool:
        ids = _ids_forms(text, sandbox)
        digits = "".join(ch for ch in text if ch.isdigit())
        phones = {text, digits} - {""}
        buyer = self._buyer(row.order.buyer_account)
        order = self._t.master.get(("order", row.item.order_id), {})
        return bool(
            row.case.id in ids
            or row.case.order_item_id in ids
            or row.item.order_id in ids
            or row.order.buyer_account in ids
            or buyer.get("phone") in phones
            or str(buyer.get("name") or "").startswith(text)
            or order.get("contact_phone") in phones
        )

    def _matches(self, row: _Row, f: CaseFilter, due_by: datetime | None) -> bool:
        c = row.case
        text = f.text.strip()
        clocks = self._t.clocks.get(c.id, ())
        return (
            c.sandbox == f.sandbox
            and (not text or self._text_matches(row, text, f.sandbox))
            and (not f.programme or c.programme == f.programme)
            and (not f.state or c.state == f.state)
            and (not f.provider or c.assignee == f.provider)
            and (not f.merchant or row.order.merchant_id == f.merchant)
            and (not f.brand or row.product.brand_id == f.brand)
            and (not f.city or row.item.city == f.city)
            and (not f.open_only or c.is_open)
            and (not f.clock_state or any(k.status.value == f.clock_state for k in clocks))
            and (
                due_by is None
                or any(
                    d.due_at <= due_by
                    for (cid, clock_id), d in self._t.deadlines.items()
                    if cid == c.id and "@" not in clock_id
                )
            )
        )

    def _next_due(self) -> dict[str, datetime]:
        next_due: dict[str, datetime] = {}
        for (case_id, clock_id), deadline in self._t.deadlines.items():
            if "@" in clock_id:  # a warning mark, not a clock's own deadline
                continue
            if case_id not in next_due or deadline.due_at < next_due[case_id]:
                next_due[case_id] = deadline.due_at
        return next_due

    def case_search(
        self,
        scope: Scope,
        f: CaseFilter,
        *,
        limit: int = 50,
        after: tuple[datetime, str] | None = None,
        count: bool = True,
    ) -> CasePage:
        due_by = f.due_by()
        rows = [r for r in self._rows(scope).values() if self._matches(r, f, due_by)]
        total = len(rows) if count else -1
        if after is not None:
            at, last_id = after
            rows = [
                r
                for r in rows
                if r.case.opened_at < at or (r.case.opened_at == at and r.case.id > last_id)
            ]
        rows.sort(key=lambda r: r.case.id)
        rows.sort(key=lambda r: r.case.opened_at, reverse=True)
        next_due = self._next_due()
        kept = rows[: max(limit, 0)]
        return CasePage(
            [self._found(r, next_due.get(r.case.id)) for r in kept], total, len(rows) > len(kept)
        )

    def breach_board(
        self, scope: Scope, *, sandbox: str, now: datetime, limit: int = 100
    ) -> list[QueueLine]:
        rows = {cid: r for cid, r in self._rows(scope).items() if r.case.is_open}
        lines = [
            QueueLine(self._found(rows[case_id], d.due_at), clock_id, d.due_at, now)
            for (case_id, clock_id), d in self._t.deadlines.items()
            if case_id in rows and d.sandbox == sandbox and "@" not in clock_id
        ]
        lines.sort(key=lambda q: (q.due_at, q.case.id, q.clock_id))
        return lines[: max(limit, 0)]

    def payout_total(self, scope: Scope, *, sandbox: str | None = None) -> PayoutTotal:
        rows = self._rows(scope)
        entries = [
            e
            for e in self._t.ledger.values()
            if e.payout.case_id in rows and (sandbox is None or e.sandbox == sandbox)
        ]
        points = sum(
            e.payout.amount.value for e in entries if e.payout.amount.unit.value == "points"
        )
        return PayoutTotal(len(entries), points)

    def names(self, ids: Sequence[str]) -> dict[str, str]:
        t = self._t
        found: dict[str, str] = {}
        for i in {i for i in ids if i}:
            account = t.accounts.get(i)
            buyer = self._buyer(i)
            brand = t.brands.get(i)
            provider = t.providers.get(i)
            for name in (
                account.name if account else "",
                str(buyer.get("name") or "") or t.buyers.get(i, ("", ""))[0],
                brand.name if brand else "",
                provider.name if provider else "",
                t.merchants.get(i, ""),
            ):
                if name:
                    found[i] = name
        by_username = {a.username: a.name for a in t.accounts.values()}
        for i in ids:
            if i and i not in found and by_username.get(i):
                found[i] = by_username[i]
        return found

    def provider_queue(
        self, scope: Scope, *, live_now: datetime, limit: int = 200
    ) -> list[QueueLine]:
        rows = {cid: r for cid, r in self._rows(scope).items() if r.case.is_open}
        sandboxes = self._t.sandboxes
        lines: dict[str, QueueLine] = {}
        for (case_id, clock_id), deadline in sorted(self._t.deadlines.items()):
            row = rows.get(case_id)
            if row is None or "@" in clock_id:
                continue
            own = sandboxes.get(row.case.sandbox)
            now = own.now if own is not None else live_now
            line = QueueLine(row.line(deadline.due_at), clock_id, deadline.due_at, now)
            kept = lines.get(case_id)
            if kept is None or line.seconds_left < kept.seconds_left:
                lines[case_id] = line
        ordered = sorted(lines.values(), key=lambda q: (q.seconds_left, q.case.id))
        return ordered[: max(limit, 0)]

    def payout_lines(
        self,
        scope: Scope,
        *,
        sandbox: str | None = None,
        limit: int = 500,
        after: tuple[datetime, int] | None = None,
    ) -> list[PayoutLine]:
        rows = self._rows(scope)
        entries = [
            e
            for e in self._t.ledger.values()
            if e.payout.case_id in rows and (sandbox is None or e.sandbox == sandbox)
        ]
        if after is not None:
            at, last_id = after
            entries = [
                e for e in entries if e.payout.at < at or (e.payout.at == at and e.id < last_id)
            ]
        entries.sort(key=lambda e: (e.payout.at, e.id), reverse=True)
        return [_payout_line(e) for e in entries[: max(limit, 0)]]

    def share_lines(
        self,
        scope: Scope,
        *,
        sandbox: str | None = None,
        limit: int = 500,
        after: tuple[datetime, str] | None = None,
    ) -> list[PayoutLine]:
        t = self._t
        party_view = scope.role in (Role.MERCHANT, Role.PROVIDER) and bool(scope.party)
        if not (party_view or scope.sees_everything):
            return []

        def mine(share: Payout) -> bool:
            if scope.role is Role.MERCHANT:
                return share.payee == scope.party
            if scope.role is Role.PROVIDER:
                return share.payer == scope.party
            return True

        lines = [
            PayoutLine(
                share.key,
                share.case_id,
                t.share_keys[share.key],
                share.rule,
                share.amount.value,
                share.amount.unit.value,
                share.payer,
                share.payee,
                share.at,
                json.loads(json.dumps(share.reason.to_dict())),
                0,
            )
            for shares in t.case_shares.values()
            for share in shares
            if mine(share) and (sandbox is None or t.share_keys[share.key] == sandbox)
        ]
        if after is not None:
            at, key = after
            lines = [p for p in lines if p.at < at or (p.at == at and p.key < key)]
        lines.sort(key=lambda p: (p.at, p.key), reverse=True)
        return lines[: max(limit, 0)]

    def compliance(
        self, scope: Scope, *, by: str, start: datetime, end: datetime, sandbox: str | None = None
    ) -> Compliance:
        if by not in GROUPINGS:
            raise InvalidRequest(f"group by one of {', '.join(GROUPINGS)}, not {by!r}")
        t = self._t
        rows = {
            cid: r
            for cid, r in self._rows(scope).items()
            if start <= r.case.opened_at < end and (sandbox is None or r.case.sandbox == sandbox)
        }

        def key_of(row: _Row, case_id: str, clock_id: str) -> str | None:
            if by != "holder":
                return row.group(by, clock_id)
            # Issue 15: who held the clock when it was judged (its last period), as SQL.
            for clock in t.clocks.get(case_id, ()):
                if clock.clock_id == clock_id and clock.holders:
                    return f"{clock.holders[-1].kind}:{clock.holders[-1].party}"
            return None

        counted: dict[str | None, Counter[str]] = {}
        for case_id, row in rows.items():
            for clock in t.clocks.get(case_id, ()):
                if clock.status.value == "pending":
                    continue  # not started (SS-2's agreed day before any booking): no commitment
                tally = counted.setdefault(key_of(row, case_id, clock.clock_id), Counter())
                tally[clock.status.value] += 1
        paid: dict[str | None, int] = {}
        for entry in t.ledger.values():
            paid_on = rows.get(entry.payout.case_id)
            if paid_on is None or entry.payout.amount.unit.value != "points":
                continue
            if by == "holder" and not any(
                c.clock_id == entry.payout.clock_id for c in t.clocks.get(entry.payout.case_id, ())
            ):
                continue  # SQL joins the clock paid for; a payout without one has no holder
            paid_key = key_of(paid_on, entry.payout.case_id, entry.payout.clock_id)
            paid[paid_key] = paid.get(paid_key, 0) + entry.payout.amount.value
        # NULL and '' are one row, "—" (added together, never one over the other).
        result: dict[str, ComplianceRow] = {}
        for key, tally in counted.items():
            line = result.setdefault(str(key or "—"), ComplianceRow(str(key or "—")))
            line.met += tally["met"]
            line.breached += tally["breached"]
            line.not_applicable += tally["not_applicable"]
            line.running += tally["running"] + tally["paused"]
        for key, points in paid.items():
            line = result.setdefault(str(key or "—"), ComplianceRow(str(key or "—")))
            line.points_paid += points
        return Compliance(by, sorted(result.values(), key=lambda r: (-r.judged, r.key)))

    def balances(self, scope: Scope, *, sandbox: str | None = None) -> list[BalanceLine]:
        if not scope.sees_everything and not scope.party:
            return []
        return [
            BalanceLine(in_sandbox, account, unit, balance)
            for (in_sandbox, account, unit), balance in sorted(self._t.balances.items())
            if (scope.sees_everything or account == scope.party)
            and (sandbox is None or in_sandbox == sandbox)
        ]

    def payouts_of_cases(self, case_ids: Sequence[str]) -> list[PayoutLine]:
        wanted = set(case_ids)
        entries = sorted(
            (e for e in self._t.ledger.values() if e.payout.case_id in wanted),
            key=lambda e: (e.payout.at, e.id),
        )
        return [_payout_line(e) for e in entries]

    def open_cases_of_items(self, order_item_ids: Sequence[str]) -> list[OpenCaseLine]:
        wanted = set(order_item_ids)
        return [
            OpenCaseLine(c.id, c.order_item_id, c.programme)
            for c in self._t.cases.values()
            if c.is_open and c.order_item_id in wanted
        ]

    def pending_complaints(self, *, limit: int = 200) -> list[ComplaintLine]:
        lines = [
            ComplaintLine(c.id, case_id, c.clock_id, c.filed_at, c.text)
            for case_id, complaints in self._t.complaints.items()
            for c in complaints
            if c.status == "pending"
        ]
        lines.sort(key=lambda line: (line.filed_at, line.id))
        return lines[: max(limit, 0)]

    def live_figures(self, now: datetime) -> LiveFigures:
        t = self._t
        open_cases = Counter(
            c.programme for c in t.cases.values() if c.sandbox == LIVE and c.is_open
        )
        due = [
            d.due_at
            for (_, clock_id), d in t.deadlines.items()
            if d.sandbox == LIVE and d.due_at < now and "@" not in clock_id
        ]
        payouts: dict[str, tuple[int, int]] = {}
        for entry in t.ledger.values():
            p = entry.payout
            if entry.sandbox == LIVE and p.amount.unit.value == "points":
                count, total = payouts.get(p.rule, (0, 0))
                payouts[p.rule] = (count + 1, total + p.amount.value)
        return LiveFigures(dict(open_cases), len(due), min(due, default=None), payouts, now)

    def case_contact_and_names(
        self, case_id: str, ids: Sequence[str]
    ) -> tuple[CaseContact | None, dict[str, str]]:
        return self.case_contacts([case_id]).get(case_id), self.names(ids)

    def case_contacts(self, case_ids: Sequence[str]) -> dict[str, CaseContact]:
        t = self._t
        found: dict[str, CaseContact] = {}
        for case_id in case_ids:
            case = t.cases.get(case_id)
            item = None if case is None else t.order_items.get(case.order_item_id)
            order = None if item is None else t.orders.get(item.order_id)
            if case is None or item is None or order is None:
                continue
            name, buyer_phone = t.buyers.get(order.buyer_account, ("", ""))
            given = t.contacts.get(case_id)  # what the repair form gave, if it did
            phone = (
                case.callback_phone
                or (given.phone if given else "")
                or item.contact_phone
                or order.contact_phone
                or buyer_phone
            )
            contact = Contact(
                name=name,
                phone=phone,
                address=(given.address if given else "") or item.address_text,
                area=district_of(item.province, item.city, item.district),
                caller=case.caller_name,
                preferred_time=given.preferred_time if given else "",
            )
            found[case_id] = CaseContact(
                case_id, order.buyer_account, case.assignee, contact, case.appointment_at
            )
        return found

    def cases_of_buyers(
        self, buyers: Sequence[str], *, brand: str | None = None, limit: int = 50
    ) -> list[CaseLine]:
        wanted = set(buyers)
        next_due = self._next_due()
        rows = [
            row
            for row in self._rows(Scope(Role.OPERATIONS)).values()
            if row.order.buyer_account in wanted
            and (brand is None or row.product.brand_id == brand)
        ]
        rows.sort(key=lambda r: r.case.id)
        rows.sort(key=lambda r: r.case.opened_at, reverse=True)
        return [r.line(next_due.get(r.case.id)) for r in rows[: max(limit, 0)]]


def _payout_line(e: LedgerRecord) -> PayoutLine:
    return PayoutLine(
        e.payout.key,
        e.payout.case_id,
        e.sandbox,
        e.payout.rule,
        e.payout.amount.value,
        e.payout.amount.unit.value,
        e.payout.payer,
        e.payout.payee,
        e.payout.at,
        json.loads(json.dumps(e.reason_doc)),  # every read gets its own copy
        e.id,
    )
