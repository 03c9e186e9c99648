"""The compliance report read from the rollup equals the full GROUP BY, whatever the writes.

Random cases, clocks, status changes, payouts, reassignments, master-data moves and
deletions (a sandbox removed) are written statement by statement, several rows at a
time (so PostgreSQL's per-statement triggers see many rows at once); after each step
the report is asked for every grouping, several scopes and random windows (on whole
hours, where only the rollup answers, and not) and compared with the full query.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, delete, insert, select, text, update

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.read_models import GROUPINGS, SqlReadModels
from aftersales.domain.lifecycle import Role
from aftersales.services.records import LIVE, Scope

T0 = datetime(2026, 11, 1, tzinfo=UTC)
SPAN_HOURS = 30
SANDBOX = "sb1"
PROVIDERS = ("pv-1", "pv-2", "", None)
CITIES = ("杭州市", "广州市", "", None)
CATEGORIES = ("lighting", "tiles", "sofa")
BRANDS = ("br-1", "br-2", "br-3")
MERCHANTS = ("m-1", "m-2", "m-3")
CLOCK_IDS = ("solution", "visit", "install")
STATUSES = ("pending", "running", "paused", "met", "breached", "not_applicable", "cancelled")
SCOPES = (
    Scope(Role.OPERATIONS, None),
    Scope(Role.PROVIDER, "pv-1"),
    Scope(Role.MERCHANT, "m-2"),
    Scope(Role.BRAND, "br-1"),
    Scope(Role.AGENT, "br-2"),  # a brand's hotline agent
    Scope(Role.CONSUMER, "buyer-1"),  # not in the rollup: the full query answers
    Scope(Role.AGENT, None, account="agent-1"),  # a platform agent: the full query too
)


class World:
    """The rows written so far, for picking what to change next."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.cases: dict[str, str] = {}  # case -> sandbox
        self.clocks: set[tuple[str, str]] = set()
        self.entries = 0
        self.items: list[str] = []
        self.orders: list[str] = []
        self.products: list[str] = []

    def some(self, among: Any, most: int) -> list[Any]:
        pool = sorted(among)
        return self.rng.sample(pool, min(len(pool), self.rng.randint(1, most))) if pool else []


def _master_data(conn: Connection, w: World) -> None:
    rng = w.rng
    conn.execute(
        insert(s.brands),
        [{"id": b, "name": b, "hotline": "400", "exclusions": []} for b in BRANDS],
    )
    conn.execute(insert(s.merchants), [{"id": m, "name": m} for m in MERCHANTS])
    w.products = [f"prod-{i}" for i in range(5)]
    conn.execute(
        insert(s.products),
        [
            {
                "id": p,
                "name": p,
                "brand_id": rng.choice(BRANDS),
                "category_id": rng.choice(CATEGORIES),
                "badges": [],
                "service_tags": [],
            }
            for p in w.products
        ],
    )
    w.orders = [f"ord-{i}" for i in range(8)]
    conn.execute(
        insert(s.orders),
        [
            {
                "id": o,
                "buyer_account": f"buyer-{i % 3}",
                "merchant_id": rng.choice(MERCHANTS),
                "placed_at": T0,
            }
            for i, o in enumerate(w.orders)
        ],
    )
    w.items = [f"item-{i}" for i in range(16)]
    conn.execute(
        insert(s.order_items),
        [
            {
                "id": i,
                "order_id": rng.choice(w.orders),
                "product_id": rng.choice(w.products),
                "paid_price_fen": 100,
                "purchased_on": date(2026, 10, 1),
                "city": rng.choice(CITIES),
            }
            for i in w.items
        ],
    )


def _open_cases(conn: Connection, w: World, count: int) -> None:
    rng, rows = w.rng, []
    for _ in range(count):
        case_id = f"case-{len(w.cases)}"
        sandbox = rng.choice((LIVE, LIVE, SANDBOX))
        w.cases[case_id] = sandbox
        opened = T0 + timedelta(seconds=rng.randrange(SPAN_HOURS * 3600))
        rng_micro = rng.choice((0, rng.randrange(1_000_000)))
        rows.append(
            {
                "id": case_id,
                "sandbox": sandbox,
                "programme": rng.choice(("one_click_help", "national_warranty")),
                "policy_id": "p",
                "order_item_id": rng.choice(w.items),
                "state": "open",
                "is_open": False,  # one open case per item and programme: none here
                "opened_at": opened.replace(microsecond=rng_micro),
                "channel": "help_button",
                "opened_by": rng.choice(("buyer-1", "agent-1")),
                "assignee": rng.choice(PROVIDERS),
                "reached_events": [],
                "updated_at": opened,
            }
        )
    conn.execute(insert(s.cases), rows)


def _add_clocks(conn: Connection, w: World) -> None:
    rows = []
    for case_id in w.some(w.cases, 6):
        for clock_id in w.some(CLOCK_IDS, 3):
            if (case_id, clock_id) not in w.clocks:
                w.clocks.add((case_id, clock_id))
                rows.append(
                    {"case_id": case_id, "clock_id": clock_id, "status": w.rng.choice(STATUSES)}
                )
    if rows:
        conn.execute(insert(s.clocks), rows)


def _pay(conn: Connection, w: World) -> None:
    rows = []
    for case_id in w.some(w.cases, 5):
        w.entries += 1
        rows.append(
            {
                "key": f"{case_id}/{w.entries}",
                "sandbox": w.cases[case_id],
                "case_id": case_id,
                "clock_id": w.rng.choice(CLOCK_IDS),  # not always a clock the case has
                "failure": "late",
                "penalty_id": "pen",
                "rule": "OH-5",
                "payer_role": "merchant",
                "payer": "m-1",
                "payee": "buyer-1",
                "amount": w.rng.randint(1, 5_000),
                "unit": w.rng.choice(("points", "points", "yuan")),
                "at": T0,
                "gates_complaints": False,
                "reason": {},
            }
        )
    conn.execute(insert(s.ledger_entries), rows)


STEPS = (
    "open",
    "clocks",
    "status",
    "pay",
    "unpay",
    "drop clock",
    "reassign",
    "case state",
    "item moves",
    "order moves",
    "product moves",
)


def _step(conn: Connection, w: World, what: str) -> None:
    """One write of the kind ``what``, on random rows."""
    rng, k, c, le = w.rng, s.clocks, s.cases, s.ledger_entries
    match what:
        case "open":
            _open_cases(conn, w, rng.randint(1, 6))
        case "clocks":
            _add_clocks(conn, w)
        case "status":
            chosen = w.some(w.clocks, 8)
            if chosen:
                ids = sorted({case_id for case_id, _ in chosen})
                conn.execute(
                    update(k).where(k.c.case_id.in_(ids)).values(status=rng.choice(STATUSES))
                )
        case "pay":
            _pay(conn, w)
        case "unpay":
            ids = conn.execute(select(le.c.id)).scalars().all()
            gone = w.some(ids, 3)
            conn.execute(delete(le).where(le.c.id.in_(gone)))
        case "drop clock":
            for case_id, clock_id in w.some(w.clocks, 2):
                w.clocks.discard((case_id, clock_id))
                conn.execute(delete(k).where(k.c.case_id == case_id, k.c.clock_id == clock_id))
        case "reassign":
            conn.execute(
                update(c)
                .where(c.c.id.in_(w.some(w.cases, 6)))
                .values(assignee=rng.choice(PROVIDERS))
            )
        case "case state":  # nothing the report reads
            conn.execute(update(c).where(c.c.id.in_(w.some(w.cases, 6))).values(state="closed"))
        case "item moves":
            for item in w.some(w.items, 4):
                conn.execute(
                    update(s.order_items)
                    .where(s.order_items.c.id == item)
                    .values(
                        city=rng.choice(CITIES),
                        product_id=rng.choice(w.products),
                        order_id=rng.choice(w.orders),
                    )
                )
        case "order moves":
            conn.execute(
                update(s.orders)
                .where(s.orders.c.id.in_(w.some(w.orders, 3)))
                .values(merchant_id=rng.choice(MERCHANTS))
            )
        case "product moves":
            conn.execute(
                update(s.products)
                .where(s.products.c.id.in_(w.some(w.products, 2)))
                .values(category_id=rng.choice(CATEGORIES), brand_id=rng.choice(BRANDS))
            )


def _remove_sandbox(conn: Connection, w: World) -> None:
    """A sandbox's cases go, children first (as the sandbox store removes them)."""
    c = s.cases
    ids = select(c.c.id).where(c.c.sandbox == SANDBOX)
    conn.execute(delete(s.ledger_entries).where(s.ledger_entries.c.sandbox == SANDBOX))
    conn.execute(delete(s.clocks).where(s.clocks.c.case_id.in_(ids)))
    conn.execute(delete(c).where(c.c.sandbox == SANDBOX))
    w.cases = {case_id: sb for case_id, sb in w.cases.items() if sb != SANDBOX}
    w.clocks = {(case_id, k) for case_id, k in w.clocks if case_id in w.cases}


def _windows(rng: random.Random) -> Iterator[tuple[datetime, datetime]]:
    yield T0 - timedelta(days=1), T0 + timedelta(days=3)  # everything, on whole hours
    for _ in range(2):
        a, b = sorted(rng.sample(range(-2, SPAN_HOURS + 2), 2))
        yield T0 + timedelta(hours=a), T0 + timedelta(hours=b)  # whole hours
    for _ in range(3):
        a, b = sorted(rng.sample(range(-3600, (SPAN_HOURS + 1) * 3600), 2))
        yield T0 + timedelta(seconds=a, microseconds=1), T0 + timedelta(seconds=b)
    yield T0 + timedelta(minutes=5), T0 + timedelta(minutes=50)  # inside one hour


def _assert_rollup_equals_full(conn: Connection, rng: random.Random, after: str) -> None:
    views = SqlReadModels(conn)
    for start, end in _windows(rng):
        sandbox = rng.choice((None, LIVE, SANDBOX))  # every world, or one
        for by in GROUPINGS:
            for scope in SCOPES:
                asked = {"by": by, "start": start, "end": end, "sandbox": sandbox}
                full = views.compliance_in_full(scope, **asked)  # type: ignore[arg-type]
                ours = views.compliance(scope, **asked)  # type: ignore[arg-type]
                assert ours == full, (after, scope, asked)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_rollup_answers_as_the_full_group_by_after_any_writes(
    engine: Engine, seed: int
) -> None:
    rng = random.Random(seed)
    w = World(rng)
    with engine.begin() as conn:
        _master_data(conn, w)
        _open_cases(conn, w, 30)
        for _ in range(6):
            _add_clocks(conn, w)
        _pay(conn, w)
    # Every kind of write at least once, in a random order, then as many again at random;
    # a few to a transaction, the report checked after every third transaction.
    steps = rng.sample(STEPS, len(STEPS)) + rng.choices(STEPS, k=len(STEPS))
    done: list[str] = []
    for round_ in range(0, len(steps), 4):
        with engine.begin() as conn:
            for what in steps[round_ : round_ + 4]:
                _step(conn, w, what)
                done.append(what)
        if round_ % 12 == 8 or round_ + 4 >= len(steps):
            with engine.connect() as conn:
                _assert_rollup_equals_full(conn, rng, ", ".join(done))
    with engine.begin() as conn:
        _remove_sandbox(conn, w)
    with engine.connect() as conn:
        _assert_rollup_equals_full(conn, rng, "sandbox removed")
        assert (
            conn.execute(
                select(s.compliance_rollup.c.sandbox).where(
                    s.compliance_rollup.c.sandbox == SANDBOX,
                    (s.compliance_rollup.c.clocks != 0) | (s.compliance_rollup.c.payouts != 0),
                )
            ).first()
            is None
        )


def test_a_null_and_an_empty_key_are_one_row_not_one_over_the_other(engine: Engine) -> None:
    rng = random.Random(3)
    w = World(rng)
    with engine.begin() as conn:
        _master_data(conn, w)
        _open_cases(conn, w, 4)
        conn.execute(update(s.cases).values(assignee=None))
        conn.execute(update(s.cases).where(s.cases.c.id == "case-0").values(assignee=""))
        conn.execute(
            insert(s.clocks),
            [{"case_id": case_id, "clock_id": "solution", "status": "met"} for case_id in w.cases],
        )
    with engine.connect() as conn:
        views = SqlReadModels(conn)
        for ask in (views.compliance, views.compliance_in_full):
            report = ask(
                Scope(Role.OPERATIONS), by="provider", start=T0, end=T0 + timedelta(days=2)
            )
            assert [(row.key, row.met) for row in report.rows] == [("—", 4)]


# ---------------------------------------------------------------- concurrent writers


def _backend(engine: Engine, avoid: set[int]) -> Connection:
    """A connection whose server process writes a shard other than those in ``avoid``."""
    kept = []
    try:
        while True:
            conn = engine.connect()
            pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
            conn.rollback()
            if pid % 8 not in avoid:
                avoid.add(pid % 8)
                return conn
            kept.append(conn)  # held open, so the next connection is another process
    finally:
        for conn in kept:
            conn.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_writers_on_one_group_both_commit_without_waiting_on_each_other(
    engine: Engine,
) -> None:
    """Judging clocks of one group from two transactions at once: neither waits on the
    other's rollup row (each writes its own shard), and the sums add both."""
    rng = random.Random(4)
    w = World(rng)
    with engine.begin() as conn:
        _master_data(conn, w)
        _open_cases(conn, w, 2)
        conn.execute(update(s.cases).values(sandbox=LIVE, assignee="pv-1", order_item_id="item-0"))
        conn.execute(
            insert(s.clocks),
            [
                {"case_id": case_id, "clock_id": "solution", "status": "running"}
                for case_id in w.cases
            ],
        )
        conn.execute(update(s.cases).values(opened_at=T0))
    shards: set[int] = set()
    first, second = _backend(engine, shards), _backend(engine, shards)
    failed: list[BaseException] = []
    try:
        first.begin()
        first.execute(update(s.clocks).where(s.clocks.c.case_id == "case-0").values(status="met"))

        def judge_second() -> None:
            try:
                second.begin()
                second.execute(text("SET LOCAL lock_timeout = '5s'"))
                second.execute(
                    update(s.clocks).where(s.clocks.c.case_id == "case-1").values(status="met")
                )
                second.commit()
            except BaseException as exc:
                failed.append(exc)

        writer = threading.Thread(target=judge_second)
        writer.start()
        writer.join(timeout=30)
        assert not writer.is_alive() and not failed, failed  # done while the first is open
        first.commit()
    finally:
        first.close()
        second.close()
    with engine.connect() as conn:
        report = SqlReadModels(conn).compliance(
            Scope(Role.OPERATIONS), by="provider", start=T0, end=T0 + timedelta(hours=1)
        )
        assert [(row.key, row.met, row.running) for row in report.rows] == [("pv-1", 2, 0)]
