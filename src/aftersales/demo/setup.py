"""Setting the demo up: sandboxes holding a copy of the demo's orders, and its accounts.

Used by the CLI (``serve --demo``, ``sandbox create --demo-data``), by the
callable ``bootstrap`` gives the HTTP app for the same, and by tests.
"""

from __future__ import annotations

from datetime import datetime

from aftersales.bootstrap import Container
from aftersales.demo import dataset as data
from aftersales.domain.lifecycle import Role
from aftersales.services.accounts import ensure_account, find_account, hasher
from aftersales.services.base import Services
from aftersales.services.master_data import World
from aftersales.services.records import Sandbox
from aftersales.services.sandboxes import create_sandbox

DEMO_PREFIX = "demo"  # the played demo's sandbox, started over when the demo is run again


def demo_world(sandbox: str) -> World:
    """Where a sandbox's copy of the demo orders goes: ids prefixed ``<sandbox>.``, except
    in the played demo's own sandbox, which keeps the bare ids the README names."""
    return World(sandbox, "") if sandbox == DEMO_PREFIX else World.of(sandbox)


def create_demo_sandbox(
    container: Container,
    sandbox_id: str,
    *,
    start: datetime | None = None,
    name: str = "",
    services: Services | None = None,
) -> Sandbox:
    """A new sandbox holding its own copy of the demo's orders (ids prefixed ``<id>.``).

    For trying the platform out: buyers, shops and providers are the demo's live
    catalogue (loaded if it is not yet), the orders are the sandbox's own, and
    nothing has happened yet on its clock.
    """
    services = services or container.services
    # One transaction (the caller's, if one is open): no half-made sandbox, the id stays free.
    with services.uow() as uow:
        sandbox = create_sandbox(services, sandbox_id=sandbox_id, name=name, start=start)
        data.load_demo(services, orders_into=demo_world(sandbox_id))
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
    catalogue = data.catalogue_records()
    wanted: list[tuple[str, Role, str, str | None]] = [
        ("ops", Role.OPERATIONS, "平台运营 / Operations", None),
        ("agent-017", Role.AGENT, "热线坐席 017 / Hotline agent 017", None),
    ]
    wanted += [
        (f"buyer-{n:03d}", Role.CONSUMER, f"买家 {n:03d} / Buyer {n:03d}", f"buyer-{n:03d}")
        for n in range(1, DEMO_BUYER_ACCOUNTS + 1)
    ]
    parties = {"provider": Role.PROVIDER, "merchant": Role.MERCHANT, "brand": Role.BRAND}
    wanted += [
        (str(r["id"]), parties[r["kind"]], str(r["name"]), str(r["id"]))
        for r in catalogue
        if r["kind"] in parties
    ]
    hashes: dict[Role, str] = {}  # one per role: its accounts share the published password
    for username, role, name, party in wanted:
        if find_account(container.services, username) is not None:
            continue
        if role not in hashes:
            hashes[role] = hasher().hash(DEMO_PASSWORDS[role])
        ensure_account(
            container.services,
            username=username,
            password=DEMO_PASSWORDS[role],
            role=role,
            name=name,
            party=party,
            password_hash=hashes[role],
        )
    return len(wanted)
