"""The values the edge refuses, one rule at a time: instants outside 1970–2200, durations over
ten years, and control characters wherever they hide in a JSON body."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from aftersales.domain.durations import LONGEST, duration_from_text
from aftersales.domain.instants import in_range, instant_from_text
from aftersales.entrypoints.edge import control_character, first_control_in_json

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    "text",
    ["1970-01-01T00:00:00Z", "2026-11-24T10:00+08:00", "2199-12-31T23:59:59.999999Z"],
)
def test_an_instant_inside_the_range_is_taken_as_given(text: str) -> None:
    assert instant_from_text(text) == datetime.fromisoformat(text)


@pytest.mark.parametrize(
    "text",
    [
        "1969-12-31T23:59:59Z",
        "1970-01-01T07:59+08:00",  # 1969 in UTC
        "2200-01-01T00:00:00Z",
        "9999-12-31T23:00-08:00",  # year 10000 in UTC: past what Python can hold
        "0001-01-01T00:00+14:00",  # before year 1 in UTC
    ],
)
def test_an_instant_outside_1970_to_2200_is_refused_with_the_range(text: str) -> None:
    with pytest.raises(ValueError, match="from 1970-01-01 up to 2200-01-01"):
        instant_from_text(text)


def test_an_instant_without_an_offset_is_refused_unless_a_zone_is_given() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        in_range(datetime(2026, 11, 24, 10, 0))  # noqa: DTZ001
    read = instant_from_text("2026-11-24 10:00", default_zone=SHANGHAI)
    assert read == datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def test_text_that_is_no_instant_says_how_to_write_one() -> None:
    with pytest.raises(ValueError, match="write it like 2026-11-24T10:00"):
        instant_from_text("next tuesday")


def test_a_duration_of_up_to_ten_years_is_taken_and_a_longer_one_says_the_maximum() -> None:
    assert duration_from_text("3660d") == LONGEST
    for text in ("3661d", "3000000d", "P3661D"):
        with pytest.raises(ValueError, match="at most 3660d"):
            duration_from_text(text)


def test_tab_line_feed_and_carriage_return_are_text_other_c0_characters_are_not() -> None:
    assert control_character("line one\r\nline two\tend") is None
    assert control_character("bu\x00yer") == "U+0000"
    assert control_character("esc\x1b[0m") == "U+001B"
    assert control_character("del\x7f and 中文 and \u202e") is None  # not C0: others judge them


def test_a_control_character_deep_in_json_is_found_with_its_place() -> None:
    body = {"orders": [{"id": "o-1", "items": [{"sku": "ok"}, {"sku": "a\x00b"}]}]}
    assert first_control_in_json(body) == ("orders.0.items.1.sku", "U+0000")
    assert first_control_in_json({"bad\x01key": 1}) == ("bad\x01key", "U+0001")
    assert first_control_in_json([1, 2.5, None, True, {"a": "fine\n"}]) is None


def test_an_offset_far_from_utc_still_counts_in_utc() -> None:
    late = datetime(2199, 12, 31, 20, 0, tzinfo=timezone(timedelta(hours=-5)))  # 2200 in UTC
    with pytest.raises(ValueError, match="outside"):
        in_range(late)


@pytest.mark.parametrize("year", [1970, 1971, 2198, 2199])
def test_the_years_next_to_the_ends_take_the_offset_into_account(year: int) -> None:
    # The first and last whole years are taken without arithmetic; these are not.
    for month, day, hour in ((1, 1, 0), (12, 31, 23)):
        for hours in (-23, -8, 0, 8, 23):
            value = datetime(year, month, day, hour, 59, tzinfo=timezone(timedelta(hours=hours)))
            utc = value.astimezone(UTC)
            inside = datetime(1970, 1, 1, tzinfo=UTC) <= utc < datetime(2200, 1, 1, tzinfo=UTC)
            if inside:
                assert in_range(value) is value
            else:
                with pytest.raises(ValueError, match="outside"):
                    in_range(value)
