"""The fast path of master_records.check_record gives exactly what the models give.

Every case is checked both ways: ``check_record`` (twin first, the model when the
twin refuses) and the model alone must accept the same records with the same
values, and refuse the same records with the same problems.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from aftersales.services import master_records as mr

ORDER: dict[str, Any] = {
    "id": "o-1",
    "buyer_id": "u-1",
    "merchant_id": "s-1",
    "placed_at": "2026-11-10T10:30:00+08:00",
    "paid_at": "2026-11-10T10:35:00+08:00",
    "address": "浙江省杭州市西湖区文三路 90 号",
    "contact_phone": "138 0000 0000",
    "items": [
        {
            "id": "i-1",
            "product_id": "p-1",
            "paid_price_fen": 29900,
            "purchased_on": "2026-11-10",
            "delivered_on": "2026-11-13",
            "status": "signed_for",
        },
        {"id": "i-2", "product_id": "p-2", "paid_price": "¥1,299.50", "address": "上海浦东新区"},
    ],
}
PRODUCT: dict[str, Any] = {
    "id": "p-1",
    "name": "LED 吸顶灯",
    "brand_id": "b-1",
    "category": "家居/灯饰照明/吸顶灯",
    "badges": "national_warranty | ",
    "service_tags": ["scheduled_installation"],
    "warranty_months": 12,
}
BUYER: dict[str, Any] = {"id": "u-1", "name": "张三", "phone": "+86 (138) 0000-0000"}
BRAND: dict[str, Any] = {
    "id": "b-1",
    "name": "明光",
    "hotline": "400-100-2000",
    "warranty_terms": {"zh": "整机保修一年", "en": "one year"},
    "exclusions": [{"zh": "人为损坏", "en": "misuse"}],
    "service_centres": [{"name": "杭州中心", "city": "杭州市", "phone": "0571-1234567"}],
}
PROVIDER: dict[str, Any] = {
    "id": "i-1",
    "name": "西湖安装",
    "type": "installer",
    "brand_id": "b-1",
    "coverage": [{"area_code": "330106", "category": "lighting", "service_tag": "x"}],
}
MERCHANT: dict[str, Any] = {"id": "s-1", "name": "明光旗舰店", "version": 3, "active": False}
RECORDS = {
    "order": ORDER,
    "product": PRODUCT,
    "buyer": BUYER,
    "brand": BRAND,
    "provider": PROVIDER,
    "merchant": MERCHANT,
}

# Whitespace str.strip takes away (and pydantic's core too), other characters it keeps,
# and control characters the models refuse.
SPACES = [" ", "\t", "\n", "\r", "\u3000", "\xa0", "\u2003", "\x85", "\u2028"]
KEPT = ["\u200b", "\ufeff", "x", "-", ".", "_", "号"]
CONTROLS = ["\x00", "\x07", "\x0b", "\x0c", "\x1b", "\x1c", "\x1f", "\x7f"]


def both(kind: str, raw: Any) -> tuple[Any, Any]:
    """What check_record and the model alone make of ``raw``: a dump, or the problems."""

    def outcome(check: Any) -> Any:
        try:
            record = check(copy.deepcopy(raw))
        except ValidationError as exc:
            return ("refused", mr.describe_errors(exc))
        assert isinstance(record, mr.MODELS[kind])
        return ("accepted", record.model_dump())

    return (
        outcome(lambda r: mr.check_record(kind, r)),
        outcome(mr.MODELS[kind].model_validate),
    )


def variants(record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The record with each text (top level and one level down) changed in many ways."""
    found: list[tuple[str, dict[str, Any]]] = []

    def texts(value: Any, path: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if isinstance(value, str):
            return [path]
        if isinstance(value, dict):
            return [p for k, v in value.items() for p in texts(v, (*path, k))]
        if isinstance(value, list):
            return [p for i, v in enumerate(value) for p in texts(v, (*path, i))]
        return []

    for path in texts(record, ()):
        for extra in SPACES + KEPT + CONTROLS:
            for where in ("start", "end", "middle", "only"):
                changed = copy.deepcopy(record)
                holder = changed
                for part in path[:-1]:
                    holder = holder[part]
                text = holder[path[-1]]
                holder[path[-1]] = {
                    "start": extra + text,
                    "end": text + extra,
                    "middle": text[:1] + extra + text[1:],
                    "only": extra,
                }[where]
                found.append((f"{'.'.join(map(str, path))} {where} {extra!r}", changed))
    return found


@pytest.mark.parametrize("kind", list(RECORDS))
def test_every_text_changed_every_way_is_judged_alike(kind: str) -> None:
    cases = variants(RECORDS[kind])
    assert len(cases) > 100
    for label, raw in cases:
        fast, model = both(kind, raw)
        assert fast == model, label


@pytest.mark.parametrize(
    ("kind", "changes"),
    [
        ("order", {"id": "o" * 64}),
        ("order", {"id": "o" * 65}),
        ("order", {"id": "-o"}),
        ("order", {"id": "o/1"}),
        ("order", {"id": "订单1"}),
        ("order", {"id": "o-1\n"}),
        ("order", {"buyer_id": ""}),
        ("order", {"contact_phone": ""}),
        ("order", {"contact_phone": "12"}),
        ("order", {"contact_phone": "1" * 40}),
        ("order", {"contact_phone": "1" * 41}),
        ("order", {"contact_phone": "138-0000-0000 ext 1"}),
        ("order", {"placed_at": "2026-11-10T10:30:00"}),
        ("order", {"paid_at": "2026-11-10T10:00:00+08:00"}),
        ("order", {"items": []}),
        ("order", {"kind": "order"}),
        ("order", {"kind": "orders"}),
        ("order", {"colour": "red"}),
        ("order", {"version": -1}),
        ("order", {"updated_at": "2026-11-10T10:30:00Z", "version": 7}),
        ("order", {"items": [{"id": "i", "product_id": "p", "paid_price_fen": 1}] * 2}),
        ("order", {"items": [{"id": "i", "product_id": "p", "paid_price": "1.001"}]}),
        ("order", {"items": [{"id": "i", "product_id": "p"}]}),
        ("order", {"items": [{"id": "i", "product_id": "p", "paid_price_fen": "12"}]}),
        ("order", {"items": [{"id": "i", "product_id": "p", "paid_price_fen": 1.0}]}),
        (
            "order",
            {"items": [{"id": "i", "product_id": "p", "paid_price_fen": 1, "status": " paid"}]},
        ),
        ("order", {"items": [{"id": "i", "product_id": "p", "paid_price_fen": 1, "x": 1}]}),
        ("order", {"items": "i-1"}),
        ("order", {"address": 12}),
        ("order", {"address": None}),
        ("order", {"address": "长" * 4001}),
        ("product", {"badges": ""}),
        ("product", {"badges": " | a |b"}),
        ("product", {"badges": ["a", " "]}),
        ("product", {"service_tags": ["t" * 65]}),
        ("product", {"warranty_months": 601}),
        ("product", {"name": " "}),
        ("buyer", {"name": ""}),
        ("buyer", {"phone": "\u3000"}),
        ("provider", {"type": "painter"}),
        ("provider", {"coverage": [{"area_code": "33010", "category": "c", "service_tag": "x"}]}),
        ("provider", {"brand_id": None}),
        ("brand", {"service_centres": [{"name": "x", "city": ""}]}),
        ("brand", {"exclusions": [{"zh": "a", "fr": "b"}]}),
        ("merchant", {"active": "yes"}),
    ],
)
def test_edge_cases_are_judged_alike(kind: str, changes: dict[str, Any]) -> None:
    raw = {**RECORDS[kind], **changes}
    fast, model = both(kind, raw)
    assert fast == model


def test_records_that_are_not_plain_dicts_go_to_the_model() -> None:
    from collections import OrderedDict

    raw = OrderedDict(BUYER)
    assert both("buyer", raw)[0] == both("buyer", dict(BUYER))[1]
    with_object = {**BUYER, "name": object()}
    fast, model = both("buyer", with_object)
    assert fast == model
    assert fast[0] == "refused"


def test_the_twins_are_the_models_types() -> None:
    record = mr.check_record("order", ORDER)
    assert isinstance(record, mr.OrderIn)
    assert all(isinstance(item, mr.ItemIn) for item in record.items)
    assert type(record) is not mr.OrderIn  # the fast path was taken
