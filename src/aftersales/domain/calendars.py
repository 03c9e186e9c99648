"""Business calendars: when an SLA clock is allowed to run (rule X-3).

Some commitments count wall-clock time (NW-4's 24 hours, NW-5's 30 days, OH-4's
1 hour, OH-6's 48 hours); others count only the hours a provider is open, which
depend on the weekday, on public holidays, and on China's adjusted working days
(调休: a Saturday or Sunday that is worked to pay for a bridged holiday). Rule X-3
asks for both, and for holiday data that operators can override, because each
year's official schedule is published only late in the previous year.

One primitive
-------------
A calendar is compiled once, at construction, into a sorted list of disjoint open
intervals in UTC epoch microseconds, plus a prefix sum of open time before each
interval. With ``B(t)`` = open microseconds before instant ``t``:

* ``elapsed(start, end) = B(end) - B(start)``
* ``add(at, d)`` = the earliest ``t`` with ``B(t) = B(at) + d``
* ``is_open``/``next_open`` = which interval holds, or follows, ``t``

Each is a binary search — O(log n), no day-by-day loop — and the vectorised
forms (``add_many``, ``elapsed_many``) run the same searches with
``np.searchsorted`` for bulk replay. All arithmetic is on integers; there are no
floats anywhere, so results are exact to the microsecond.

What "open" means
-----------------
An instant is open when its *local wall-clock reading* (date and time of day in
the calendar's zone) falls inside one of that date's windows ``[start, end)``.
On a daylight-saving day this is taken literally: a 09:00–18:00 window is
eight hours long on a spring-forward day if the gap falls inside it, and both
passes through a repeated hour count on a fall-back day.

The windows of a local date are chosen by this precedence (first match wins)::

    override  >  partial holiday  >  full holiday  >  adjusted working day  >  weekly pattern

Holiday data from a named source (``"CN"``: the ``holidays`` package) joins the
definition's own full holidays and adjusted working days; overrides outrank it,
which is how operations staff correct or extend a year the package has wrong or
does not know yet.

Errors (see :mod:`aftersales.domain.errors`)::

    PolicyError     a calendar definition is invalid (names source, field, problem)
    CalendarError   a question cannot be answered: naive datetime, negative
                    duration, instant outside the calendar's horizon

The module is long (~1,100 lines) because the one primitive, the compiled open
intervals, the documents that describe calendars and the vectorised forms must
agree to the microsecond; keeping them together keeps that agreement visible.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Final, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import numpy as np
import numpy.typing as npt

from aftersales.domain.errors import CalendarError, PolicyError

__all__ = [
    "DEFAULT_HORIZON_YEARS",
    "HOLIDAY_SOURCES",
    "WEEKDAY_KEYS",
    "BusinessCalendar",
    "CalendarSpec",
    "DayKind",
    "Window",
    "build_calendar",
    "calendar_spec_from_mapping",
    "calendar_specs_from_mapping",
    "load_calendars",
    "wall_clock",
]

SECONDS_PER_DAY: Final = 86_400
US_PER_SECOND: Final = 1_000_000
DEFAULT_HORIZON_YEARS: Final = (2000, 2045)
# Keys of the weekly pattern, Monday first (the same order as date.weekday()).
WEEKDAY_KEYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Holiday data sources a definition may name in ``holidays = "..."``.
HOLIDAY_SOURCES: Final = ("CN",)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_ONE_US: Final = timedelta(microseconds=1)
# Years a horizon may span; kept well inside what datetime can represent.
_MIN_YEAR: Final = 1900
_MAX_YEAR: Final = 2200
_NAME_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_TIME_RE: Final = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2}))?$")
_DATE_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")

IntArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------- windows


def _clock_text(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


@dataclass(frozen=True, order=True)
class Window:
    """An open window within one local day: ``[start_s, end_s)`` seconds after midnight.

    ``end_s`` may be 86 400 (24:00, the end of the day); a window never crosses
    midnight — an overnight shift is two windows on consecutive days, which the
    compiled calendar joins into one interval.
    """

    start_s: int
    end_s: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_s < self.end_s <= SECONDS_PER_DAY:
            raise PolicyError(
                "Window",
                f"{self.start_s}-{self.end_s}",
                "a window needs 0 <= start_s < end_s <= 86400 (seconds after local midnight)",
            )

    @classmethod
    def parse(cls, text: str) -> Window:
        """Read ``"HH:MM-HH:MM"`` (seconds optional, end may be ``24:00``)."""
        return _parse_window(text, "Window.parse", "window")

    def __str__(self) -> str:
        return f"{_clock_text(self.start_s)}-{_clock_text(self.end_s)}"


def _parse_clock(text: str, source: str, where: str, *, is_end: bool) -> int:
    match = _TIME_RE.match(text.strip())
    if match is None:
        raise PolicyError(source, where, f"time {text!r} is not HH:MM or HH:MM:SS")
    hours, minutes = int(match.group(1)), int(match.group(2))
    secs = int(match.group(3) or 0)
    value = hours * 3600 + minutes * 60 + secs
    if minutes > 59 or secs > 59 or value > SECONDS_PER_DAY:
        raise PolicyError(source, where, f"time {text!r} is not a time of day (00:00 to 24:00)")
    if value == SECONDS_PER_DAY and not is_end:
        raise PolicyError(source, where, f"a window cannot start at {text!r}; 24:00 only ends one")
    return value


def _parse_window(raw: object, source: str, where: str) -> Window:
    if not isinstance(raw, str) or raw.count("-") != 1:
        raise PolicyError(source, where, f'expected a window like "09:00-18:00", got {raw!r}')
    start_text, end_text = raw.split("-")
    start = _parse_clock(start_text, source, where, is_end=False)
    end = _parse_clock(end_text, source, where, is_end=True)
    if end <= start:
        raise PolicyError(
            source, where, f"window {raw!r} ends before it starts; windows cannot cross midnight"
        )
    return Window(start, end)


def _check_day(windows: Sequence[Window], source: str, where: str) -> tuple[Window, ...]:
    """Sort one day's windows and refuse overlaps (touching windows are fine)."""
    ordered = tuple(sorted(windows))
    for earlier, later in itertools.pairwise(ordered):
        if later.start_s < earlier.end_s:
            raise PolicyError(
                source,
                where,
                f"windows {earlier} and {later} overlap; windows within a day must not overlap",
            )
    return ordered


# --------------------------------------------------------------------------- spec


class DayKind(StrEnum):
    """Which rule decided a date's windows (for explanations)."""

    OVERRIDE = "override"
    PARTIAL_HOLIDAY = "partial_holiday"
    HOLIDAY = "holiday"
    ADJUSTED_WORKDAY = "adjusted_workday"
    WEEKLY = "weekly"
    WALL_CLOCK = "wall_clock"


_CLOSED_WEEK: Final[tuple[tuple[Window, ...], ...]] = ((),) * 7


@dataclass(frozen=True)
class CalendarSpec:
    """A calendar as data: what the definition says, before compilation.

    ``weekly`` has seven entries, Monday first. ``overrides`` map a date to its
    windows (an empty tuple closes it) and win over everything, including the
    holiday source; ``adjusted_workdays`` get the windows of ``workday_template``
    (a weekday index, 0 = Monday). ``wall_clock`` specs are always open and take
    no windows at all. ``horizon_years`` bounds the years compiled (inclusive).
    """

    name: str
    timezone: str
    weekly: tuple[tuple[Window, ...], ...] = _CLOSED_WEEK
    display_zh: str = ""
    display_en: str = ""
    wall_clock: bool = False
    holiday_source: str | None = None
    holidays: frozenset[date] = frozenset()
    partial_holidays: Mapping[date, tuple[Window, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    adjusted_workdays: frozenset[date] = frozenset()
    workday_template: int = 0
    overrides: Mapping[date, tuple[Window, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    horizon_years: tuple[int, int] = DEFAULT_HORIZON_YEARS

    def __post_init__(self) -> None:
        source = f"calendar {self.name!r}"
        if len(self.weekly) != 7:
            raise PolicyError(source, "weekly", f"needs 7 weekdays, got {len(self.weekly)}")
        weekly = tuple(
            _check_day(day, source, f"weekly.{WEEKDAY_KEYS[index]}")
            for index, day in enumerate(self.weekly)
        )
        partial = {
            day: _check_day(windows, source, f"partial_holidays.{day}")
            for day, windows in self.partial_holidays.items()
        }
        overrides = {
            day: _check_day(windows, source, f"overrides.{day}")
            for day, windows in self.overrides.items()
        }
        object.__setattr__(self, "weekly", weekly)
        object.__setattr__(self, "partial_holidays", MappingProxyType(partial))
        object.__setattr__(self, "overrides", MappingProxyType(overrides))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "adjusted_workdays", frozenset(self.adjusted_workdays))

        first, last = self.horizon_years
        if not _MIN_YEAR <= first <= last <= _MAX_YEAR:
            raise PolicyError(
                source,
                "horizon",
                f"horizon {first}-{last} must be ascending years within {_MIN_YEAR}-{_MAX_YEAR}",
            )
        if self.holiday_source is not None and self.holiday_source not in HOLIDAY_SOURCES:
            raise PolicyError(
                source,
                "holidays",
                f"unknown holiday source {self.holiday_source!r}; known: {', '.join(HOLIDAY_SOURCES)}",
            )
        if not 0 <= self.workday_template <= 6:
            raise PolicyError(source, "workday_template", "must be a weekday index 0 (Mon)-6 (Sun)")
        if self.wall_clock:
            has_rules = (
                any(weekly)
                or self.holiday_source
                or self.holidays
                or partial
                or self.adjusted_workdays
                or overrides
            )
            if has_rules:
                raise PolicyError(
                    source, "kind", "a wall-clock calendar is always open and takes no windows"
                )
            return
        uses_template = self.holiday_source is not None or bool(self.adjusted_workdays)
        if uses_template and not weekly[self.workday_template]:
            raise PolicyError(
                source,
                "workday_template",
                f"template weekday {WEEKDAY_KEYS[self.workday_template]!r} has no windows, so "
                "adjusted working days would stay closed; name a weekday with hours",
            )
        for what, days in (
            ("holiday_dates", self.holidays),
            ("partial_holidays", partial.keys()),
            ("adjusted_workdays", self.adjusted_workdays),
            ("overrides", overrides.keys()),
        ):
            for day in days:
                if not first <= day.year <= last:
                    raise PolicyError(
                        source, what, f"date {day} lies outside the horizon {first}-{last}"
                    )


# --------------------------------------------------------------------------- holiday data


@functools.lru_cache(maxsize=32)
def _china_days(first_year: int, last_year: int) -> tuple[frozenset[date], frozenset[date]]:
    """China's days off and adjusted working weekend days from the ``holidays`` package.

    The keys include the "Day off (substituted from ...)" bridge days; the
    ``weekend_workdays`` attribute lists the Saturdays/Sundays worked in exchange
    (it also carries a few dates outside the requested years, hence the filter).
    Memoised: the package computes lunar dates, which is not free.
    """
    calendar = holidays.country_holidays("CN", years=range(first_year, last_year + 1))
    days_off = frozenset(day for day in calendar if first_year <= day.year <= last_year)
    workdays = frozenset(
        day for day in calendar.weekend_workdays if first_year <= day.year <= last_year
    )
    return days_off, workdays


def _source_days(
    source: str | None, years: tuple[int, int]
) -> tuple[frozenset[date], frozenset[date]]:
    if source is None:
        return frozenset(), frozenset()
    if source == "CN":
        return _china_days(*years)
    raise CalendarError(f"unknown holiday source {source!r}")  # unreachable: spec validates


@dataclass(frozen=True)
class _DayRules:
    """The precedence rules with dates as ordinals, ready for a fast per-day walk."""

    weekly: tuple[tuple[Window, ...], ...]
    template: tuple[Window, ...]
    overrides: Mapping[int, tuple[Window, ...]]
    partial: Mapping[int, tuple[Window, ...]]
    holidays: frozenset[int]
    adjusted: frozenset[int]

    @classmethod
    def of(cls, spec: CalendarSpec) -> _DayRules:
        source_off, source_work = _source_days(spec.holiday_source, spec.horizon_years)
        return cls(
            weekly=spec.weekly,
            template=spec.weekly[spec.workday_template],
            overrides={day.toordinal(): ws for day, ws in spec.overrides.items()},
            partial={day.toordinal(): ws for day, ws in spec.partial_holidays.items()},
            holidays=frozenset(day.toordinal() for day in spec.holidays | source_off),
            adjusted=frozenset(day.toordinal() for day in spec.adjusted_workdays | source_work),
        )

    def resolve(self, ordinal: int) -> tuple[DayKind, tuple[Window, ...]]:
        # override > partial holiday > full holiday > adjusted working day > weekly.
        if ordinal in self.overrides:
            return DayKind.OVERRIDE, self.overrides[ordinal]
        if ordinal in self.partial:
            return DayKind.PARTIAL_HOLIDAY, self.partial[ordinal]
        if ordinal in self.holidays:
            return DayKind.HOLIDAY, ()
        if ordinal in self.adjusted:
            return DayKind.ADJUSTED_WORKDAY, self.template
        # date.fromordinal(1) is a Monday, so (ordinal - 1) % 7 is date.weekday().
        return DayKind.WEEKLY, self.weekly[(ordinal - 1) % 7]


# --------------------------------------------------------------------------- compilation


def _offset_s(zone: ZoneInfo, utc_s: int) -> int:
    offset = datetime.fromtimestamp(utc_s, zone).utcoffset()
    return 0 if offset is None else offset // timedelta(seconds=1)


def _offset_steps(zone: ZoneInfo, lo_s: int, hi_s: int) -> tuple[list[int], list[int]]:
    """The zone's UTC offset as a step function over ``[lo_s, hi_s]`` (UTC seconds).

    Returns ``(changes, offsets)``: ``offsets[0]`` holds before ``changes[0]``,
    ``offsets[i]`` from ``changes[i - 1]`` on. The offset is sampled once a day and
    each change is pinned to the second by bisection, which assumes a zone never
    changes its offset twice within one day (true of every zone in tzdata since
    long before any horizon we use).
    """
    samples = [*range(lo_s, hi_s, SECONDS_PER_DAY), hi_s]
    seen = [datetime.fromtimestamp(sample_s, zone).utcoffset() for sample_s in samples]
    changes: list[int] = []
    offsets = [_offset_s(zone, lo_s)]
    for index in range(1, len(samples)):
        if seen[index] == seen[index - 1]:
            continue
        before_s, after_s = samples[index - 1], samples[index]  # old offset, new offset
        while after_s - before_s > 1:
            middle_s = (before_s + after_s) // 2
            if _offset_s(zone, middle_s) == offsets[-1]:
                before_s = middle_s
            else:
                after_s = middle_s
        changes.append(after_s)
        offsets.append(_offset_s(zone, after_s))
    return changes, offsets


def _local_midnight_s(zone: ZoneInfo, day: date) -> int:
    local = datetime(day.year, day.month, day.day, tzinfo=zone)
    return (local - _EPOCH) // timedelta(seconds=1)


def _compile(
    rules: _DayRules, zone: ZoneInfo, first_day: date, last_day: date
) -> tuple[list[int], list[int]]:
    """Expand every local date into UTC intervals (seconds), sorted and merged."""
    first_ord, last_ord = first_day.toordinal(), last_day.toordinal()
    # Any instant read locally as a date in the horizon lies within a day of the
    # horizon's naive bounds (offsets are under 24 h), so sample a little wider.
    lo_s = (first_ord - _EPOCH_ORDINAL - 2) * SECONDS_PER_DAY
    hi_s = (last_ord - _EPOCH_ORDINAL + 3) * SECONDS_PER_DAY
    changes, offsets = _offset_steps(zone, lo_s, hi_s)
    widest, narrowest = max(offsets), min(offsets)

    last_change = len(changes)
    # Most days share their windows with a weekday: convert each tuple to ints once.
    as_seconds: dict[int, list[tuple[int, int]]] = {}
    pieces: list[tuple[int, int]] = []
    for ordinal in range(first_ord, last_ord + 1):
        windows = rules.resolve(ordinal)[1]
        if not windows:
            continue
        spans = as_seconds.get(id(windows))
        if spans is None:
            spans = as_seconds[id(windows)] = [(w.start_s, w.end_s) for w in windows]
        midnight_s = (ordinal - _EPOCH_ORDINAL) * SECONDS_PER_DAY  # local reading, as seconds
        for start_s, end_s in spans:
            local_start, local_end = midnight_s + start_s, midnight_s + end_s
            # The instants whose local reading is in [local_start, local_end): within
            # each stretch of constant offset o that is [start - o, end - o), clipped
            # to the stretch. A DST day yields two pieces (or a gap-shortened one).
            segment = bisect.bisect_right(changes, local_start - widest) if changes else 0
            if segment == last_change or changes[segment] >= local_end - narrowest:
                # Every candidate instant lies in this one stretch: nothing to clip.
                offset = offsets[segment]
                pieces.append((local_start - offset, local_end - offset))
                continue
            while segment <= last_change:
                seg_start = changes[segment - 1] if segment > 0 else lo_s
                if seg_start >= local_end - narrowest:
                    break
                seg_end = changes[segment] if segment < last_change else hi_s
                offset = offsets[segment]
                piece_start = max(local_start - offset, seg_start)
                piece_end = min(local_end - offset, seg_end)
                if piece_start < piece_end:
                    pieces.append((piece_start, piece_end))
                segment += 1

    pieces.sort()
    starts: list[int] = []
    ends: list[int] = []
    for piece_start, piece_end in pieces:
        if ends and piece_start <= ends[-1]:  # touching or overlapping: one interval
            ends[-1] = max(ends[-1], piece_end)
        else:
            starts.append(piece_start)
            ends.append(piece_end)
    return starts, ends


# --------------------------------------------------------------------------- conversions


def _to_us(at: datetime, what: str) -> int:
    if not isinstance(at, datetime):
        raise CalendarError(f"{what} must be a datetime, got {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise CalendarError(
            f"{what} {at.isoformat()} is a naive datetime; calendars only accept "
            "timezone-aware datetimes (attach a tzinfo, e.g. ZoneInfo('Asia/Shanghai'))"
        )
    return (at - _EPOCH) // _ONE_US


def _from_us(epoch_us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=epoch_us)


def _duration_us(duration: timedelta) -> int:
    if not isinstance(duration, timedelta):
        raise CalendarError(f"duration must be a timedelta, got {type(duration).__name__}")
    value = duration // _ONE_US
    if value < 0:
        raise CalendarError(f"duration {duration} is negative; calendars only count forward")
    return value


def _instants_us(values: object, what: str) -> IntArray:
    """Epoch microseconds (int64) from int arrays or ``datetime64`` arrays of any unit."""
    array = np.asarray(values)
    if np.issubdtype(array.dtype, np.datetime64):
        return array.astype("datetime64[us]").view(np.int64)
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64)
    raise CalendarError(
        f"{what} must be int64 epoch microseconds (UTC) or datetime64, got dtype {array.dtype}"
    )


def _durations_us(values: object) -> IntArray:
    array = np.asarray(values)
    if np.issubdtype(array.dtype, np.timedelta64):
        result = array.astype("timedelta64[us]").view(np.int64)
    elif np.issubdtype(array.dtype, np.integer):
        result = array.astype(np.int64)
    else:
        raise CalendarError(
            f"durations must be int64 microseconds or timedelta64, got dtype {array.dtype}"
        )
    if result.size and int(result.min()) < 0:
        raise CalendarError("durations must not be negative; calendars only count forward")
    return result


# --------------------------------------------------------------------------- the calendar


class BusinessCalendar:
    """A compiled, immutable calendar answering "how much open time" questions.

    Every method takes timezone-aware datetimes (any zone) and returns aware
    datetimes in UTC. Intervals are half-open: a 09:00-18:00 window is open at
    09:00:00 and closed at 18:00:00 (OH-4). A wall-clock calendar (see
    :func:`wall_clock`) has the same interface, is always open, and answers in
    O(1) with no horizon.
    """

    __slots__ = (
        "_cum",
        "_cum_arr",
        "_cum_end",
        "_cum_end_arr",
        "_ends",
        "_ends_arr",
        "_hi_us",
        "_lo_us",
        "_rules",
        "_spec",
        "_starts",
        "_starts_arr",
        "_zone",
    )

    _spec: CalendarSpec
    _zone: ZoneInfo
    _rules: _DayRules | None
    _lo_us: int
    _hi_us: int
    _starts: tuple[int, ...]
    _ends: tuple[int, ...]
    _cum: tuple[int, ...]
    _cum_end: tuple[int, ...]
    _starts_arr: IntArray
    _ends_arr: IntArray
    _cum_arr: IntArray
    _cum_end_arr: IntArray

    def __init__(self, spec: CalendarSpec) -> None:
        zone = _zone(spec.timezone, f"calendar {spec.name!r}", "timezone")
        assign = functools.partial(object.__setattr__, self)
        assign("_spec", spec)
        assign("_zone", zone)
        starts: list[int] = []
        ends: list[int] = []
        lo_us = hi_us = 0
        rules: _DayRules | None = None
        if not spec.wall_clock:
            rules = _DayRules.of(spec)
            first_year, last_year = spec.horizon_years
            first_day, last_day = date(first_year, 1, 1), date(last_year, 12, 31)
            starts_s, ends_s = _compile(rules, zone, first_day, last_day)
            starts = [value * US_PER_SECOND for value in starts_s]
            ends = [value * US_PER_SECOND for value in ends_s]
            lo_us = _local_midnight_s(zone, first_day) * US_PER_SECOND
            hi_us = _local_midnight_s(zone, date(last_year + 1, 1, 1)) * US_PER_SECOND
        cum = [0]
        for start, end in zip(starts, ends, strict=True):
            cum.append(cum[-1] + end - start)
        assign("_rules", rules)
        assign("_lo_us", lo_us)
        assign("_hi_us", hi_us)
        # Tuples for the scalar path (bisect on Python ints beats numpy per call),
        # read-only int64 arrays for the vectorised path.
        assign("_starts", tuple(starts))
        assign("_ends", tuple(ends))
        assign("_cum", tuple(cum[:-1]))
        assign("_cum_end", tuple(cum[1:]))
        for slot, values in (
            ("_starts_arr", starts),
            ("_ends_arr", ends),
            ("_cum_arr", cum[:-1]),
            ("_cum_end_arr", cum[1:]),
        ):
            array = np.array(values, dtype=np.int64)
            array.flags.writeable = False
            assign(slot, array)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"BusinessCalendar is immutable; cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"BusinessCalendar is immutable; cannot delete {name}")

    def __repr__(self) -> str:
        kind = "wall clock" if self.is_wall_clock else f"{len(self._starts)} intervals"
        return f"<BusinessCalendar {self.name!r} {self._spec.timezone} ({kind})>"

    # ------------------------------------------------------------------ description

    @property
    def spec(self) -> CalendarSpec:
        return self._spec

    @property
    def name(self) -> str:
        return self._spec.name

    @property
    def timezone(self) -> ZoneInfo:
        return self._zone

    @property
    def display_zh(self) -> str:
        return self._spec.display_zh or self._spec.name

    @property
    def display_en(self) -> str:
        return self._spec.display_en or self._spec.name

    @property
    def is_wall_clock(self) -> bool:
        return self._spec.wall_clock

    @property
    def horizon(self) -> tuple[datetime, datetime] | None:
        """UTC bounds of the compiled years ``[first local midnight, last local midnight)``.

        ``None`` for a wall-clock calendar, which needs no horizon.
        """
        if self.is_wall_clock:
            return None
        return _from_us(self._lo_us), _from_us(self._hi_us)

    def day(self, day: date) -> tuple[DayKind, tuple[Window, ...]]:
        """Which rule decides ``day`` and the windows it gets (for explanations)."""
        if self._rules is None:
            return DayKind.WALL_CLOCK, (Window(0, SECONDS_PER_DAY),)
        first, last = self._spec.horizon_years
        if not first <= day.year <= last:
            raise CalendarError(
                f"date {day} is outside the horizon {first}-{last} of calendar {self.name!r}"
            )
        return self._rules.resolve(day.toordinal())

    # ------------------------------------------------------------------ guards

    def _outside(self, epoch_us: int) -> CalendarError:
        first, last = self._spec.horizon_years
        try:
            shown = _from_us(epoch_us).isoformat()
        except OverflowError:  # e.g. NaT in a datetime64 array
            shown = f"{epoch_us} µs after the epoch"
        return CalendarError(
            f"{shown} is outside the horizon of calendar {self.name!r}: "
            f"{first}-01-01 to {last}-12-31 ({self._spec.timezone}); "
            "widen `horizon` in its definition to ask about other years"
        )

    def _beyond(self) -> CalendarError:
        first, last = self._spec.horizon_years
        return CalendarError(
            f"the deadline falls beyond the horizon of calendar {self.name!r}: there is not "
            f"enough open time before {last + 1}-01-01 ({self._spec.timezone}); widen "
            f"`horizon` (now {first}-{last}) in its definition"
        )

    def _check(self, epoch_us: int, *, may_be_end: bool) -> None:
        # The horizon end itself is a valid *end* of a range, but not an instant whose
        # openness we know (it belongs to the first day after the horizon).
        if (
            epoch_us < self._lo_us
            or epoch_us > self._hi_us
            or (epoch_us == self._hi_us and not may_be_end)
        ):
            raise self._outside(epoch_us)

    # ------------------------------------------------------------------ the primitive

    def _before(self, epoch_us: int) -> int:
        """B(t): open microseconds from the horizon start up to ``t``."""
        index = bisect.bisect_right(self._starts, epoch_us) - 1
        if index < 0:
            return 0
        end = self._ends[index]
        return self._cum[index] + (epoch_us if epoch_us < end else end) - self._starts[index]

    def _reach(self, target: int) -> int:
        """The earliest ``t`` with B(t) = target, for target > 0."""
        index = bisect.bisect_left(self._cum_end, target)
        if index == len(self._cum_end):
            raise self._beyond()
        return self._starts[index] + target - self._cum[index]

    # ------------------------------------------------------------------ scalar API

    def is_open(self, at: datetime) -> bool:
        """Whether the instant ``at`` lies inside an open window."""
        at_us = _to_us(at, "at")
        if self._rules is None:
            return True
        self._check(at_us, may_be_end=False)
        index = bisect.bisect_right(self._starts, at_us) - 1
        return index >= 0 and at_us < self._ends[index]

    def next_open(self, at: datetime) -> datetime:
        """The first instant at or after ``at`` when the calendar is open."""
        at_us = _to_us(at, "at")
        if self._rules is None:
            return _from_us(at_us)
        self._check(at_us, may_be_end=False)
        index = bisect.bisect_right(self._starts, at_us) - 1
        if index >= 0 and at_us < self._ends[index]:
            return _from_us(at_us)
        if index + 1 == len(self._starts):
            raise CalendarError(
                f"calendar {self.name!r} does not open again between {at.isoformat()} "
                f"and the end of its horizon ({self._spec.horizon_years[1]}-12-31)"
            )
        return _from_us(self._starts[index + 1])

    def add(self, at: datetime, duration: timedelta) -> datetime:
        """The earliest instant ``t`` such that the open time in ``[at, t)`` is ``duration``.

        A deadline that uses up its open time exactly at closing lands at the
        closing instant (e.g. 18:00), not at the next opening. ``add(at, 0)`` is ``at``.
        """
        at_us = _to_us(at, "at")
        duration_us = _duration_us(duration)
        if self._rules is None:
            try:
                return _from_us(at_us + duration_us)
            except OverflowError as exc:
                raise CalendarError(f"{at.isoformat()} + {duration} is past year 9999") from exc
        self._check(at_us, may_be_end=True)
        if duration_us == 0:
            return _from_us(at_us)
        return _from_us(self._reach(self._before(at_us) + duration_us))

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Open time in ``[start, end)``; zero when ``end <= start``."""
        start_us, end_us = _to_us(start, "start"), _to_us(end, "end")
        if end_us <= start_us:
            return timedelta(0)
        if self._rules is None:
            return timedelta(microseconds=end_us - start_us)
        self._check(start_us, may_be_end=True)
        self._check(end_us, may_be_end=True)
        return timedelta(microseconds=self._before(end_us) - self._before(start_us))

    def open_intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The open stretches of ``[start, end)``, clipped to it, in order (UTC).

        Explains a deadline: "counted 2026-09-30 09:00-18:00, then 2026-10-08 ...".
        """
        start_us, end_us = _to_us(start, "start"), _to_us(end, "end")
        if end_us <= start_us:
            return iter(())
        if self._rules is None:
            return iter([(_from_us(start_us), _from_us(end_us))])
        self._check(start_us, may_be_end=True)
        self._check(end_us, may_be_end=True)
        return self._intervals(start_us, end_us)

    def _intervals(self, start_us: int, end_us: int) -> Iterator[tuple[datetime, datetime]]:
        index = max(bisect.bisect_right(self._starts, start_us) - 1, 0)
        while index < len(self._starts) and self._starts[index] < end_us:
            low, high = max(self._starts[index], start_us), min(self._ends[index], end_us)
            if low < high:
                yield _from_us(low), _from_us(high)
            index += 1

    # ------------------------------------------------------------------ vectorised API

    def _check_many(self, values: IntArray, what: str) -> None:
        if values.size == 0:
            return
        low, high = int(values.min()), int(values.max())
        if low < self._lo_us:
            raise CalendarError(f"{what}: " + str(self._outside(low)))
        if high > self._hi_us:
            raise CalendarError(f"{what}: " + str(self._outside(high)))

    def _before_many(self, values: IntArray) -> IntArray:
        index = np.searchsorted(self._starts_arr, values, side="right") - 1
        safe = np.maximum(index, 0)
        if self._starts_arr.size == 0:
            return np.zeros_like(values)
        inside = np.minimum(values, self._ends_arr[safe]) - self._starts_arr[safe]
        return cast(IntArray, np.where(index >= 0, self._cum_arr[safe] + inside, 0))

    def add_many(self, starts: object, durations: object) -> IntArray:
        """Vectorised :meth:`add` for bulk replay.

        ``starts`` are UTC epoch **microseconds** (int64) or ``datetime64``;
        ``durations`` are microseconds (int64) or ``timedelta64``; they broadcast
        against each other. Returns int64 epoch microseconds, exactly equal to the
        scalar form element by element.
        """
        start_us = _instants_us(starts, "starts")
        duration_us = _durations_us(durations)
        start_us, duration_us = np.broadcast_arrays(start_us, duration_us)
        if self._rules is None:
            return cast(IntArray, start_us + duration_us)
        self._check_many(start_us, "starts")
        target = self._before_many(start_us) + duration_us
        index = np.searchsorted(self._cum_end_arr, target, side="left")
        needs_time = duration_us > 0
        if bool(np.any(needs_time & (index >= self._cum_end_arr.size))):
            raise CalendarError("add_many: " + str(self._beyond()))
        safe = np.minimum(index, max(self._cum_end_arr.size - 1, 0))
        if self._starts_arr.size == 0:
            return start_us.copy()
        reached = self._starts_arr[safe] + target - self._cum_arr[safe]
        return np.where(needs_time, reached, start_us)

    def elapsed_many(self, starts: object, ends: object) -> IntArray:
        """Vectorised :meth:`elapsed`: open microseconds in each ``[start, end)``.

        Inputs as for :meth:`add_many` (int64 epoch microseconds UTC or
        ``datetime64``); returns int64 microseconds, zero where ``end <= start``.
        """
        start_us = _instants_us(starts, "starts")
        end_us = _instants_us(ends, "ends")
        start_us, end_us = np.broadcast_arrays(start_us, end_us)
        if self._rules is None:
            return cast(IntArray, np.maximum(end_us - start_us, 0))
        forward = end_us > start_us
        # Only ranges that count anything must lie inside the horizon, as in elapsed().
        self._check_many(start_us[forward], "starts")
        self._check_many(end_us[forward], "ends")
        before_end = self._before_many(np.where(forward, end_us, self._lo_us))
        before_start = self._before_many(np.where(forward, start_us, self._lo_us))
        return cast(IntArray, before_end - before_start)


# --------------------------------------------------------------------------- building


def _zone(name: str, source: str, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise PolicyError(
            source, where, f"unknown time zone {name!r}; expected an IANA name like Asia/Shanghai"
        ) from exc


def build_calendar(spec: CalendarSpec) -> BusinessCalendar:
    """Compile a spec (expands its horizon once; queries are then binary searches)."""
    return BusinessCalendar(spec)


def wall_clock(
    timezone: str = "Asia/Shanghai",
    name: str = "wall",
    display_zh: str = "自然时间",
    display_en: str = "Wall clock",
) -> BusinessCalendar:
    """An always-open calendar, for commitments counted in wall-clock time (X-3).

    ``add`` is plain addition and ``elapsed`` plain subtraction; the zone only
    matters for displaying times.
    """
    return BusinessCalendar(
        CalendarSpec(
            name=name,
            timezone=timezone,
            display_zh=display_zh,
            display_en=display_en,
            wall_clock=True,
        )
    )


# --------------------------------------------------------------------------- from TOML data

_BUSINESS_FIELDS: Final = (
    "kind",
    "display",
    "timezone",
    "weekly",
    "holidays",
    "holiday_dates",
    "partial_holidays",
    "adjusted_workdays",
    "workday_template",
    "overrides",
    "horizon",
)
_WALL_FIELDS: Final = ("kind", "display", "timezone")
_OVERRIDE_FIELDS: Final = ("closed", "working", "windows")


class _Reader:
    """Validation helpers that know where they are (``calendars.<name>.<field>``)."""

    def __init__(self, source: str, prefix: str) -> None:
        self.source = source
        self.prefix = prefix

    def fail(self, where: str, problem: str) -> PolicyError:
        return PolicyError(self.source, f"{self.prefix}.{where}" if where else self.prefix, problem)

    def table(self, raw: object, where: str) -> Mapping[str, object]:
        if not isinstance(raw, Mapping) or not all(isinstance(key, str) for key in raw):
            raise self.fail(where, f"expected a table, got {type(raw).__name__}")
        return cast(Mapping[str, object], raw)

    def known_keys(self, table: Mapping[str, object], allowed: Sequence[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(
                    f"{where}.{key}" if where else key,
                    f"unknown field; expected one of: {', '.join(allowed)}",
                )

    def text(self, raw: object, where: str) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise self.fail(where, f"expected a non-empty string, got {raw!r}")
        return raw

    def items(self, raw: object, where: str) -> list[object]:
        if not isinstance(raw, list):
            raise self.fail(where, f"expected an array, got {type(raw).__name__}")
        return cast(list[object], raw)

    def day(self, raw: object, where: str) -> date:
        # TOML writes bare dates as date values; table keys arrive as strings.
        if isinstance(raw, date) and not isinstance(raw, datetime):
            return raw
        if isinstance(raw, str) and _DATE_RE.match(raw):
            try:
                return date.fromisoformat(raw)
            except ValueError:
                pass
        raise self.fail(where, f"{raw!r} is not a date; expected YYYY-MM-DD, e.g. 2026-10-01")

    def days(self, raw: object, where: str) -> list[date]:
        return [self.day(item, f"{where}[{i}]") for i, item in enumerate(self.items(raw, where))]

    def windows(self, raw: object, where: str) -> tuple[Window, ...]:
        parsed = [
            _parse_window(item, self.source, f"{self.prefix}.{where}[{i}]")
            for i, item in enumerate(self.items(raw, where))
        ]
        return _check_day(parsed, self.source, f"{self.prefix}.{where}")

    def dated_windows(self, raw: object, where: str) -> dict[date, tuple[Window, ...]]:
        return {
            self.day(key, f"{where}.{key}"): self.windows(value, f"{where}.{key}")
            for key, value in self.table(raw, where).items()
        }

    def weekday(self, raw: object, where: str) -> int:
        if isinstance(raw, str) and raw in WEEKDAY_KEYS:
            return WEEKDAY_KEYS.index(raw)
        raise self.fail(
            where, f"unknown weekday {raw!r}; expected one of {', '.join(WEEKDAY_KEYS)}"
        )


def calendar_spec_from_mapping(
    data: Mapping[str, object], source: str, *, name: str | None = None
) -> CalendarSpec:
    """Validate one parsed calendar table and turn it into a :class:`CalendarSpec`.

    ``name`` is the table's key in ``calendars.toml``; when omitted, the table must
    carry a ``name`` field. Every problem raises :class:`PolicyError` naming
    ``source`` and the field (``calendars.<name>.<field>``) and saying what is
    expected instead. See ``policies/calendars.toml`` for the shape.
    """
    if name is None:
        raw_name = data.get("name")
        if not isinstance(raw_name, str):
            raise PolicyError(source, "calendars.name", "a calendar needs a string name")
        name = raw_name
        data = {key: value for key, value in data.items() if key != "name"}
    reader = _Reader(source, f"calendars.{name}")
    if not _NAME_RE.match(name):
        raise reader.fail("", "calendar names are lower-case letters, digits, '-' and '_'")
    table = reader.table(data, "")

    kind = table.get("kind", "business")
    if kind not in ("business", "wall"):
        raise reader.fail("kind", f"unknown kind {kind!r}; expected 'business' or 'wall'")
    reader.known_keys(table, _WALL_FIELDS if kind == "wall" else _BUSINESS_FIELDS, "")

    if "display" not in table:
        raise reader.fail("display", 'missing; give display names as { zh = "…", en = "…" }')
    display = reader.table(table["display"], "display")
    reader.known_keys(display, ("zh", "en"), "display")
    display_zh = reader.text(display.get("zh"), "display.zh")
    display_en = reader.text(display.get("en"), "display.en")

    if "timezone" not in table:
        raise reader.fail("timezone", "missing; expected an IANA zone name like Asia/Shanghai")
    timezone = reader.text(table["timezone"], "timezone")
    _zone(timezone, source, f"{reader.prefix}.timezone")

    if kind == "wall":
        return CalendarSpec(
            name=name,
            timezone=timezone,
            display_zh=display_zh,
            display_en=display_en,
            wall_clock=True,
        )

    weekly_table = reader.table(table.get("weekly", {}), "weekly")
    reader.known_keys(weekly_table, WEEKDAY_KEYS, "weekly")
    weekly = tuple(
        reader.windows(weekly_table.get(key, []), f"weekly.{key}") for key in WEEKDAY_KEYS
    )
    if not any(weekly):
        raise reader.fail("weekly", "no weekday has open windows; the calendar would never open")

    holiday_source: str | None = None
    if "holidays" in table:
        raw_source = table["holidays"]
        if raw_source not in HOLIDAY_SOURCES:
            raise reader.fail(
                "holidays",
                f"unknown holiday source {raw_source!r}; expected one of "
                f"{', '.join(HOLIDAY_SOURCES)} (or leave the field out)",
            )
        holiday_source = str(raw_source)

    template = reader.weekday(table.get("workday_template", "mon"), "workday_template")

    horizon = DEFAULT_HORIZON_YEARS
    if "horizon" in table:
        bounds = reader.items(table["horizon"], "horizon")
        if len(bounds) != 2 or not all(type(year) is int for year in bounds):
            raise reader.fail("horizon", "expected [first_year, last_year], e.g. [2000, 2045]")
        first, last = cast(int, bounds[0]), cast(int, bounds[1])
        if not _MIN_YEAR <= first <= last <= _MAX_YEAR:
            raise reader.fail(
                "horizon", f"expected ascending years within {_MIN_YEAR}-{_MAX_YEAR}, got {bounds}"
            )
        horizon = (first, last)

    overrides: dict[date, tuple[Window, ...]] = {}
    if "overrides" in table:
        section = reader.table(table["overrides"], "overrides")
        reader.known_keys(section, _OVERRIDE_FIELDS, "overrides")
        decided: dict[date, str] = {}
        chosen: list[tuple[str, date, tuple[Window, ...]]] = []
        for i, day in enumerate(reader.days(section.get("closed", []), "overrides.closed")):
            chosen.append((f"overrides.closed[{i}]", day, ()))
        for i, day in enumerate(reader.days(section.get("working", []), "overrides.working")):
            chosen.append((f"overrides.working[{i}]", day, weekly[template]))
        for day, windows in reader.dated_windows(
            section.get("windows", {}), "overrides.windows"
        ).items():
            chosen.append((f"overrides.windows.{day}", day, windows))
        for where, day, windows in chosen:
            if day in decided:
                raise reader.fail(where, f"{day} is already overridden by {decided[day]}")
            decided[day] = where
            overrides[day] = windows

    holiday_dates = frozenset(reader.days(table.get("holiday_dates", []), "holiday_dates"))
    partial = reader.dated_windows(table.get("partial_holidays", {}), "partial_holidays")
    adjusted = frozenset(reader.days(table.get("adjusted_workdays", []), "adjusted_workdays"))
    try:
        # CalendarSpec checks what spans fields (dates inside the horizon, a template
        # weekday with hours); its errors are re-addressed to this file below.
        return CalendarSpec(
            name=name,
            timezone=timezone,
            weekly=weekly,
            display_zh=display_zh,
            display_en=display_en,
            holiday_source=holiday_source,
            holidays=holiday_dates,
            partial_holidays=partial,
            adjusted_workdays=adjusted,
            workday_template=template,
            overrides=overrides,
            horizon_years=horizon,
        )
    except PolicyError as exc:  # spec-level checks (e.g. template): re-address to the file
        raise reader.fail(exc.field, exc.problem) from exc


def calendar_specs_from_mapping(data: Mapping[str, object], source: str) -> dict[str, CalendarSpec]:
    """Validate a whole parsed ``calendars.toml`` document: ``[calendars.<name>]`` tables."""
    for key in data:
        if key != "calendars":
            raise PolicyError(source, key, "unknown top-level field; expected only [calendars.*]")
    tables = data.get("calendars")
    if not isinstance(tables, Mapping) or not tables:
        raise PolicyError(source, "calendars", "expected at least one [calendars.<name>] table")
    specs: dict[str, CalendarSpec] = {}
    for name, table in cast(Mapping[str, object], tables).items():
        if not isinstance(table, Mapping):
            raise PolicyError(source, f"calendars.{name}", "expected a table")
        specs[name] = calendar_spec_from_mapping(
            cast(Mapping[str, object], table), source, name=name
        )
    return specs


def load_calendars(data: Mapping[str, object], source: str) -> dict[str, BusinessCalendar]:
    """Validate and compile every calendar of a parsed ``calendars.toml`` document.

    The caller reads and parses the file (the domain does no I/O) and passes its
    path as ``source`` so errors can say where to look.
    """
    return {
        name: build_calendar(spec)
        for name, spec in calendar_specs_from_mapping(data, source).items()
    }
