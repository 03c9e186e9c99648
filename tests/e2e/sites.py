"""A running ``aftersales serve`` with the demo's accounts, a sandbox of its orders, one open
case, and bearer tokens of an operator and a buyer, on SQLite or PostgreSQL: what the tests
that attack the HTTP surface (bad input, schema fuzzing) send their requests to."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from aftersales.adapters.db.schema import metadata
from aftersales.bootstrap import Container, bootstrap
from aftersales.demo import dataset as data
from aftersales.demo.setup import create_demo_sandbox, ensure_demo_accounts
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.services import accounts
from aftersales.services import cases as case_services
from aftersales.settings import Settings
from tests.e2e.serving import serving

SB = "edge"
START = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@dataclass
class Site:
    base: str
    container: Container
    data_dir: Path
    ops: dict[str, str]
    buyer: dict[str, str]
    case_id: str
    item_id: str

    def counts(self) -> dict[str, int]:
        """Rows in every table of the schema."""
        with self.container.engine.connect() as conn:
            return {
                table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in metadata.sorted_tables
            }

    def files(self) -> set[Path]:
        return {p for p in self.data_dir.rglob("*") if p.is_file() and "sqlite3" not in p.name}


def running_site(
    data_dir: Path, url: str | None, env: dict[str, str] | None = None
) -> Iterator[Site]:
    """The site on ``url`` (None: SQLite in ``data_dir``) until the generator is closed."""
    container = bootstrap(Settings(data_dir=data_dir, database_url=url), migrate=True)
    try:
        ensure_demo_accounts(container)
        create_demo_sandbox(container, SB, start=START)
        item = f"{SB}.{data.ITEM_WARDROBE_NANJING}"
        case_id = case_services.request_help(
            container.services,
            order_item_id=item,
            actor=Actor(Role.CONSUMER, "buyer-004", Channel.HELP_BUTTON),
            failure="installation_late",
        ).case.id

        def bearer(username: str) -> dict[str, str]:
            made = accounts.create_api_token(container.services, username=username, name="t")
            return {"Authorization": f"Bearer {made.token}"}

        env = dict(env or {})
        if url is not None:
            env["AFTERSALES_DATABASE_URL"] = url
        with serving(data_dir, env=env) as base:
            yield Site(base, container, data_dir, bearer("ops"), bearer("buyer-004"), case_id, item)
    finally:
        container.close()
