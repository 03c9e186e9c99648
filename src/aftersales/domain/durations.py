"""Durations as people and documents write them: one parser, one type, one error message.

A duration is a whole number with a unit (``90m``, ``1h``, ``48h``, ``30d``) or
ISO 8601 (``PT1H``), is always longer than zero and at most :data:`LONGEST` (ten
years: longer than any commitment, and short enough that a clock moved by it
stays inside the instants the platform takes). :data:`Duration` is the
pydantic type that policy documents and HTTP parameters declare; callers holding
plain text (the command line, a web form) use :func:`duration_from_text`, which
applies the same type and raises :class:`ValueError` with the same sentence.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, TypeAdapter, ValidationError

_SHORT_FORM = re.compile(r"^\s*(\d+)\s*(d|h|m|s)\s*$")
_SECONDS_PER_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}
LONGEST = timedelta(days=3660)
EXAMPLES = "e.g. '1h', '48h', '30d', '90m', or ISO 8601 such as 'PT1H'"


def parse_duration(value: Any) -> Any:
    """Turn the short form into a timedelta; ISO 8601 text and timedeltas go on to pydantic."""
    if not isinstance(value, str):
        return value
    match = _SHORT_FORM.match(value)
    if match:
        try:
            return timedelta(seconds=int(match.group(1)) * _SECONDS_PER_UNIT[match.group(2)])
        except OverflowError:
            raise ValueError(_too_long(value)) from None
    if not value.strip().upper().startswith("P"):
        raise ValueError(
            f"{value!r} is not a duration; write a whole number with a unit, {EXAMPLES}"
        )
    return value


def _too_long(value: object) -> str:
    return f"{value} is too long; a duration may be at most {LONGEST.days}d (about ten years)"


def positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("a duration must be longer than zero, e.g. '1h', '48h' or '30d'")
    if value > LONGEST:
        raise ValueError(_too_long(value))
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(positive)]

_ADAPTER: TypeAdapter[timedelta] = TypeAdapter(Duration)


def duration_from_text(text: str) -> timedelta:
    """``text`` read as a :data:`Duration`; a :class:`ValueError` says what to write instead."""
    try:
        return _ADAPTER.validate_python(text)
    except ValidationError as exc:
        problem = exc.errors()[0]
        message = str(problem["ctx"]["error"]) if "error" in problem.get("ctx", {}) else None
        raise ValueError(
            message or f"{text!r} is not a duration; write a whole number with a unit, {EXAMPLES}"
        ) from None
