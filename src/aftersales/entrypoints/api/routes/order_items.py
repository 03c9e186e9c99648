"""Order items as a buyer or a client sees them, and what they are entitled to now.

``GET /order-items`` lists a buyer's own items (a consumer), a shop's items (a
merchant, or a shop's integration token), or any (operations and marketplace
integrations, with ``buyer_id`` / ``merchant_id`` filters); ``sandbox`` limits
the list to one world. ``GET /order-items/{id}/eligibility`` says which
programmes apply now, with the warranty's last day, the city's coverage and the
commitments a help request pressed now would carry, each with its rule and its
sentence in both languages.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from aftersales.domain.eligibility import EligibilityDecision, OrderItem
from aftersales.domain.lifecycle import Role
from aftersales.entrypoints.api.deps import Caller, ServicesDep
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.entrypoints.viewer import Viewer
from aftersales.errors import Forbidden, NotFound
from aftersales.services import views
from aftersales.services.base import Services
from aftersales.services.eligibility import eligibility_now, reason_json
from aftersales.services.master_data import World

router = APIRouter(prefix="/api/v1", tags=["order items"], responses=PROBLEMS)

_MARKETPLACE_WIDE = (Role.OPERATIONS, Role.AGENT)


def item_json(item: OrderItem, sandbox: str) -> dict[str, Any]:
    world = World.of(sandbox)
    product = item.product
    address = item.address
    return {
        "id": item.id,
        "sandbox": sandbox,
        "order_id": item.order_id,
        "buyer_id": world.show(item.buyer_account),
        "merchant_id": world.show(item.merchant_id),
        "product": {"id": world.show(product.id), "name": product.name},
        "paid_price_fen": item.paid_price_fen,
        "purchased_on": item.purchased_on.isoformat(),
        "delivered_on": item.delivered_on.isoformat() if item.delivered_on else None,
        "status": item.status,
        "address": None
        if address is None
        else {
            "text": address.text,
            "province": address.province,
            "city": address.city,
            "district": address.district,
            "area_code": address.area_code,
        },
        "entitlements": {
            "brand_id": world.show(product.brand_id),
            "category": product.category_id,
            "badges": sorted(product.badges),
            "service_tags": sorted(product.service_tags),
            "warranty_months": product.warranty_months,
            "as_of": item.entitled_on.isoformat() if item.entitled_on else None,
        },
    }


def _may_see(svc: Services, caller: Viewer, item: OrderItem) -> bool:
    role = caller.role
    if role in _MARKETPLACE_WIDE or (role is Role.INTEGRATION and not caller.party):
        return True
    if role is Role.CONSUMER:
        return item.buyer_account == caller.party
    if role in (Role.MERCHANT, Role.INTEGRATION):
        return caller.party is not None and caller.party in (
            item.merchant_id,
            World.of(views.sandbox_of_item(svc, item.id)).show(item.merchant_id),
        )
    return False


def _item(svc: Services, caller: Viewer, item_id: str) -> tuple[OrderItem, str]:
    try:
        found = views.order_item(svc, item_id)
    except NotFound:
        raise NotFound("order item", item_id) from None
    if not _may_see(svc, caller, found[0]):
        raise NotFound("order item", item_id)
    return found


@router.get("/order-items")
def list_order_items(
    caller: Caller,
    svc: ServicesDep,
    sandbox: str | None = None,
    buyer_id: str | None = None,
    merchant_id: str | None = None,
    after: str | None = None,
    limit: int = Query(50, ge=1, le=200),
) -> dict[str, Any]:
    """The caller's items: a buyer's own, a shop's, or (operations) anyone's by filter."""
    role = caller.role
    buyer, merchant = buyer_id, merchant_id
    if role is Role.CONSUMER:
        buyer, merchant = caller.party, None
    elif role is Role.MERCHANT or (role is Role.INTEGRATION and caller.party):
        merchant = caller.party
    elif role is Role.AGENT and buyer is None:
        raise Forbidden("a hotline agent lists the items of one caller: give buyer_id")
    elif role not in (Role.OPERATIONS, Role.AGENT, Role.INTEGRATION):
        raise Forbidden("order items are listed for buyers, shops and operations")
    world = World.of(sandbox) if sandbox else None
    if world is not None:
        buyer = world.store(buyer) if buyer and role is not Role.CONSUMER else buyer
    rows = views.order_item_page(
        svc,
        sandboxes=None if world is None else (world.sandbox,),
        buyer=buyer,
        merchant=merchant,
        after=after,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [item_json(item, box) for box, item in rows],
        "next": rows[-1][1].id if more and rows else None,
    }


@router.get("/order-items/{item_id}")
def get_order_item(item_id: str, caller: Caller, svc: ServicesDep) -> dict[str, Any]:
    item, sandbox = _item(svc, caller, item_id)
    return item_json(item, sandbox)


def _decision(decision: EligibilityDecision) -> dict[str, Any]:
    return {
        "eligible": decision.eligible,
        "policy": decision.policy_id,
        "reasons": [reason_json(r) for r in decision.reasons],
    }


@router.get("/order-items/{item_id}/eligibility")
def item_eligibility(item_id: str, caller: Caller, svc: ServicesDep) -> dict[str, Any]:
    """Which programmes apply now, and what a help request pressed now would carry."""
    _item(svc, caller, item_id)
    found = eligibility_now(svc, item_id)
    nw, oh = found.national_warranty, found.one_click_help
    address = found.item.address
    city = address.city if address else None
    city_covered = None
    if oh.eligible:
        city_covered = True
    elif any(r.code == "oh.city_not_covered" for r in oh.reasons):
        city_covered = False
    return {
        "order_item_id": item_id,
        "sandbox": found.sandbox,
        "at": found.at.isoformat(),
        "national_warranty": {
            **_decision(nw),
            "in_warranty": nw.in_warranty,
            "warranty_until": nw.warranty_until.isoformat() if nw.warranty_until else None,
        },
        "one_click_help": {
            **_decision(oh),
            "service": oh.service_tag,
            "city": city,
            "city_covered": city_covered,
            "if_pressed_now": [
                {
                    "clock": clock_id,
                    "applies": reason.code != "clock.not_applicable_outside_window",
                    **reason_json(reason),
                }
                for clock_id, reason in found.commitments
            ],
        },
    }
