"""How a buyer can be reached for a repair (NW-2b): a phone number that can be dialled.

A mainland mobile number is eleven digits starting ``13``–``19``. A landline is
an area code (``010``, ``021``, ``0571`` …: a zero and two or three more digits)
and a seven- or eight-digit number (eight after a three-digit code), with a
hyphen or a space between them or the area code in brackets, and perhaps an
extension. People type spaces and hyphens inside a mobile number
(``138 0000 0000``) and ``+86`` in front of it; every accepted number is written
back the one way a dialler takes it.
"""

from __future__ import annotations

import re

_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"(0\d{2,3})[-\s]+(\d{7,8})(?:(?:[-\s]+|\s*(?:转|ext\.?|x)\s*)(\d{1,6}))?")
_SEPARATORS = re.compile(r"[\s\-()（）]")


def normal_phone(text: str) -> str | None:
    """``text`` as a mobile (``13800000000``) or landline (``0571-88888888``); None if neither.

    >>> normal_phone("+86 138 0000 0000")
    '13800000000'
    >>> normal_phone("0571 88888888")
    '0571-88888888'
    """
    raw = text.strip()
    digits = _SEPARATORS.sub("", raw)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if _MOBILE.fullmatch(digits):
        return digits
    # "(0571)88888888": brackets around the area code stand for the hyphen
    bracketed = re.sub(r"^[(（](0\d{2,3})[)）]\s*", r"\1-", raw)
    landline = _LANDLINE.fullmatch(bracketed)
    if landline is None:
        return None
    area, number, extension = landline.groups()
    if len(area) == 3 and len(number) != 8:
        return None  # the three-digit area codes (010, 02x) go with eight-digit numbers
    return f"{area}-{number}" + (f"-{extension}" if extension else "")
