"""Appointment slots (SS-2): the visit windows a provider can still take, from its data.

A provider declares weekly windows (ISO weekdays 1 = Monday .. 7 = Sunday, a local
start and end, how many visits fit, optionally only for one administrative area).
:func:`open_slots` turns them into dated slots over a horizon, leaving out

* days the provider's business calendar has no open hours on (holidays, weekends
  of a working-week calendar, China's adjusted days);
* days closed on the provider's own calendar (leave, closures), given as a set;
* windows restricted to an area the case's address is not in;
* slots starting sooner than ``lead`` after now, or after the horizon;
* full windows: as many bookings as the window's capacity.

Pure: the caller reads the bookings and closed days and passes them in. Bookings
are counted per window instance, keyed by its start and end instants.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aftersales.domain.calendars import BusinessCalendar
from aftersales.domain.errors import CalendarError

WindowKey = tuple[datetime, datetime]


@dataclass(frozen=True)
class WeeklyWindow:
    """A window a provider takes visits in, every week on the given weekdays."""

    weekdays: frozenset[int]
    start: time
    end: time
    capacity: int
    area_code: str | None = None

    def serves(self, area_codes: Collection[str]) -> bool:
        return self.area_code is None or self.area_code in area_codes


def windows_from_json(raw: Sequence[Mapping[str, Any]] | None) -> tuple[WeeklyWindow, ...]:
    """The stored form of a provider's windows (as master data wrote it) as domain values."""
    return tuple(
        WeeklyWindow(
            frozenset(int(d) for d in w["weekdays"]),
            time.fromisoformat(w["start"]),
            time.fromisoformat(w["end"]),
            int(w["capacity"]),
            w.get("area_code") or None,
        )
        for w in raw or ()
    )


@dataclass(frozen=True)
class Slot:
    """One dated window with room left: what the buyer may book."""

    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int

    @property
    def left(self) -> int:
        return self.capacity - self.booked


def slot_key(starts_at: datetime, ends_at: datetime, timezone: str) -> str:
    """A slot as the API and forms name it, in local time: ``2026-12-02T09:00/12:00``."""
    zone = ZoneInfo(timezone)
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    return f"{start:%Y-%m-%dT%H:%M}/{end:%H:%M}"


def parse_slot_key(key: str, timezone: str) -> WindowKey:
    """The instants a slot key names; ``ValueError`` saying the expected form otherwise."""
    zone = ZoneInfo(timezone)
    try:
        first, _, last = key.partition("/")
        start = datetime.strptime(first, "%Y-%m-%dT%H:%M").replace(tzinfo=zone)
        end_time = time.fromisoformat(last) if len(last) == 5 else None
        if end_time is None:
            raise ValueError(last)
    except ValueError:
        raise ValueError(
            f"{key!r} is not a slot; use the 'slot' of one offered by GET .../slots, "
            "e.g. '2026-12-02T09:00/12:00'"
        ) from None
    end = datetime.combine(start.date(), end_time, zone)
    if end <= start:
        raise ValueError(f"{key!r} is not a slot: its end is not after its start")
    return start, end


def works_on(calendar: BusinessCalendar, day: date) -> bool:
    """True when the calendar has open hours on ``day`` (outside its years: not known, no)."""
    try:
        return bool(calendar.day(day)[1])
    except CalendarError:
        return False


def window_instances(
    windows: Sequence[WeeklyWindow], day: date, zone: ZoneInfo
) -> Iterable[tuple[WeeklyWindow, datetime, datetime]]:
    weekday = day.isoweekday()
    for window in windows:
        if weekday in window.weekdays:
            yield (
                window,
                datetime.combine(day, window.start, zone),
                datetime.combine(day, window.end, zone),
            )


def open_slots(
    windows: Sequence[WeeklyWindow],
    *,
    now: datetime,
    horizon: timedelta,
    lead: timedelta,
    timezone: str,
    calendar: BusinessCalendar,
    closed_days: Collection[date],
    booked: Mapping[WindowKey, int],
    area_codes: Collection[str],
) -> list[Slot]:
    """The slots with room left between ``now + lead`` and ``now + horizon``, in time order."""
    zone = ZoneInfo(timezone)
    earliest, latest = now + lead, now + horizon
    # Windows grouped by weekday once: a 14-day search looks at each window twice.
    serving = [w for w in windows if w.serves(area_codes)]
    by_weekday: dict[int, list[WeeklyWindow]] = {d: [] for d in range(1, 8)}
    for window in serving:
        for weekday in window.weekdays:
            by_weekday[weekday].append(window)
    found: list[Slot] = []
    day, last_day = earliest.astimezone(zone).date(), latest.astimezone(zone).date()
    while day <= last_day:
        todays = by_weekday[day.isoweekday()]
        if todays and day not in closed_days and works_on(calendar, day):
            for window, start, end in window_instances(todays, day, zone):
                if start < earliest or start > latest:
                    continue
                taken = booked.get((start, end), 0)
                if taken < window.capacity:
                    found.append(Slot(start, end, window.capacity, taken))
        day += timedelta(days=1)
    found.sort(key=lambda s: (s.starts_at, s.ends_at))
    return found


def capacity_of(
    windows: Sequence[WeeklyWindow],
    key: WindowKey,
    *,
    timezone: str,
    area_codes: Collection[str],
) -> int | None:
    """The capacity of the window instance ``key`` names, or None when no window has it."""
    zone = ZoneInfo(timezone)
    start, end = key
    day = start.astimezone(zone).date()
    serving = [w for w in windows if w.serves(area_codes)]
    for window, s, e in window_instances(serving, day, zone):
        if s == start and e == end:
            return window.capacity
    return None
