"""Notifications on SQLite and PostgreSQL: each made exactly once, whoever races.

The acceptance scenario of the issue: a help request at 10:00 on a sandbox
clock gives the assigned installer exactly one warning at 10:30, one at 10:50
and one breach notice at 11:00 when nothing is done — with two workers ticking
the sandbox at the same instants, minute by minute, and every tick repeated.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from aftersales.adapters.db import schema as s
from aftersales.adapters.policy_files import load_policy_book
from aftersales.demo import dataset as data
from aftersales.demo.setup import demo_world
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.domain.policy import PolicyBook
from aftersales.services import cases as svc
from aftersales.services import notifications as notes
from aftersales.services.accounts import ensure_account
from aftersales.services.base import Services
from aftersales.services.deadlines import tick
from aftersales.services.sandboxes import create_sandbox
from aftersales.services.time import FixedClock
from aftersales.testing import services_on

SH = ZoneInfo("Asia/Shanghai")
TEN = datetime(2026, 11, 24, 10, 0, tzinfo=SH)
REAL_NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
SANDBOX = "notify"
BUYER = Actor(Role.CONSUMER, "buyer-001", Channel.HELP_BUTTON)
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def book() -> PolicyBook:
    return load_policy_book()


@pytest.fixture
def services(engine: Engine, book: PolicyBook) -> Services:
    services = services_on(engine, FixedClock(REAL_NOW), book)
    with services.uow() as uow:
        create_sandbox(services, sandbox_id=SANDBOX, start=TEN)
        data.load_demo(services, orders_into=demo_world(SANDBOX))
        uow.commit()
    for username, role, party in (
        ("hz-install-01", Role.PROVIDER, "hz-install-01"),
        ("buyer-001", Role.CONSUMER, "buyer-001"),
        ("ops", Role.OPERATIONS, None),
    ):
        ensure_account(services, username=username, password=PASSWORD, role=role, party=party)
    return services


def _account(services: Services, username: str) -> str:
    with services.uow() as uow:
        found = uow.accounts.by_username(username)
    assert found is not None
    return found.account.id


def _race(services: Services, at: datetime, workers: int = 2) -> None:
    """Set the sandbox clock to ``at`` and let ``workers`` tick it at once, twice each."""
    with services.uow() as uow:
        uow.sandboxes.set_now(SANDBOX, at)
        uow.commit()
    start = threading.Barrier(workers)
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            start.wait()
            for _ in range(2):
                tick(services, sandbox=SANDBOX, now=at, worker_id=f"w{n}", real_now=REAL_NOW)
        except BaseException as exc:  # reported below, with the worker's own traceback
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


def test_oh_4_help_at_10_warns_the_installer_at_10_30_and_10_50_and_tells_the_breach_at_11(
    engine: Engine, services: Services
) -> None:
    opened = svc.request_help(
        services,
        order_item_id=f"{SANDBOX}.{data.ITEM_LAMP_HANGZHOU}",
        actor=BUYER,
        failure="installation_late",
    )
    assert opened.case.assignee == "hz-install-01" and opened.case.opened_at == TEN
    for minute in range(1, 63):
        _race(services, TEN + timedelta(minutes=minute))

    installer = _account(services, "hz-install-01")
    told = notes.page_of(services, installer, limit=100).items
    assert [(n.kind, n.mark, n.at.astimezone(SH).strftime("%H:%M")) for n in reversed(told)] == [
        ("case_assigned", "hz-install-01", "10:00"),
        ("due_soon", "30m", "10:30"),
        ("due_soon", "10m", "10:50"),
        ("breached", "", "11:00"),
    ]
    assert {n.sandbox for n in told} == {SANDBOX}
    with engine.connect() as conn:
        per_key = conn.execute(
            select(func.count())
            .select_from(s.notifications)
            .group_by(
                s.notifications.c.account_id,
                s.notifications.c.case_id,
                s.notifications.c.kind,
                s.notifications.c.clock_id,
                s.notifications.c.mark,
            )
        ).scalars()
        assert set(per_key) == {1}
        payouts = conn.execute(
            select(func.count())
            .select_from(s.ledger_entries)
            .where(s.ledger_entries.c.case_id == opened.case.id)
        ).scalar()
    assert payouts == 1  # X-1 holds beside it: one 5,000-point payout
    buyer = _account(services, "buyer-001")
    assert [n.kind for n in notes.page_of(services, buyer).items] == ["payout"]
    # Nobody acknowledged the 10:30 warning: the shop at 10:40 (no shop account here),
    # operations at 10:50, once.
    ops = _account(services, "ops")
    assert [(n.mark, n.level) for n in notes.page_of(services, ops).items] == [("30m>2", 2)]


def test_an_acknowledged_warning_stops_there_even_with_workers_racing(
    services: Services,
) -> None:
    svc.request_help(
        services,
        order_item_id=f"{SANDBOX}.{data.ITEM_LAMP_HANGZHOU}",
        actor=BUYER,
        failure="installation_late",
    )
    _race(services, TEN + timedelta(minutes=31))
    installer = _account(services, "hz-install-01")
    warning = next(n for n in notes.page_of(services, installer).items if n.kind == "due_soon")
    notes.acknowledge(services, installer, warning.id)
    for minute in (41, 51, 59):
        _race(services, TEN + timedelta(minutes=minute))
    ops = _account(services, "ops")
    assert notes.page_of(services, ops).items == []
    kinds = Counter(n.kind for n in notes.page_of(services, installer).items)
    assert kinds == {"case_assigned": 1, "due_soon": 2}
