"""Marketplace events on the memory adapter: kept once, applied in any arrival order."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersales.adapters.memory import MemoryStore, memory_services
from aftersales.adapters.places import ChinaPlaces
from aftersales.domain.policy import PolicyBook
from aftersales.services import events, master_data
from aftersales.services.base import Services
from aftersales.services.master_data import World
from aftersales.services.records import Sandbox
from aftersales.services.time import FixedClock

SH = ZoneInfo("Asia/Shanghai")
LIVE_WORLD = World()
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=SH)
PLACES = ChinaPlaces()  # one address parser for every test: it remembers what it resolved

ORDER: dict[str, Any] = {
    "id": "o1",
    "buyer_id": "u1",
    "merchant_id": "m1",
    "placed_at": "2026-11-20T10:00:00+08:00",
    "address": "浙江省杭州市西湖区文三路90号",
    "items": [
        {"id": "i1", "product_id": "p1", "paid_price_fen": 29_900},
        {"id": "i2", "product_id": "p1", "paid_price_fen": 29_900},
    ],
}


def load_catalogue(svc: Services, world: World = LIVE_WORLD) -> None:
    for kind, record in (
        ("brand", {"id": "b1", "name": "星河"}),
        ("merchant", {"id": "m1", "name": "星河旗舰店"}),
        ("buyer", {"id": "u1"}),
        ("product", {"id": "p1", "name": "吸顶灯", "brand_id": "b1", "category": "lighting"}),
    ):
        assert master_data.upsert(svc, kind, [record], world=world)[0].result == "created"


@pytest.fixture
def svc(book: PolicyBook) -> Services:
    services = memory_services(book, FixedClock(NOW), store=MemoryStore(), places=PLACES)
    load_catalogue(services)
    return services


@pytest.fixture
def with_order(svc: Services) -> Services:
    assert master_data.upsert(svc, "order", [ORDER])[0].result == "created"
    return svc


def event(event_id: str, kind: str, at: str, **data: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": kind,
        "occurred_at": f"2026-11-{at}+08:00",
        "data": {"order_id": "o1", **data},
    }


def items_of(svc: Services, order_id: str = "o1", world: World = LIVE_WORLD) -> dict[str, Any]:
    with svc.uow() as uow:
        row = uow.master.stored("order", [world.store(order_id)])[world.store(order_id)]
    return {
        world.show(i["id"]): (i["status"], i["status_at"], i["delivered_on"]) for i in row["items"]
    }


def statuses(svc: Services, order_id: str = "o1", world: World = LIVE_WORLD) -> dict[str, str]:
    return {k: v[0] for k, v in items_of(svc, order_id, world).items()}


# ---------------------------------------------------------------- once per id


def test_the_same_event_twice_changes_the_items_once(with_order: Services) -> None:
    svc = with_order
    shipped = event("e1", "order.shipped", "21T09:00:00")
    first = events.receive(svc, shipped)
    assert (first.outcome, first.items) == ("applied", ["i1", "i2"])
    signed = events.receive(
        svc, event("e2", "order.signed_for", "22T09:00:00", signed_for_on="2026-11-22")
    )
    assert signed.outcome == "applied"

    again = events.receive(svc, shipped)

    assert again.outcome == "duplicate"
    assert again.first_outcome == "applied"
    assert "received before" in again.message
    assert statuses(svc) == {"i1": "signed_for", "i2": "signed_for"}  # not moved back to shipped
    with svc.uow() as uow:
        kept = uow.inbox.get("live", "e1")
    assert kept is not None
    assert (kept["outcome"], kept["type"]) == ("applied", "order.shipped")


def test_an_event_id_is_kept_once_per_world(with_order: Services) -> None:
    svc = with_order
    with svc.uow() as uow:
        uow.sandboxes.add(Sandbox("sb", "test", NOW, NOW))
        uow.commit()
    events.receive(svc, event("e1", "order.shipped", "21T09:00:00"))
    in_sandbox = events.receive(
        svc, {**event("e1", "order.shipped", "21T09:00:00"), "sandbox": "sb"}
    )
    assert in_sandbox.outcome == "unknown"  # not a duplicate: the sandbox has not seen e1


# ---------------------------------------------------------------- arrival order


def test_an_older_shipped_arriving_after_signed_for_is_stale(with_order: Services) -> None:
    svc = with_order
    signed = event("e2", "order.signed_for", "23T18:00:00", signed_for_on="2026-11-23")
    assert events.receive(svc, signed).outcome == "applied"

    late = events.receive(svc, event("e1", "order.shipped", "21T09:00:00"))

    assert late.outcome == "stale"
    assert "newer" in late.message
    assert statuses(svc) == {"i1": "signed_for", "i2": "signed_for"}
    assert {v[2].isoformat() for v in items_of(svc).values()} == {"2026-11-23"}
    with svc.uow() as uow:
        assert uow.inbox.get("live", "e1")["outcome"] == "stale"  # type: ignore[index]


def test_a_refunded_item_stays_refunded_when_a_later_shipped_arrives(with_order: Services) -> None:
    svc = with_order
    refund = event(
        "r1", "order.refunded", "21T12:00:00", items=["i1"], refund_id="rf-1", refunded_fen=29_900
    )
    assert events.receive(svc, refund).outcome == "applied"

    shipped = events.receive(svc, event("s1", "order.shipped", "22T09:00:00"))

    assert shipped.outcome == "applied"  # i2 moves
    assert shipped.items == ["i2"]
    assert "refunded is final" in shipped.message
    assert statuses(svc) == {"i1": "refunded", "i2": "shipped"}
    only_i1 = events.receive(svc, event("s2", "order.shipped", "23T09:00:00", items=["i1"]))
    assert only_i1.outcome == "stale"
    assert "final" in only_i1.message


def test_a_refund_wins_over_a_later_shipped_whatever_arrives_first(with_order: Services) -> None:
    svc = with_order
    events.receive(svc, event("s1", "order.shipped", "22T09:00:00", items=["i1"]))
    refund = events.receive(
        svc,
        event("r1", "order.refunded", "21T12:00:00", items=["i1"], refund_id="1", refunded_fen=1),
    )
    assert refund.outcome == "applied"
    assert statuses(svc)["i1"] == "refunded"


EVENTS = [
    event("paid", "order.paid", "20T10:05:00"),
    event("ship-1", "order.shipped", "21T09:00:00", items=["i1"]),
    event("ship-all", "order.shipped", "21T15:00:00"),
    event("signed", "order.signed_for", "23T18:00:00", items=["i2"], signed_for_on="2026-11-23"),
    event("refund", "order.refunded", "22T12:00:00", items=["i1"], refund_id="9", refunded_fen=100),
    event("signed-1", "order.signed_for", "22T08:00:00", items=["i1"], signed_for_on="2026-11-22"),
]


def _end_state(book: PolicyBook, order: list[dict[str, Any]]) -> dict[str, Any]:
    svc = memory_services(book, FixedClock(NOW), store=MemoryStore(), places=PLACES)
    load_catalogue(svc)
    master_data.upsert(svc, "order", [ORDER])
    for e in order:
        assert events.receive(svc, e).outcome in ("applied", "stale")
    return items_of(svc)


def test_every_arrival_order_ends_in_the_same_state(book: PolicyBook) -> None:
    expected = _end_state(book, EVENTS)
    assert {k: v[0] for k, v in expected.items()} == {"i1": "refunded", "i2": "signed_for"}
    assert expected["i1"][2].isoformat() == "2026-11-22"  # signed for before the refund
    for order in itertools.islice(itertools.permutations(EVENTS), 0, None, 7):  # 103 of 720
        assert _end_state(book, list(order)) == expected, [e["id"] for e in order]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "order.paid",
                    "order.shipped",
                    "order.signed_for",
                    "order.refunded",
                    "order.closed",
                ]
            ),
            st.integers(min_value=0, max_value=5),  # hour on 21 November (ties happen)
            st.sampled_from([None, ["i1"], ["i2"]]),
        ),
        min_size=1,
        max_size=6,
    ),
    st.randoms(use_true_random=False),
)
def test_any_arrival_order_of_random_events_ends_in_the_same_state(
    book: PolicyBook, drawn: list[tuple[str, int, list[str] | None]], rnd: Any
) -> None:
    made = []
    for n, (kind, hour, items) in enumerate(drawn):
        data: dict[str, Any] = {} if items is None else {"items": items}
        if kind == "order.refunded":
            data = {"items": items or ["i1"], "refund_id": str(n), "refunded_fen": 1}
        if kind == "order.signed_for":
            data["signed_for_on"] = f"2026-11-{21 + hour % 3}"
        if kind == "order.closed":
            data = {}
        made.append(event(f"e{n}", kind, f"21T{hour:02d}:00:00", **data))
    shuffled = list(made)
    rnd.shuffle(shuffled)
    assert _end_state(book, shuffled) == _end_state(book, made)


# ---------------------------------------------------------------- what is not loaded


def test_an_event_for_an_unknown_order_is_kept_and_applies_once_the_order_is_sent(
    svc: Services,
) -> None:
    shipped = event("e1", "order.shipped", "21T09:00:00")
    first = events.receive(svc, shipped)
    assert first.outcome == "unknown"
    assert "send the order record first" in first.message
    with svc.uow() as uow:
        assert uow.inbox.get("live", "e1")["outcome"] == "unknown"  # type: ignore[index]

    master_data.upsert(svc, "order", [ORDER])
    again = events.receive(svc, shipped)

    assert again.outcome == "applied"
    assert statuses(svc) == {"i1": "shipped", "i2": "shipped"}
    assert events.receive(svc, shipped).outcome == "duplicate"


def test_an_event_for_an_item_the_order_does_not_have_is_unknown(with_order: Services) -> None:
    outcome = events.receive(with_order, event("e1", "order.shipped", "21T09:00:00", items=["i9"]))
    assert outcome.outcome == "unknown"
    assert "no item 'i9'" in outcome.message
    assert statuses(with_order) == {"i1": "paid", "i2": "paid"}


def test_a_product_change_is_noted_and_moves_nothing(with_order: Services) -> None:
    changed = {
        "id": "p-1",
        "type": "product.changed",
        "occurred_at": "2026-11-22T10:00:00+08:00",
        "data": {"product_id": "p1", "changed_fields": ["price"]},
    }
    outcome = events.receive(with_order, changed)
    assert outcome.outcome == "applied"
    assert "keep the entitlements" in outcome.message
    unknown = events.receive(with_order, {**changed, "id": "p-2", "data": {"product_id": "nope"}})
    assert unknown.outcome == "unknown"
    assert "send the product record first" in unknown.message


# ---------------------------------------------------------------- orders carried by order.paid


def test_order_paid_with_the_whole_order_creates_it(svc: Services) -> None:
    paid = event("pay-1", "order.paid", "20T10:05:00", order=ORDER)

    outcome = events.receive(svc, paid)

    assert outcome.outcome == "applied"
    assert outcome.message.startswith("order created")
    state = items_of(svc)
    assert {k: v[0] for k, v in state.items()} == {"i1": "paid", "i2": "paid"}
    assert state["i1"][1] == datetime(2026, 11, 20, 10, 5, tzinfo=SH)


def test_a_late_order_paid_with_the_order_keeps_the_newer_status_and_delivery(
    with_order: Services,
) -> None:
    svc = with_order
    events.receive(svc, event("s", "order.signed_for", "23T18:00:00", signed_for_on="2026-11-23"))
    changed = {**ORDER, "contact_phone": "13800000000"}

    outcome = events.receive(svc, event("pay-1", "order.paid", "20T10:05:00", order=changed))

    assert outcome.outcome == "applied"  # the order's phone was updated
    assert "order updated" in outcome.message
    state = items_of(svc)
    assert {v[0] for v in state.values()} == {"signed_for"}
    assert {v[2].isoformat() for v in state.values()} == {"2026-11-23"}


def test_a_refused_order_in_order_paid_keeps_nothing_so_a_fixed_one_can_follow(
    svc: Services,
) -> None:
    broken = {**ORDER, "items": [{"id": "i1", "product_id": "nope", "paid_price_fen": 1}]}
    outcome = events.receive(svc, event("pay-1", "order.paid", "20T10:05:00", order=broken))
    assert outcome.outcome == "refused"
    assert outcome.errors[0]["field"] == "data.order.items.0.product_id"
    with svc.uow() as uow:
        assert uow.inbox.get("live", "pay-1") is None

    fixed = events.receive(svc, event("pay-1", "order.paid", "20T10:05:00", order=ORDER))
    assert fixed.outcome == "applied"


# ---------------------------------------------------------------- malformed events


def test_a_malformed_event_is_refused_naming_each_field(with_order: Services) -> None:
    outcome = events.receive(
        with_order,
        {
            "id": "e1",
            "type": "order.signed_for",
            "occurred_at": "2026-11-21T09:00:00",
            "data": {"order_id": "o1", "item": ["i1"]},
        },
    )
    assert outcome.outcome == "refused"
    fields = {e["field"]: e["message"] for e in outcome.errors}
    assert "UTC offset" in fields["occurred_at"]
    refused_data = events.receive(
        with_order,
        {
            "id": "e1",
            "type": "order.signed_for",
            "occurred_at": "2026-11-21T09:00:00+08:00",
            "data": {"order_id": "o1", "item": ["i1"]},
        },
    )
    fields = {e["field"]: e["message"] for e in refused_data.errors}
    assert fields["data.signed_for_on"] == "is required"
    assert "not a field" in fields["data.item"]
    assert events.receive(with_order, ["not", "an", "object"]).outcome == "refused"
    unknown_type = events.receive(with_order, {**event("e1", "order.lost", "21T09:00:00")})
    assert unknown_type.errors[0]["field"] == "type"


# ---------------------------------------------------------------- worlds


def test_a_sandbox_event_moves_the_sandbox_order_and_never_the_live_one(
    with_order: Services,
) -> None:
    svc = with_order
    with svc.uow() as uow:
        uow.sandboxes.add(Sandbox("sb", "test", NOW, NOW))
        uow.commit()
    sandbox = World.of("sb")
    shipped = {**event("e1", "order.shipped", "21T09:00:00"), "sandbox": "sb"}

    assert events.receive(svc, shipped).outcome == "unknown"  # the sandbox has no o1 of its own
    assert statuses(svc) == {"i1": "paid", "i2": "paid"}

    master_data.upsert(svc, "order", [ORDER], world=sandbox)
    assert (
        events.receive(svc, event("e2", "order.shipped", "21T09:00:00"), world=sandbox).outcome
        == "applied"
    )
    assert statuses(svc, world=sandbox) == {"i1": "shipped", "i2": "shipped"}
    assert statuses(svc) == {"i1": "paid", "i2": "paid"}


def test_an_event_naming_another_sandbox_than_the_request_is_refused(with_order: Services) -> None:
    svc = with_order
    with svc.uow() as uow:
        uow.sandboxes.add(Sandbox("sb", "test", NOW, NOW))
        uow.commit()
    outcome = events.receive(
        svc,
        {**event("e1", "order.shipped", "21T09:00:00"), "sandbox": "other"},
        world=World.of("sb"),
    )
    assert outcome.outcome == "refused"
    assert outcome.errors[0]["field"] == "sandbox"
    missing = events.receive(
        svc, {**event("e1", "order.shipped", "21T09:00:00"), "sandbox": "nope"}
    )
    assert missing.outcome == "refused"
    assert "no sandbox" in missing.message
