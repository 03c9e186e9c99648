"""Compiled calendars agree with a brute-force oracle (rule X-3).

The oracle knows nothing of the compiled interval arrays: it walks UTC time one
minute at a time, reads each minute on the local wall clock of the calendar's
zone, picks that date's windows by the precedence rules straight from the
``CalendarSpec`` (and the ``holidays`` package for ``"CN"``), and asks whether
the reading falls in one. Generated calendars put every window edge on a whole
minute and every zone offset is a whole number of minutes, so openness is
constant within each minute and the walk is exact for minute-aligned instants.

Generated calendars have 0-3 windows per weekday (edges anywhere from 00:00 to
24:00, sometimes touching), random full and partial holidays, adjusted working
days and overrides placed near the start instant (where they matter), and
sometimes China's holiday data. Start instants cluster on month ends, year ends,
leap days, DST changes and midnight. The horizon is two years (2027-2028) so a
calendar compiles in milliseconds and each property runs 1,000 examples.
Every generated instant and duration lies inside the horizon (durations are
bounded by the open time a start has left), so no example ends in a refusal by
chance; the refusal past the horizon is a property of its own.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftersales.domain.calendars import BusinessCalendar, CalendarSpec, Window, build_calendar
from aftersales.domain.errors import CalendarError

HORIZON_YEARS = (2027, 2028)
UTC = ZoneInfo("UTC")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
ONE_US = timedelta(microseconds=1)
MAX_SPAN_MINUTES = 72 * 60
MAX_DURATION_US = MAX_SPAN_MINUTES * 60 * 1_000_000
NEXT_OPEN_WALK_MINUTES = 14 * 24 * 60
# Asia/Shanghai has no DST; the others change twice a year (Lord Howe by 30 minutes).
ZONES = ("Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC")
SPECIAL_DATES = (
    date(2027, 1, 1),
    date(2027, 1, 31),
    date(2027, 2, 6),  # Spring Festival 2027
    date(2027, 2, 28),
    date(2027, 4, 30),
    date(2027, 9, 30),
    date(2027, 10, 1),  # National Day
    date(2027, 12, 31),
    date(2028, 1, 1),
    date(2028, 2, 28),
    date(2028, 2, 29),
    date(2028, 3, 1),
    date(2028, 6, 30),
    date(2028, 12, 25),
)
# Days each zone changes its offset. The interesting windows have an edge inside the
# skipped or repeated local hour (01:30-03:00 covers all three zones), so edges are
# drawn from there often.
DST_CHANGES = {
    "Europe/Berlin": (date(2027, 3, 28), date(2027, 10, 31), date(2028, 3, 26), date(2028, 10, 29)),
    "America/New_York": (
        date(2027, 3, 14),
        date(2027, 11, 7),
        date(2028, 3, 12),
        date(2028, 11, 5),
    ),
    "Australia/Lord_Howe": (
        date(2027, 4, 4),
        date(2027, 10, 3),
        date(2028, 4, 2),
        date(2028, 10, 1),
    ),
}
DST_EDGE_MINUTES = (60, 90, 100, 120, 125, 135, 150, 165, 170, 175, 180, 190)
FIRST = date(2027, 1, 1).toordinal()
# The latest generated start (special dates reach two days later). It leaves room
# inside the horizon for a start shifted by up to 72 h and then a 72 h span after it,
# as the vectorised property draws them: no generated instant falls past the horizon.
LAST_START = date(2028, 12, 23)
SPECIAL_MINUTES = (0, 1, 59, 60, 90, 120, 150, 179, 540, 719, 720, 1079, 1080, 1380, 1439)

PROPERTY_SETTINGS = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------- the oracle


@functools.cache
def china_package(years: tuple[int, int]) -> tuple[frozenset[date], frozenset[date]]:
    data = holidays.country_holidays("CN", years=range(years[0], years[1] + 1))
    return frozenset(data), frozenset(data.weekend_workdays)


class Oracle:
    """Is a minute open? Answered from the raw definition, one minute at a time."""

    def __init__(self, spec: CalendarSpec) -> None:
        self.spec = spec
        self.zone = ZoneInfo(spec.timezone)
        package_off, package_work = (
            china_package(spec.horizon_years) if spec.holiday_source == "CN" else ((), ())
        )
        self.full_holidays = spec.holidays | set(package_off)
        self.adjusted = spec.adjusted_workdays | set(package_work)

    def windows(self, day: date) -> tuple[Window, ...]:
        spec = self.spec
        if day in spec.overrides:
            return spec.overrides[day]
        if day in spec.partial_holidays:
            return spec.partial_holidays[day]
        if day in self.full_holidays:
            return ()
        if day in self.adjusted:
            return spec.weekly[spec.workday_template]
        return spec.weekly[day.weekday()]

    def is_open_minute(self, minute: int) -> bool:
        local = datetime.fromtimestamp(minute * 60, self.zone)
        second = local.hour * 3600 + local.minute * 60
        return any(w.start_s <= second < w.end_s for w in self.windows(local.date()))

    def walk(self, first_minute: int, count: int) -> list[bool]:
        return [self.is_open_minute(minute) for minute in range(first_minute, first_minute + count)]


def minute_of(moment: datetime) -> int:
    return (moment - EPOCH) // MINUTE


def at_minute(minute: int) -> datetime:
    return EPOCH + minute * MINUTE


def to_us(moment: datetime) -> int:
    return (moment - EPOCH) // ONE_US


# --------------------------------------------------------------------------- generators


# Strategies are built once here: building them inside a composite on every draw
# costs more than the draws themselves.
_WINDOW_COUNTS = st.integers(0, 3)
_WINDOW_EDGES = {
    count: st.lists(
        st.one_of(st.integers(0, 1440), st.sampled_from(DST_EDGE_MINUTES)),
        min_size=2 * count,
        max_size=2 * count,
        unique=True,
    )
    for count in (1, 2, 3)
}


@st.composite
def day_windows(draw: st.DrawFn) -> tuple[Window, ...]:
    count = draw(_WINDOW_COUNTS)
    if count == 0:
        return ()
    edges = sorted(draw(_WINDOW_EDGES[count]))
    windows = [Window(edges[2 * i] * 60, edges[2 * i + 1] * 60) for i in range(count)]
    if count > 1 and draw(st.booleans()):  # touching windows must merge cleanly
        windows[1] = Window(windows[0].end_s, windows[1].end_s)
    return tuple(windows)


DAY_WINDOWS = day_windows()
OPEN_DAY_WINDOWS = DAY_WINDOWS.filter(bool)
WEEKS = st.lists(DAY_WINDOWS, min_size=7, max_size=7)
ZONE_NAMES = st.sampled_from(ZONES)


def _days_before(days: tuple[date, ...]) -> st.SearchStrategy[date]:
    return st.tuples(st.sampled_from(days), st.integers(0, 3)).map(
        lambda pair: max(pair[0] - timedelta(days=pair[1]), date(2027, 1, 1))
    )


_ANY_DAY = st.dates(date(2027, 1, 1), LAST_START)
ANCHORS = {
    zone: st.one_of(
        _days_before(SPECIAL_DATES),
        _ANY_DAY,
        *([_days_before(DST_CHANGES[zone])] * 2 if zone in DST_CHANGES else []),
    )
    for zone in ZONES
}
MINUTES_OF_DAY = st.one_of(st.sampled_from(SPECIAL_MINUTES), st.integers(0, 1439))
# Special dates are placed this many days from the start, where the walks look.
NEARBY = st.integers(-3, 8)
HOLIDAY_SOURCES = st.sampled_from([None, None, "CN"])
NEARBY_SETS = {size: st.frozensets(NEARBY, max_size=size) for size in (3, 4)}
NEARBY_WINDOWS = {size: st.dictionaries(NEARBY, DAY_WINDOWS, max_size=size) for size in (2, 3)}


@dataclass(frozen=True)
class Scenario:
    spec: CalendarSpec
    start: datetime  # minute-aligned

    @functools.cached_property
    def calendar(self) -> BusinessCalendar:
        return build_calendar(self.spec)

    @functools.cached_property
    def oracle(self) -> Oracle:
        return Oracle(self.spec)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    zone_name = draw(ZONE_NAMES)
    anchor = draw(ANCHORS[zone_name])
    minute = draw(MINUTES_OF_DAY)
    start = datetime.combine(anchor, time(minute // 60, minute % 60), tzinfo=ZoneInfo(zone_name))

    weekly = draw(WEEKS)
    if not any(weekly):
        weekly[anchor.weekday()] = draw(OPEN_DAY_WINDOWS)
    template = draw(st.sampled_from([index for index, day in enumerate(weekly) if day]))

    def near(offset: int) -> date | None:
        day = anchor + timedelta(days=offset)
        return day if HORIZON_YEARS[0] <= day.year <= HORIZON_YEARS[1] else None

    def dates(offsets: frozenset[int]) -> frozenset[date]:
        return frozenset(day for day in map(near, offsets) if day is not None)

    def dated(table: dict[int, tuple[Window, ...]]) -> dict[date, tuple[Window, ...]]:
        return {day: windows for offset, windows in table.items() if (day := near(offset))}

    spec = CalendarSpec(
        name="generated",
        timezone=zone_name,
        weekly=tuple(weekly),
        holiday_source=draw(HOLIDAY_SOURCES),
        holidays=dates(draw(NEARBY_SETS[4])),
        partial_holidays=dated(draw(NEARBY_WINDOWS[2])),
        adjusted_workdays=dates(draw(NEARBY_SETS[3])),
        workday_template=template,
        overrides=dated(draw(NEARBY_WINDOWS[3])),
        horizon_years=HORIZON_YEARS,
    )
    return Scenario(spec, start)


spans = st.one_of(st.integers(-60, MAX_SPAN_MINUTES), st.sampled_from([0, 1, 1440, 2880]))
durations_us = st.one_of(
    st.integers(0, MAX_DURATION_US), st.sampled_from([0, 1, 60_000_000, 3_600_000_000])
)
jitters_us = st.one_of(st.just(0), st.integers(0, 59_999_999))


# --------------------------------------------------------------------------- properties


@PROPERTY_SETTINGS
@given(scenario=scenarios(), span=spans)
def test_elapsed_equals_the_minute_oracle(scenario: Scenario, span: int) -> None:
    first = minute_of(scenario.start)
    expected = sum(scenario.oracle.walk(first, max(span, 0))) * MINUTE
    assert scenario.calendar.elapsed(scenario.start, at_minute(first + span)) == expected


@PROPERTY_SETTINGS
@given(scenario=scenarios(), span=spans.map(abs))
def test_add_equals_the_minute_oracle(scenario: Scenario, span: int) -> None:
    # The duration is the open time of a random wall span, which keeps the walk short
    # however sparse the calendar; the oracle's answer is the end of the minute that
    # brings the count to the duration.
    first = minute_of(scenario.start)
    flags = scenario.oracle.walk(first, span)
    minutes = sum(flags)
    if minutes == 0:
        expected = first
    else:
        running = 0
        for offset, is_open in enumerate(flags):
            running += is_open
            if running == minutes:
                expected = first + offset + 1
                break
    assert scenario.calendar.add(scenario.start, minutes * MINUTE) == at_minute(expected)


def durations_within(left_us: int) -> st.SearchStrategy[int]:
    """Durations of at most ``left_us``: the open time a start has left in the compiled years.

    A sparse calendar may have less than ``MAX_DURATION_US`` of open time between a
    start and the horizon's end, so the bound is drawn per example; the limit itself
    (the last open instant of the horizon) is drawn often, as an edge.
    """
    limit = min(MAX_DURATION_US, left_us)
    special = [d for d in (0, 1, 60_000_000, 3_600_000_000) if d <= limit]
    return st.one_of(st.integers(0, limit), st.sampled_from(special), st.just(limit))


def open_time_left(calendar: BusinessCalendar, start: datetime) -> int:
    horizon = calendar.horizon
    assert horizon is not None
    return calendar.elapsed(start, horizon[1]) // ONE_US


@PROPERTY_SETTINGS
@given(scenario=scenarios(), jitter=jitters_us, span=spans.map(abs), data=st.data())
def test_add_and_elapsed_are_inverse(
    scenario: Scenario, jitter: int, span: int, data: st.DataObject
) -> None:
    # Every instant and duration drawn here lies inside the calendar's horizon, so
    # each example checks the property; past the horizon the calendar refuses, which
    # test_add_past_the_horizon_is_refused checks on its own.
    calendar = scenario.calendar
    start = scenario.start + jitter * ONE_US
    wanted = data.draw(durations_within(open_time_left(calendar, start)), "duration") * ONE_US
    due = calendar.add(start, wanted)
    assert due >= start
    assert calendar.elapsed(start, due) == wanted
    if wanted > timedelta(0):  # earliest such instant: one microsecond less is not enough
        assert calendar.elapsed(start, due - ONE_US) < wanted
    # And the other way round: counting a range's open time lands no later than its end.
    # Starts come no later than 2028-12-25, so a span of MAX_SPAN_MINUTES stays in the horizon.
    # The span is real time: added on the wall clock, a start inside a DST gap (02:59 on
    # the morning clocks go forward) would give an "end" earlier than the start itself.
    end = (start.astimezone(UTC) + span * MINUTE).astimezone(start.tzinfo)
    assert calendar.add(start, calendar.elapsed(start, end)) <= end


@PROPERTY_SETTINGS
@given(scenario=scenarios(), jitter=jitters_us, extra=st.one_of(st.just(1), durations_us))
def test_add_past_the_horizon_is_refused(scenario: Scenario, jitter: int, extra: int) -> None:
    calendar = scenario.calendar
    horizon = calendar.horizon
    assert horizon is not None
    start = scenario.start + jitter * ONE_US
    left = calendar.elapsed(start, horizon[1])
    # All the open time left lands inside the horizon; one microsecond more cannot.
    assert calendar.add(start, left) <= horizon[1]
    with pytest.raises(CalendarError, match="beyond the horizon"):
        calendar.add(start, left + max(extra, 1) * ONE_US)


@PROPERTY_SETTINGS
@given(scenario=scenarios(), jitter=jitters_us, data=st.data())
def test_add_is_monotonic_in_the_duration(
    scenario: Scenario, jitter: int, data: st.DataObject
) -> None:
    calendar = scenario.calendar
    start = scenario.start + jitter * ONE_US
    within = durations_within(open_time_left(calendar, start))
    shorter, longer = sorted((data.draw(within, "first"), data.draw(within, "second")))
    assert calendar.add(start, shorter * ONE_US) <= calendar.add(start, longer * ONE_US)


@PROPERTY_SETTINGS
@given(scenario=scenarios(), jitter=jitters_us, shift=st.integers(-30, 4 * 1440))
def test_is_open_equals_the_minute_oracle(scenario: Scenario, jitter: int, shift: int) -> None:
    minute = minute_of(scenario.start) + max(shift, 0)
    moment = at_minute(minute) + jitter * ONE_US
    assert scenario.calendar.is_open(moment) == scenario.oracle.is_open_minute(minute)


@PROPERTY_SETTINGS
@given(scenario=scenarios(), jitter=jitters_us)
def test_next_open_equals_the_minute_oracle(scenario: Scenario, jitter: int) -> None:
    first = minute_of(scenario.start)
    moment = scenario.start + jitter * ONE_US
    found = next(
        (
            minute
            for minute in range(first, first + NEXT_OPEN_WALK_MINUTES)
            if scenario.oracle.is_open_minute(minute)
        ),
        None,
    )
    horizon = scenario.calendar.horizon
    assert horizon is not None
    if found is not None and at_minute(found) >= horizon[1]:
        # The next opening lies past the compiled years: the calendar says so, it never guesses.
        with pytest.raises(CalendarError):
            scenario.calendar.next_open(moment)
        return
    if found is None:  # closed for two weeks: only "not before then" can be checked
        try:
            opening = scenario.calendar.next_open(moment)
        except CalendarError:
            return
        assert opening >= at_minute(first + NEXT_OPEN_WALK_MINUTES)
    elif found == first:
        # Compared in UTC: Python's == is False across zones for a local time that falls
        # in a DST gap or repeated hour, even when the instants are the same.
        assert scenario.calendar.next_open(moment) == moment.astimezone(UTC)
    else:
        assert scenario.calendar.next_open(moment) == at_minute(found)


@PROPERTY_SETTINGS
@given(
    scenario=scenarios(),
    rows=st.lists(
        st.tuples(jitters_us, st.integers(0, MAX_DURATION_US), durations_us, spans),
        min_size=1,
        max_size=12,
    ),
)
def test_vectorised_forms_equal_the_scalar_forms(
    scenario: Scenario, rows: list[tuple[int, int, int, int]]
) -> None:
    calendar = scenario.calendar
    base = to_us(scenario.start)
    starts = np.array([base + shift + jitter for jitter, shift, _, _ in rows], dtype=np.int64)
    durations = np.array([duration for _, _, duration, _ in rows], dtype=np.int64)
    ends = starts + np.array([span * 60_000_000 for _, _, _, span in rows], dtype=np.int64)

    def moment(epoch_us: int) -> datetime:
        return EPOCH + int(epoch_us) * ONE_US

    expected_spent = [
        calendar.elapsed(moment(s), moment(e)) // ONE_US for s, e in zip(starts, ends, strict=True)
    ]
    assert calendar.elapsed_many(starts, ends).tolist() == expected_spent
    try:
        expected_due = [
            to_us(calendar.add(moment(s), int(d) * ONE_US))
            for s, d in zip(starts, durations, strict=True)
        ]
    except CalendarError:
        try:
            calendar.add_many(starts, durations)
        except CalendarError:
            return
        raise AssertionError("add_many answered where add refused") from None
    assert calendar.add_many(starts, durations).tolist() == expected_due
