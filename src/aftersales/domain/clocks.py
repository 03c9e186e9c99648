"""SLA clocks: one commitment of one case, and its state machine.

::

    pending ─start─► running ─stop (at ≤ due)──► met
       │               │  ▲ ─stop (at > due)──► breached (done late)
       │               │  │ ─breach (at > due)─► breached
       │            pause resume
       │               ▼  │
       │              paused ─stop─► met
       └─start outside the applicability window─► not_applicable      (OH-4)
    running / paused ─case ends─► cancelled

"Within" is inclusive: a stop exactly at the due instant meets the commitment,
and a clock breaches only once time is strictly past its due instant. Pauses are
subtracted in the clock's own time (X-3): a business-time clock keeps the
business time that was left and re-adds it on its calendar at resume, never
wall-clock seconds.

Warning marks (``warn_before`` in the policy) are armed when a clock starts or
resumes, each at the instant when that much of the clock's own time is left,
and escalation levels after them; the case fires them as it settles
(:meth:`Clock.fire_warnings`). Stopping, pausing, breaching or ending a clock
disarms the marks that have not fired; a mark fires once (``warned``).

Each clock keeps who held the case while it ran (``holders``, issue 15): one
:class:`Holding` per period, the party kind (merchant, provider, brand, or the
buyer while the clock is paused for an exemption on their side) and the party's
id, from/to. The case opens and closes the periods: a start or resume opens one
for whoever holds the case, a hand-over closes it and opens the next, a pause
hands the clock to the buyer, and a stop, breach or cancel closes the last one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from aftersales.domain.calendars import BusinessCalendar
from aftersales.domain.errors import IllegalTransition
from aftersales.domain.explain import Bilingual, Reason, duration_text, local_time
from aftersales.domain.policy import ClockDefinition, mark_name


class ClockStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    NOT_APPLICABLE = "not_applicable"
    CANCELLED = "cancelled"


STATUS_NAMES: dict[ClockStatus, Bilingual] = {
    ClockStatus.PENDING: Bilingual("未开始", "Not started"),
    ClockStatus.RUNNING: Bilingual("计时中", "Running"),
    ClockStatus.PAUSED: Bilingual("已暂停", "Paused"),
    ClockStatus.MET: Bilingual("已履行", "Met"),
    ClockStatus.BREACHED: Bilingual("已违约", "Breached"),
    ClockStatus.NOT_APPLICABLE: Bilingual("不适用", "Not applicable"),
    ClockStatus.CANCELLED: Bilingual("已终止", "Cancelled"),
}


@dataclass(frozen=True)
class ClockEnv:
    """What a clock needs to move: its definition, calendars and the policy's time zone."""

    definition: ClockDefinition
    calendar: BusinessCalendar
    window: BusinessCalendar | None
    timezone: str
    # The visit day agreed with the buyer: a clock due at its end (SS-2) needs it.
    agreed_day: date | None = None

    def name(self) -> Bilingual:
        return Bilingual(self.definition.name.zh, self.definition.name.en)

    def basis(self) -> Bilingual:
        if self.definition.basis == "wall":
            return Bilingual("自然时间", "wall-clock time")
        return Bilingual(
            f"按「{self.calendar.name}」日历的营业时间",
            f"business hours of the '{self.calendar.name}' calendar",
        )

    def when(self, at: datetime) -> str:
        return local_time(at, self.timezone)


def window_text(window: BusinessCalendar, at: datetime, timezone: str) -> Bilingual:
    """The open hours of ``window`` on the local day of ``at``, e.g. '09:00–18:00'."""
    zone = ZoneInfo(timezone)
    local = at.astimezone(zone)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    day_end = day_start + timedelta(days=1)
    spans = [
        f"{s.astimezone(zone):%H:%M}–{'24:00' if e.astimezone(zone) >= day_end else format(e.astimezone(zone), '%H:%M')}"
        for s, e in window.open_intervals(day_start, day_end)
    ]
    if not spans:
        return Bilingual("当日不开放的时段", "a window that is closed that day")
    joined = "、".join(spans)
    return Bilingual(f"当日 {joined}（当地时间）", f"{', '.join(spans)} local time")


def end_of_day(day: date, timezone: str) -> datetime:
    """23:59:59 of ``day`` in ``timezone``: "finished by the end of the agreed day" (SS-2)."""
    return datetime.combine(day, time(23, 59, 59), ZoneInfo(timezone))


def agreed_due(env: ClockEnv) -> datetime:
    if env.agreed_day is None:
        raise IllegalTransition(
            f"clock '{env.definition.id}'", "start", "pending", "no visit day is agreed yet"
        )
    return end_of_day(env.agreed_day, env.timezone)


HOLDER_KINDS = ("merchant", "provider", "brand", "buyer")


@dataclass(frozen=True)
class Holding:
    """One period in which ``party`` (of ``kind``) held a running or paused clock.

    ``until`` is None while the period is open; ``why`` is what opened it (the clock
    starting, a dispatch or hand-over, a pause's exemption, a resume).
    """

    kind: str
    party: str
    since: datetime
    until: datetime | None = None
    why: str = ""

    def covers(self, at: datetime) -> bool:
        """True when ``at`` falls in the period (its end inclusive: a clock breaches at
        its due instant, and whoever held it up to that instant held the breach)."""
        return self.since <= at and (self.until is None or at <= self.until)


@dataclass
class Clock:
    """The state of one SLA clock of one case."""

    clock_id: str
    status: ClockStatus = ClockStatus.PENDING
    started_at: datetime | None = None
    due_at: datetime | None = None
    paused_at: datetime | None = None
    pause_reason: str | None = None
    remaining: timedelta | None = None
    stopped_at: datetime | None = None
    breached_at: datetime | None = None
    reason: Reason | None = None
    # Warning marks armed (mark, instant it falls due), in due order, and the marks that
    # have fired. "30m" warns 30 minutes before the deadline; "30m>1" passes that warning
    # on to escalation level 1. Tuples, never changed in place: a copy is a snapshot.
    warnings: tuple[tuple[str, datetime], ...] = ()
    warned: tuple[str, ...] = ()
    # Who held the case while the clock ran, oldest first (issue 15). A tuple: a copy is
    # a snapshot, as for the marks.
    holders: tuple[Holding, ...] = ()

    def _refuse(self, attempted: str, why: str) -> IllegalTransition:
        return IllegalTransition(f"clock '{self.clock_id}'", attempted, self.status.value, why)

    def is_overdue(self, at: datetime) -> bool:
        """True when the clock is running and ``at`` is strictly past its due instant."""
        return self.status is ClockStatus.RUNNING and self.due_at is not None and at > self.due_at

    def start(self, env: ClockEnv, at: datetime) -> Reason:
        if self.status is not ClockStatus.PENDING:
            raise self._refuse("start", "a clock starts once")
        definition = env.definition
        self.started_at = at
        if env.window is not None and not env.window.is_open(at):
            self.status = ClockStatus.NOT_APPLICABLE
            self.reason = Reason(
                "clock.not_applicable_outside_window",
                definition.applies_within_rule or definition.rule,
                {
                    "start": env.when(at),
                    "window": window_text(env.window, at, env.timezone),
                    "clock": env.name(),
                },
            )
            return self.reason
        self.status = ClockStatus.RUNNING
        if definition.due == "end_of_agreed_day":
            self.due_at = agreed_due(env)
            self._arm(env, at, max(self.due_at - at, timedelta(0)))
            self.reason = Reason(
                "clock.started_agreed_day",
                definition.rule,
                {"clock": env.name(), "start": env.when(at), "due": env.when(self.due_at)},
            )
            return self.reason
        assert definition.duration is not None
        self.due_at = env.calendar.add(at, definition.duration)
        self._arm(env, at, definition.duration)
        self.reason = Reason(
            "clock.started",
            definition.rule,
            {
                "clock": env.name(),
                "start": env.when(at),
                "duration": duration_text(definition.duration),
                "basis": env.basis(),
                "due": env.when(self.due_at),
            },
        )
        return self.reason

    def breach(self, env: ClockEnv, at: datetime) -> Reason:
        if not self.is_overdue(at):
            due = env.when(self.due_at) if self.due_at else "-"
            raise self._refuse("breach", f"it is not past due at {env.when(at)} (due {due})")
        assert self.due_at is not None
        self.status = ClockStatus.BREACHED
        self.breached_at = self.due_at
        self.warnings = ()
        self.reason = Reason(
            "clock.breached",
            env.definition.rule,
            {"clock": env.name(), "due": env.when(self.due_at)},
        )
        return self.reason

    def stop(self, env: ClockEnv, at: datetime) -> Reason | None:
        """A stop event arrived. Returns the decision, or None where the clock has no stake."""
        rule = env.definition.rule
        self.warnings = ()
        if self.status is ClockStatus.PAUSED:
            # A paused clock cannot be late: its deadline is re-derived only on resume.
            self.status, self.stopped_at = ClockStatus.MET, at
            self.paused_at = None
            self.reason = Reason(
                "clock.met", rule, {"clock": env.name(), "at": env.when(at), "due": "-"}
            )
            return self.reason
        if self.status is ClockStatus.RUNNING:
            assert self.due_at is not None
            if at <= self.due_at:
                self.status, self.stopped_at = ClockStatus.MET, at
                self.reason = Reason(
                    "clock.met",
                    rule,
                    {"clock": env.name(), "at": env.when(at), "due": env.when(self.due_at)},
                )
                return self.reason
            self.breach(env, at)
        if self.status is ClockStatus.BREACHED and self.stopped_at is None:
            assert self.due_at is not None
            self.stopped_at = at
            return Reason(
                "clock.done_late",
                rule,
                {"clock": env.name(), "at": env.when(at), "due": env.when(self.due_at)},
            )
        return None

    def pause(self, env: ClockEnv, at: datetime, reason: str, reason_name: Bilingual) -> Reason:
        definition = env.definition
        if reason not in definition.pause_reasons:
            allowed = ", ".join(definition.pause_reasons) or "none"
            raise self._refuse(
                "pause", f"'{reason}' is not an exemption this clock accepts (allowed: {allowed})"
            )
        if self.status is not ClockStatus.RUNNING:
            raise self._refuse("pause", "only a running clock can be paused")
        assert self.due_at is not None
        if at > self.due_at:
            raise self._refuse("pause", f"its deadline {env.when(self.due_at)} has already passed")
        self.remaining = env.calendar.elapsed(at, self.due_at)
        self.warnings = ()
        self.status, self.paused_at, self.pause_reason, self.due_at = (
            ClockStatus.PAUSED,
            at,
            reason,
            None,
        )
        self.reason = Reason(
            "clock.paused",
            definition.pause_rule or definition.rule,
            {
                "clock": env.name(),
                "at": env.when(at),
                "reason": reason_name,
                "remaining": duration_text(self.remaining),
            },
        )
        return self.reason

    def resume(self, env: ClockEnv, at: datetime) -> Reason:
        if self.status is not ClockStatus.PAUSED:
            raise self._refuse("resume", "only a paused clock can be resumed")
        assert self.remaining is not None
        if env.definition.due == "end_of_agreed_day":
            # The commitment is the day agreed now (a buyer's reschedule moved it), not
            # the time that was left.
            self.due_at = agreed_due(env)
            self._arm(env, at, max(self.due_at - at, timedelta(0)))
        else:
            self.due_at = env.calendar.add(at, self.remaining)
            self._arm(env, at, self.remaining)
        self.status, self.paused_at, self.pause_reason, self.remaining = (
            ClockStatus.RUNNING,
            None,
            None,
            None,
        )
        definition = env.definition
        self.reason = Reason(
            "clock.resumed",
            definition.pause_rule or definition.rule,
            {"clock": env.name(), "at": env.when(at), "due": env.when(self.due_at)},
        )
        return self.reason

    def cancel(self, env: ClockEnv, at: datetime, state: Bilingual) -> Reason | None:
        if self.status not in (ClockStatus.RUNNING, ClockStatus.PAUSED):
            return None
        self.status, self.stopped_at, self.due_at = ClockStatus.CANCELLED, at, None
        self.warnings = ()
        self.reason = Reason(
            "clock.cancelled",
            env.definition.rule,
            {"clock": env.name(), "at": env.when(at), "state": state},
        )
        return self.reason

    # ----- holding periods

    def hold(self, kind: str, party: str, at: datetime, why: str) -> None:
        """``party`` holds the clock from ``at``: the open period ends there, a new one opens.

        Handing the clock to whoever already holds it changes nothing. A period opened at
        this same instant is taken over rather than kept with no length (a request opened
        and dispatched at once is the provider's from its start), except where the buyer
        is one of the two: a reschedule pauses and resumes at one instant, and is still
        recorded.
        """
        if kind not in HOLDER_KINDS:
            raise ValueError(f"unknown holder kind {kind!r}; known: {', '.join(HOLDER_KINDS)}")
        current = self.holders[-1] if self.holders else None
        if current is not None and current.until is None:
            if (current.kind, current.party) == (kind, party):
                return
            if current.since == at and "buyer" not in (current.kind, kind):
                self.holders = (*self.holders[:-1], replace(current, kind=kind, party=party))
                return
            self.holders = (*self.holders[:-1], replace(current, until=max(at, current.since)))
        self.holders = (*self.holders, Holding(kind, party, at, None, why))

    def release(self, at: datetime) -> None:
        """The clock stopped, breached or ended at ``at``: its open period closes there."""
        if self.holders and self.holders[-1].until is None:
            last = self.holders[-1]
            self.holders = (*self.holders[:-1], replace(last, until=max(at, last.since)))

    def holder_at(self, at: datetime) -> Holding | None:
        """Who held the clock at ``at`` (the later period where two meet at ``at``)."""
        for holding in reversed(self.holders):
            if holding.covers(at):
                return holding
        return None

    # ----- warning marks

    def _arm(self, env: ClockEnv, at: datetime, left: timedelta) -> None:
        """Arm the warnings that have not fired, with ``left`` of the clock's time at ``at``.

        A warning whose mark is not shorter than what is left is not armed (after a
        resume it fired already, or never could). Escalation levels follow their warning
        one ``escalate_after`` apart, on the wall clock, and stop before the deadline:
        from there on the breach notice speaks. Escalations of a warning that fired
        before a pause are not armed again: the pause itself was someone acting.
        """
        definition = env.definition
        assert self.due_at is not None
        armed: list[tuple[str, datetime]] = []
        for before in definition.warn_before:
            mark = mark_name(before)
            if mark in self.warned or before >= left:
                continue
            warn_at = env.calendar.add(at, left - before)
            armed.append((mark, warn_at))
            if definition.escalate_after is None:
                continue
            for level in range(1, len(definition.escalate_to) + 1):
                passed_on = warn_at + definition.escalate_after * level
                if passed_on >= self.due_at:
                    break
                armed.append((f"{mark}>{level}", passed_on))
        self.warnings = tuple(sorted(armed, key=lambda m: (m[1], m[0])))

    def fire_warnings(self, at: datetime) -> list[tuple[str, datetime]]:
        """The armed marks due strictly before ``at``, now fired (each fires once).

        Nothing fires on a clock that is not running or is already past due: its
        breach is the news then, not a warning that came too late.
        """
        if self.status is not ClockStatus.RUNNING or self.is_overdue(at):
            return []
        due = [(mark, when) for mark, when in self.warnings if when < at]
        if due:
            self.warnings = tuple(m for m in self.warnings if m[1] >= at)
            self.warned = (*self.warned, *(mark for mark, _ in due))
        return due

    def armed_marks(self) -> dict[str, datetime]:
        """The deadline rows of the armed marks, ``{"<clock>@<mark>": instant}``."""
        if self.status is not ClockStatus.RUNNING:
            return {}
        return {f"{self.clock_id}@{mark}": when for mark, when in self.warnings}
