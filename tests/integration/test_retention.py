"""Retention (``aftersales db retention``): old audit entries, events, deliveries and
finished clocks go, a month at a time; nothing an open case, a pending delivery or
the ledger needs is touched."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, update
from typer.testing import CliRunner

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.retention import retain
from aftersales.adapters.policy_files import load_policy_book
from aftersales.entrypoints.cli import app as cli
from aftersales.errors import InvalidRequest
from aftersales.services.deadlines import tick
from aftersales.testing import services_on
from tests.integration.bulk import OPENED_AT, BulkCases, create_due_help_cases

SANDBOX = "ret"
CASES = 24
STAGGER = timedelta(days=4)  # the cases open over 96 days: three or four months
KEEP = timedelta(days=90)
# The cutoff falls on day 36 of 96, between two cases' instants: the bulk helper stores
# SQLite instants without their ".000000", which compares wrongly with an equal bound.
NOW = OPENED_AT + CASES * STAGGER + timedelta(days=30, minutes=30)
CUTOFF = NOW - KEEP


@pytest.fixture
def cases(engine: Engine) -> BulkCases:
    bulk = create_due_help_cases(
        engine,
        load_policy_book([]),
        count=CASES,
        sandbox=SANDBOX,
        stagger=STAGGER,
        events_dispatched=True,
        verbose=False,
    )
    tick(services_on(engine), sandbox=SANDBOX, now=bulk.sandbox_now, worker_id="w", limit=100)
    with engine.begin() as conn:
        # Every other case is closed; the first one also gets an event not yet passed on.
        closed = bulk.case_ids[::2]
        conn.execute(update(s.cases).where(s.cases.c.id.in_(closed)).values(is_open=False))
        conn.execute(
            s.deadlines.delete().where(s.deadlines.c.case_id.in_(closed))
        )  # a closed case runs no clock
        conn.execute(
            update(s.outbox)
            .where(s.outbox.c.case_id == bulk.case_ids[0])
            .values(dispatched_at=None)
        )
        conn.execute(
            insert(s.webhook_endpoints).values(
                id="hook",
                url="https://example.invalid/h",
                secret="x",
                event_kinds=[],
                sandbox=SANDBOX,
                created_at=OPENED_AT,
            )
        )
        events = conn.execute(
            select(s.outbox.c.id, s.outbox.c.case_id).order_by(s.outbox.c.id)
        ).all()
        statuses = ["delivered", "dead", "pending"]
        for n, (event_id, _) in enumerate(events):
            conn.execute(
                insert(s.webhook_deliveries).values(
                    outbox_id=event_id,
                    endpoint_id="hook",
                    idempotency_key=f"k{event_id}",
                    status=statuses[n % 3],
                )
            )
    return bulk


def _snapshot(engine: Engine) -> dict[str, set[Any]]:
    with engine.connect() as conn:
        return {
            "audit": {
                tuple(r)
                for r in conn.execute(
                    select(s.audit_log.c.case_id, s.audit_log.c.seq, s.audit_log.c.at)
                )
            },
            "outbox": {
                tuple(r)
                for r in conn.execute(
                    select(s.outbox.c.id, s.outbox.c.at, s.outbox.c.dispatched_at)
                )
            },
            "deliveries": {
                tuple(r)
                for r in conn.execute(
                    select(
                        s.webhook_deliveries.c.id,
                        s.webhook_deliveries.c.outbox_id,
                        s.webhook_deliveries.c.status,
                    )
                )
            },
            "clocks": {
                tuple(r) for r in conn.execute(select(s.clocks.c.case_id, s.clocks.c.clock_id))
            },
            "ledger": {
                tuple(r)
                for r in conn.execute(select(s.ledger_entries.c.key, s.ledger_entries.c.amount))
            },
            "open": set(conn.execute(select(s.cases.c.id).where(s.cases.c.is_open)).scalars()),
            "cases": set(conn.execute(select(s.cases.c.id)).scalars()),
            "opened": {tuple(r) for r in conn.execute(select(s.cases.c.id, s.cases.c.opened_at))},
        }


def test_retention_deletes_only_what_is_old_and_no_longer_needed(
    engine: Engine, cases: BulkCases
) -> None:
    before = _snapshot(engine)
    assert before["ledger"], "the worker paid the due cases"
    dry = retain(engine, keep=KEEP, now=NOW, dry_run=True, batch=7)
    assert _snapshot(engine) == before  # a dry run deletes nothing

    done = retain(engine, keep=KEEP, now=NOW, batch=7)  # small batches: several per month
    after = _snapshot(engine)
    assert done.deleted == dry.deleted  # the dry run said exactly what would go
    assert len(done.deleted["audit_log"]) >= 2  # more than one month

    opened = dict(before["opened"])
    open_cases = before["open"]
    # Audit: an entry stays if it is recent or its case is open; every other one is gone.
    kept_audit = {(c, q) for c, q, _ in after["audit"]}
    for case_id, seq, at in before["audit"]:
        must_stay = at >= CUTOFF or case_id in open_cases
        assert ((case_id, seq) in kept_audit) is must_stay
    # Deliveries: a pending one always stays, with its event.
    pending = {o for _, o, st in before["deliveries"] if st == "pending"}
    kept_events = {i for i, _, _ in after["outbox"]}
    assert pending <= kept_events
    assert {d for d in before["deliveries"] if d[2] == "pending"} <= after["deliveries"]
    events_at = {i: at for i, at, _ in before["outbox"]}
    for d in before["deliveries"] - after["deliveries"]:
        assert d[2] in ("delivered", "dead") and events_at[d[1]] < CUTOFF
    # Events: an old, passed-on event with no delivery left goes; one not passed on stays.
    for event_id, at, dispatched in before["outbox"]:
        if dispatched is None or at >= CUTOFF or event_id in pending:
            assert event_id in kept_events
    assert kept_events < {i for i, _, _ in before["outbox"]}
    # Clocks: those of open cases and of recent ones stay; old closed cases' go.
    for case_id, clock_id in before["clocks"]:
        must_stay = case_id in open_cases or opened[case_id] >= CUTOFF
        assert ((case_id, clock_id) in after["clocks"]) is must_stay
    # Money, and the cases themselves, are never touched.
    assert after["ledger"] == before["ledger"]
    assert after["cases"] == before["cases"]

    again = retain(engine, keep=KEEP, now=NOW)
    assert again.deleted == {}  # a second run finds nothing more


def test_retention_thins_notifications_of_closed_cases_but_keeps_pending_sends(
    engine: Engine, cases: BulkCases
) -> None:
    """A notification goes when it is old and its case closed, unless a send of it is still
    pending; its finished sends go with it. An open case's stay, however old."""
    n, nd = s.notifications, s.notification_deliveries
    with engine.begin() as conn:
        conn.execute(
            insert(s.accounts).values(
                id="acc-1",
                username="inst",
                name="师傅",
                role="provider",
                party="p",
                password_hash="x",
                created_at=OPENED_AT,
            )
        )
        opened = dict(conn.execute(select(s.cases.c.id, s.cases.c.opened_at)).all())
        for case_id, at in sorted(opened.items()):
            conn.execute(
                insert(n).values(
                    account_id="acc-1",
                    sandbox=SANDBOX,
                    case_id=case_id,
                    kind="case_assigned",
                    at=at,
                    reason={"code": "notice.case_assigned", "rule": "OH-3", "params": {}},
                )
            )
        ids = conn.execute(select(n.c.id).order_by(n.c.id)).scalars().all()
        statuses = ["delivered", "dead", "pending"]
        for k, notification_id in enumerate(ids):
            conn.execute(
                insert(nd).values(
                    notification_id=notification_id,
                    channel="email",
                    address="a@example.invalid",
                    status=statuses[k % 3],
                )
            )
        before = conn.execute(
            select(n.c.id, n.c.case_id, n.c.at, s.cases.c.is_open, nd.c.status)
            .join(s.cases, s.cases.c.id == n.c.case_id)
            .join(nd, nd.c.notification_id == n.c.id)
        ).all()
    done = retain(engine, keep=KEEP, now=NOW, batch=3)
    assert done.total("notifications") > 0
    with engine.connect() as conn:
        kept = set(conn.execute(select(n.c.id)).scalars())
        sends = set(conn.execute(select(nd.c.notification_id)).scalars())
    for notification_id, _, at, is_open, status in before:
        must_stay = is_open or at >= CUTOFF or status == "pending"
        assert (notification_id in kept) is must_stay
        assert (notification_id in sends) is must_stay  # a send goes only with its notification
    assert retain(engine, keep=KEEP, now=NOW).deleted == {}


def test_the_command_reports_by_month_and_refuses_a_span_it_cannot_read(
    engine: Engine, database_url: str, cases: BulkCases
) -> None:
    runner = CliRunner()
    url = ["--database-url", database_url]
    with engine.connect() as conn:
        audit_before = conn.execute(select(func.count()).select_from(s.audit_log)).scalar_one()
    dry = runner.invoke(cli, ["db", "retention", "--keep", "1d", "--dry-run", *url])
    assert dry.exit_code == 0, dry.output
    assert "audit_log: would delete" in dry.output and f"{OPENED_AT:%Y-%m}" in dry.output
    with engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(s.audit_log)).scalar_one() == audit_before
        )
    for bad in ("90", "3 months", "0d", "-5d"):
        refused = runner.invoke(cli, ["db", "retention", "--keep", bad, *url])
        assert refused.exit_code == 2
        assert "--keep" in refused.output
    with pytest.raises(InvalidRequest):
        retain(engine, keep=timedelta(hours=2), now=NOW)
