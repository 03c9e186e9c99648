"""Eligibility: may this order item use this programme, and on what terms?

Decisions never just say yes or no: each carries reasons that cite rule IDs
(NW-1, NW-6, OH-1, OH-2) and render in both languages (X-2).
"""

from __future__ import annotations

import calendar as _gregorian
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aftersales.domain.errors import EligibilityError
from aftersales.domain.explain import Bilingual, Reason, local_time
from aftersales.domain.lifecycle import Programme
from aftersales.domain.policy import PolicyBook, ProgrammePolicy


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    brand_id: str
    category_id: str
    badges: frozenset[str] = frozenset()
    service_tags: frozenset[str] = frozenset()
    warranty_months: int | None = None


@dataclass(frozen=True)
class ServiceAddress:
    """A service address: the free text as given, and what a parser resolved from it."""

    text: str
    province: str | None = None
    city: str | None = None
    district: str | None = None
    area_code: str | None = None  # the six-digit administrative code of the most specific part


@dataclass(frozen=True)
class OrderItem:
    id: str
    order_id: str
    buyer_account: str
    merchant_id: str
    product: Product
    paid_price_fen: int
    purchased_on: date
    address: ServiceAddress | None = None
    delivered_on: date | None = None
    # The day the item's entitlements (badges, services, category, warranty) were
    # taken from the catalogue: they are the ones it was sold with, and later
    # catalogue changes leave them alone (NW-1, OH-1). None for an item loaded
    # before snapshots were kept.
    entitled_on: date | None = None
    status: str = "paid"

    def __post_init__(self) -> None:
        if self.paid_price_fen < 0:
            raise EligibilityError(f"order item {self.id}: the paid price cannot be negative")


@dataclass(frozen=True)
class ShippingTerms:
    """NW-6: who pays shipping and the repair fee for a mail-in."""

    shipping_payer: str
    repair_fee_payer: str
    quote_required: bool


@dataclass(frozen=True)
class EligibilityDecision:
    programme: Programme
    eligible: bool
    policy_id: str
    reasons: tuple[Reason, ...]
    in_warranty: bool | None = None
    warranty_until: date | None = None
    shipping: ShippingTerms | None = None
    service_tag: str | None = None
    service_standard: str | None = None
    flags: frozenset[str] = field(default_factory=frozenset)


def add_months(start: date, months: int) -> date:
    """The date ``months`` calendar months after ``start``.

    Where that month is too short (31 Jan + 1 month, 29 Feb + 12 months) the result
    rolls over to the first day of the following month, so the consumer never
    loses the last day of a period that the shorter month cannot hold.
    """
    if months < 0:
        raise ValueError("months must not be negative")
    month_index = start.month - 1 + months
    year = start.year + month_index // 12
    month = month_index % 12 + 1
    last_day = _gregorian.monthrange(year, month)[1]
    if start.day <= last_day:
        return date(year, month, start.day)
    return date(year, month, last_day) + timedelta(days=1)


def warranty_last_day(purchased_on: date, months: int) -> date:
    """NW-1: the last covered day of a warranty of ``months`` counted from the purchase date."""
    return add_months(purchased_on, months) - timedelta(days=1)


def _policy_reason(policy: ProgrammePolicy, at: datetime) -> Reason:
    return Reason(
        "policy.version_in_force",
        "OH-8",
        {
            "programme": Bilingual(policy.name.zh, policy.name.en),
            "at": local_time(at, policy.timezone),
            "policy": policy.id,
            "effective_from": local_time(policy.effective_from, policy.timezone),
        },
    )


def _with_snapshot(
    decision: EligibilityDecision, item: OrderItem, rule: str
) -> EligibilityDecision:
    """The decision naming the entitlement snapshot it was judged on, when the item has one."""
    if item.entitled_on is None:
        return decision
    reason = Reason(
        "entitlements.snapshot",
        rule,
        {"product": item.product.name, "entitled_on": item.entitled_on.isoformat()},
    )
    return replace(decision, reasons=(reason, *decision.reasons))


def assess_national_warranty(
    book: PolicyBook, item: OrderItem, at: datetime
) -> EligibilityDecision:
    """NW-1 eligibility and NW-6 terms for a repair report made at ``at``."""
    policy = book.in_force(Programme.NATIONAL_WARRANTY, at)
    return _with_snapshot(_national_warranty(book, item, at), item, policy.eligibility.rule)


def _national_warranty(book: PolicyBook, item: OrderItem, at: datetime) -> EligibilityDecision:
    policy = book.in_force(Programme.NATIONAL_WARRANTY, at)
    product = item.product
    badge = policy.eligibility.badge
    rule = policy.eligibility.rule
    if badge not in product.badges:
        return EligibilityDecision(
            Programme.NATIONAL_WARRANTY,
            False,
            policy.id,
            (Reason("nw.not_badged", rule, {"product": product.name}),),
        )
    if product.warranty_months is None:
        return EligibilityDecision(
            Programme.NATIONAL_WARRANTY,
            False,
            policy.id,
            (Reason("nw.no_warranty_period", rule, {"product": product.name}),),
        )
    local_day = at.astimezone(ZoneInfo(policy.timezone)).date()
    last_day = warranty_last_day(item.purchased_on, product.warranty_months)
    in_warranty = local_day <= last_day
    params = {
        "months": str(product.warranty_months),
        "purchased_on": item.purchased_on.isoformat(),
        "warranty_until": last_day.isoformat(),
    }
    shipping_policy = policy.shipping
    assert shipping_policy is not None  # validated on load
    if in_warranty:
        terms = ShippingTerms(shipping_policy.in_warranty_shipping, "brand", quote_required=False)
        reasons = (
            Reason("nw.eligible_in_warranty", rule, params),
            Reason("nw.shipping_in_warranty", shipping_policy.rule),
        )
        flags: frozenset[str] = frozenset()
    else:
        terms = ShippingTerms(
            shipping_policy.out_of_warranty_shipping,
            shipping_policy.out_of_warranty_repair_fee,
            quote_required=shipping_policy.quote_required_out_of_warranty,
        )
        reasons = (
            Reason("nw.eligible_out_of_warranty", rule, params),
            Reason("nw.shipping_out_of_warranty", shipping_policy.rule),
        )
        flags = frozenset({"out_of_warranty"})
    return EligibilityDecision(
        Programme.NATIONAL_WARRANTY,
        True,
        policy.id,
        (*reasons, _policy_reason(policy, at)),
        in_warranty=in_warranty,
        warranty_until=last_day,
        shipping=terms,
        flags=flags,
    )


def assess_one_click_help(
    book: PolicyBook, item: OrderItem, at: datetime, service_tag: str | None = None
) -> EligibilityDecision:
    """OH-1 (service on category) and OH-2 (covered city) for a request made at ``at``.

    With no ``service_tag`` given, the first of the item's services that qualifies is used.
    """
    policy = book.in_force(Programme.ONE_CLICK_HELP, at)
    decision = _one_click_help(book, item, at, service_tag)
    return _with_snapshot(decision, item, policy.eligibility.rule)


def _one_click_help(
    book: PolicyBook, item: OrderItem, at: datetime, service_tag: str | None
) -> EligibilityDecision:
    policy = book.in_force(Programme.ONE_CLICK_HELP, at)
    catalog = book.catalog
    product = item.product
    rule = policy.eligibility.rule
    ancestry = catalog.ancestry(product.category_id)
    category_name = catalog.category(product.category_id).name
    candidates = [service_tag] if service_tag else sorted(product.service_tags)
    chosen: tuple[str, str] | None = None
    refusal: Reason | None = None
    for tag in candidates:
        tag_name = catalog.tag(tag).name
        if tag not in product.service_tags:
            refusal = Reason(
                "oh.service_not_on_item",
                rule,
                {"product": product.name, "service": Bilingual(tag_name.zh, tag_name.en)},
            )
            continue
        rules_for_tag = [s for s in policy.eligibility.services if s.tag == tag]
        covered = [c for s in rules_for_tag for c in s.categories]
        hit = next((c for c in ancestry if c in covered), None)
        if hit is not None:
            chosen = (tag, hit)
            break
        names = [catalog.category(c).name for c in covered]
        refusal = Reason(
            "oh.category_not_covered",
            rule,
            {
                "service": Bilingual(tag_name.zh, tag_name.en),
                "category": Bilingual(category_name.zh, category_name.en),
                "covered_categories": Bilingual(
                    "、".join(n.zh for n in names) or "无", ", ".join(n.en for n in names) or "none"
                ),
            },
        )
    if chosen is None:
        if refusal is None or not service_tag:
            refusal = Reason("oh.no_qualifying_service", rule, {"product": product.name})
        return EligibilityDecision(Programme.ONE_CLICK_HELP, False, policy.id, (refusal,))
    tag, covered_category = chosen
    tag_name = catalog.tag(tag).name
    covered_name = catalog.category(covered_category).name
    service_reason = Reason(
        "oh.service_eligible",
        rule,
        {
            "service": Bilingual(tag_name.zh, tag_name.en),
            "category": Bilingual(category_name.zh, category_name.en),
            "covered_category": Bilingual(covered_name.zh, covered_name.en),
        },
    )
    standard = book.service_standards.for_tag(tag)
    city_rule = policy.eligibility.covered_cities_rule or "OH-2"
    city_list = policy.eligibility.covered_cities
    assert city_list is not None  # validated on load
    city = item.address.city if item.address else None
    if not city:
        return EligibilityDecision(
            Programme.ONE_CLICK_HELP,
            False,
            policy.id,
            (service_reason, Reason("oh.address_unresolved", city_rule)),
            service_tag=tag,
        )
    if not book.city_covered(city_list, city, at):
        return EligibilityDecision(
            Programme.ONE_CLICK_HELP,
            False,
            policy.id,
            (service_reason, Reason("oh.city_not_covered", city_rule, {"city": city})),
            service_tag=tag,
        )
    return EligibilityDecision(
        Programme.ONE_CLICK_HELP,
        True,
        policy.id,
        (
            service_reason,
            Reason("oh.city_covered", city_rule, {"city": city}),
            _policy_reason(policy, at),
        ),
        service_tag=tag,
        service_standard=standard.id if standard else None,
    )
