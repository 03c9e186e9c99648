"""The demo played again reuses its sandbox: the day starts over, nothing piles up, and a
buyer sees each of their orders once per world (on SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine, Table, func, select

from aftersales.adapters.db import schema as s
from aftersales.bootstrap import bootstrap
from aftersales.demo import dataset as data
from aftersales.demo.play import play_demo
from aftersales.domain.lifecycle import Role
from aftersales.services import views
from aftersales.services.records import CaseFilter, Scope
from aftersales.services.sandboxes import list_sandboxes
from aftersales.settings import Settings


def _count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_the_demo_played_twice_reuses_its_sandbox_and_pays_the_same_day_once(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    container = bootstrap(Settings(data_dir=tmp_path, database_url=database_url))
    quiet = Console(file=io.StringIO())
    first = play_demo(container, quiet, ())
    counts = {t.name: _count(engine, t) for t in (s.cases, s.ledger_entries, s.orders)}
    second = play_demo(container, quiet, ())
    assert first.sandbox == second.sandbox == "demo"
    assert [sb.id for sb in list_sandboxes(container.services)] == ["demo"]
    assert (second.payouts, second.points) == (first.payouts, first.points)
    assert {t.name: _count(engine, t) for t in (s.cases, s.ledger_entries, s.orders)} == counts
    # The buyer's items: one copy per world, however often the demo ran.
    items = views.items_of_buyer(container.services, data.DEMO_BUYER)
    assert len({item.id for item, _ in items}) == len(items)
    assert {sandbox for _, sandbox in items} == {"demo"}
    ops = Scope(Role.OPERATIONS)
    found = views.case_search(container.services, ops, CaseFilter(sandbox="demo"), limit=1)
    assert found.total == counts["cases"]
    container.close()
