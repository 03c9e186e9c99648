"""The SQL side of the ``ReadModels`` port: the parties' screens, scoped to the viewer.

Who sees what (the same rule for every screen, in :func:`scoped`):

* a consumer: the cases of items they bought;
* a provider: the cases dispatched or assigned to it;
* a merchant: the cases of items sold in its shop (it stays liable, OH-3);
* a brand: the cases of its products (it answers national-warranty reports, NW-4);
* a hotline agent: the cases of the brand whose line they staff, else the ones they
  filed;
* operations: everything.

Every query here is a single statement over indexed columns; nothing loads a case
aggregate to list it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, case, false, func, or_, select

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.types import aware_utc
from aftersales.domain.lifecycle import Role
from aftersales.errors import InvalidRequest
from aftersales.services.records import (
    LIVE,
    BalanceLine,
    CaseLine,
    ComplaintLine,
    Compliance,
    ComplianceRow,
    LiveFigures,
    OpenCaseLine,
    PayoutLine,
    QueueLine,
    Scope,
)

_c, _oi, _o, _p = s.cases, s.order_items, s.orders, s.products

_LINE_COLUMNS = (
    _c.c.id,
    _c.c.sandbox,
    _c.c.programme,
    _c.c.state,
    _c.c.is_open,
    _c.c.opened_at,
    _p.c.name.label("product"),
    _o.c.buyer_account,
    _o.c.merchant_id,
    _c.c.assignee,
    _oi.c.city,
)


def _joined(columns: list[Any]) -> Select[Any]:
    return select(*columns).select_from(
        _c.join(_oi, _c.c.order_item_id == _oi.c.id)
        .join(_o, _oi.c.order_id == _o.c.id)
        .join(_p, _oi.c.product_id == _p.c.id)
    )


_PARTY_ROLES = frozenset({Role.CONSUMER, Role.PROVIDER, Role.MERCHANT, Role.BRAND})


def scoped(query: Select[Any], scope: Scope) -> Select[Any]:
    """``query`` (over cases ⋈ items ⋈ orders ⋈ products) limited to what ``scope`` may see."""
    party = scope.party
    if scope.role in _PARTY_ROLES and not party:
        return query.where(false())  # a party's view without a party sees nothing
    match scope.role:
        case Role.OPERATIONS:
            return query
        case Role.CONSUMER:
            return query.where(_o.c.buyer_account == party)
        case Role.PROVIDER:
            return query.where(_c.c.assignee == party)
        case Role.MERCHANT:
            return query.where(_o.c.merchant_id == party)
        case Role.BRAND:
            return query.where(_p.c.brand_id == party)
        case Role.AGENT:
            # An agent on a brand's 400 line (NW-2a) serves that brand's callers;
            # a platform agent sees the reports they filed.
            if party:
                return query.where(_p.c.brand_id == party)
            return query.where(_c.c.opened_by == scope.account)
    return query.where(false())


def _case_line(r: Any, next_due: datetime | None) -> CaseLine:
    return CaseLine(
        r.id,
        r.sandbox,
        r.programme,
        r.state,
        r.is_open,
        r.opened_at,
        r.product,
        r.buyer_account,
        r.merchant_id,
        r.assignee,
        r.city,
        next_due,
    )


GROUPINGS = {
    "provider": _c.c.assignee,
    "city": _oi.c.city,
    "category": _p.c.category_id,
    "programme": _c.c.programme,
    "clock": s.clocks.c.clock_id,
}


def _a_clock(d: Any) -> Any:
    """A clock's own deadline row, not one of its warning marks ("<clock>@<mark>")."""
    return d.c.clock_id.not_like("%@%")


class SqlReadModels:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def may_see_case(self, scope: Scope, case_id: str) -> bool:
        found = self.conn.execute(
            scoped(_joined([_c.c.id]).where(_c.c.id == case_id), scope)
        ).first()
        return found is not None

    def case_lines(
        self,
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
        due = (
            select(s.deadlines.c.case_id, func.min(s.deadlines.c.due_at).label("next_due"))
            .where(_a_clock(s.deadlines))
            .group_by(s.deadlines.c.case_id)
            .subquery()
        )
        query = scoped(
            _joined([*_LINE_COLUMNS, due.c.next_due]).outerjoin(due, due.c.case_id == _c.c.id),
            scope,
        )
        if sandbox is not None:
            query = query.where(_c.c.sandbox == sandbox)
        if open_only:
            query = query.where(_c.c.is_open)
        if after is not None:
            opened_at, case_id = after
            query = query.where(
                or_(
                    _c.c.opened_at < opened_at, and_(_c.c.opened_at == opened_at, _c.c.id > case_id)
                )
            )
        query = query.order_by(_c.c.opened_at.desc(), _c.c.id).limit(limit)
        return [_case_line(r, r.next_due) for r in self.conn.execute(query)]

    def provider_queue(
        self, scope: Scope, *, live_now: datetime, limit: int = 200
    ) -> list[QueueLine]:
        """Open cases with a running deadline, the one nearest to breach first.

        "Nearest" is measured on each case's own clock (a sandbox's test clock or the
        live time), so live and sandbox cases sort together by time left. That order
        cannot be computed in SQL across clocks, so every running deadline in the
        scope is read (one indexed join) and the first ``limit`` kept after sorting.
        """
        d, sb = s.deadlines, s.sandboxes
        query = scoped(
            _joined([*_LINE_COLUMNS, d.c.clock_id, d.c.due_at, sb.c.now.label("sandbox_now")])
            .join(d, d.c.case_id == _c.c.id)
            .outerjoin(sb, sb.c.id == _c.c.sandbox)
            .where(_c.c.is_open, _a_clock(d)),
            scope,
        )
        lines: dict[str, QueueLine] = {}
        for r in self.conn.execute(query):
            now = r.sandbox_now or live_now
            line = QueueLine(_case_line(r, r.due_at), r.clock_id, r.due_at, now)
            kept = lines.get(r.id)
            if kept is None or line.seconds_left < kept.seconds_left:
                lines[r.id] = line
        return sorted(lines.values(), key=lambda q: (q.seconds_left, q.case.id))[:limit]

    def payout_lines(
        self,
        scope: Scope,
        *,
        sandbox: str | None = None,
        limit: int = 500,
        after: tuple[datetime, int] | None = None,
    ) -> list[PayoutLine]:
        """Payouts on the cases ``scope`` may see, newest first; ``after`` pages on (at, entry id)."""
        le = s.ledger_entries
        query = scoped(
            _joined(
                [
                    le.c.key,
                    le.c.case_id,
                    le.c.sandbox,
                    le.c.rule,
                    le.c.amount,
                    le.c.unit,
                    le.c.payer,
                    le.c.payee,
                    le.c.at,
                    le.c.reason,
                    le.c.id,
                ]
            ).join(le, le.c.case_id == _c.c.id),
            scope,
        )
        if sandbox is not None:
            query = query.where(le.c.sandbox == sandbox)
        if after is not None:
            at, entry_id = after
            query = query.where(or_(le.c.at < at, and_(le.c.at == at, le.c.id < entry_id)))
        query = query.order_by(le.c.at.desc(), le.c.id.desc()).limit(limit)
        return [PayoutLine(*r) for r in self.conn.execute(query)]

    def compliance(
        self,
        scope: Scope,
        *,
        by: str,
        start: datetime,
        end: datetime,
        sandbox: str | None = None,
    ) -> Compliance:
        """Commitments kept and missed, per ``by``, for cases opened in ``[start, end)``.

        A clock counts as met or breached once judged; still running or paused, as
        running; outside its window (OH-4), as not applicable. Points paid are the
        ledger's, for the same cases.
        """
        if by not in GROUPINGS:
            raise InvalidRequest(f"group by one of {', '.join(GROUPINGS)}, not {by!r}")
        group = GROUPINGS[by]
        k = s.clocks
        status = k.c.status
        query = scoped(
            _joined(
                [
                    group.label("key"),
                    func.sum(case((status == "met", 1), else_=0)).label("met"),
                    func.sum(case((status == "breached", 1), else_=0)).label("breached"),
                    func.sum(case((status == "not_applicable", 1), else_=0)).label("na"),
                    func.sum(case((status.in_(("running", "paused")), 1), else_=0)).label(
                        "running"
                    ),
                ]
            )
            .join(k, k.c.case_id == _c.c.id)
            .where(_c.c.opened_at >= start, _c.c.opened_at < end)
            .group_by(group),
            scope,
        )
        le = s.ledger_entries
        # Per clock, a payout belongs to the clock it paid for; otherwise to its case's group.
        paid_group = le.c.clock_id if by == "clock" else group
        paid = scoped(
            _joined([paid_group.label("key"), func.sum(le.c.amount).label("points")])
            .join(le, and_(le.c.case_id == _c.c.id, le.c.unit == "points"))
            .where(_c.c.opened_at >= start, _c.c.opened_at < end)
            .group_by(paid_group),
            scope,
        )
        if sandbox is not None:
            query = query.where(_c.c.sandbox == sandbox)
            paid = paid.where(_c.c.sandbox == sandbox)
        rows: dict[str, ComplianceRow] = defaultdict(lambda: ComplianceRow(""))
        for r in self.conn.execute(query):
            key = str(r.key or "—")
            rows[key] = ComplianceRow(
                key, int(r.met or 0), int(r.breached or 0), int(r.na or 0), int(r.running or 0)
            )
        for r in self.conn.execute(paid):
            key = str(r.key or "—")
            row = rows[key]
            row.key = key
            row.points_paid = int(r.points or 0)
        ordered = sorted(rows.values(), key=lambda row: (-(row.judged), row.key))
        return Compliance(by, ordered)

    def balances(self, scope: Scope, *, sandbox: str | None = None) -> list[BalanceLine]:
        """Net ledger balances: every account's for operations, the caller's own party's otherwise.

        Payees are credited and payers debited, so a buyer's balance is what the
        platform has paid them and a merchant's is negative by what its misses cost it.
        """
        b = s.account_balances
        query = select(b.c.sandbox, b.c.account, b.c.unit, b.c.balance)
        if not scope.sees_everything:
            if not scope.party:
                return []
            query = query.where(b.c.account == scope.party)
        if sandbox is not None:
            query = query.where(b.c.sandbox == sandbox)
        query = query.order_by(b.c.sandbox, b.c.account, b.c.unit)
        return [
            BalanceLine(r.sandbox, r.account, r.unit, int(r.balance))
            for r in self.conn.execute(query)
        ]

    def open_cases_of_items(self, order_item_ids: Sequence[str]) -> list[OpenCaseLine]:
        if not order_item_ids:
            return []
        query = select(_c.c.id, _c.c.order_item_id, _c.c.programme).where(
            _c.c.order_item_id.in_(list(order_item_ids)), _c.c.is_open
        )
        return [OpenCaseLine(r.id, r.order_item_id, r.programme) for r in self.conn.execute(query)]

    def pending_complaints(self, *, limit: int = 200) -> list[ComplaintLine]:
        k = s.complaints
        query = (
            select(k.c.id, k.c.case_id, k.c.clock_id, k.c.filed_at, k.c.text)
            .where(k.c.status == "pending")
            .order_by(k.c.filed_at, k.c.id)
            .limit(limit)
        )
        return [ComplaintLine(*r) for r in self.conn.execute(query)]

    def live_figures(self, now: datetime) -> LiveFigures:
        c, d, le = s.cases, s.deadlines, s.ledger_entries
        open_cases = self.conn.execute(
            select(c.c.programme, func.count())
            .where(c.c.sandbox == LIVE, c.c.is_open)
            .group_by(c.c.programme)
        ).all()
        due, oldest = self.conn.execute(
            select(func.count(), func.min(d.c.due_at)).where(
                d.c.sandbox == LIVE, d.c.due_at < now, _a_clock(d)
            )
        ).one()
        payouts = self.conn.execute(
            select(le.c.rule, func.count(), func.coalesce(func.sum(le.c.amount), 0))
            .where(le.c.sandbox == LIVE, le.c.unit == "points")
            .group_by(le.c.rule)
        ).all()
        return LiveFigures(
            {programme: int(count) for programme, count in open_cases},
            int(due),
            aware_utc(oldest),
            {rule: (int(count), int(total)) for rule, count, total in payouts},
            now,
        )
