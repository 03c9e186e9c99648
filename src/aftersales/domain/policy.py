"""Policies as data: programme versions, service standards, the catalogue and city lists.

Every number the platform enforces (durations, windows, points, caps) lives in a
policy document, never in code. Documents are parsed from already-read TOML
tables (the adapters do the file reading) and validated here; any problem raises
:class:`~aftersales.domain.errors.PolicyError` naming the file, the field and
what is wrong.

Document kinds (the ``kind`` key of each file):

``programme``
    One version of a programme (national warranty or one-click help) with its
    effective dates, eligibility, SLA clocks and penalties. A case is judged under
    the version in force when it was initiated (OH-8).
``service_standards``
    The home-furnishing service standards SS-1..SS-5 whose penalties OH-6 uses.
``catalog``
    The category tree, service tags and badges (OH-1, NW-1).
``cities``
    Versioned lists of covered cities (OH-2).
``dispatch``
    How OH-3 dispatch weighs the qualified providers (:mod:`aftersales.domain.dispatch`);
    at most one; without it the defaults there apply.

Calendars live in their own document, handled by :mod:`aftersales.domain.calendars`.

**Size.** ~790 lines, one job: policy documents to validated values, every kind
with the same error shape (file, field, fix); each kind's model is short. It holds
the document kinds (programmes with their clocks, warning marks, appointment rules
and providers' shares, service standards, the catalogue, city lists, and the
dispatch policy whose model lives in ``domain/dispatch.py``); each parser would move to ``policy_<kind>.py``
beside a shared ``PolicyBook`` when one of them grows further.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from aftersales.domain.calendars import BusinessCalendar
from aftersales.domain.dispatch import DispatchPolicy
from aftersales.domain.durations import Duration
from aftersales.domain.errors import EligibilityError, PolicyError
from aftersales.domain.lifecycle import LIFECYCLES, Programme

RULE_ID = re.compile(r"^(NW|OH|SS|X)-\d+$")


def _rule_id(value: str) -> str:
    if not RULE_ID.match(value):
        raise ValueError(f"'{value}' is not a rule ID like 'OH-4' or 'NW-7' (see docs/rules.md)")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            "a date-time needs a UTC offset, e.g. 2022-01-10T00:00:00+08:00, "
            "so that it means one instant"
        )
    return value


class FieldProblem(ValueError):
    """A cross-field check that knows which field is wrong (pydantic alone would say '')."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field


RuleId = Annotated[str, AfterValidator(_rule_id)]
AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-.]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(_Model):
    """A text in both languages the platform speaks (X-2)."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class PenaltyDefinition(_Model):
    """What a failure costs and who pays whom.

    kinds: ``fixed`` (a number of points, OH-5, SS-1), ``per_yuan`` (points per
    yuan of the item's paid price, capped; SS-4) and ``refund_plus_same`` (the
    overcharge refunded plus the same amount again; SS-2).
    """

    id: Slug
    rule: RuleId
    name: Text
    kind: Literal["fixed", "per_yuan", "refund_plus_same"]
    points: int | None = Field(default=None, ge=1)
    points_per_yuan: int | None = Field(default=None, ge=1)
    cap_points: int | None = Field(default=None, ge=1)
    trigger: Literal["automatic", "upheld_complaint"] = "automatic"
    payer: Literal["merchant", "provider"] = "merchant"
    gates_complaints: bool = False  # OH-7 / SS-5: once paid, no breach complaint for it
    requires_accepted: bool = False  # NW-7: only reports that were accepted
    source: Literal["public", "derived", "default"] = "public"

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> PenaltyDefinition:
        if self.kind == "fixed" and self.points is None:
            raise FieldProblem("points", "a 'fixed' penalty needs 'points'")
        if self.kind == "per_yuan" and self.points_per_yuan is None:
            raise ValueError(
                "a 'per_yuan' penalty needs 'points_per_yuan' (and usually 'cap_points')"
            )
        if self.kind != "fixed" and self.points is not None:
            raise ValueError(f"'points' only goes with kind 'fixed', not '{self.kind}'")
        return self


class ClockDefinition(_Model):
    """One SLA commitment: when it starts, what stops or pauses it, how long it runs.

    ``basis`` says whether ``duration`` counts wall-clock time or the open time of
    ``calendar`` (X-3). ``applies_within`` names a calendar: the clock applies only
    when its start instant falls in an open interval of that calendar (OH-4's
    09:00-18:00 initiation window). ``penalty`` names a penalty of the same
    programme; ``penalty_from = "service_standard"`` takes it from the item's
    service standard instead (OH-6).

    ``warn_before`` lists warning marks: a due-soon notice goes to the party
    responsible for the clock (``owner``) when that much of the clock's time is
    left (30 and 10 minutes before a 1-hour deadline, say). ``escalate_after``
    and ``escalate_to`` pass a warning nobody acknowledged on to the next level
    (merchant, then operations), one level per ``escalate_after``; a level that
    would fall at or after the deadline itself is left out (the breach notice
    takes over). See docs/notifications.md.
    """

    id: Slug
    rule: RuleId
    name: Text
    starts_on: str
    stops_on: tuple[str, ...] = Field(min_length=1)
    # ``after_duration``: due ``duration`` after the start; ``end_of_agreed_day``: due at
    # 23:59:59 (policy time zone) of the day agreed with the buyer (SS-2), no duration.
    due: Literal["after_duration", "end_of_agreed_day"] = "after_duration"
    duration: Duration | None = None
    # The clock runs only on cases whose service standard is (or includes) this one.
    service_standard: RuleId | None = None
    basis: Literal["wall", "business"] = "wall"
    calendar: str = "wall"
    applies_within: str | None = None
    applies_within_rule: RuleId | None = None
    pause_reasons: tuple[Slug, ...] = ()
    pause_rule: RuleId | None = None
    failure: Slug | None = None
    penalty: Slug | None = None
    penalty_from: Literal["service_standard"] | None = None
    owner: Literal["brand", "provider", "merchant"] = "provider"
    warn_before: tuple[Duration, ...] = ()
    escalate_after: Duration | None = None
    escalate_to: tuple[Literal["brand", "merchant", "operations"], ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> ClockDefinition:
        if self.due == "after_duration" and self.duration is None:
            raise FieldProblem("duration", 'give the clock\'s duration, e.g. duration = "24h"')
        if self.due == "end_of_agreed_day" and self.duration is not None:
            raise FieldProblem(
                "duration", "a clock due at the end of the agreed day takes no 'duration'"
            )
        if self.due == "end_of_agreed_day" and self.basis != "wall":
            raise FieldProblem("basis", "a clock due at the end of the agreed day is 'wall'")
        self._check_warnings()
        if self.penalty and self.penalty_from:
            raise FieldProblem("penalty_from", "give either 'penalty' or 'penalty_from', not both")
        if self.basis == "business" and self.calendar == "wall":
            raise FieldProblem(
                "calendar", "a 'business' clock needs a business calendar other than 'wall'"
            )
        if self.applies_within and not self.applies_within_rule:
            raise FieldProblem(
                "applies_within_rule",
                "'applies_within' needs 'applies_within_rule' (the rule it implements)",
            )
        if self.pause_reasons and not self.pause_rule:
            raise FieldProblem(
                "pause_rule", "'pause_reasons' needs 'pause_rule' (the rule that allows pauses)"
            )
        return self

    def _check_warnings(self) -> None:
        seen: set[timedelta] = set()
        for i, before in enumerate(self.warn_before):
            if self.duration is not None and before >= self.duration:
                raise FieldProblem(
                    f"warn_before[{i}]",
                    f"a warning {mark_name(before)} before the deadline must be shorter than the "
                    f"clock's own duration ({mark_name(self.duration)}); e.g. warn_before = "
                    '["30m", "10m"] on a 1-hour clock',
                )
            if before in seen:
                raise FieldProblem(
                    f"warn_before[{i}]", f"the warning mark {mark_name(before)} is given twice"
                )
            seen.add(before)
        if self.escalate_to and self.escalate_after is None:
            raise FieldProblem(
                "escalate_after",
                "'escalate_to' needs 'escalate_after' (how long a warning may go unacknowledged)",
            )
        if self.escalate_after is not None and not self.escalate_to:
            raise FieldProblem(
                "escalate_to",
                "'escalate_after' needs 'escalate_to', the levels in order, "
                'e.g. ["merchant", "operations"]',
            )
        if self.escalate_to and not self.warn_before:
            raise FieldProblem("escalate_to", "escalation passes warnings on: give 'warn_before'")
        if len(set(self.escalate_to)) != len(self.escalate_to):
            raise FieldProblem("escalate_to", "a level is named twice")

    @property
    def failure_id(self) -> str:
        """The failure a breach of this clock stands for (ledger key part, X-1)."""
        return self.failure or f"{self.id}_missed"


def mark_name(duration: timedelta) -> str:
    """A warning mark as the policies write it: '30m', '6h', '2d' (seconds when nothing rounder)."""
    seconds = int(duration.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class ServiceRule(_Model):
    """OH-1: a service tag that qualifies on these categories (and their descendants)."""

    tag: Slug
    categories: tuple[Slug, ...] = Field(min_length=1)


class Eligibility(_Model):
    rule: RuleId
    badge: Slug | None = None  # NW-1
    services: tuple[ServiceRule, ...] = ()  # OH-1
    covered_cities: Slug | None = None  # OH-2
    covered_cities_rule: RuleId | None = None


class Shipping(_Model):
    """NW-6: who bears shipping and repair fees, in and out of warranty."""

    rule: RuleId
    in_warranty_shipping: Literal["brand", "consumer"] = "brand"
    out_of_warranty_shipping: Literal["brand", "consumer"] = "consumer"
    out_of_warranty_repair_fee: Literal["brand", "consumer"] = "consumer"
    quote_required_out_of_warranty: bool = True


class AppointmentRules(_Model):
    """SS-2: bookable visit windows and the buyer's reschedules, as policy data.

    ``horizon``: how far ahead slots are offered (from the case's now); ``lead``: how
    soon a slot may start at the earliest; ``max_reschedules``: how many times the
    buyer may move a booked visit; ``reschedule_until``: how long before the booked
    window starts a reschedule is still taken; ``clock``: the clock the agreed day
    becomes; ``pause_reason``: the exemption a buyer's reschedule is recorded under.
    """

    rule: RuleId
    horizon: Duration
    lead: Duration
    max_reschedules: int = Field(ge=0, le=100)
    reschedule_until: Duration
    clock: Slug
    pause_reason: Slug


class ProviderShare(_Model):
    """Issue 15: how much of a penalty a provider owes the merchant when it held the
    breached clock, in per cent of the penalty (the buyer is still paid by the merchant).

    ``percent`` applies to every penalty of the programme; ``by_rule`` overrides it for a
    penalty citing that rule, e.g. a service standard's (``"SS-2" = 50``). 100 unless
    policy says less.
    """

    percent: int = Field(default=100, ge=0, le=100)
    by_rule: dict[RuleId, Annotated[int, Field(ge=0, le=100)]] = Field(default_factory=dict)

    def percent_for(self, rule: str) -> int:
        return self.by_rule.get(rule, self.percent)


class ProgrammePolicy(_Model):
    """One version of a programme, in force from ``effective_from`` until ``effective_until``."""

    kind: Literal["programme"]
    id: Slug
    programme: Programme
    version: str
    name: Text
    summary: Text
    effective_from: AwareDatetime
    effective_until: AwareDatetime | None = None
    timezone: str = "Asia/Shanghai"
    source: str = ""
    eligibility: Eligibility
    shipping: Shipping | None = None
    clocks: tuple[ClockDefinition, ...] = Field(min_length=1)
    penalties: tuple[PenaltyDefinition, ...] = ()
    appointments: AppointmentRules | None = None
    provider_share: ProviderShare = Field(default_factory=ProviderShare)

    @model_validator(mode="after")
    def _internally_consistent(self) -> ProgrammePolicy:
        if self.effective_until is not None and self.effective_until <= self.effective_from:
            raise FieldProblem("effective_until", "must come after 'effective_from'")
        events = LIFECYCLES[self.programme].events
        penalty_ids = {p.id for p in self.penalties}
        seen: set[str] = set()
        for i, clock in enumerate(self.clocks):
            if clock.id in seen:
                raise FieldProblem(f"clocks[{i}].id", f"clock id '{clock.id}' is used twice")
            seen.add(clock.id)
            for field, event in (
                ("starts_on", clock.starts_on),
                *(("stops_on", e) for e in clock.stops_on),
            ):
                if event not in events:
                    raise FieldProblem(
                        f"clocks[{i}].{field}",
                        f"clock '{clock.id}' names event '{event}', which a {self.programme} case "
                        f"never emits; known events: {', '.join(sorted(events))}",
                    )
            if clock.penalty and clock.penalty not in penalty_ids:
                raise FieldProblem(
                    f"clocks[{i}].penalty",
                    f"clock '{clock.id}' names penalty '{clock.penalty}', which is not defined "
                    f"under [[penalties]] (defined: {', '.join(sorted(penalty_ids)) or 'none'})",
                )
        if self.appointments is not None:
            booked = self._clocks_named(self.appointments.clock)
            if booked is None or booked.due != "end_of_agreed_day":
                raise FieldProblem(
                    "appointments.clock",
                    f"'{self.appointments.clock}' must name a clock of this policy with "
                    'due = "end_of_agreed_day"',
                )
            if self.appointments.pause_reason not in booked.pause_reasons:
                raise FieldProblem(
                    "appointments.pause_reason",
                    f"clock '{booked.id}' does not accept the pause reason "
                    f"'{self.appointments.pause_reason}'; add it to its pause_reasons",
                )
        if self.programme is Programme.NATIONAL_WARRANTY:
            if not self.eligibility.badge:
                raise FieldProblem(
                    "eligibility.badge", "a national-warranty policy needs a badge (NW-1)"
                )
            if self.shipping is None:
                raise FieldProblem(
                    "shipping", "a national-warranty policy needs a [shipping] table (NW-6)"
                )
        if self.programme is Programme.ONE_CLICK_HELP:
            if not self.eligibility.services:
                raise FieldProblem(
                    "eligibility.services",
                    "a one-click-help policy needs [[eligibility.services]] (OH-1)",
                )
            if not self.eligibility.covered_cities:
                raise FieldProblem(
                    "eligibility.covered_cities",
                    "a one-click-help policy needs covered_cities (OH-2)",
                )
        return self

    # Looked up for every clock of every case the deadline engine settles: by dictionary,
    # built on first use (the model is frozen, so it never goes stale).
    @cached_property
    def _clocks_by_id(self) -> dict[str, ClockDefinition]:
        return {clock.id: clock for clock in self.clocks}

    @cached_property
    def _penalties_by_id(self) -> dict[str, PenaltyDefinition]:
        return {penalty.id: penalty for penalty in self.penalties}

    def _clocks_named(self, clock_id: str) -> ClockDefinition | None:
        return next((c for c in self.clocks if c.id == clock_id), None)

    def clock(self, clock_id: str) -> ClockDefinition:
        return self._clocks_by_id[clock_id]  # KeyError for an unknown clock, as before

    def penalty(self, penalty_id: str) -> PenaltyDefinition:
        return self._penalties_by_id[penalty_id]

    def in_force_at(self, at: datetime) -> bool:
        return self.effective_from <= at and (
            self.effective_until is None or at < self.effective_until
        )


class ServiceStandard(_Model):
    """A service standard (SS-1..SS-4): the failures it recognises and what each costs."""

    id: RuleId
    service_tag: Slug
    name: Text
    failures: tuple[PenaltyDefinition, ...] = ()
    includes: tuple[RuleId, ...] = ()  # SS-3 = SS-1 + SS-2
    exemptions: tuple[Slug, ...] = ()  # SS-2: reasons that pause the clock


class ServiceStandardsDocument(_Model):
    kind: Literal["service_standards"]
    id: Slug
    effective_from: AwareDatetime
    standards: tuple[ServiceStandard, ...] = Field(min_length=1)
    exemption_names: Mapping[str, Text] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _includes_exist(self) -> ServiceStandardsDocument:
        ids = {s.id for s in self.standards}
        for standard in self.standards:
            for included in standard.includes:
                if included not in ids:
                    raise ValueError(
                        f"standard {standard.id} includes {included}, which is not defined"
                    )
            for exemption in standard.exemptions:
                if exemption not in self.exemption_names:
                    raise ValueError(
                        f"standard {standard.id} names exemption '{exemption}' with no entry "
                        "under [exemption_names]"
                    )
        return self

    def for_tag(self, service_tag: str) -> ServiceStandard | None:
        for standard in self.standards:
            if standard.service_tag == service_tag:
                return standard
        return None

    def by_id(self, standard_id: str) -> ServiceStandard:
        for standard in self.standards:
            if standard.id == standard_id:
                return standard
        raise KeyError(standard_id)

    def failures_of(self, standard: ServiceStandard) -> tuple[PenaltyDefinition, ...]:
        """The failures of a standard including those of the standards it includes (SS-3)."""
        found: list[PenaltyDefinition] = []
        for included in standard.includes:
            found.extend(self.failures_of(self.by_id(included)))
        found.extend(standard.failures)
        return tuple(found)


class Category(_Model):
    id: Slug
    parent: Slug | None = None
    name: Text


class ServiceTag(_Model):
    id: Slug
    name: Text


class CatalogDocument(_Model):
    """The category tree (OH-1: a rule on a category covers its descendants), tags, badges."""

    kind: Literal["catalog"]
    categories: tuple[Category, ...] = Field(min_length=1)
    service_tags: tuple[ServiceTag, ...] = ()
    badges: tuple[ServiceTag, ...] = ()

    @model_validator(mode="after")
    def _tree(self) -> CatalogDocument:
        ids = [c.id for c in self.categories]
        duplicated = {i for i in ids if ids.count(i) > 1}
        if duplicated:
            raise FieldProblem(
                "categories", f"category ids used twice: {', '.join(sorted(duplicated))}"
            )
        parents = {c.id: c.parent for c in self.categories}
        for i, category in enumerate(self.categories):
            if category.parent is not None and category.parent not in parents:
                raise FieldProblem(
                    f"categories[{i}].parent",
                    f"category '{category.id}' has unknown parent '{category.parent}'",
                )
            seen = {category.id}
            node = category.parent
            while node is not None:
                if node in seen:
                    raise FieldProblem(
                        f"categories[{i}].parent",
                        f"category '{category.id}' is part of a parent cycle",
                    )
                seen.add(node)
                node = parents[node]
        return self

    def ancestry(self, category_id: str) -> tuple[str, ...]:
        """The category and all its ancestors, nearest first."""
        parents = {c.id: c.parent for c in self.categories}
        if category_id not in parents:
            raise EligibilityError(f"unknown category '{category_id}'")
        chain: list[str] = []
        node: str | None = category_id
        while node is not None:
            chain.append(node)
            node = parents[node]
        return tuple(chain)

    def category(self, category_id: str) -> Category:
        for category in self.categories:
            if category.id == category_id:
                return category
        raise EligibilityError(f"unknown category '{category_id}'")

    def tag(self, tag_id: str) -> ServiceTag:
        for tag in (*self.service_tags, *self.badges):
            if tag.id == tag_id:
                return tag
        return ServiceTag(id=tag_id, name=Text(zh=tag_id, en=tag_id))


class CityListVersion(_Model):
    effective_from: AwareDatetime
    cities: tuple[str, ...] = Field(min_length=1)


class CityList(_Model):
    id: Slug
    name: Text
    versions: tuple[CityListVersion, ...] = Field(min_length=1)

    def in_force(self, at: datetime) -> CityListVersion | None:
        current = None
        for version in sorted(self.versions, key=lambda v: v.effective_from):
            if version.effective_from <= at:
                current = version
        return current


class CitiesDocument(_Model):
    kind: Literal["cities"]
    lists: tuple[CityList, ...] = Field(min_length=1)


Document = (
    ProgrammePolicy | ServiceStandardsDocument | CatalogDocument | CitiesDocument | DispatchPolicy
)
_KINDS: Mapping[str, type[BaseModel]] = {
    "dispatch": DispatchPolicy,
    "programme": ProgrammePolicy,
    "service_standards": ServiceStandardsDocument,
    "catalog": CatalogDocument,
    "cities": CitiesDocument,
}


def _dotted(loc: Sequence[int | str]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts)


def parse_document(data: Mapping[str, Any], source: str) -> Document:
    """Validate one parsed policy file; raise PolicyError naming file, field and problem."""
    kind = data.get("kind")
    model = _KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise PolicyError(
            source,
            "kind",
            f"expected one of {', '.join(sorted(_KINDS))} (or a calendars file), got {kind!r}",
        )
    try:
        document = model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        message = str(first["msg"]).removeprefix("Value error, ")
        field = _dotted(first["loc"])
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, FieldProblem):
            field = ".".join(p for p in (field, cause.field) if p)
        raise PolicyError(source, field, message + more) from exc
    assert isinstance(
        document,
        ProgrammePolicy
        | ServiceStandardsDocument
        | CatalogDocument
        | CitiesDocument
        | DispatchPolicy,
    )
    return document


def normalise_city(name: str) -> str:
    """City names compare without their administrative suffix: 杭州市 == 杭州."""
    name = name.strip()
    for suffix in ("市", "地区"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


class PolicyBook:
    """Every policy document and calendar the platform runs on, checked against each other."""

    def __init__(
        self,
        documents: Iterable[tuple[str, Document]],
        calendars: Mapping[str, BusinessCalendar],
    ) -> None:
        self.calendars: Mapping[str, BusinessCalendar] = dict(calendars)
        self.programmes: list[ProgrammePolicy] = []
        self._by_id: dict[str, ProgrammePolicy] = {}
        self.sources: dict[str, str] = {}
        standards: list[tuple[str, ServiceStandardsDocument]] = []
        catalogs: list[tuple[str, CatalogDocument]] = []
        city_lists: dict[str, CityList] = {}
        dispatch: list[tuple[str, DispatchPolicy]] = []
        for source, document in documents:
            if isinstance(document, ProgrammePolicy):
                if document.id in self.sources:
                    raise PolicyError(
                        source,
                        "id",
                        f"policy id '{document.id}' is already used by {self.sources[document.id]}",
                    )
                self.sources[document.id] = source
                self.programmes.append(document)
            elif isinstance(document, ServiceStandardsDocument):
                standards.append((source, document))
            elif isinstance(document, CatalogDocument):
                catalogs.append((source, document))
            elif isinstance(document, DispatchPolicy):
                dispatch.append((source, document))
            else:
                for city_list in document.lists:
                    city_lists[city_list.id] = city_list
        if len(catalogs) != 1:
            raise PolicyError(
                "policies", "kind", f"expected exactly one catalog document, found {len(catalogs)}"
            )
        if len(standards) != 1:
            raise PolicyError(
                "policies",
                "kind",
                f"expected exactly one service_standards document, found {len(standards)}",
            )
        if len(dispatch) > 1:
            raise PolicyError(
                dispatch[1][0],
                "kind",
                f"expected at most one dispatch document, also found {dispatch[0][0]}",
            )
        self.dispatch: DispatchPolicy = dispatch[0][1] if dispatch else DispatchPolicy()
        self._dispatch_source = dispatch[0][0] if dispatch else "policies"
        self.catalog = catalogs[0][1]
        self.service_standards = standards[0][1]
        self.city_lists: Mapping[str, CityList] = city_lists
        self.programmes.sort(key=lambda p: (p.programme, p.effective_from))
        self._check_references(catalogs[0][0], standards[0][0])

    def _check_references(self, catalog_source: str, standards_source: str) -> None:
        category_ids = {c.id for c in self.catalog.categories}
        tag_ids = {t.id for t in self.catalog.service_tags}
        for tag in self.dispatch.fulfilment:
            if tag not in tag_ids:
                raise PolicyError(
                    self._dispatch_source,
                    f"fulfilment.{tag}",
                    f"'{tag}' is not a service tag of the catalog ({catalog_source})",
                )
        badge_ids = {b.id for b in self.catalog.badges}
        for standard in self.service_standards.standards:
            if standard.service_tag not in tag_ids:
                raise PolicyError(
                    standards_source,
                    f"standards.{standard.id}.service_tag",
                    f"'{standard.service_tag}' is not a service tag of the catalog ({catalog_source})",
                )
        for policy in self.programmes:
            source = self.sources[policy.id]
            for i, clock in enumerate(policy.clocks):
                for field, name in (
                    ("calendar", clock.calendar),
                    ("applies_within", clock.applies_within),
                ):
                    if name is not None and name not in self.calendars:
                        raise PolicyError(
                            source,
                            f"clocks[{i}].{field}",
                            f"calendar '{name}' is not defined (known: {', '.join(sorted(self.calendars))})",
                        )
            eligibility = policy.eligibility
            if eligibility.badge and eligibility.badge not in badge_ids:
                raise PolicyError(
                    source, "eligibility.badge", f"'{eligibility.badge}' is not a catalog badge"
                )
            for i, service in enumerate(eligibility.services):
                if service.tag not in tag_ids:
                    raise PolicyError(
                        source,
                        f"eligibility.services[{i}].tag",
                        f"'{service.tag}' is not a catalog service tag",
                    )
                for category in service.categories:
                    if category not in category_ids:
                        raise PolicyError(
                            source,
                            f"eligibility.services[{i}].categories",
                            f"'{category}' is not a catalog category",
                        )
            if eligibility.covered_cities and eligibility.covered_cities not in self.city_lists:
                raise PolicyError(
                    source,
                    "eligibility.covered_cities",
                    f"city list '{eligibility.covered_cities}' is not defined in any cities document",
                )
        # OH-8: versions of one programme must not overlap, so exactly one is in force at a time.
        by_programme: dict[Programme, list[ProgrammePolicy]] = {}
        for policy in self.programmes:
            by_programme.setdefault(policy.programme, []).append(policy)
        for versions in by_programme.values():
            for earlier, later in itertools.pairwise(versions):
                if (
                    earlier.effective_until is None
                    or earlier.effective_until > later.effective_from
                ):
                    raise PolicyError(
                        self.sources[later.id],
                        "effective_from",
                        f"overlaps '{earlier.id}' ({self.sources[earlier.id]}); end the earlier version "
                        f"with effective_until no later than {later.effective_from.isoformat()}",
                    )

    def in_force(self, programme: Programme, at: datetime) -> ProgrammePolicy:
        """The version of ``programme`` in force at ``at`` (OH-8)."""
        for policy in self.programmes:
            if policy.programme is programme and policy.in_force_at(at):
                return policy
        raise EligibilityError(f"no {programme} policy is in force at {at.isoformat()}")

    def by_id(self, policy_id: str) -> ProgrammePolicy:
        # A dictionary lookup (every case settled asks); rebuilt should the list have grown.
        if len(self._by_id) != len(self.programmes):
            self._by_id = {policy.id: policy for policy in self.programmes}
        return self._by_id[policy_id]

    def versions(self, programme: Programme) -> list[ProgrammePolicy]:
        return [p for p in self.programmes if p.programme is programme]

    def calendar(self, name: str) -> BusinessCalendar:
        return self.calendars[name]

    def city_covered(self, list_id: str, city: str, at: datetime) -> bool:
        version = self.city_lists[list_id].in_force(at)
        if version is None:
            return False
        wanted = normalise_city(city)
        return any(normalise_city(c) == wanted for c in version.cities)
