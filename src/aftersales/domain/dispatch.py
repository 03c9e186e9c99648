"""OH-3 dispatch as a decision: hard constraints first, then a weighted score, with reasons.

The adapter reads every provider whose coverage matches the item (area, category
or an ancestor, service tag) in one query, each with what the decision needs: how
it fulfils, whether its calendar is closed that day, its capacity and what it was
given that day, its on-time record. :func:`decide` then

1. drops those that fail a hard constraint, in this order: **fulfilment** (the
   service is fulfilled in a way the policy accepts for the tag), **calendar** (no
   closure or leave covers the day), **capacity** (something left of the day's
   capacity, overall and in the capacity area the address lies in);
2. scores the rest with the weights of the dispatch policy (``kind = "dispatch"``):
   nearest category, most specific area, load, on-time record, where the shop
   names providers it prefers, being one of them, and, where some provider's base
   is known, how near its base is to the address (the centres of the two areas);
3. breaks ties deterministically: better fulfilment, the sandbox's own provider
   over a live one, then the lowest id (by code point).

Nobody left means the merchant gets the case (OH-3), and the reason names the
constraint that removed the last candidates. Everything is explained in zh and en
citing OH-3: the choice with its score, the runner-up and what it lost on, and
every provider skipped with why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aftersales.domain.explain import Bilingual, Reason

Fulfil = Literal["on_site", "in_store", "mail_in"]
FULFIL_ORDER: tuple[Fulfil, ...] = ("on_site", "in_store", "mail_in")
FULFIL_RANK: Mapping[str, int] = {way: i for i, way in enumerate(FULFIL_ORDER)}
FULFIL_NAMES: Mapping[str, Bilingual] = {
    "on_site": Bilingual("上门", "on site"),
    "in_store": Bilingual("到店", "in store"),
    "mail_in": Bilingual("寄修", "mail-in"),
}
AREA_LEVELS = ("district", "city", "province")  # most specific first

# The reasons that weigh providers against each other (scores, the runner-up, who was
# skipped and why); who may read them: domain/access.may_see_dispatch_scores.
SCORING_REASONS = frozenset(
    {
        "dispatch.chosen",
        "dispatch.runner_up",
        "dispatch.no_runner_up",
        "dispatch.skipped_capacity",
        "dispatch.skipped_capacity_area",
        "dispatch.skipped_closed",
        "dispatch.skipped_fulfilment",
    }
)

# The hard constraints, in the order they are applied; "coverage" is what the query asks.
Constraint = Literal["coverage", "fulfilment", "calendar", "capacity"]
CONSTRAINTS: tuple[Constraint, ...] = ("coverage", "fulfilment", "calendar", "capacity")
CONSTRAINT_NAMES: Mapping[str, Bilingual] = {
    "coverage": Bilingual(
        "没有服务方覆盖该地址所在区县/城市/省份的此品类和服务",
        "no provider covers this category and service in the address's district, city or province",
    ),
    "fulfilment": Bilingual(
        "覆盖该地址的服务方都不以此服务接受的方式履约",
        "the providers covering the address do not fulfil this service in an accepted way",
    ),
    "calendar": Bilingual(
        "覆盖该地址的服务方当天都在休息或停业",
        "every provider covering the address is closed or on leave that day",
    ),
    "capacity": Bilingual(
        "覆盖该地址的服务方当天的接单容量都已用完",
        "every provider covering the address has used up that day's capacity",
    ),
}


class Weights(BaseModel):
    """How much each goal counts; every part scores between 0 and 1 before weighting."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    category: float = Field(default=4.0, ge=0)  # registered on the item's own category
    area: float = Field(default=2.0, ge=0)  # covers the district rather than the city
    load: float = Field(default=1.0, ge=0)  # little of the day's capacity used
    on_time: float = Field(default=1.0, ge=0)  # clocks met rather than breached
    preferred: float = Field(default=1.5, ge=0)  # the shop lists it among its preferred
    distance: float = Field(default=1.0, ge=0)  # its base is near the address


class DispatchPolicy(BaseModel):
    """The dispatch policy document (``kind = "dispatch"``): weights and accepted fulfilment."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["dispatch"] = "dispatch"
    id: str = Field(default="dispatch", min_length=1)
    rule: Literal["OH-3"] = "OH-3"
    weights: Weights = Weights()
    # Service tag -> the ways of fulfilling it the platform accepts, best first; a tag
    # not listed accepts every way, on site first.
    fulfilment: Mapping[str, tuple[Fulfil, ...]] = Field(default_factory=dict)
    # A provider with no capacity stated counts as loaded by this many cases a day.
    load_reference: int = Field(default=20, ge=1)
    # The on-time record: clocks judged over this many days; none judged scores this.
    record_days: int = Field(default=90, ge=1)
    unknown_on_time: float = Field(default=0.9, ge=0, le=1)
    # Distance from a provider's base to the address: this far or farther scores nothing;
    # a provider whose base is not known scores this share (when some other's is known).
    distance_reference_km: float = Field(default=50.0, gt=0)
    unknown_distance: float = Field(default=0.5, ge=0, le=1)
    # OH-4 missed: hand the case to the next qualified provider (OH-3 again).
    replace_on_missed_plan: bool = False

    @model_validator(mode="after")
    def _fulfilment_lists(self) -> DispatchPolicy:
        for tag, ways in self.fulfilment.items():
            if not ways:
                raise ValueError(f"fulfilment.{tag}: list at least one way of fulfilling")
            if len(set(ways)) != len(ways):
                raise ValueError(f"fulfilment.{tag}: a way of fulfilling is listed twice")
        return self

    def accepted(self, service_tag: str) -> tuple[str, ...]:
        return tuple(self.fulfilment.get(service_tag, FULFIL_ORDER))


@dataclass(frozen=True)
class Closure:
    first_day: date
    last_day: date
    reason: str

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


def days_closed(closures: Iterable[Closure], first: date, last: date) -> frozenset[date]:
    """The days in ``[first, last]`` that any of ``closures`` covers (no slot is offered)."""
    days: set[date] = set()
    for closure in closures:
        day, end = max(closure.first_day, first), min(closure.last_day, last)
        while day <= end:
            days.add(day)
            day += timedelta(days=1)
    return frozenset(days)


@dataclass(frozen=True)
class Capacity:
    """What a provider can take in a day: overall (``area_code`` empty) or in one area.

    ``per_day`` None: no stated limit (what was dispatched still counts as load)."""

    per_day: int | None
    used: int
    area_code: str = ""


@dataclass(frozen=True)
class Candidate:
    """One coverage row matching the item, with the provider's facts for the day."""

    provider_id: str
    category_depth: int  # 0: the item's own category, 1: its parent, ...
    area_level: str  # district | city | province: how specific the covered area is
    fulfil: str
    own_world: bool = True  # the sandbox's own provider (or live dispatching live)
    closures: tuple[Closure, ...] = ()  # those overlapping the day
    capacities: tuple[Capacity, ...] = ()  # overall and for the areas holding the address
    met: int = 0  # clocks met over the record window
    breached: int = 0
    base_area: str | None = None  # the area the provider sets out from, if it says
    distance_km: float | None = None  # from the base's centre to the address's area's


@dataclass(frozen=True)
class Scored:
    provider_id: str
    score: float
    parts: Mapping[str, float]
    candidate: Candidate

    @property
    def key(self) -> tuple[float, int, int, str]:
        """Best first: highest score, then better fulfilment, own world, lowest id."""
        fulfil = FULFIL_RANK.get(self.candidate.fulfil, 9)
        return (-self.score, fulfil, 0 if self.candidate.own_world else 1, self.provider_id)


@dataclass(frozen=True)
class Skipped:
    provider_id: str
    constraint: Constraint
    reason: Reason


@dataclass(frozen=True)
class DispatchDecision:
    """The outcome: who gets the case (None: the merchant), the runner-up, and why."""

    chosen: Scored | None
    runner_up: Scored | None
    skipped: tuple[Skipped, ...]
    failing: Constraint | None  # set when nobody qualified
    reasons: tuple[Reason, ...] = field(default=())
    ranked: tuple[Scored, ...] = ()  # every qualified provider, best first

    def considered(self) -> set[str]:
        """Every provider the decision looked at, qualified or skipped."""
        return {s.provider_id for s in self.ranked} | {s.provider_id for s in self.skipped}

    @property
    def provider_id(self) -> str | None:
        return self.chosen.provider_id if self.chosen else None

    def capacity_used(self) -> tuple[str, ...]:
        """The capacity areas of the chosen provider a dispatch counts against ('' overall)."""
        if self.chosen is None:
            return ()
        return tuple(c.area_code for c in self.chosen.candidate.capacities)


def _best_rows(candidates: Iterable[Candidate], accepted: Sequence[str]) -> list[Candidate]:
    """One row per provider: nearest category, most specific area, best accepted fulfilment."""

    def rank(c: Candidate) -> tuple[int, int, int, int]:
        fulfil = accepted.index(c.fulfil) if c.fulfil in accepted else len(accepted)
        level = AREA_LEVELS.index(c.area_level) if c.area_level in AREA_LEVELS else 9
        return (0 if c.own_world else 1, fulfil, c.category_depth, level)

    best: dict[str, Candidate] = {}
    for c in candidates:
        held = best.get(c.provider_id)
        if held is None or rank(c) < rank(held):
            best[c.provider_id] = c
    return [best[p] for p in sorted(best)]


def _score(
    policy: DispatchPolicy, c: Candidate, preferred: frozenset[str], by_distance: bool
) -> Scored:
    w = policy.weights
    level = AREA_LEVELS.index(c.area_level) if c.area_level in AREA_LEVELS else 2
    overall = next((cap.used for cap in c.capacities if not cap.area_code), 0)
    load = max(
        (cap.used / cap.per_day for cap in c.capacities if cap.per_day),
        default=overall / policy.load_reference,
    )
    judged = c.met + c.breached
    parts = {
        "category": 1.0 / (1 + c.category_depth),
        "area": 1.0 - level / 2,
        "load": 1.0 - min(1.0, load),
        "on_time": c.met / judged if judged else policy.unknown_on_time,
    }
    if preferred:  # a part only where the shop names providers it prefers
        parts["preferred"] = 1.0 if c.provider_id in preferred else 0.0
    if by_distance:  # a part only where some qualified provider's base is known
        parts["distance"] = (
            policy.unknown_distance
            if c.distance_km is None
            else 1.0 - min(1.0, c.distance_km / policy.distance_reference_km)
        )
    score = round(
        w.category * parts["category"]
        + w.area * parts["area"]
        + w.load * parts["load"]
        + w.on_time * parts["on_time"]
        + w.preferred * parts.get("preferred", 0.0)
        + w.distance * parts.get("distance", 0.0),
        6,
    )
    return Scored(c.provider_id, score, parts, c)


def _percent(value: float) -> str:
    return f"{round(value * 100)}%"


def decide(
    policy: DispatchPolicy,
    candidates: Iterable[Candidate],
    *,
    service_tag: str,
    day: date | None,
    excluded: Iterable[str] = (),
    preferred: Iterable[str] = (),
) -> DispatchDecision:
    """OH-3: choose among ``candidates`` for an item needing ``service_tag`` on ``day``.

    ``excluded``: providers that must not get the case again (one that declined it,
    or missed its plan); they are left out. ``day`` None: no calendar is consulted.
    ``preferred``: the candidates' ids the item's shop prefers (scored, never required).
    """
    preferred = frozenset(preferred)
    out = set(excluded)
    accepted = policy.accepted(service_tag)
    rows = [c for c in _best_rows(candidates, accepted) if c.provider_id not in out]
    skipped: list[Skipped] = []
    reached: Constraint = "coverage" if not rows else "fulfilment"
    qualified: list[Candidate] = []
    for c in rows:
        if c.fulfil not in accepted:
            skipped.append(
                Skipped(
                    c.provider_id,
                    "fulfilment",
                    Reason(
                        "dispatch.skipped_fulfilment",
                        "OH-3",
                        {"provider": c.provider_id, "fulfil": FULFIL_NAMES[c.fulfil]},
                    ),
                )
            )
            continue
        reached = max(reached, "calendar", key=CONSTRAINTS.index)
        closure = next((x for x in c.closures if day is not None and x.covers(day)), None)
        if closure is not None:
            skipped.append(
                Skipped(
                    c.provider_id,
                    "calendar",
                    Reason(
                        "dispatch.skipped_closed",
                        "OH-3",
                        {
                            "provider": c.provider_id,
                            "first": closure.first_day.isoformat(),
                            "last": closure.last_day.isoformat(),
                            "why": closure.reason,
                        },
                    ),
                )
            )
            continue
        reached = max(reached, "capacity", key=CONSTRAINTS.index)
        full = next(
            (x for x in c.capacities if x.per_day is not None and x.used >= x.per_day), None
        )
        if full is not None:
            skipped.append(
                Skipped(
                    c.provider_id,
                    "capacity",
                    Reason(
                        "dispatch.skipped_capacity" + ("_area" if full.area_code else ""),
                        "OH-3",
                        {
                            "provider": c.provider_id,
                            "used": str(full.used),
                            "capacity": str(full.per_day),
                            "area": full.area_code,
                            "day": day.isoformat() if day else "",
                        },
                    ),
                )
            )
            continue
        qualified.append(c)
    by_distance = any(c.distance_km is not None for c in qualified)
    ranked = sorted(
        (_score(policy, c, preferred, by_distance) for c in qualified), key=lambda s: s.key
    )
    chosen = ranked[0] if ranked else None
    runner_up = ranked[1] if len(ranked) > 1 else None
    reasons: list[Reason] = []
    if chosen is None:
        failing: Constraint | None = reached
        reasons.append(
            Reason(
                "dispatch.nobody_qualified",
                "OH-3",
                {"constraint": CONSTRAINT_NAMES[reached], "candidates": str(len(rows))},
            )
        )
    else:
        failing = None
        reasons.append(
            Reason(
                "dispatch.chosen",
                "OH-3",
                {
                    "provider": chosen.provider_id,
                    "score": f"{chosen.score:.2f}",
                    "qualified": str(len(ranked)),
                    "parts": _parts_text(chosen),
                },
            )
        )
        if runner_up is None:
            reasons.append(Reason("dispatch.no_runner_up", "OH-3", {}))
        else:
            reasons.append(
                Reason(
                    "dispatch.runner_up",
                    "OH-3",
                    {
                        "provider": runner_up.provider_id,
                        "score": f"{runner_up.score:.2f}",
                        "lost_on": _lost_on(policy, chosen, runner_up),
                    },
                )
            )
    reasons.extend(s.reason for s in skipped)
    return DispatchDecision(
        chosen, runner_up, tuple(skipped), failing, tuple(reasons), tuple(ranked)
    )


_PART_NAMES: Mapping[str, Bilingual] = {
    "category": Bilingual("品类匹配", "category match"),
    "area": Bilingual("区域精确度", "area precision"),
    "load": Bilingual("当日余量", "capacity left today"),
    "on_time": Bilingual("按时记录", "on-time record"),
    "preferred": Bilingual("商家首选", "the shop's preferred provider"),
    "distance": Bilingual("距离", "distance"),
}


def _part_text(s: Scored, part: str, value: float) -> Bilingual:
    name, share = _PART_NAMES[part], _percent(value)
    if part != "distance":
        return Bilingual(f"{name.zh} {share}", f"{name.en} {share}")
    km = s.candidate.distance_km
    if km is None:
        return Bilingual(f"距离未知 {share}", f"distance unknown {share}")
    return Bilingual(f"距离约 {km:.0f} 公里 {share}", f"distance about {km:.0f} km {share}")


def _parts_text(s: Scored) -> Bilingual:
    texts = [_part_text(s, k, v) for k, v in s.parts.items()]
    return Bilingual("，".join(t.zh for t in texts), ", ".join(t.en for t in texts))


def _lost_on(policy: DispatchPolicy, chosen: Scored, runner: Scored) -> Bilingual:
    """The goal where the runner-up fell furthest behind, weighted; or the tie-break."""
    weights = policy.weights.model_dump()
    gaps = {k: weights[k] * (chosen.parts[k] - runner.parts[k]) for k in chosen.parts}
    part, gap = max(gaps.items(), key=lambda kv: (kv[1], kv[0]))
    if chosen.score == runner.score or gap <= 0:
        return Bilingual(
            "得分相同，按履约方式、所属环境和编号依次决定",
            "an equal score, settled by way of fulfilling, world and id in that order",
        )
    name = _PART_NAMES[part]
    return Bilingual(
        f"{name.zh}（{_percent(runner.parts[part])}，对方 {_percent(chosen.parts[part])}）",
        f"{name.en} ({_percent(runner.parts[part])} against {_percent(chosen.parts[part])})",
    )
