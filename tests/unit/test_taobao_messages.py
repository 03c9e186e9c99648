"""Taobao/Tmall TMC messages become our marketplace events (adapters/taobao.py).

The fixtures in ``tests/fixtures/taobao`` are one invented message per topic
we use (named after the topic), one on a topic we do not use, and three
malformed ones.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from aftersales.adapters.taobao import (
    TOPICS,
    Skipped,
    TaobaoMessageError,
    TranslatedEvent,
    translate,
    translate_many,
    yuan_to_fen,
)
from aftersales.errors import InvalidRequest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "taobao"
TID = "3012345678901234567"
OID = "3012345678901234568"


def load(name: str) -> dict[str, Any]:
    message: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return message


def with_content(message: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of ``message`` whose content has ``changes`` (a value of None removes the field)."""
    content = json.loads(message["content"])
    for key, value in changes.items():
        if value is None:
            content.pop(key, None)
        else:
            content[key] = value
    return {**message, "content": json.dumps(content, ensure_ascii=False)}


def event(message: dict[str, Any]) -> TranslatedEvent:
    result = translate(message)
    assert isinstance(result, TranslatedEvent), result
    return result


# --- each topic: the right type and data ----------------------------------------------------------


def test_buyer_pay_is_order_paid_with_the_paid_amount_in_fen() -> None:
    body = event(load("taobao_trade_TradeBuyerPay")).as_json()
    assert body == {
        "id": "tb-2611240000000000101",
        "type": "order.paid",
        "occurred_at": "2026-11-24T10:03:00+08:00",
        "data": {
            "order_id": TID,
            "items": [OID],
            "paid_at": "2026-11-24T10:03:00+08:00",
            "paid_price_fen": 19900,
        },
    }


def test_buyer_pay_without_payment_has_a_null_paid_price() -> None:
    message = with_content(load("taobao_trade_TradeBuyerPay"), payment=None)
    assert event(message).data["paid_price_fen"] is None


def test_seller_ship_is_order_shipped() -> None:
    body = event(load("taobao_trade_TradeSellerShip")).as_json()
    assert body["type"] == "order.shipped"
    assert body["data"] == {
        "order_id": TID,
        "items": [OID],
        "shipped_at": "2026-11-25T16:20:04+08:00",
    }


def test_partly_seller_ship_is_order_shipped_for_the_shipped_item() -> None:
    body = event(load("taobao_trade_TradePartlySellerShip")).as_json()
    assert body["type"] == "order.shipped"
    assert body["data"] == {
        "order_id": "3012345678901239001",
        "items": ["3012345678901239002"],
        "shipped_at": "2026-11-25T17:02:11+08:00",
    }


def test_partly_seller_ship_without_oid_is_refused_rather_than_shipping_the_whole_order() -> None:
    message = with_content(load("taobao_trade_TradePartlySellerShip"), oid=None)
    with pytest.raises(TaobaoMessageError, match="'oid'") as refused:
        translate(message)
    assert refused.value.field == "oid"


def test_trade_success_is_order_signed_for_on_the_beijing_date_of_modified() -> None:
    # Confirmed at 23:59:30 on 1 December; the message went out after midnight.
    body = event(load("taobao_trade_TradeSuccess")).as_json()
    assert body["type"] == "order.signed_for"
    assert body["occurred_at"] == "2026-12-01T23:59:30+08:00"
    assert body["data"] == {"order_id": TID, "items": [OID], "signed_for_on": "2026-12-01"}


def test_signed_for_date_is_the_shanghai_date_even_when_the_time_carries_another_offset() -> None:
    # 16:30 UTC on 1 December is 00:30 on 2 December in Shanghai.
    message = with_content(load("taobao_trade_TradeSuccess"), modified="2026-12-01T16:30:00Z")
    result = event(message)
    assert result.as_json()["occurred_at"] == "2026-12-02T00:30:00+08:00"
    assert result.data["signed_for_on"] == "2026-12-02"


def test_trade_close_is_order_closed_with_the_status_as_reason() -> None:
    body = event(load("taobao_trade_TradeClose")).as_json()
    assert body["type"] == "order.closed"
    assert body["occurred_at"] == "2026-11-24T11:30:00+08:00"
    assert body["data"]["order_id"] == "3012345678901240001"
    assert body["data"]["reason"].startswith("TRADE_CLOSED_BY_TAOBAO")
    assert "items" not in body["data"]


def test_trade_close_without_status_has_no_reason() -> None:
    message = with_content(load("taobao_trade_TradeClose"), status=None)
    assert event(message).data == {"order_id": "3012345678901240001"}


def test_close_and_modify_detail_order_on_a_closed_trade_is_order_closed() -> None:
    body = event(load("taobao_trade_TradeCloseAndModifyDetailOrder")).as_json()
    assert body["type"] == "order.closed"
    assert body["data"]["order_id"] == "3012345678901239001"
    assert body["data"]["reason"].startswith("TRADE_CLOSED")


@pytest.mark.parametrize("status", ["WAIT_BUYER_CONFIRM_GOODS", "SELLER_CONSIGNED_PART", None])
def test_close_and_modify_detail_order_on_an_open_trade_is_skipped(status: str | None) -> None:
    # One order item closed or changed; the trade itself stays open.
    message = with_content(load("taobao_trade_TradeCloseAndModifyDetailOrder"), status=status)
    result = translate(message)
    assert isinstance(result, Skipped)
    assert result.topic == "taobao_trade_TradeCloseAndModifyDetailOrder"
    assert "not closed" in result.reason


def test_refund_success_is_order_refunded_for_the_refunded_item() -> None:
    body = event(load("taobao_refund_RefundSuccess")).as_json()
    assert body == {
        "id": "tb-2612030000000000642",
        "type": "order.refunded",
        "occurred_at": "2026-12-03T09:15:42+08:00",
        "data": {
            "order_id": TID,
            "items": [OID],
            "refund_id": "209876543210123456",
            "refunded_fen": 19900,
        },
    }


def test_refund_success_without_oid_is_refused_since_the_refunded_items_are_required() -> None:
    message = with_content(load("taobao_refund_RefundSuccess"), oid=None)
    with pytest.raises(TaobaoMessageError, match="'oid'"):
        translate(message)


@pytest.mark.parametrize("missing", ["refund_id", "refund_fee"])
def test_refund_success_without_its_refund_fields_is_refused(missing: str) -> None:
    message = with_content(load("taobao_refund_RefundSuccess"), **{missing: None})
    with pytest.raises(TaobaoMessageError, match=f"'{missing}' is missing") as refused:
        translate(message)
    assert refused.value.field == missing


def test_item_update_is_product_changed_with_the_changed_fields_as_a_list() -> None:
    body = event(load("taobao_item_ItemUpdate")).as_json()
    assert body["type"] == "product.changed"
    assert body["data"] == {
        "product_id": "723456789012",
        "changed_fields": ["price", "num", "item_img"],
    }


def test_item_update_without_changed_fields_names_only_the_product() -> None:
    message = with_content(load("taobao_item_ItemUpdate"), changed_fields=None)
    assert event(message).data == {"product_id": "723456789012"}


def test_item_add_is_product_changed() -> None:
    body = event(load("taobao_item_ItemAdd")).as_json()
    assert body["type"] == "product.changed"
    assert body["data"] == {"product_id": "723456789099"}


def test_every_fixture_of_a_used_topic_gives_an_event_whose_type_is_ours() -> None:
    for topic in sorted(TOPICS):
        result = event(load(topic))
        assert result.topic == topic
        assert result.type in {
            "order.paid",
            "order.shipped",
            "order.signed_for",
            "order.refunded",
            "order.closed",
            "product.changed",
        }
        assert json.loads(json.dumps(result.as_json())) == result.as_json()


# --- whole order or some items ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "topic",
    ["taobao_trade_TradeBuyerPay", "taobao_trade_TradeSellerShip", "taobao_trade_TradeSuccess"],
)
def test_a_trade_message_without_oid_concerns_the_whole_order(topic: str) -> None:
    data = event(with_content(load(topic), oid=None)).data
    assert data["order_id"] == TID
    assert "items" not in data


def test_ids_sent_as_digit_strings_are_taken_like_numbers() -> None:
    message = with_content(load("taobao_trade_TradeSellerShip"), tid=TID, oid=OID)
    assert event(message).data["order_id"] == TID
    assert event(message).data["items"] == [OID]


# --- times ------------------------------------------------------------------------------------------


def test_times_without_offset_are_beijing_time() -> None:
    result = event(load("taobao_trade_TradeBuyerPay"))
    assert result.occurred_at.utcoffset() is not None
    assert result.occurred_at.isoformat() == "2026-11-24T10:03:00+08:00"
    assert result.occurred_at == datetime.fromisoformat("2026-11-24T02:03:00+00:00")


def test_without_modified_the_event_time_is_pub_time() -> None:
    # Item messages carry no 'modified'.
    assert event(load("taobao_item_ItemUpdate")).as_json()["occurred_at"] == (
        "2026-11-20T14:00:00+08:00"
    )
    message = with_content(load("taobao_trade_TradeSellerShip"), modified=None)
    result = event(message)
    assert result.as_json()["occurred_at"] == "2026-11-25T16:20:05+08:00"
    assert result.data["shipped_at"] == "2026-11-25T16:20:05+08:00"


def test_a_message_with_neither_modified_nor_pub_time_is_refused() -> None:
    message = load("taobao_item_ItemUpdate")
    del message["pub_time"]
    with pytest.raises(TaobaoMessageError, match="'pub_time' is missing"):
        translate(message)


@pytest.mark.parametrize("modified", ["24/11/2026 10:03", "2026-11-24", "2026-13-40 10:03:00", 17])
def test_an_unreadable_time_is_refused_naming_the_field(modified: object) -> None:
    message = with_content(load("taobao_trade_TradeBuyerPay"), modified=modified)
    with pytest.raises(TaobaoMessageError, match="'modified' must be a time") as refused:
        translate(message)
    assert refused.value.field == "modified"


# --- money ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yuan", "fen"),
    [
        ("0.10", 10),
        ("199.00", 19900),
        ("0.01", 1),
        ("19.9", 1990),
        ("7", 700),
        ("0", 0),
        ("0.00", 0),
        ("12345678.99", 1234567899),
        (" 5.50 ", 550),
        (42, 4200),
    ],
)
def test_yuan_become_exact_fen(yuan: object, fen: int) -> None:
    assert yuan_to_fen(yuan) == fen


@pytest.mark.parametrize(
    "yuan", ["-5.00", "-0.01", "abc", "", "1,000.00", "1e3", "NaN", "Infinity", "0.105", None, True]
)
def test_negative_non_numeric_or_sub_fen_amounts_are_refused(yuan: object) -> None:
    with pytest.raises(TaobaoMessageError, match="'refund_fee'"):
        yuan_to_fen(yuan, topic="taobao_refund_RefundSuccess", field="refund_fee")


def test_a_refund_fee_sent_as_a_json_number_is_still_exact() -> None:
    message = load("taobao_refund_RefundSuccess")
    message["content"] = message["content"].replace('"refund_fee":"199.00"', '"refund_fee":0.10')
    assert event(message).data["refunded_fen"] == 10


# --- topics we do not use -----------------------------------------------------------------------


def test_an_unknown_topic_is_skipped_not_refused() -> None:
    result = translate(load("unknown_topic_taobao_trade_TradeRated"))
    assert result == Skipped(
        "taobao_trade_TradeRated", "no event is made from this topic", "2612050000000000990"
    )


def test_an_unknown_topic_is_skipped_even_when_its_content_is_unreadable() -> None:
    message = {**load("unknown_topic_taobao_trade_TradeRated"), "content": "not json"}
    assert isinstance(translate(message), Skipped)


# --- malformed messages are refused, naming topic and field ---------------------------------------


@pytest.mark.parametrize(
    ("fixture", "topic", "field"),
    [
        ("malformed_content_not_json", "taobao_trade_TradeBuyerPay", "content"),
        ("malformed_missing_tid", "taobao_trade_TradeSellerShip", "tid"),
        ("malformed_negative_refund_fee", "taobao_refund_RefundSuccess", "refund_fee"),
    ],
)
def test_malformed_fixtures_are_refused_naming_topic_and_field(
    fixture: str, topic: str, field: str
) -> None:
    with pytest.raises(TaobaoMessageError) as refused:
        translate(load(fixture))
    error = refused.value
    assert isinstance(error, InvalidRequest)
    assert (error.topic, error.field) == (topic, field)
    assert topic in str(error)
    assert f"'{field}'" in str(error)


def test_a_negative_refund_fee_is_refused_as_negative() -> None:
    with pytest.raises(TaobaoMessageError, match=re.escape("must not be negative, got '-5.00'")):
        translate(load("malformed_negative_refund_fee"))


@pytest.mark.parametrize(
    ("fixture", "changes", "field"),
    [
        ("taobao_trade_TradeBuyerPay", {"tid": "30123abc"}, "tid"),
        ("taobao_trade_TradeBuyerPay", {"tid": -3}, "tid"),
        ("taobao_trade_TradeBuyerPay", {"tid": 0}, "tid"),
        ("taobao_trade_TradeBuyerPay", {"tid": 3.5}, "tid"),
        ("taobao_trade_TradeBuyerPay", {"tid": True}, "tid"),
        ("taobao_trade_TradeBuyerPay", {"oid": "one"}, "oid"),
        ("taobao_trade_TradeBuyerPay", {"payment": "-1.00"}, "payment"),
        ("taobao_trade_TradeBuyerPay", {"payment": "免费"}, "payment"),
        ("taobao_trade_TradeClose", {"status": 3}, "status"),
        ("taobao_refund_RefundSuccess", {"refund_id": "R-1"}, "refund_id"),
        ("taobao_item_ItemUpdate", {"num_iid": None}, "num_iid"),
        ("taobao_item_ItemUpdate", {"changed_fields": 7}, "changed_fields"),
    ],
)
def test_a_wrong_or_missing_value_is_refused_naming_the_field(
    fixture: str, changes: dict[str, Any], field: str
) -> None:
    message = with_content(load(fixture), **changes)
    with pytest.raises(TaobaoMessageError, match=f"field '{field}'") as refused:
        translate(message)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("content", "problem"),
    [("[1, 2]", "must hold a JSON object"), ("", "is not valid JSON"), (None, "is missing")],
)
def test_content_that_is_not_a_json_object_is_refused(content: object, problem: str) -> None:
    message = {**load("taobao_trade_TradeBuyerPay"), "content": content}
    with pytest.raises(TaobaoMessageError, match=f"field 'content' {problem}"):
        translate(message)


def test_content_already_parsed_by_an_sdk_is_taken() -> None:
    message = load("taobao_trade_TradeBuyerPay")
    parsed = {**message, "content": json.loads(message["content"])}
    assert event(parsed) == event(message)


@pytest.mark.parametrize("topic", [None, "", 42])
def test_a_message_without_a_topic_is_refused(topic: object) -> None:
    message = {**load("taobao_trade_TradeBuyerPay"), "topic": topic}
    with pytest.raises(TaobaoMessageError, match="field 'topic'"):
        translate(message)


def test_a_refusal_names_the_tmc_message_id() -> None:
    with pytest.raises(TaobaoMessageError, match="TMC message 2611250000000001202") as refused:
        translate(load("malformed_missing_tid"))
    assert refused.value.message_id == "2611250000000001202"


# --- event ids ----------------------------------------------------------------------------------


def test_the_same_message_gives_the_same_event_id() -> None:
    first = event(load("taobao_trade_TradeSellerShip"))
    again = event(load("taobao_trade_TradeSellerShip"))
    assert first.id == again.id == "tb-2611250000000000207"
    assert first == again


def test_without_a_message_id_the_event_id_is_a_stable_digest_of_topic_and_content() -> None:
    message = load("taobao_trade_TradeSellerShip")
    del message["id"]
    first = event(message)
    assert first.id.startswith("tb-") and len(first.id) == 3 + 32
    # The same content written with its keys in another order is the same message.
    reordered = dict(reversed(list(json.loads(message["content"]).items())))
    again = event({**message, "content": json.dumps(reordered, ensure_ascii=False)})
    assert again.id == first.id
    # Another message (another order item) gets another id.
    other = event(with_content(message, oid=3012345678901234569))
    assert other.id != first.id


def test_distinct_messages_give_distinct_event_ids() -> None:
    ids = [event(load(topic)).id for topic in sorted(TOPICS)]
    assert len(set(ids)) == len(ids)


# --- batches ------------------------------------------------------------------------------------


def test_translate_many_sorts_a_batch_into_events_skipped_and_refused_in_order() -> None:
    names = [
        "taobao_trade_TradeBuyerPay",
        "malformed_missing_tid",
        "unknown_topic_taobao_trade_TradeRated",
        "taobao_refund_RefundSuccess",
        "malformed_content_not_json",
    ]
    events, skipped, refused = translate_many(load(name) for name in names)
    assert [e.type for e in events] == ["order.paid", "order.refunded"]
    assert [s.topic for s in skipped] == ["taobao_trade_TradeRated"]
    assert [(r.topic, r.field) for r in refused] == [
        ("taobao_trade_TradeSellerShip", "tid"),
        ("taobao_trade_TradeBuyerPay", "content"),
    ]


def test_translate_many_of_nothing_is_three_empty_lists() -> None:
    assert translate_many([]) == ([], [], [])


def test_translate_many_refuses_an_entry_that_is_not_a_message_and_goes_on() -> None:
    events, skipped, refused = translate_many(["not a message", load("taobao_item_ItemAdd")])  # type: ignore[list-item]
    assert [e.type for e in events] == ["product.changed"]
    assert skipped == []
    assert [r.field for r in refused] == ["message"]
