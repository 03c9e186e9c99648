"""Setting the demo up: sandboxes holding a copy of the demo's orders, and its accounts.

Used by the CLI (``serve --demo``, ``sandbox create --demo-data``), by the
callable ``bootstrap`` gives the HTTP app for the same, and by tests.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from aftersales.adapters.addresses import AddressResolver
from aftersales.adapters.db.uow import SqlUnitOfWork
from aftersales.bootstrap import Container
from aftersales.demo import dataset as data
from aftersales.domain.lifecycle import Role
from aftersales.services.accounts import ensure_account
from aftersales.services.base import Services
from aftersales.services.records import Sandbox
from aftersales.services.sandboxes import create_sandbox

DEMO_PREFIX = "demo"  # the played demo's sandbox (demo, demo-2, … when run again)


def for_sandbox(dataset: data.Dataset, sandbox: str) -> data.Dataset:
    """The same data set with its orders tagged (and ids prefixed) for one sandbox."""
    prefix = "" if sandbox == DEMO_PREFIX else f"{sandbox}."  # the demo keeps bare ids
    return replace(
        dataset,
        orders=[{**o, "id": prefix + o["id"], "sandbox": sandbox} for o in dataset.orders],
        order_items=[
            {**i, "id": prefix + i["id"], "order_id": prefix + i["order_id"]}
            for i in dataset.order_items
        ],
    )


def create_demo_sandbox(
    container: Container,
    sandbox_id: str,
    *,
    start: datetime | None = None,
    name: str = "",
    services: Services | None = None,
) -> Sandbox:
    """A new sandbox holding its own copy of the demo's orders (ids prefixed ``<id>.``).

    For trying the platform out: buyers, shops and providers are the demo's, the
    orders are the sandbox's own, and nothing has happened yet on its clock.
    """
    dataset = for_sandbox(data.build_dataset(), sandbox_id)
    # One transaction (the caller's, if one is open): no half-made sandbox, the id stays free.
    services = services or container.services
    with services.uow() as uow:
        assert isinstance(uow, SqlUnitOfWork), "the demo data set is loaded with SQL"
        sandbox = create_sandbox(services, sandbox_id=sandbox_id, name=name, start=start)
        data.load_dataset(uow.conn, container.book, dataset, AddressResolver())
        uow.commit()
    return sandbox


# Demo sign-ins (README "Demo accounts"): one password per role, the party's id as username.
DEMO_PASSWORDS = {
    Role.CONSUMER: "demo-buyer-2026",
    Role.PROVIDER: "demo-provider-2026",
    Role.MERCHANT: "demo-shop-2026",
    Role.BRAND: "demo-brand-2026",
    Role.AGENT: "demo-agent-2026",
    Role.OPERATIONS: "demo-ops-2026",
}
DEMO_BUYER_ACCOUNTS = 12  # buyer-001 … buyer-012 hold the demo's well-known items


def ensure_demo_accounts(container: Container) -> int:
    """Accounts for every party of the demo, created once; returns how many exist now."""
    dataset = data.build_dataset()
    wanted: list[tuple[str, Role, str, str | None]] = [
        ("ops", Role.OPERATIONS, "平台运营 / Operations", None),
        ("agent-017", Role.AGENT, "热线坐席 017 / Hotline agent 017", None),
    ]
    wanted += [
        (f"buyer-{n:03d}", Role.CONSUMER, f"买家 {n:03d} / Buyer {n:03d}", f"buyer-{n:03d}")
        for n in range(1, DEMO_BUYER_ACCOUNTS + 1)
    ]
    wanted += [
        (str(p["id"]), Role.PROVIDER, str(p["name"]), str(p["id"])) for p in dataset.providers
    ]
    wanted += [
        (str(m["id"]), Role.MERCHANT, str(m["name"]), str(m["id"])) for m in dataset.merchants
    ]
    wanted += [(b.brand_id, Role.BRAND, b.name, b.brand_id) for b in dataset.brands]
    for username, role, name, party in wanted:
        ensure_account(
            container.services,
            username=username,
            password=DEMO_PASSWORDS[role],
            role=role,
            name=name,
            party=party,
        )
    return len(wanted)
