"""Instants as requests give them: aware, and inside the years this platform reasons about.

An instant a person or a system sends (a visit, a report's period, a sandbox's
first reading, a page cursor) must carry its UTC offset and lie from
:data:`EARLIEST` up to, not including, :data:`LATEST`. Outside that range no
calendar, SLA or ledger question has an answer, and the far ends overflow
Python's and the databases' date types (year 9999 at +08:00 is year 10000 in
UTC). :data:`Instant` is the pydantic type API models and query parameters
declare; :func:`instant_from_text` reads text (a form, the command line) the
same way and raises :class:`ValueError` with the same sentence.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
RANGE = "from 1970-01-01 up to 2200-01-01"
EXAMPLE = "2026-11-24T10:00+08:00"


_EARLIEST_NAIVE = EARLIEST.replace(tzinfo=None)
_LATEST_NAIVE = LATEST.replace(tzinfo=None)
# Years whose every local time is in the range whatever its offset (always under a day).
_SAFE_YEARS = range(EARLIEST.year + 1, LATEST.year - 1)


def in_range(value: datetime) -> datetime:
    """``value`` unchanged if it lies in the range; a :class:`ValueError` saying so if not."""
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"give the time with its UTC offset, e.g. {EXAMPLE}")
    if value.year in _SAFE_YEARS:  # nearly every instant: no arithmetic needed
        return value
    # Compared as naive UTC wall times shifted by the offset, which cannot overflow.
    naive_utc = value.replace(tzinfo=None)
    try:
        naive_utc = naive_utc - offset
    except OverflowError:
        pass  # past datetime.max or before datetime.min: out of range either way
    else:
        if _EARLIEST_NAIVE <= naive_utc < _LATEST_NAIVE:
            return value
    raise ValueError(f"{value.isoformat()} is outside the times this platform takes ({RANGE})")


Instant = Annotated[AwareDatetime, AfterValidator(in_range)]


def instant_from_text(text: str, *, default_zone: tzinfo | None = None) -> datetime:
    """``text`` (ISO 8601) as an instant in the range; a date and time without an offset is read
    in ``default_zone`` when one is given. A :class:`ValueError` says what to write instead."""
    try:
        value = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise ValueError(f"{text!r} is not a date and time; write it like {EXAMPLE}") from None
    if value.tzinfo is None and default_zone is not None:
        value = value.replace(tzinfo=default_zone)
    return in_range(value)
