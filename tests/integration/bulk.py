"""Bulk set-up for load tests: many due one-click-help cases in one sandbox, quickly.

Reference rows (brand, merchant, one lamp product, an order and an order item per
case) go in with ``executemany``. Every case is built in the domain exactly as
the intake service would build it (assess → open → dispatch) and handed to
:meth:`CaseRepository.add` — but on a *recording* connection: the repository
composes its statements as always, the recorder keeps the rows they carry, and
the rows of a whole chunk are then written with one ``executemany`` per table.
The rows are therefore the repository's own (nothing here re-implements them),
while a chunk of 1,000 cases costs a handful of round trips instead of ~8,000.
The recorder is :class:`aftersales.adapters.db.bulk.RecordingConnection`: only
plain inserts of brand-new cases can be recorded; anything else the repository
tries stops the helper with an error rather than being guessed at.

The cases open at a fixed instant inside the 09:00–18:00 window (OH-4), and the
sandbox's clock is set ``due_after`` later (2 hours by default): the 1-hour
solution clock of every case is then past due and the 48-hour one is not, so
each case owes exactly one payout, ``<case>/solution/no_solution_in_time``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, insert, select

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.bulk import RecordingConnection
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
    verbose: bool = True,
) -> BulkCases:
    """Create ``count`` dispatched help requests in ``sandbox``, each with one due deadline.

    Buyers are shared (case ``i`` belongs to ``buyer-{i % buyers}``), so concurrent
    workers really do update the same balance rows. With ``stagger``, case ``i``
    opens ``i × stagger`` after ``opened_at``, so its deadlines fall due in turn.
    """
    started = time.perf_counter()
    sandbox_now = opened_at + due_after
    create_sandbox(
        engine,
        FixedClock(sandbox_now),
        sandbox_id=sandbox,
        name=f"{count} due help requests",
        start=sandbox_now,
    )
    buyer_ids = [f"{sandbox}-buyer-{n}" for n in range(min(buyers, count))]
    case_ids = [f"{sandbox}-OH-{n:06d}" for n in range(count)]
    purchased = date(2026, 11, 1)
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
    actor_channel = Channel.HELP_BUTTON
    for start in range(0, count, chunk):
        numbers = range(start, min(start + chunk, count))
        items = [
            OrderItem(
                id=f"{sandbox}-oi-{n:06d}",
                order_id=f"{sandbox}-o-{n:06d}",
                buyer_account=buyer_ids[n % len(buyer_ids)],
                merchant_id=MERCHANT_ID,
                product=PRODUCT,
                paid_price_fen=19_900,
                purchased_on=purchased,
                address=ADDRESS,
                delivered_on=purchased + timedelta(days=3),
            )
            for n in numbers
        ]
        with engine.begin() as conn:
            conn.execute(
                insert(s.orders),
                [
                    {
                        "id": it.order_id,
                        "sandbox": sandbox,
                        "buyer_account": it.buyer_account,
                        "merchant_id": it.merchant_id,
                        "placed_at": opened_at - timedelta(days=25),
                    }
                    for it in items
                ],
            )
            conn.execute(
                insert(s.order_items),
                [
                    {
                        "id": it.id,
                        "order_id": it.order_id,
                        "product_id": it.product.id,
                        "paid_price_fen": it.paid_price_fen,
                        "purchased_on": it.purchased_on,
                        "delivered_on": it.delivered_on,
                        "address_text": ADDRESS.text,
                        "province": ADDRESS.province,
                        "city": ADDRESS.city,
                        "district": ADDRESS.district,
                    }
                    for it in items
                ],
            )
            recorder = RecordingConnection(conn.dialect, _CASE_TABLES)
            repo = CaseRepository(cast(Connection, recorder), book)
            for n, it in zip(numbers, items, strict=True):
                at = opened_at + n * stagger
                decision = assess_one_click_help(book, it, at)
                if not decision.eligible:
                    raise AssertionError([r.en for r in decision.reasons])
                case = Case.open(
                    case_id=case_ids[n],
                    book=book,
                    eligibility=decision,
                    item=it,
                    at=at,
                    actor=Actor(Role.CONSUMER, it.buyer_account, actor_channel),
                    failure="installation_late",
                )
                # OH-3: no provider is registered here, so the request goes to the merchant.
                case.dispatch(book, MERCHANT_ID, at, to_merchant=True)
                repo.add(case, sandbox=sandbox)
            recorder.flush_into(conn)
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
