"""Bulk set-up for load tests and benchmarks: many due one-click-help cases in one sandbox, quickly.

Cases opened at the same instant have the same rows but for their ids. So one
case per instant is built in the domain exactly as the intake service builds it
(assess → open → dispatch) and handed to :meth:`CaseRepository.add` on a
*recording* connection (:class:`aftersales.testing.recording.RecordingConnection`):
the repository composes its statements as always and the recorder keeps the rows
they carry. Every case is then a copy of those rows with its own case, order,
item and buyer ids put in — also inside JSON — written a chunk at a time with
COPY on PostgreSQL (``executemany`` on SQLite). The rows are therefore the
repository's own (nothing here re-implements them), and a million cases load in
minutes. Only plain inserts of brand-new cases can be recorded; anything else the
repository tries stops the helper with an error rather than being guessed at.

The cases open at a fixed instant inside the 09:00–18:00 window (OH-4), and the
sandbox's clock is set ``due_after`` later (2 hours by default): the 1-hour
solution clock of every case is then past due and the 48-hour one is not, so
each case owes exactly one payout, ``<case>/solution/no_solution_in_time``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Dialect, Engine, insert, select

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.bulk import copy_tuples, driver_values
from aftersales.adapters.db.cases_repo import CaseRepository
from aftersales.domain.cases import Actor, Case
from aftersales.domain.eligibility import (
    OrderItem,
    Product,
    ServiceAddress,
    assess_one_click_help,
)
from aftersales.domain.lifecycle import Channel, Role
from aftersales.domain.policy import PolicyBook
from aftersales.services.sandboxes import create_sandbox
from aftersales.services.time import FixedClock
from aftersales.testing import services_on
from aftersales.testing.recording import RecordingConnection

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Tuesday, 10:00 in Hangzhou: inside the OH-4 window, under the current policy.
OPENED_AT = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
SOLUTION_POINTS = 5_000  # OH-5, as the policy file sets it; the tests check the ledger against it

BRAND_ID = "bulk-brand"
MERCHANT_ID = "bulk-shop"
PRODUCT = Product(
    "bulk-lamp",
    "吸顶灯 LED 48W",
    BRAND_ID,
    "lighting",
    service_tags=frozenset({"scheduled_installation"}),
)
ADDRESS = ServiceAddress("浙江省杭州市西湖区文三路 90 号", "浙江省", "杭州市", "西湖区")


# The tables a new case's save writes to, parents first (foreign keys).
_CASE_TABLES = (s.cases, s.clocks, s.decisions, s.audit_log, s.deadlines, s.outbox)
_ALL_TABLES = (s.orders, s.order_items, *_CASE_TABLES)
# Stand-ins for the ids in a template case's rows, replaced in each copy.
_CASE, _ITEM, _ORDER, _BUYER = "⟦case⟧", "⟦item⟧", "⟦order⟧", "⟦buyer⟧"
PURCHASED_ON = date(2026, 11, 1)


class _Template:
    """The rows of one case opened at one instant, with stand-ins for its ids.

    Every case opened at the same instant has the same rows but for its ids, so
    the domain builds one (assess → open → dispatch, through the repository on a
    recording connection) and each case is a copy with its ids put in: the rows
    are the repository's own, and a copy costs a few string replacements.
    Values are kept as the driver is given them (JSON as text), so the ids are
    replaced inside JSON too.
    """

    def __init__(
        self, columns: dict[str, tuple[str, ...]], rows: dict[str, list[list[Any]]]
    ) -> None:
        self.columns = columns
        self.rows = rows
        # Per table and row: the positions whose text holds a stand-in.
        self.marked = {
            name: [
                [i for i, v in enumerate(row) if isinstance(v, str) and "⟦" in v]
                for row in table_rows
            ]
            for name, table_rows in rows.items()
        }

    @classmethod
    def build(
        cls,
        book: PolicyBook,
        dialect: Dialect,
        *,
        sandbox: str,
        at: datetime,
        events_dispatched: bool = False,
        provider: str | None = None,
    ) -> _Template:
        item = OrderItem(
            id=_ITEM,
            order_id=_ORDER,
            buyer_account=_BUYER,
            merchant_id=MERCHANT_ID,
            product=PRODUCT,
            paid_price_fen=19_900,
            purchased_on=PURCHASED_ON,
            address=ADDRESS,
            delivered_on=PURCHASED_ON + timedelta(days=3),
        )
        recorder = RecordingConnection(dialect, _CASE_TABLES)
        decision = assess_one_click_help(book, item, at)
        if not decision.eligible:
            raise AssertionError([r.en for r in decision.reasons])
        case = Case.open(
            case_id=_CASE,
            book=book,
            eligibility=decision,
            item=item,
            at=at,
            actor=Actor(Role.CONSUMER, _BUYER, Channel.HELP_BUTTON),
            failure="installation_late",
        )
        if provider is None:
            # OH-3: no provider is registered here, so the request goes to the merchant.
            case.dispatch(book, MERCHANT_ID, at, to_merchant=True)
        else:  # dispatched to ``provider``, which then holds the clocks (issue 15)
            case.dispatch(book, provider, at)
        case.pull_notices()  # bulk cases have no accounts to tell
        CaseRepository(cast(Connection, recorder), book).add(case, sandbox=sandbox)
        recorded = recorder.take()
        if events_dispatched:  # the webhook fan-out has passed them on already
            for row in recorded[s.outbox.name]:
                row["dispatched_at"] = at
        recorded[s.orders.name] = [
            {
                "id": _ORDER,
                "sandbox": sandbox,
                "buyer_account": _BUYER,
                "merchant_id": MERCHANT_ID,
                "placed_at": at - timedelta(days=25),
            }
        ]
        recorded[s.order_items.name] = [
            {
                "id": _ITEM,
                "order_id": _ORDER,
                "product_id": PRODUCT.id,
                "paid_price_fen": item.paid_price_fen,
                "purchased_on": item.purchased_on,
                "delivered_on": item.delivered_on,
                "address_text": ADDRESS.text,
                "province": ADDRESS.province,
                "city": ADDRESS.city,
                "district": ADDRESS.district,
            }
        ]
        columns: dict[str, tuple[str, ...]] = {}
        rows: dict[str, list[list[Any]]] = {}
        for table in _ALL_TABLES:
            table_rows = recorded.get(table.name, [])
            columns[table.name] = tuple(table_rows[0])
            if any(tuple(r) != columns[table.name] for r in table_rows):
                raise AssertionError(f"rows of {table.name} differ in their columns")
            rows[table.name] = driver_values(table, columns[table.name], table_rows, dialect)
        return cls(columns, rows)

    def clone_into(
        self,
        tables: dict[str, list[list[Any]]],
        *,
        case_id: str,
        item_id: str,
        order_id: str,
        buyer: str,
    ) -> None:
        for name, table_rows in self.rows.items():
            out = tables[name]
            for row, marked in zip(table_rows, self.marked[name], strict=True):
                copy = list(row)
                for i in marked:
                    copy[i] = (
                        copy[i]
                        .replace(_CASE, case_id)
                        .replace(_ITEM, item_id)
                        .replace(_ORDER, order_id)
                        .replace(_BUYER, buyer)
                    )
                out.append(copy)


def _write(conn: Connection, table: Any, columns: tuple[str, ...], values: list[list[Any]]) -> None:
    if conn.dialect.name == "postgresql":
        copy_tuples(conn, table, columns, values)
        return
    # Elsewhere the driver values go in as they are (executemany below SQLAlchemy's types).
    placeholders = ", ".join("?" for _ in columns)
    names = ", ".join(f'"{c}"' for c in columns)
    conn.exec_driver_sql(
        f'INSERT INTO "{table.name}" ({names}) VALUES ({placeholders})', [tuple(v) for v in values]
    )


@dataclass(frozen=True)
class BulkCases:
    sandbox: str
    case_ids: list[str]
    buyers: list[str]
    merchant: str
    opened_at: datetime
    sandbox_now: datetime
    seconds: float

    @property
    def count(self) -> int:
        return len(self.case_ids)

    def payout_key(self, case_id: str) -> str:
        return f"{case_id}/solution/no_solution_in_time"


def create_due_help_cases(
    engine: Engine,
    book: PolicyBook,
    *,
    count: int,
    sandbox: str,
    buyers: int = 250,
    chunk: int = 1_000,
    opened_at: datetime = OPENED_AT,
    due_after: timedelta = timedelta(hours=2),
    stagger: timedelta = timedelta(0),
    events_dispatched: bool = False,
    verbose: bool = True,
    provider: str | None = None,
) -> BulkCases:
    """Create ``count`` dispatched help requests in ``sandbox``, each with one due deadline.

    Buyers are shared (case ``i`` belongs to ``buyer-{i % buyers}``), so concurrent
    workers really do update the same balance rows. With ``stagger``, case ``i``
    opens ``i × stagger`` after ``opened_at``, so its deadlines fall due in turn.
    With ``events_dispatched``, the cases' events (opened, dispatched, clocks
    started) are marked as passed on by the webhook fan-out, as they would be for
    cases opened a while ago; otherwise a worker's fan-out finds them all waiting.
    With ``provider``, each request is dispatched to that provider instead of the
    merchant, so the provider holds its clocks (issue 15's shares).

    The domain builds one case per opening instant (assess → open → dispatch,
    through the repository on a recording connection); every other case opened
    then is a copy of its rows with its own ids, written with COPY on PostgreSQL.
    """
    started = time.perf_counter()
    sandbox_now = opened_at + due_after
    create_sandbox(
        services_on(engine, FixedClock(sandbox_now)),
        sandbox_id=sandbox,
        name=f"{count} due help requests",
        start=sandbox_now,
    )
    buyer_ids = [f"{sandbox}-buyer-{n}" for n in range(min(buyers, count))]
    case_ids = [f"{sandbox}-OH-{n:06d}" for n in range(count)]
    with engine.begin() as conn:
        # The reference rows are shared: a later batch in the same database reuses them.
        if conn.execute(select(s.brands.c.id).where(s.brands.c.id == BRAND_ID)).first() is None:
            conn.execute(
                insert(s.brands).values(
                    id=BRAND_ID, name="明光照明", hotline="400-800-1234", exclusions=[]
                )
            )
            conn.execute(insert(s.merchants).values(id=MERCHANT_ID, name="明光照明旗舰店"))
            conn.execute(
                insert(s.products).values(
                    id=PRODUCT.id,
                    name=PRODUCT.name,
                    brand_id=BRAND_ID,
                    category_id=PRODUCT.category_id,
                    badges=sorted(PRODUCT.badges),
                    service_tags=sorted(PRODUCT.service_tags),
                    warranty_months=PRODUCT.warranty_months,
                )
            )
    templates: dict[datetime, _Template] = {}
    for start in range(0, count, chunk):
        numbers = range(start, min(start + chunk, count))
        with engine.begin() as conn:
            tables: dict[str, list[list[Any]]] = {t.name: [] for t in _ALL_TABLES}
            for n in numbers:
                at = opened_at + n * stagger
                template = templates.get(at)
                if template is None:
                    if len(templates) > 1_000:
                        templates.clear()  # staggered: each case its own instant
                    template = templates[at] = _Template.build(
                        book,
                        conn.dialect,
                        sandbox=sandbox,
                        at=at,
                        events_dispatched=events_dispatched,
                        provider=provider,
                    )
                template.clone_into(
                    tables,
                    case_id=case_ids[n],
                    item_id=f"{sandbox}-oi-{n:06d}",
                    order_id=f"{sandbox}-o-{n:06d}",
                    buyer=buyer_ids[n % len(buyer_ids)],
                )
            assert template is not None
            for table in _ALL_TABLES:  # every template of one call has the same columns
                _write(conn, table, template.columns[table.name], tables[table.name])
    seconds = time.perf_counter() - started
    if verbose:
        print(
            f"\n[bulk] {count} due help requests in sandbox {sandbox!r} "
            f"({len(buyer_ids)} buyers, 1 merchant) created in {seconds:.1f} s "
            f"({count / seconds:.0f}/s)"
        )
    return BulkCases(
        sandbox=sandbox,
        case_ids=case_ids,
        buyers=buyer_ids,
        merchant=MERCHANT_ID,
        opened_at=opened_at,
        sandbox_now=sandbox_now,
        seconds=seconds,
    )
