"""Business calendars by example (rule X-3, OH-4).

The shipped ``policies/calendars.toml`` is the subject of most tests: what it says
about real dates (China's 2026 holidays and adjusted working days) is what cases
will see. Generated calendars are checked against a brute-force oracle in
``test_calendar_properties.py``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from aftersales.domain.calendars import (
    BusinessCalendar,
    CalendarSpec,
    DayKind,
    Window,
    build_calendar,
    calendar_spec_from_mapping,
    load_calendars,
    wall_clock,
)
from aftersales.domain.errors import CalendarError, PolicyError

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
CALENDARS_TOML = Path(__file__).parents[2] / "src" / "aftersales" / "policies" / "calendars.toml"
SOURCE = "policies/calendars.toml"
HOUR = timedelta(hours=1)


def local(zone: ZoneInfo, *parts: int) -> datetime:
    year, month, day, hour, minute, second, microsecond = (*parts, 0, 0, 0, 0)[:7]
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=zone)


def sh(*parts: int) -> datetime:
    """A Shanghai wall-clock time: sh(2026, 10, 1, 9) is 09:00 on National Day."""
    return local(SHANGHAI, *parts)


@pytest.fixture(scope="module")
def calendars() -> dict[str, BusinessCalendar]:
    with CALENDARS_TOML.open("rb") as handle:
        return load_calendars(tomllib.load(handle), SOURCE)


@pytest.fixture(scope="module")
def cn(calendars: dict[str, BusinessCalendar]) -> BusinessCalendar:
    return calendars["cn-business"]


@pytest.fixture(scope="module")
def lunch(calendars: dict[str, BusinessCalendar]) -> BusinessCalendar:
    return calendars["cn-business-lunch"]


def every_day(*windows: str) -> dict[str, list[str]]:
    return {day: list(windows) for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def spec_table(**fields: Any) -> dict[str, Any]:
    """A valid calendar table, with ``fields`` replacing or adding entries."""
    table: dict[str, Any] = {
        "display": {"zh": "测试", "en": "Test"},
        "timezone": "Asia/Shanghai",
        "weekly": {"mon": ["09:00-18:00"], "tue": ["09:00-18:00"]},
    }
    table.update(fields)
    return table


# --------------------------------------------------------------------------- the shipped file


def test_shipped_file_defines_the_five_calendars_with_zh_and_en_names(
    calendars: dict[str, BusinessCalendar],
) -> None:
    assert set(calendars) == {
        "wall",
        "oh-initiation-window",
        "cn-business",
        "cn-service-day",
        "cn-business-lunch",
    }
    for calendar in calendars.values():
        assert calendar.display_zh != calendar.name
        assert calendar.display_en != calendar.name
        assert calendar.timezone == SHANGHAI
    assert calendars["wall"].is_wall_clock


# --------------------------------------------------------------------------- China 2026


@pytest.mark.parametrize("saturday", [date(2026, 2, 14), date(2026, 2, 28)])
def test_cn_business_is_open_on_adjusted_working_saturdays(
    cn: BusinessCalendar, saturday: date
) -> None:
    assert saturday.weekday() == 5
    assert cn.is_open(sh(saturday.year, saturday.month, saturday.day, 10))
    assert cn.day(saturday)[0] is DayKind.ADJUSTED_WORKDAY


def test_cn_business_is_closed_on_national_day_2026_10_01(cn: BusinessCalendar) -> None:
    assert not cn.is_open(sh(2026, 10, 1, 10))
    assert cn.day(date(2026, 10, 1)) == (DayKind.HOLIDAY, ())


def test_cn_business_is_closed_on_substituted_bridge_days(cn: BusinessCalendar) -> None:
    # 2026-02-20 is a Friday given off in exchange for working Saturday 2026-02-14.
    assert not cn.is_open(sh(2026, 2, 20, 10))


def test_cn_service_day_opens_weekends_but_closes_public_holidays(
    calendars: dict[str, BusinessCalendar],
) -> None:
    service = calendars["cn-service-day"]
    assert service.is_open(sh(2026, 3, 7, 10))  # an ordinary Saturday
    assert not service.is_open(sh(2026, 10, 1, 10))


def test_weekday_hours_are_open_and_weekends_closed(cn: BusinessCalendar) -> None:
    assert cn.is_open(sh(2026, 3, 4, 9))  # Wednesday, opening instant
    assert cn.is_open(sh(2026, 3, 4, 17, 59, 59, 999_999))
    assert not cn.is_open(sh(2026, 3, 4, 18))  # closing instant is closed
    assert not cn.is_open(sh(2026, 3, 4, 8, 59, 59, 999_999))
    assert not cn.is_open(sh(2026, 3, 7, 10))  # Saturday
    assert not cn.is_open(sh(2026, 3, 8, 10))  # Sunday


def test_lunch_break_is_closed_and_both_windows_count(lunch: BusinessCalendar) -> None:
    assert lunch.is_open(sh(2026, 3, 4, 11, 59))
    assert not lunch.is_open(sh(2026, 3, 4, 12))
    assert not lunch.is_open(sh(2026, 3, 4, 13, 29))
    assert lunch.is_open(sh(2026, 3, 4, 13, 30))
    assert lunch.elapsed(sh(2026, 3, 4), sh(2026, 3, 5)) == timedelta(hours=7, minutes=30)
    assert lunch.add(sh(2026, 3, 4, 11), 2 * HOUR) == sh(2026, 3, 4, 14, 30)
    assert lunch.next_open(sh(2026, 3, 4, 12, 15)) == sh(2026, 3, 4, 13, 30)


def test_oh_initiation_window_includes_0900_and_excludes_1800(
    calendars: dict[str, BusinessCalendar],
) -> None:
    # OH-4: initiated between 09:00 and 18:00, start inclusive, end exclusive.
    window = calendars["oh-initiation-window"]
    assert window.is_open(sh(2026, 10, 1, 9, 0, 0))
    assert window.is_open(sh(2026, 3, 8, 17, 59, 59, 999_999))
    assert not window.is_open(sh(2026, 3, 8, 18, 0, 0))
    assert not window.is_open(sh(2026, 3, 8, 8, 59, 59, 999_999))


# --------------------------------------------------------------------------- add and elapsed


def test_add_across_a_weekend(cn: BusinessCalendar) -> None:
    friday_five = sh(2026, 3, 6, 17)
    assert cn.add(friday_five, 2 * HOUR) == sh(2026, 3, 9, 10)
    assert cn.elapsed(friday_five, sh(2026, 3, 9, 10)) == 2 * HOUR


def test_add_across_national_day_2026(cn: BusinessCalendar) -> None:
    # 10-01..10-07 are off; Thursday 10-08 is the next working day.
    assert cn.add(sh(2026, 9, 30, 17), 2 * HOUR) == sh(2026, 10, 8, 10)
    assert cn.elapsed(sh(2026, 9, 30, 9), sh(2026, 10, 9, 9)) == 18 * HOUR
    counted = list(cn.open_intervals(sh(2026, 9, 30, 17), sh(2026, 10, 8, 10)))
    assert counted == [
        (sh(2026, 9, 30, 17), sh(2026, 9, 30, 18)),
        (sh(2026, 10, 8, 9), sh(2026, 10, 8, 10)),
    ]


def test_adding_exactly_the_rest_of_the_day_lands_at_closing_time(cn: BusinessCalendar) -> None:
    assert cn.add(sh(2026, 3, 4, 17), HOUR) == sh(2026, 3, 4, 18)


def test_add_zero_is_the_same_instant_even_when_closed(cn: BusinessCalendar) -> None:
    saturday = sh(2026, 3, 7, 3, 4, 5, 6)
    assert cn.add(saturday, timedelta(0)) == saturday
    assert cn.add(saturday, timedelta(microseconds=1)) == sh(2026, 3, 9, 9, 0, 0, 1)


def test_add_across_midnight(calendars: dict[str, BusinessCalendar]) -> None:
    service = calendars["cn-service-day"]
    assert service.add(sh(2026, 3, 3, 17, 30), HOUR) == sh(2026, 3, 4, 9, 30)


def test_a_window_ending_at_2400_joins_the_next_days_window_at_0000() -> None:
    night = build_calendar(
        calendar_spec_from_mapping(
            spec_table(weekly={"mon": ["20:00-24:00"], "tue": ["00:00-06:00"]}), SOURCE, name="n"
        )
    )
    monday_evening = sh(2026, 3, 2, 20)
    stretches = list(night.open_intervals(monday_evening, sh(2026, 3, 3, 12)))
    assert stretches == [(monday_evening, sh(2026, 3, 3, 6))]
    assert night.add(monday_evening, 5 * HOUR) == sh(2026, 3, 3, 1)
    assert night.is_open(sh(2026, 3, 3, 0, 0))


def test_add_across_month_end(cn: BusinessCalendar) -> None:
    assert cn.add(sh(2026, 3, 31, 17, 30), HOUR) == sh(2026, 4, 1, 9, 30)
    assert cn.elapsed(sh(2026, 4, 30, 12), sh(2026, 5, 6, 12)) == 6 * HOUR + 3 * HOUR


def test_add_across_year_end_into_2027(cn: BusinessCalendar) -> None:
    # 2027-01-01 is New Year's Day (a Friday); the weekend follows.
    assert cn.add(sh(2026, 12, 31, 17), 2 * HOUR) == sh(2027, 1, 4, 10)
    assert cn.elapsed(sh(2026, 12, 31, 12), sh(2027, 1, 4, 12)) == 9 * HOUR


def test_leap_day_2028_02_29_is_an_ordinary_tuesday(cn: BusinessCalendar) -> None:
    assert cn.add(sh(2028, 2, 28, 17), 9 * HOUR) == sh(2028, 2, 29, 17)
    assert cn.elapsed(sh(2028, 2, 28), sh(2028, 3, 1)) == 18 * HOUR
    assert cn.add(sh(2028, 2, 29, 17), 2 * HOUR) == sh(2028, 3, 1, 10)


def test_next_open_is_the_instant_itself_when_open(cn: BusinessCalendar) -> None:
    at = sh(2026, 3, 4, 10, 11, 12, 13)
    assert cn.next_open(at) == at
    assert cn.next_open(sh(2026, 3, 7, 10)) == sh(2026, 3, 9, 9)


def test_results_are_utc_and_inputs_may_use_any_zone(cn: BusinessCalendar) -> None:
    result = cn.add(datetime(2026, 3, 6, 9, tzinfo=UTC), 2 * HOUR)  # 17:00 Shanghai
    assert result.tzinfo is not None
    assert result.utcoffset() == timedelta(0)
    assert result == sh(2026, 3, 9, 10)


def test_microseconds_are_kept_exactly(cn: BusinessCalendar) -> None:
    at = sh(2026, 3, 4, 17, 59, 59, 999_999)
    assert cn.add(at, timedelta(microseconds=2)) == sh(2026, 3, 5, 9, 0, 0, 1)
    assert cn.elapsed(at, sh(2026, 3, 5, 9, 0, 0, 1)) == timedelta(microseconds=2)


def test_elapsed_is_zero_for_an_empty_or_reversed_range(cn: BusinessCalendar) -> None:
    assert cn.elapsed(sh(2026, 3, 4, 12), sh(2026, 3, 4, 12)) == timedelta(0)
    assert cn.elapsed(sh(2026, 3, 4, 12), sh(2026, 3, 4, 10)) == timedelta(0)
    assert list(cn.open_intervals(sh(2026, 3, 4, 12), sh(2026, 3, 4, 10))) == []


# --------------------------------------------------------------------------- overrides


def test_overrides_beat_the_holiday_package() -> None:
    # holidays 0.108 has 2027-02-06 (Saturday, Spring Festival) and 2027-02-10
    # (observed) off, and 2027-02-11 as an ordinary Thursday; the "official
    # notice" here says otherwise, and the definition wins.
    spec = calendar_spec_from_mapping(
        spec_table(
            weekly={day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
            holidays="CN",
            overrides={
                "closed": [date(2027, 2, 11)],
                "working": [date(2027, 2, 6)],
                "windows": {"2027-02-10": ["09:00-12:00"]},
            },
        ),
        SOURCE,
        name="cn-2027",
    )
    calendar = build_calendar(spec)
    assert calendar.is_open(sh(2027, 2, 6, 10))
    assert calendar.day(date(2027, 2, 6)) == (DayKind.OVERRIDE, (Window.parse("09:00-18:00"),))
    assert calendar.is_open(sh(2027, 2, 10, 11))
    assert not calendar.is_open(sh(2027, 2, 10, 13))
    assert not calendar.is_open(sh(2027, 2, 11, 10))
    assert calendar.elapsed(sh(2027, 2, 6), sh(2027, 2, 12)) == 9 * HOUR + 3 * HOUR


def test_precedence_override_partial_holiday_full_holiday_adjusted_weekly() -> None:
    monday, tuesday, wednesday, saturday, sunday = (
        date(2026, 3, 2),
        date(2026, 3, 3),
        date(2026, 3, 4),
        date(2026, 3, 7),
        date(2026, 3, 8),
    )
    calendar = build_calendar(
        CalendarSpec(
            name="precedence",
            timezone="Asia/Shanghai",
            weekly=(
                (Window.parse("09:00-18:00"),),
                (Window.parse("09:00-18:00"),),
                (Window.parse("09:00-18:00"),),
                (),
                (),
                (),
                (),
            ),
            holidays=frozenset({monday, tuesday, saturday}),
            partial_holidays={tuesday: (Window.parse("09:00-12:00"),)},
            adjusted_workdays=frozenset({saturday, sunday}),
            overrides={monday: (Window.parse("10:00-11:00"),)},
            horizon_years=(2026, 2026),
        )
    )
    assert calendar.day(monday) == (DayKind.OVERRIDE, (Window.parse("10:00-11:00"),))
    assert calendar.day(tuesday) == (DayKind.PARTIAL_HOLIDAY, (Window.parse("09:00-12:00"),))
    assert calendar.day(saturday) == (DayKind.HOLIDAY, ())
    assert calendar.day(sunday) == (DayKind.ADJUSTED_WORKDAY, (Window.parse("09:00-18:00"),))
    assert calendar.day(wednesday) == (DayKind.WEEKLY, (Window.parse("09:00-18:00"),))


# --------------------------------------------------------------------------- daylight saving


@pytest.fixture(scope="module")
def berlin() -> BusinessCalendar:
    return build_calendar(
        calendar_spec_from_mapping(
            spec_table(timezone="Europe/Berlin", weekly=every_day("01:00-04:00", "09:00-17:00")),
            SOURCE,
            name="berlin",
        )
    )


def berlin_at(*parts: int) -> datetime:
    return local(BERLIN, *parts)


def test_dst_spring_forward_skips_the_missing_hour(berlin: BusinessCalendar) -> None:
    # 2026-03-29: 02:00 CET jumps to 03:00 CEST, so 01:00-04:00 holds only 2 hours.
    day = berlin.elapsed(berlin_at(2026, 3, 29), berlin_at(2026, 3, 30))
    assert day == timedelta(hours=2 + 8)
    assert berlin.add(berlin_at(2026, 3, 29, 1, 30), HOUR) == berlin_at(2026, 3, 29, 3, 30)
    # 16:00-17:00 on Saturday, then 01:00-02:00 CET, which ends at 03:00 CEST.
    assert berlin.add(berlin_at(2026, 3, 28, 16), 2 * HOUR) == berlin_at(2026, 3, 29, 3)
    assert berlin.add(berlin_at(2026, 3, 28, 16), 4 * HOUR) == berlin_at(2026, 3, 29, 10)


def test_dst_fall_back_counts_the_repeated_hour_twice(berlin: BusinessCalendar) -> None:
    # 2026-10-25: 03:00 CEST falls back to 02:00 CET, so 01:00-04:00 holds 4 hours.
    day = berlin.elapsed(berlin_at(2026, 10, 25), berlin_at(2026, 10, 26))
    assert day == timedelta(hours=4 + 8)
    start = berlin_at(2026, 10, 25, 1)
    assert berlin.add(start, 4 * HOUR) == berlin_at(2026, 10, 25, 4)
    assert berlin.add(start, 4 * HOUR) - start == 4 * HOUR  # 01:00 CEST to 04:00 CET


def test_dst_daytime_hours_follow_local_time(berlin: BusinessCalendar) -> None:
    # 09:00 local is 08:00 UTC in winter and 07:00 UTC in summer.
    assert berlin.next_open(berlin_at(2026, 3, 28, 5)) == datetime(2026, 3, 28, 8, tzinfo=UTC)
    assert berlin.next_open(berlin_at(2026, 3, 29, 5)) == datetime(2026, 3, 29, 7, tzinfo=UTC)


def test_window_edges_inside_the_dst_gap_or_repeated_hour_follow_the_local_reading() -> None:
    # Open means "the local clock reads inside the window". On 2026-03-29 local
    # 02:00-03:00 never happens, so 02:30-04:00 is open 03:00-04:00 CEST (1 h). On
    # 2026-10-25 the clock reads 02:00-02:30 twice, so that window is open twice (1 h).
    # Converting each edge on its own (fold=0) would give 30 minutes in both cases.
    calendar = build_calendar(
        calendar_spec_from_mapping(
            spec_table(
                timezone="Europe/Berlin",
                weekly={"mon": ["09:00-10:00"]},
                horizon=[2026, 2026],
                overrides={
                    "windows": {"2026-03-29": ["02:30-04:00"], "2026-10-25": ["02:00-02:30"]}
                },
            ),
            SOURCE,
            name="dst-edges",
        )
    )
    spring = list(calendar.open_intervals(berlin_at(2026, 3, 29), berlin_at(2026, 3, 30)))
    assert spring == [(datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 3, 29, 2, tzinfo=UTC))]
    autumn = list(calendar.open_intervals(berlin_at(2026, 10, 25), berlin_at(2026, 10, 26)))
    assert autumn == [
        (datetime(2026, 10, 25, 0, tzinfo=UTC), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        (datetime(2026, 10, 25, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
    ]


def test_full_days_are_23_and_25_hours_long_on_dst_changes() -> None:
    calendar = build_calendar(
        CalendarSpec(
            name="always",
            timezone="Europe/Berlin",
            weekly=((Window(0, 86_400),),) * 7,
            horizon_years=(2026, 2026),
        )
    )
    assert calendar.elapsed(berlin_at(2026, 3, 29), berlin_at(2026, 3, 30)) == 23 * HOUR
    assert calendar.elapsed(berlin_at(2026, 10, 25), berlin_at(2026, 10, 26)) == 25 * HOUR
    assert len(list(calendar.open_intervals(berlin_at(2026, 3, 1), berlin_at(2026, 11, 1)))) == 1


# --------------------------------------------------------------------------- wall clock


def test_wall_clock_adds_plain_time_with_no_horizon() -> None:
    wall = wall_clock()
    start = sh(2026, 9, 30, 17)
    assert wall.add(start, 24 * HOUR) == sh(2026, 10, 1, 17)  # NW-4 over a holiday
    assert wall.add(start, timedelta(days=30)) == sh(2026, 10, 30, 17)  # NW-5
    assert wall.elapsed(start, sh(2026, 10, 2, 17)) == 48 * HOUR  # OH-6
    assert wall.elapsed(sh(2026, 10, 2), start) == timedelta(0)
    assert wall.is_open(sh(2150, 1, 1))
    assert wall.next_open(start) == start
    assert wall.horizon is None
    assert list(wall.open_intervals(start, sh(2026, 10, 1))) == [(start, sh(2026, 10, 1))]


def test_wall_clock_vectorised_forms_are_plain_arithmetic() -> None:
    wall = wall_clock()
    starts = np.array([0, 10, 1_000_000], dtype=np.int64)
    assert wall.add_many(starts, 5).tolist() == [5, 15, 1_000_005]
    assert wall.elapsed_many(starts, np.array([3, 5, 2_000_000])).tolist() == [3, 0, 1_000_000]


# --------------------------------------------------------------------------- errors


def test_naive_datetimes_are_refused(cn: BusinessCalendar) -> None:
    naive = datetime(2026, 3, 4, 10)  # noqa: DTZ001 - the point of the test
    with pytest.raises(CalendarError, match="naive datetime"):
        cn.is_open(naive)
    with pytest.raises(CalendarError, match="naive datetime"):
        cn.add(naive, HOUR)
    with pytest.raises(CalendarError, match="naive datetime"):
        wall_clock().elapsed(sh(2026, 3, 4), naive)


def test_questions_outside_the_horizon_name_the_horizon(cn: BusinessCalendar) -> None:
    with pytest.raises(CalendarError, match=r"outside the horizon .*2000-01-01 to 2045-12-31"):
        cn.is_open(sh(2046, 1, 2))
    with pytest.raises(CalendarError, match="outside the horizon"):
        cn.elapsed(sh(1999, 12, 31), sh(2000, 1, 5))
    with pytest.raises(CalendarError, match=r"beyond the horizon.*2046-01-01"):
        cn.add(sh(2045, 12, 31), 100 * HOUR)
    with pytest.raises(CalendarError, match="outside the horizon"):
        cn.elapsed_many(np.array(["NaT"], dtype="datetime64[us]"), np.array([0]))
    with pytest.raises(CalendarError, match="outside the horizon"):
        cn.add_many(np.array([0], dtype=np.int64), 0)


def test_negative_durations_are_refused(cn: BusinessCalendar) -> None:
    with pytest.raises(CalendarError, match="negative"):
        cn.add(sh(2026, 3, 4), -HOUR)
    with pytest.raises(CalendarError, match="negative"):
        cn.add_many(np.array([1_770_000_000_000_000]), np.array([-1]))


def test_float_arrays_are_refused_because_they_lose_microseconds(cn: BusinessCalendar) -> None:
    with pytest.raises(CalendarError, match="epoch microseconds"):
        cn.elapsed_many(np.array([1.5]), np.array([2.5]))


def test_a_calendar_cannot_be_changed_after_it_is_built(cn: BusinessCalendar) -> None:
    with pytest.raises(AttributeError, match="immutable"):
        cn._starts = ()
    assert not cn._starts_arr.flags.writeable


@pytest.mark.parametrize(
    ("fields", "field", "problem"),
    [
        ({"weekly": {"mon": ["09:00-25:00"]}}, "calendars.x.weekly.mon[0]", "not a time of day"),
        ({"weekly": {"mon": ["9-18"]}}, "calendars.x.weekly.mon[0]", "HH:MM"),
        ({"weekly": {"mon": ["18:00-09:00"]}}, "calendars.x.weekly.mon[0]", "cannot cross"),
        ({"weekly": {"mon": ["24:00-24:00"]}}, "calendars.x.weekly.mon[0]", "only ends"),
        ({"weekly": {"funday": ["09:00-18:00"]}}, "calendars.x.weekly.funday", "unknown field"),
        (
            {"weekly": {"mon": ["09:00-12:00", "11:00-18:00"]}},
            "calendars.x.weekly.mon",
            "overlap",
        ),
        ({"weekly": {}}, "calendars.x.weekly", "never open"),
        ({"holidays": "XX"}, "calendars.x.holidays", "unknown holiday source 'XX'"),
        ({"holiday_dates": ["2026-02-30"]}, "calendars.x.holiday_dates[0]", "not a date"),
        (
            {"overrides": {"closed": ["2026-13-01"]}},
            "calendars.x.overrides.closed[0]",
            "YYYY-MM-DD",
        ),
        (
            {"overrides": {"windows": {"2026-10-01": ["09:00-12:00", "10:00-11:00"]}}},
            "calendars.x.overrides.windows.2026-10-01",
            "overlap",
        ),
        (
            {"overrides": {"closed": [date(2027, 2, 11)], "working": [date(2027, 2, 11)]}},
            "calendars.x.overrides.working[0]",
            "already overridden",
        ),
        ({"overrides": {"open": []}}, "calendars.x.overrides.open", "unknown field"),
        ({"timezone": "Asia/Beijing"}, "calendars.x.timezone", "unknown time zone"),
        ({"workday_template": "monday"}, "calendars.x.workday_template", "unknown weekday"),
        (
            {"holidays": "CN", "workday_template": "sun"},
            "calendars.x.workday_template",
            "no windows",
        ),
        ({"horizon": [2030, 2020]}, "calendars.x.horizon", "ascending"),
        (
            {"horizon": [2026, 2027], "adjusted_workdays": [date(2030, 1, 5)]},
            "calendars.x.adjusted_workdays",
            "outside the horizon",
        ),
        ({"display": {"zh": "测试"}}, "calendars.x.display.en", "non-empty string"),
        ({"kind": "lunar"}, "calendars.x.kind", "unknown kind"),
        ({"opening_hours": {}}, "calendars.x.opening_hours", "unknown field"),
    ],
)
def test_invalid_definitions_name_the_file_and_field(
    fields: Mapping[str, object], field: str, problem: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        calendar_spec_from_mapping(spec_table(**fields), SOURCE, name="x")
    assert caught.value.source == SOURCE
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"{SOURCE}: {field}: ")


def test_a_wall_clock_definition_takes_no_windows() -> None:
    table = {"kind": "wall", "display": {"zh": "自然", "en": "Wall"}, "timezone": "UTC"}
    assert calendar_spec_from_mapping(table, SOURCE, name="w").wall_clock
    with pytest.raises(PolicyError, match=r"calendars\.w\.weekly: unknown field"):
        calendar_spec_from_mapping({**table, "weekly": {}}, SOURCE, name="w")


def test_the_document_needs_a_calendars_table() -> None:
    with pytest.raises(PolicyError, match="calendars: expected at least one"):
        load_calendars({}, SOURCE)
    with pytest.raises(PolicyError, match="unknown top-level field"):
        load_calendars({"calendar": {}}, SOURCE)


# --------------------------------------------------------------------------- vectorised forms


@pytest.mark.parametrize("which", ["cn-business-lunch", "cn-business", "berlin"])
def test_vectorised_forms_equal_scalar_forms_on_random_inputs(
    calendars: dict[str, BusinessCalendar], berlin: BusinessCalendar, which: str
) -> None:
    calendar = berlin if which == "berlin" else calendars[which]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)

    def at(us: int) -> datetime:
        return epoch + timedelta(microseconds=us)

    def us(moment: datetime) -> int:
        return (moment - epoch) // timedelta(microseconds=1)

    rng = np.random.default_rng(20260214)
    count = 3000
    starts = rng.integers(us(sh(2025, 12, 1)), us(sh(2027, 2, 1)), count, dtype=np.int64)
    durations = rng.integers(0, us(at(200 * 3600 * 1_000_000)), count, dtype=np.int64)
    durations[:100] = 0
    ends = starts + rng.integers(-3600 * 1_000_000, 400 * 3600 * 1_000_000, count)

    added = calendar.add_many(starts, durations)
    assert added.dtype == np.int64
    assert added.tolist() == [
        us(calendar.add(at(int(s)), timedelta(microseconds=int(d))))
        for s, d in zip(starts, durations, strict=True)
    ]
    spent = calendar.elapsed_many(starts, ends)
    assert spent.dtype == np.int64
    assert spent.tolist() == [
        calendar.elapsed(at(int(s)), at(int(e))) // timedelta(microseconds=1)
        for s, e in zip(starts, ends, strict=True)
    ]
    as_datetime64 = starts.astype("datetime64[us]")
    assert np.array_equal(
        calendar.add_many(as_datetime64, durations.astype("timedelta64[us]")), added
    )
