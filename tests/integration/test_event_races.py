"""Two events for one order arriving at the same moment on PostgreSQL: each waits for the
other, so the later event's status wins whichever commits first (events are applied in
their own time order, not in arrival order)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine

from aftersales.services import events, master_data
from aftersales.services.time import FixedClock
from aftersales.testing import services_on
from tests.unit.services.test_master_data import catalogue, load, order
from tests.unit.services.world import START

ROUNDS = 12


@pytest.mark.postgres
def test_concurrent_events_for_one_order_end_in_the_later_ones_status(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time: there is no race to lose")
    services = services_on(engine, FixedClock(START))
    catalogue(services)
    for n in range(ROUNDS):
        items = [{"id": f"race-{n}-1", "product_id": "p1", "paid_price_fen": 100}]
        assert load(services, "order", order(id=f"race-{n}", items=items)) == ["created"]
    barrier = threading.Barrier(2)

    def send(kind: str, at: str, n: int) -> None:
        barrier.wait()
        sent = {
            "id": f"{kind}-{n}",
            "type": f"order.{kind}",
            "occurred_at": at,
            "data": {"order_id": f"race-{n}"}
            | ({"signed_for_on": "2026-11-23"} if kind == "signed_for" else {}),
        }
        outcome = events.receive(services_on(engine, FixedClock(START)), sent)
        assert outcome.outcome in ("applied", "stale"), outcome

    for n in range(ROUNDS):
        threads = [
            threading.Thread(target=send, args=("shipped", "2026-11-21T10:00:00+08:00", n)),
            threading.Thread(target=send, args=("signed_for", "2026-11-23T10:00:00+08:00", n)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    statuses = [
        master_data.get_record(services, "order", f"race-{n}", world=master_data.World())["items"][
            0
        ]["status"]
        for n in range(ROUNDS)
    ]
    assert statuses == ["signed_for"] * ROUNDS
