"""The SQL side of the ``ReadModels`` port: the parties' screens, scoped to the viewer.

Who sees what (the same rule for every screen, in :func:`scoped`):

* a consumer: the cases of items they bought;
* a provider: the cases dispatched or assigned to it;
* a merchant: the cases of items sold in its shop (it stays liable, OH-3);
* a brand: the cases of its products (it answers national-warranty reports, NW-4);
* a hotline agent: the cases of the brand whose line they staff, else the ones they
  filed or added a caller's note to;
* operations: everything.

Every query here is a single statement over indexed columns; nothing loads a case
aggregate to list it.

**Size.** ~980 lines, one job: every screen's query behind the one scoping rule
(:func:`scoped`), so who-sees-what cannot drift between screens (the providers'
shares of payouts and compliance by holding party, added with issue 15, are two
more screens under the same rule; a case page's contact and names read in one
statement, added for intake, reuses the contact and names queries beside it). (The compliance
rollup's own reading lives in ``compliance_rollup.py``; the full query it is held
equal to stays here, scoped by the same rule.) It would split by screen family
where that rule allows it: the case search and exports (``filtered``,
``case_search``, ``breach_board``) into ``read_models_search.py``, the contacts and
names of field work into ``read_models_people.py``, both importing ``scoped``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, TypeVar, overload

from sqlalchemy import (
    Connection,
    Select,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    union,
    union_all,
)

from aftersales.adapters.db import compliance_rollup as rollup
from aftersales.adapters.db import schema as s
from aftersales.adapters.db.driver import Prepared, one_of
from aftersales.adapters.db.types import aware_utc
from aftersales.domain.contacts import Contact, district_of
from aftersales.domain.lifecycle import Role
from aftersales.errors import InvalidRequest
from aftersales.services.records import (
    LIVE,
    BalanceLine,
    CaseContact,
    CaseFilter,
    CaseLine,
    CasePage,
    ComplaintLine,
    Compliance,
    FoundCase,
    LiveFigures,
    OpenCaseLine,
    PayoutLine,
    PayoutTotal,
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


_PAYOUT_COLUMNS = (
    "key",
    "case_id",
    "sandbox",
    "rule",
    "amount",
    "unit",
    "payer",
    "payee",
    "at",
    "reason",
)


def _payout_columns(table: Any) -> list[Any]:
    """A payout line's columns (:class:`PayoutLine` without its entry id), in order, from
    ``ledger_entries`` or ``ledger_shares`` (the same columns)."""
    return [table.c[name] for name in _PAYOUT_COLUMNS]


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
            # a platform agent sees the reports they filed or added a caller's note to.
            if party:
                return query.where(_p.c.brand_id == party)
            a = s.audit_log
            noted = select(a.c.case_id).where(a.c.actor_id == scope.account)  # indexed
            return query.where(or_(_c.c.opened_by == scope.account, _c.c.id.in_(noted)))
    return query.where(false())


_Line = TypeVar("_Line", bound=CaseLine)


@overload
def _case_line(r: Any, next_due: datetime | None) -> CaseLine: ...
@overload
def _case_line(r: Any, next_due: datetime | None, kind: type[_Line], **more: str) -> _Line: ...
def _case_line(
    r: Any, next_due: datetime | None, kind: type[CaseLine] = CaseLine, **more: str
) -> CaseLine:
    """A row of :data:`_LINE_COLUMNS` as a :class:`CaseLine` (or ``kind``, given ``more``)."""
    return kind(
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
        **more,
    )


_b, _m, _pv, _br = s.buyers, s.merchants, s.providers, s.brands


@cache
def _names_query(pg: bool) -> Any:
    """Every table naming a party, in one statement: (rank, id, name) rows, ranked in
    the order a later name wins (accounts, buyers, brands, providers, shops), then the
    accounts by username (rank -1, used only where nothing else names the id). On
    PostgreSQL the ids are one array, so the text never changes and stays prepared."""

    def of_ids(column: Any) -> Any:
        return one_of(column, "ids", pg=pg)

    ranked = [
        select(literal(rank).label("rank"), t.c.id.label("id"), t.c.name.label("name")).where(
            of_ids(t.c.id)
        )
        for rank, t in enumerate((s.accounts, _b, _br, _pv, _m))
    ]
    a = s.accounts
    usernames = select(literal(-1), a.c.username, a.c.name).where(of_ids(a.c.username))
    return union_all(*ranked, usernames).subquery().select().order_by("rank")


# A case may be assigned to a shop or a brand where no provider serves (OH-3, NW-4).
_assignee_shop, _assignee_brand = (
    s.merchants.alias("assignee_shop"),
    s.brands.alias("assignee_brand"),
)

_FOUND_COLUMNS = (
    *_LINE_COLUMNS,
    _oi.c.order_id,
    _c.c.order_item_id,
    _p.c.brand_id.label("brand"),
    _b.c.name.label("buyer_name"),
    _m.c.name.label("merchant_name"),
    func.coalesce(
        _pv.c.name,
        select(_assignee_shop.c.name).where(_assignee_shop.c.id == _c.c.assignee).scalar_subquery(),
        select(_assignee_brand.c.name)
        .where(_assignee_brand.c.id == _c.c.assignee)
        .scalar_subquery(),
    ).label("assignee_name"),
    _br.c.name.label("brand_name"),
)


@cache
def _names() -> Prepared:
    return Prepared.per_dialect(_names_query)


class _NameRow(NamedTuple):
    rank: int
    id: str
    name: str | None


def _names_of(rows: Iterable[Any]) -> dict[str, str]:
    """Names by id from the names query's rows: a later table's name wins (a shop's own
    name over its account's); an account's username names only what nothing else does."""
    found: dict[str, str] = {}
    by_username: list[Any] = []
    for r in rows:
        if r.rank < 0:
            by_username.append(r)
        elif r.name:
            found[r.id] = r.name
    for r in by_username:
        found.setdefault(r.id, r.name)
    return found


def _named_from(cases: Any) -> Any:
    """``cases`` (a FROM holding the cases table) joined to items, orders, products and
    the parties' names, in that order."""
    return (
        cases.join(_oi, _c.c.order_item_id == _oi.c.id)
        .join(_o, _oi.c.order_id == _o.c.id)
        .join(_p, _oi.c.product_id == _p.c.id)
        .outerjoin(_b, _b.c.id == _o.c.buyer_account)
        .outerjoin(_m, _m.c.id == _o.c.merchant_id)
        .outerjoin(_pv, _pv.c.id == _c.c.assignee)
        .outerjoin(_br, _br.c.id == _p.c.brand_id)
    )


def _named(query: Select[Any]) -> Select[Any]:
    """``query`` (over :func:`_joined`) with the parties' names beside their ids."""
    return (
        query.outerjoin(_b, _b.c.id == _o.c.buyer_account)
        .outerjoin(_m, _m.c.id == _o.c.merchant_id)
        .outerjoin(_pv, _pv.c.id == _c.c.assignee)
        .outerjoin(_br, _br.c.id == _p.c.brand_id)
    )


def _found(r: Any, next_due: datetime | None) -> FoundCase:
    return _case_line(
        r,
        next_due,
        FoundCase,
        order_id=r.order_id,
        order_item_id=r.order_item_id,
        brand=r.brand or "",
        buyer_name=r.buyer_name or "",
        merchant_name=r.merchant_name or "",
        assignee_name=r.assignee_name or "",
        brand_name=r.brand_name or "",
    )


def _next_due() -> Any:
    """The case's earliest running deadline (one lookup on the deadlines' primary key)."""
    d = s.deadlines
    return (
        select(func.min(d.c.due_at)).where(d.c.case_id == _c.c.id, _a_clock(d)).scalar_subquery()
    ).label("next_due")


def _ids_forms(text: str, sandbox: str) -> list[str]:
    """An id as typed, and as stored in a sandbox (``<sandbox>.<id>``)."""
    return [text] if sandbox == LIVE else [text, f"{sandbox}.{text}"]


def _text_matches(text: str, sandbox: str) -> Any:
    """Case ids matching a searched text, each way found through its own index.

    A union of lookups, one per way a case is found (case id, order item, order,
    buyer account, buyer phone, buyer name's start, the order's contact phone),
    each without an OR, so the planner sees how few rows each gives and a search
    costs what it finds rather than a walk over every case.
    """
    ids = _ids_forms(text, sandbox)
    digits = "".join(ch for ch in text if ch.isdigit())
    phones = sorted({text, digits} - {""})
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

    def by_orders(orders: Select[Any]) -> Select[Any]:
        return (
            select(_c.c.id)
            .join(_oi, _oi.c.id == _c.c.order_item_id)
            .where(_oi.c.order_id.in_(orders))
        )

    def by_buyers(buyers: Select[Any]) -> Select[Any]:
        return by_orders(select(_o.c.id).where(_o.c.buyer_account.in_(buyers)))

    return union(
        select(_c.c.id).where(_c.c.id.in_(ids)),
        select(_c.c.id).where(_c.c.order_item_id.in_(ids)),
        select(_c.c.id).join(_oi, _oi.c.id == _c.c.order_item_id).where(_oi.c.order_id.in_(ids)),
        by_orders(select(_o.c.id).where(_o.c.buyer_account.in_(ids))),
        by_orders(select(_o.c.id).where(_o.c.contact_phone.in_(phones))),
        by_buyers(select(_b.c.id).where(_b.c.phone.in_(phones))),
        by_buyers(select(_b.c.id).where(_b.c.name.like(f"{escaped}%", escape="\\"))),
    )


def _narrow(scope: Scope, f: CaseFilter) -> bool:
    """Does the scope or filter pick a buyer's or a shop's cases, or a searched text's: few
    among many, best found through the orders' indexes? (A brand's cases are many among
    few brands: walking the newest cases meets them soon, so a brand is not narrow.)"""
    return (
        scope.role in (Role.CONSUMER, Role.MERCHANT)
        or (scope.role is Role.AGENT and not scope.party)
        or bool(f.merchant or f.text.strip())
    )


def _count_of(scope: Scope, f: CaseFilter) -> Select[Any]:
    """``count(*)`` over the cases, joined only to the tables the scope and filter read
    (operations counting every live case read the cases table alone)."""
    needs_order = bool(f.merchant) or scope.role in (Role.CONSUMER, Role.MERCHANT)
    needs_product = (
        bool(f.brand)
        or scope.role is Role.BRAND
        or (scope.role is Role.AGENT and bool(scope.party))
    )
    needs_item = needs_order or needs_product or bool(f.city)
    tables: Any = _c
    if needs_item:
        tables = tables.join(_oi, _c.c.order_item_id == _oi.c.id)
    if needs_order:
        tables = tables.join(_o, _oi.c.order_id == _o.c.id)
    if needs_product:
        tables = tables.join(_p, _oi.c.product_id == _p.c.id)
    return select(func.count()).select_from(tables)


def filtered(query: Select[Any], scope: Scope, f: CaseFilter) -> Select[Any]:
    """``query`` (over :func:`_joined`) in ``scope``, narrowed by the filter ``f``."""
    query = scoped(query, scope).where(_c.c.sandbox == f.sandbox)
    text = f.text.strip()
    if text:
        query = query.where(_c.c.id.in_(_text_matches(text, f.sandbox)))
    if f.programme:
        query = query.where(_c.c.programme == f.programme)
    if f.state:
        query = query.where(_c.c.state == f.state)
    if f.provider:
        query = query.where(_c.c.assignee == f.provider)
    if f.merchant:
        query = query.where(_o.c.merchant_id == f.merchant)
    if f.brand:
        query = query.where(_p.c.brand_id == f.brand)
    if f.city:
        query = query.where(_oi.c.city == f.city)
    if f.open_only:
        query = query.where(_c.c.is_open)
    if f.clock_state:
        k = s.clocks
        query = query.where(
            exists(select(literal(1)).where(k.c.case_id == _c.c.id, k.c.status == f.clock_state))
        )
    due_by = f.due_by()
    if due_by is not None:
        d = s.deadlines
        query = query.where(
            exists(
                select(literal(1)).where(d.c.case_id == _c.c.id, d.c.due_at <= due_by, _a_clock(d))
            )
        )
    return query


def _holder_of_clock(dialect: str) -> Any:
    """``"<kind>:<party>"`` of a clock's last holding period (issue 15): who held it when
    it was judged (its period closes then), or who holds it now. NULL for none."""
    if dialect == "postgresql":
        return literal_column(
            "((clocks.holders -> -1 ->> 'kind') || ':' || (clocks.holders -> -1 ->> 'party'))"
        )
    return literal_column(
        "(json_extract(clocks.holders, '$[#-1].kind') || ':' "
        "|| json_extract(clocks.holders, '$[#-1].party'))"
    )


GROUPINGS = {
    "provider": _c.c.assignee,
    "city": _oi.c.city,
    "category": _p.c.category_id,
    "programme": _c.c.programme,
    "clock": s.clocks.c.clock_id,
    # Read from the clocks' own holders: the report for it is the full query, never the
    # rollup (docs/scaling.md).
    "holder": None,
}


def _a_clock(d: Any) -> Any:
    """A clock's own deadline row, not one of its warning marks ("<clock>@<mark>").

    Written as the partial index ``ix_deadlines_clocks_due`` is (a constant, not a
    parameter), so the planner may read that index for it."""
    return d.c.clock_id.not_like(literal_column("'%@%'"))


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
        # Each line's earliest deadline is looked up for that line alone (the deadlines'
        # primary key), so a page never aggregates every running deadline.
        query = scoped(_joined([*_LINE_COLUMNS, _next_due()]), scope)
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
        return [_case_line(r, aware_utc(r.next_due)) for r in self.conn.execute(query)]

    def case_search(
        self,
        scope: Scope,
        f: CaseFilter,
        *,
        limit: int = 50,
        after: tuple[datetime, str] | None = None,
        count: bool = True,
    ) -> CasePage:
        """A page of the cases ``scope`` may see that match ``f``, newest first, with names.

        Keyset paging on (opened_at, id) as :meth:`case_lines`; the count is of the
        whole filter (skipped with ``count=False``, as an export needs none).
        """
        # The page's ids first, on the case tables alone; the names are joined to those
        # rows only, starting from them (so the planner never joins every case to names).
        ids = filtered(_joined([_c.c.id.label("cid"), _c.c.opened_at]), scope, f)
        if after is not None:
            opened_at, case_id = after
            ids = ids.where(
                or_(
                    _c.c.opened_at < opened_at, and_(_c.c.opened_at == opened_at, _c.c.id > case_id)
                )
            )
        if _narrow(scope, f):
            # Few cases match out of many: find them all first (through the orders' and
            # items' indexes), then take the newest. Left to itself, PostgreSQL walks every
            # case newest first hoping to meet the few soon (seconds at a million cases).
            found = ids.cte("matching").prefix_with("MATERIALIZED", dialect="postgresql")
            page = (
                select(found.c.cid, found.c.opened_at)
                .order_by(found.c.opened_at.desc(), found.c.cid)
                .limit(max(limit, 0) + 1)
                .subquery()
            )
        else:
            page = ids.order_by(_c.c.opened_at.desc(), _c.c.id).limit(max(limit, 0) + 1).subquery()
        query = select(*_FOUND_COLUMNS, _next_due()).select_from(
            _named_from(page.join(_c, _c.c.id == page.c.cid))
        )
        rows = self.conn.execute(query.order_by(_c.c.opened_at.desc(), _c.c.id)).all()
        lines = [_found(r, aware_utc(r.next_due)) for r in rows[: max(limit, 0)]]
        total = -1
        if count and scope.sees_everything and f == CaseFilter(sandbox=f.sandbox, open_only=True):
            # Every open case of a world: the count kept as cases open and close.
            oc = s.open_case_counts
            kept = select(func.coalesce(func.sum(oc.c.open_cases), 0)).where(
                oc.c.sandbox == f.sandbox
            )
            total = int(self.conn.execute(kept).scalar_one())
        elif count:
            total = int(self.conn.execute(filtered(_count_of(scope, f), scope, f)).scalar_one())
        return CasePage(lines, total, len(rows) > limit)

    def breach_board(
        self, scope: Scope, *, sandbox: str, now: datetime, limit: int = 100
    ) -> list[QueueLine]:
        """Running clocks of one world, the one nearest to breach first (its due index)."""
        d = s.deadlines
        query = scoped(
            _named(
                _joined([*_FOUND_COLUMNS, d.c.clock_id, d.c.due_at]).join(d, d.c.case_id == _c.c.id)
            ).where(d.c.sandbox == sandbox, _c.c.is_open, _a_clock(d)),
            scope,
        )
        rows = self.conn.execute(query.order_by(d.c.due_at, _c.c.id, d.c.clock_id).limit(limit))
        return [QueueLine(_found(r, r.due_at), r.clock_id, r.due_at, now) for r in rows]

    def payout_total(self, scope: Scope, *, sandbox: str | None = None) -> PayoutTotal:
        """How many payouts :meth:`payout_lines` would list in all, and their points."""
        le = s.ledger_entries
        query = scoped(
            _joined(
                [
                    func.count(),
                    func.coalesce(func.sum(case((le.c.unit == "points", le.c.amount), else_=0)), 0),
                ]
            ).join(le, le.c.case_id == _c.c.id),
            scope,
        )
        if sandbox is not None:
            query = query.where(le.c.sandbox == sandbox)
        count, points = self.conn.execute(query).one()
        return PayoutTotal(int(count), int(points))

    def names(self, ids: Sequence[str]) -> dict[str, str]:
        """The names of parties and people by id: shops, providers, brands, buyers, accounts."""
        wanted = sorted({i for i in ids if i})
        if not wanted:
            return {}
        return _names_of(_names().rows(self.conn, {"ids": wanted}))

    def provider_queue(
        self, scope: Scope, *, live_now: datetime, limit: int = 200
    ) -> list[QueueLine]:
        """Open cases with a running deadline, the one nearest to breach first.

        "Nearest" is measured on each case's own clock (a sandbox's test clock or the
        live time), so live and sandbox cases sort together by time left. Within one
        world every case shares the clock, so time left orders as ``due_at`` does: each
        world's first ``limit`` cases come from the deadlines' (sandbox, due_at) index
        (or, for a provider, its open cases' index), and the worlds are merged here.
        A page costs what it shows, not what is open.
        """
        limit = max(limit, 0)
        if limit == 0:
            return []
        sb = s.sandboxes
        worlds: list[tuple[str, datetime]] = [(LIVE, live_now)]
        worlds += [(r.id, r.now) for r in self.conn.execute(select(sb.c.id, sb.c.now))]
        lines: list[QueueLine] = []
        for world, now in worlds:
            lines += self._nearest_in(scope, world, now, limit)
        return sorted(lines, key=lambda q: (q.seconds_left, q.case.id))[:limit]

    def _nearest_in(self, scope: Scope, world: str, now: datetime, limit: int) -> list[QueueLine]:
        """The first ``limit`` open cases of one world by their earliest running deadline.

        Deadline rows are read in (due_at, case, clock) order, a batch at a time, until
        ``limit`` distinct cases are met: a case's first row is its earliest deadline,
        and first rows come in (earliest due, case) order, the order of the merged queue.
        """
        d = s.deadlines
        query = scoped(
            _joined([*_LINE_COLUMNS, d.c.clock_id, d.c.due_at])
            .join(d, d.c.case_id == _c.c.id)
            .where(d.c.sandbox == world, _c.c.is_open, _a_clock(d)),
            scope,
        ).order_by(d.c.due_at, d.c.case_id, d.c.clock_id)
        batch = limit + 50  # a few cases show more than one running clock near the top
        kept: dict[str, QueueLine] = {}
        after: tuple[datetime, str, str] | None = None
        while len(kept) < limit:
            page = query
            if after is not None:
                due, case_id, clock_id = after
                page = page.where(
                    or_(
                        d.c.due_at > due,
                        and_(d.c.due_at == due, d.c.case_id > case_id),
                        and_(d.c.due_at == due, d.c.case_id == case_id, d.c.clock_id > clock_id),
                    )
                )
            rows = self.conn.execute(page.limit(batch)).all()
            for r in rows:
                if r.id not in kept and len(kept) < limit:
                    kept[r.id] = QueueLine(_case_line(r, r.due_at), r.clock_id, r.due_at, now)
            if len(rows) < batch:
                break
            last = rows[-1]
            after = (last.due_at, last.id, last.clock_id)
        return list(kept.values())

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
            _joined([*_payout_columns(le), le.c.id]).join(le, le.c.case_id == _c.c.id),
            scope,
        )
        if sandbox is not None:
            query = query.where(le.c.sandbox == sandbox)
        if after is not None:
            at, entry_id = after
            query = query.where(or_(le.c.at < at, and_(le.c.at == at, le.c.id < entry_id)))
        query = query.order_by(le.c.at.desc(), le.c.id.desc()).limit(limit)
        return [PayoutLine(*r) for r in self.conn.execute(query)]

    def share_lines(
        self,
        scope: Scope,
        *,
        sandbox: str | None = None,
        limit: int = 500,
        after: tuple[datetime, str] | None = None,
    ) -> list[PayoutLine]:
        ls = s.ledger_shares
        query = select(*_payout_columns(ls), literal_column("0").label("entry_id"))
        if scope.role is Role.MERCHANT and scope.party:
            query = query.where(ls.c.payee == scope.party)
        elif scope.role is Role.PROVIDER and scope.party:
            query = query.where(ls.c.payer == scope.party)
        elif not scope.sees_everything:
            return []
        if sandbox is not None:
            query = query.where(ls.c.sandbox == sandbox)
        if after is not None:
            at, key = after
            query = query.where(or_(ls.c.at < at, and_(ls.c.at == at, ls.c.key < key)))
        query = query.order_by(ls.c.at.desc(), ls.c.key.desc()).limit(limit)
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
        ledger's, for the same cases. Whole hours are read from the rollup the database
        keeps (:mod:`.compliance_rollup`); it equals :meth:`compliance_in_full`.
        """
        if by not in GROUPINGS:
            raise InvalidRequest(f"group by one of {', '.join(GROUPINGS)}, not {by!r}")
        if by == "holder":  # not kept in the rollup: answered by the full query
            return self.compliance_in_full(scope, by=by, start=start, end=end, sandbox=sandbox)
        tallies = rollup.compliance_tallies(
            self.conn,
            scope,
            by=by,
            start=start,
            end=end,
            sandbox=sandbox,
            full=lambda a, b, worlds: self._full_tallies(scope, by, a, b, sandbox, worlds),
        )
        return Compliance(by, rollup.rows_of(tallies))

    def compliance_in_full(
        self,
        scope: Scope,
        *,
        by: str,
        start: datetime,
        end: datetime,
        sandbox: str | None = None,
    ) -> Compliance:
        """:meth:`compliance` as a GROUP BY over every case of the window (its peer)."""
        if by not in GROUPINGS:
            raise InvalidRequest(f"group by one of {', '.join(GROUPINGS)}, not {by!r}")
        return Compliance(by, rollup.rows_of(self._full_tallies(scope, by, start, end, sandbox)))

    def _full_tallies(
        self,
        scope: Scope,
        by: str,
        start: datetime,
        end: datetime,
        sandbox: str | None,
        worlds: list[str] | None = None,
    ) -> rollup.Tallies:
        """The report's counts per group over the cases opened in ``[start, end)`` (of
        ``worlds`` only, if given)."""
        # NULL and '' are one group ("—"), as the rollup keeps them.
        holder = by == "holder"
        grouping = _holder_of_clock(self.conn.dialect.name) if holder else GROUPINGS[by]
        group = func.coalesce(grouping, "")
        k = s.clocks
        status = k.c.status
        query = scoped(
            _joined(
                [
                    group.label("key"),
                    func.count().label("clocks"),
                    func.sum(case((status == "met", 1), else_=0)).label("met"),
                    func.sum(case((status == "breached", 1), else_=0)).label("breached"),
                    func.sum(case((status == "not_applicable", 1), else_=0)).label("na"),
                    func.sum(case((status.in_(("running", "paused")), 1), else_=0)).label(
                        "running"
                    ),
                ]
            )
            .join(k, k.c.case_id == _c.c.id)
            # A clock not started (SS-2's agreed day before any booking) is no commitment yet.
            .where(_c.c.opened_at >= start, _c.c.opened_at < end, status != "pending")
            .group_by(group),
            scope,
        )
        le = s.ledger_entries
        # Per clock, a payout belongs to the clock it paid for; otherwise to its case's group.
        paid_group = le.c.clock_id if by == "clock" else group
        paid_from = _joined(
            [
                paid_group.label("key"),
                func.count().label("payouts"),
                func.sum(le.c.amount).label("points"),
            ]
        ).join(le, and_(le.c.case_id == _c.c.id, le.c.unit == "points"))
        if holder:  # a payout's points go to whoever held the clock it paid for
            paid_from = paid_from.join(
                k, and_(k.c.case_id == le.c.case_id, k.c.clock_id == le.c.clock_id)
            )
        paid = scoped(
            paid_from.where(_c.c.opened_at >= start, _c.c.opened_at < end).group_by(paid_group),
            scope,
        )
        if sandbox is not None:
            query = query.where(_c.c.sandbox == sandbox)
            paid = paid.where(_c.c.sandbox == sandbox)
        if worlds is not None:
            query = query.where(_c.c.sandbox.in_(worlds))
            paid = paid.where(_c.c.sandbox.in_(worlds))
        counted = {
            rollup.key_of(r.key): rollup.Tally(
                int(r.clocks),
                int(r.met or 0),
                int(r.breached or 0),
                int(r.na or 0),
                int(r.running or 0),
            )
            for r in self.conn.execute(query)
        }
        paid_out = {
            rollup.key_of(r.key): rollup.Tally(payouts=int(r.payouts), points=int(r.points or 0))
            for r in self.conn.execute(paid)
        }
        return rollup.merged([counted, paid_out])

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

    def payouts_of_cases(self, case_ids: Sequence[str]) -> list[PayoutLine]:
        if not case_ids:
            return []
        le = s.ledger_entries
        query = (
            select(*_payout_columns(le), le.c.id)
            .where(le.c.case_id.in_(list(case_ids)))
            .order_by(le.c.at, le.c.id)
        )
        return [PayoutLine(*r) for r in self.conn.execute(query)]

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
        """What the metrics scrape reports, at the same cost at any size.

        Open cases and payouts are exact, read from the counts the database keeps as
        rows change (``open_case_counts``, ``payout_counts``: a handful of rows per
        programme and rule). The due deadlines are counted on the due index, so they
        cost what is overdue (nothing when the workers keep up), not what is open.
        """
        d, oc, pc = s.deadlines, s.open_case_counts, s.payout_counts
        open_cases = self.conn.execute(
            select(oc.c.programme, func.sum(oc.c.open_cases))
            .where(oc.c.sandbox == LIVE)
            .group_by(oc.c.programme)
        ).all()
        due, oldest = self.conn.execute(
            select(func.count(), func.min(d.c.due_at)).where(
                d.c.sandbox == LIVE, d.c.due_at < now, _a_clock(d)
            )
        ).one()
        payouts = self.conn.execute(
            select(pc.c.rule, func.sum(pc.c.payouts), func.sum(pc.c.amount))
            .where(pc.c.sandbox == LIVE, pc.c.unit == "points")
            .group_by(pc.c.rule)
        ).all()
        return LiveFigures(
            {programme: int(count) for programme, count in open_cases if count},
            int(due),
            aware_utc(oldest),
            {rule: (int(count), int(total)) for rule, count, total in payouts if count},
            now,
        )

    def case_contacts(self, case_ids: Sequence[str]) -> dict[str, CaseContact]:
        if not case_ids:
            return {}
        rows = _CONTACTS.rows(self.conn, {"ids": list(case_ids)})
        return {r.id: _case_contact(r) for r in rows}

    def case_contact_and_names(
        self, case_id: str, ids: Sequence[str]
    ) -> tuple[CaseContact | None, dict[str, str]]:
        """On PostgreSQL one statement: the contact's row carries the names as a JSON array
        of the names query's (rank, id, name) rows; elsewhere the two queries."""
        wanted = sorted({i for i in ids if i})
        if self.conn.dialect.name != "postgresql":
            return self.case_contacts([case_id]).get(case_id), self.names(wanted)
        row = _CONTACT_AND_NAMES.first(self.conn, {"case_id": case_id, "ids": wanted})
        if row is None:  # no such case: its names all the same
            return None, self.names(wanted)
        named = [_NameRow(*found) for found in row.names or ()]
        return _case_contact(row), _names_of(named)

    def cases_of_buyers(
        self, buyers: Sequence[str], *, brand: str | None = None, limit: int = 50
    ) -> list[CaseLine]:
        if not buyers:
            return []
        query = _joined([*_LINE_COLUMNS, _next_due()]).where(
            _o.c.buyer_account.in_(sorted(set(buyers)))
        )
        if brand is not None:
            query = query.where(_p.c.brand_id == brand)
        query = query.order_by(_c.c.opened_at.desc(), _c.c.id).limit(limit)
        return [_case_line(r, aware_utc(r.next_due)) for r in self.conn.execute(query)]


# The customer's contact of cases, built once (composing it cost as much as running it).
_b, _given = s.buyers, s.case_contacts


def _contacts_query(pg: bool, *, one: bool = False) -> Select[Any]:
    """The contact's columns of the cases given as array ``ids`` (``one``: of ``case_id``)."""
    return (
        select(
            _given.c.phone.label("form_phone"),
            _given.c.address.label("form_address"),
            _given.c.preferred_time,
            _c.c.id,
            _c.c.assignee,
            _c.c.caller_name,
            _c.c.callback_phone,
            _c.c.appointment_at,
            _o.c.buyer_account,
            _o.c.contact_phone.label("order_phone"),
            _oi.c.contact_phone.label("item_phone"),
            _oi.c.address_text,
            _oi.c.province,
            _oi.c.city,
            _oi.c.district,
            _b.c.name.label("buyer_name"),
            _b.c.phone.label("buyer_phone"),
        )
        .select_from(
            _c.join(_oi, _c.c.order_item_id == _oi.c.id)
            .join(_o, _oi.c.order_id == _o.c.id)
            .outerjoin(_b, _b.c.id == _o.c.buyer_account)
            .outerjoin(_given, _given.c.case_id == _c.c.id)
        )
        .where(_c.c.id == bindparam("case_id") if one else one_of(_c.c.id, "ids", pg=pg))
    )


_CONTACTS = Prepared.per_dialect(_contacts_query)


def _contact_and_names_query() -> Select[Any]:
    """PostgreSQL: one case's contact row plus ``names``, the rows of the names query for
    ``ids`` as a JSON array of [rank, id, name] (a case's page shows both)."""
    named = _names_query(True).subquery()
    names = (
        select(func.json_agg(func.json_build_array(named.c.rank, named.c.id, named.c.name)))
        .select_from(named)
        .scalar_subquery()
    )
    return _contacts_query(True, one=True).add_columns(names.label("names"))


_CONTACT_AND_NAMES = Prepared(_contact_and_names_query())


def _case_contact(r: Any) -> CaseContact:
    """A row of :func:`_contacts_query` as the case's contact: the phone to call is the
    hotline caller's callback number, else the form's, the item's, the order's, the buyer's."""
    phone = r.callback_phone or r.form_phone or r.item_phone or r.order_phone or r.buyer_phone
    contact = Contact(
        name=r.buyer_name or "",
        phone=phone or "",
        address=r.form_address or r.address_text or "",
        area=district_of(r.province, r.city, r.district),
        caller=r.caller_name or "",
        preferred_time=r.preferred_time or "",
    )
    return CaseContact(r.id, r.buyer_account, r.assignee, contact, r.appointment_at)
