"""Who to visit, where, and on which phone: a case's contact, and how it is masked.

The party a case is assigned to (the installer or repairer doing the visit, or
the shop or brand when the case is theirs) needs the customer's name, service
address and phone to book the visit that OH-4's solution depends on; operations
see them too. Everybody else sees them masked (``张**``, ``138****1572``, the
address cut to its district). Who may see them is decided by
:func:`aftersales.domain.access.may_see_contact`; this module says what the
masked forms are and what a contact phone must look like.

Pure functions: no I/O, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

# Mainland mobile: 11 digits starting 13-19; landline: a 3- or 4-digit area code
# starting with 0, then 7 or 8 digits, optionally an extension. Spaces and dashes
# between groups are allowed as people write them; +86 / 0086 is dropped.
_MOBILE = re.compile(r"1[3-9]\d{9}")
_SEPARATORS = re.compile(r"[\s\-()（）]")
_EXTENSION = re.compile(r"(?:转|ext\.?|x|#)\s*(\d{1,6})$", re.IGNORECASE)
_HYPHEN_EXTENSION = re.compile(r"-(\d{1,6})$")
# A phone written inside free text (a description, a note): masked for those who may not
# see contacts.
_PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:1[3-9]\d(?:[\s-]?\d){8}|0\d{2,3}[\s-]?\d{7,8})(?!\d)")


def normalise_phone(text: str) -> str | None:
    """A contact phone as stored (``13853631572``, ``0571-88881234``, ``0571-88881234-12``),
    or None when ``text`` is neither a mainland mobile nor a landline with its area code.

    An extension is written after 转, ext or x, or as a last group after a hyphen
    (``0571-88881234-12``) when the digits before it already make a whole number.
    """
    raw = text.strip()
    found = _EXTENSION.search(raw)
    if found:
        return _phone(raw[: found.start()], found.group(1))
    whole = _phone(raw, "")
    if whole is None and (last := _HYPHEN_EXTENSION.search(raw)):
        return _phone(raw[: last.start()], last.group(1))
    return whole


def _phone(raw: str, extension: str) -> str | None:
    digits = _SEPARATORS.sub("", raw)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
    if not digits.isdigit():
        return None
    if _MOBILE.fullmatch(digits):
        return digits + (f"-{extension}" if extension else "")
    if not digits.startswith("0") or digits.startswith("00"):
        return None
    # Beijing (010) and 02x are 3-digit area codes with 8-digit numbers; the rest have 4.
    three = digits.startswith(("010", "02"))
    area, number = (digits[:3], digits[3:]) if three else (digits[:4], digits[4:])
    if not (len(number) == 8 if three else len(number) in (7, 8)) or (
        digits.startswith("01") and not three
    ):
        return None
    return f"{area}-{number}" + (f"-{extension}" if extension else "")


def mask_phone(phone: str) -> str:
    """``138****1572``; a landline keeps its area code and last four digits."""
    if not phone:
        return ""
    digits = [c for c in phone if c.isdigit()]
    if len(digits) < 7:
        return "*" * len(phone)
    if phone.startswith("0") and "-" in phone:
        area, number = phone.split("-")[:2]
        return f"{area}-****{number[-4:]}"
    joined = "".join(digits)
    return f"{joined[:3]}****{joined[-4:]}"


def mask_phones_in(text: str) -> str:
    """Every phone number written in ``text`` masked, the rest left as it is."""
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(normalise_phone(m.group(0)) or m.group(0)), text)


def mask_name(name: str) -> str:
    """``张**``: the first character kept (a family name, or the first letter)."""
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * max(2, min(len(name) - 1, 3))


def district_of(province: str | None, city: str | None, district: str | None) -> str:
    """The address cut to its district (``浙江省杭州市西湖区``), the parts it has."""
    parts: list[str] = []
    for part in (province, city, district):
        if part and part not in parts:
            parts.append(part)
    return "".join(parts)


@dataclass(frozen=True)
class Contact:
    """How to reach the customer of a case, as the viewer may see it."""

    name: str  # the buyer's name as the marketplace gave it
    phone: str  # the number to call: a hotline caller's callback number, the repair form's,
    # else the order's
    address: str  # the service address: the repair form's, else the order item's
    area: str  # the address cut to its district
    caller: str = ""  # who rang the hotline, when somebody did on the buyer's behalf
    preferred_time: str = ""  # when the buyer asked to be visited or called, as given
    masked: bool = False

    def masked_copy(self) -> Contact:
        if self.masked:
            return self
        return replace(
            self,
            name=mask_name(self.name),
            phone=mask_phone(self.phone),
            address=self.area or ("*" * 4 if self.address else ""),
            caller=mask_name(self.caller),
            masked=True,
        )


# ---------------------------------------------------------------- appointments

# A visit is booked for a time people are home and installers work, within a season.
APPOINTMENT_EARLIEST_HOUR = 7  # 07:00 local
APPOINTMENT_LATEST_HOUR = 22  # up to 22:00 local
APPOINTMENT_HORIZON = timedelta(days=90)


def appointment_problem(when: datetime, now: datetime, timezone: str) -> str | None:
    """Why ``when`` is not a sensible visit time at ``now`` (a code), or None if it is.

    Codes: ``past`` (not after now), ``too_far`` (more than 90 days ahead),
    ``night`` (outside 07:00-22:00 local time).
    """
    if when.tzinfo is None:
        raise ValueError("an appointment is an instant with its time zone")
    if when <= now:
        return "past"
    if when - now > APPOINTMENT_HORIZON:
        return "too_far"
    local = when.astimezone(ZoneInfo(timezone))
    minutes = local.hour * 60 + local.minute
    if not APPOINTMENT_EARLIEST_HOUR * 60 <= minutes <= APPOINTMENT_LATEST_HOUR * 60:
        return "night"
    return None


APPOINTMENT_PROBLEMS = {
    "past": "the visit time must be later than now",
    "too_far": "the visit time must be within 90 days",
    "night": "the visit time must be between 07:00 and 22:00 local time",
}
