"""Read models that cost what they show, not what is open: the provider queue cut in
SQL and the metrics scrape read from kept counts, each equal to the full computation
it replaces on random data."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, func, insert, select, update

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.read_models import SqlReadModels
from aftersales.adapters.policy_files import load_policy_book
from aftersales.domain.lifecycle import Role
from aftersales.services.deadlines import tick
from aftersales.services.records import LIVE, CaseFilter, Scope
from aftersales.testing import services_on
from tests.integration.bulk import BulkCases, create_due_help_cases

OPS = Scope(Role.OPERATIONS, None)


def _bulk(engine: Engine, sandbox: str, count: int) -> BulkCases:
    return create_due_help_cases(
        engine,
        load_policy_book([]),
        count=count,
        sandbox=sandbox,
        stagger=timedelta(seconds=37),
        verbose=False,
    )


def _full_sort_queue(engine: Engine, scope: Scope, live_now: datetime) -> list[tuple[str, str]]:
    """The queue as it was computed before: every running deadline read, sorted here."""
    c, d, sb = s.cases, s.deadlines, s.sandboxes
    query = (
        select(c.c.id, c.c.assignee, d.c.clock_id, d.c.due_at, sb.c.now)
        .join(d, d.c.case_id == c.c.id)
        .outerjoin(sb, sb.c.id == c.c.sandbox)
        .where(c.c.is_open)
    )
    best: dict[str, tuple[float, str, str]] = {}
    with engine.connect() as conn:
        for r in conn.execute(query):
            if "@" in r.clock_id or (scope.role is Role.PROVIDER and r.assignee != scope.party):
                continue
            left = (r.due_at - (r.now or live_now)).total_seconds()
            if r.id not in best or left < best[r.id][0]:
                best[r.id] = (left, r.id, r.clock_id)
    return [(case_id, clock) for _, case_id, clock in sorted(best.values())]


def _stir(engine: Engine, seed: int) -> None:
    """Random changes of the kinds the queue must see through: closed cases, cases with
    several running deadlines, warning-mark rows due before their clock, a case moved
    to live, deadlines gone."""
    rng = random.Random(seed)
    with engine.begin() as conn:
        rows = conn.execute(select(s.deadlines)).mappings().all()
        case_ids = sorted({r["case_id"] for r in rows})
        closing = rng.sample(case_ids, len(case_ids) // 5)
        conn.execute(update(s.cases).where(s.cases.c.id.in_(closing)).values(is_open=False))
        for r in rng.sample(list(rows), len(rows) // 3):
            early = r["due_at"] - timedelta(minutes=rng.randint(1, 600))
            mark = {**r, "clock_id": f"{r['clock_id']}@warn", "due_at": early}
            conn.execute(insert(s.deadlines).values(mark))
            conn.execute(
                insert(s.deadlines).values(
                    {**r, "clock_id": f"extra-{rng.randint(0, 10**6)}", "due_at": early}
                )
            )
        gone = rng.sample(list(rows), len(rows) // 10)
        for r in gone:
            conn.execute(
                delete(s.deadlines).where(
                    s.deadlines.c.case_id == r["case_id"], s.deadlines.c.clock_id == r["clock_id"]
                )
            )
        to_live = rng.sample(case_ids, 5)
        conn.execute(update(s.cases).where(s.cases.c.id.in_(to_live)).values(sandbox=LIVE))
        conn.execute(
            update(s.deadlines).where(s.deadlines.c.case_id.in_(to_live)).values(sandbox=LIVE)
        )


@pytest.mark.parametrize("limit", [1, 7, 60, 1_000])
def test_the_provider_queue_equals_a_full_sort_of_every_running_deadline(
    engine: Engine, limit: int
) -> None:
    first = _bulk(engine, "qa", 90)
    _bulk(engine, "qb", 70)
    _stir(engine, seed=limit)
    live_now = first.sandbox_now - timedelta(hours=5)
    with engine.connect() as conn:
        assignee = conn.execute(select(s.cases.c.assignee).limit(1)).scalar_one()
    for scope in (OPS, Scope(Role.PROVIDER, assignee)):
        expected = _full_sort_queue(engine, scope, live_now)[:limit]
        with engine.connect() as conn:
            queue = SqlReadModels(conn).provider_queue(scope, live_now=live_now, limit=limit)
        assert [(q.case.id, q.clock_id) for q in queue] == expected
        assert len(queue) == min(limit, len(_full_sort_queue(engine, scope, live_now)))


def test_a_provider_sees_only_its_own_cases_in_the_queue(engine: Engine) -> None:
    _bulk(engine, "qp", 20)
    with engine.begin() as conn:
        conn.execute(update(s.cases).values(assignee="someone-else"))
        queue = SqlReadModels(conn).provider_queue(
            Scope(Role.PROVIDER, "hz-install-01"), live_now=datetime.now().astimezone()
        )
    assert queue == []


def _counted(
    engine: Engine,
) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str, str], tuple[int, int]]]:
    """The kept counts, and the same counted over every row; asserted equal by the caller."""
    oc, pc, c, le = s.open_case_counts, s.payout_counts, s.cases, s.ledger_entries
    with engine.connect() as conn:
        kept_open = {
            (r[0], r[1]): int(r[2])
            for r in conn.execute(
                select(oc.c.sandbox, oc.c.programme, func.sum(oc.c.open_cases)).group_by(
                    oc.c.sandbox, oc.c.programme
                )
            )
            if r[2]
        }
        full_open = {
            (r[0], r[1]): int(r[2])
            for r in conn.execute(
                select(c.c.sandbox, c.c.programme, func.count())
                .where(c.c.is_open)
                .group_by(c.c.sandbox, c.c.programme)
            )
        }
        kept_paid = {
            (r[0], r[1], r[2]): (int(r[3]), int(r[4]))
            for r in conn.execute(
                select(
                    pc.c.sandbox,
                    pc.c.rule,
                    pc.c.unit,
                    func.sum(pc.c.payouts),
                    func.sum(pc.c.amount),
                ).group_by(pc.c.sandbox, pc.c.rule, pc.c.unit)
            )
            if r[3]
        }
        full_paid = {
            (r[0], r[1], r[2]): (int(r[3]), int(r[4]))
            for r in conn.execute(
                select(
                    le.c.sandbox, le.c.rule, le.c.unit, func.count(), func.sum(le.c.amount)
                ).group_by(le.c.sandbox, le.c.rule, le.c.unit)
            )
        }
    assert kept_open == full_open
    assert kept_paid == full_paid
    return kept_open, kept_paid


def test_kept_counts_equal_a_full_count_through_opening_closing_paying_and_deleting(
    engine: Engine,
) -> None:
    bulk = _bulk(engine, "cnt", 60)
    svc = services_on(engine)
    paid = tick(svc, sandbox="cnt", now=bulk.sandbox_now, worker_id="w", limit=25)
    assert paid.payouts > 0
    kept_open, kept_paid = _counted(engine)
    assert sum(kept_open.values()) == 60
    assert sum(n for n, _ in kept_paid.values()) == paid.payouts
    rng = random.Random(7)
    ids = list(bulk.case_ids)
    for _ in range(6):
        with engine.begin() as conn:
            picked = rng.sample(ids, 9)
            conn.execute(
                update(s.cases).where(s.cases.c.id.in_(picked)).values(is_open=rng.random() < 0.5)
            )
            conn.execute(
                update(s.cases)
                .where(s.cases.c.id.in_(rng.sample(ids, 4)))
                .values(programme=rng.choice(["one_click_help", "national_warranty"]))
            )
            conn.execute(
                update(s.cases).where(s.cases.c.id.in_(rng.sample(ids, 3))).values(sandbox=LIVE)
            )
            victims = conn.execute(select(s.ledger_entries.c.id).limit(2)).scalars().all()
            conn.execute(delete(s.ledger_entries).where(s.ledger_entries.c.id.in_(victims)))
        _counted(engine)
    # The scrape reports the live part of the same counts.
    with engine.connect() as conn:
        figures = SqlReadModels(conn).live_figures(bulk.sandbox_now)
        live_open = Counter(
            dict(
                conn.execute(
                    select(s.cases.c.programme, func.count())
                    .where(s.cases.c.sandbox == LIVE, s.cases.c.is_open)
                    .group_by(s.cases.c.programme)
                ).all()
            )
        )
    assert figures.open_cases == dict(live_open)


def test_the_operations_count_of_open_cases_is_the_kept_count_and_equals_the_rows(
    engine: Engine,
) -> None:
    bulk = _bulk(engine, "ops", 30)
    with engine.begin() as conn:
        conn.execute(
            update(s.cases).where(s.cases.c.id.in_(bulk.case_ids[:8])).values(is_open=False)
        )
    with engine.connect() as conn:
        views = SqlReadModels(conn)
        page = views.case_search(OPS, CaseFilter(sandbox="ops", open_only=True), limit=5)
        everything = views.case_search(OPS, CaseFilter(sandbox="ops"), limit=5)
        narrowed = views.case_search(
            OPS, CaseFilter(sandbox="ops", open_only=True, text=bulk.case_ids[9]), limit=5
        )
    assert page.total == 22 and len(page.lines) == 5 and page.more
    assert all(line.is_open for line in page.lines)
    assert everything.total == 30  # not only open cases: counted over the rows
    assert narrowed.total == 1  # a narrowed filter is counted over the rows
