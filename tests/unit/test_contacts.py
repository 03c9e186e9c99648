"""NW-2b: the repair form's phone is one that can be dialled — a mainland mobile, or a
landline with its area code — and is kept written the one way a dialler takes it."""

from __future__ import annotations

import pytest

from aftersales.domain.contacts import normalise_phone


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("13800000000", "13800000000"),
        ("138 0000 0000", "13800000000"),
        ("+86 138-0000-0000", "13800000000"),
        ("0086 19912345678", "19912345678"),
        ("010-12345678", "010-12345678"),
        ("0571-8888888", "0571-8888888"),
        ("0571 88888888", "0571-88888888"),
        ("(0571)88888888", "0571-88888888"),
        ("（010）12345678", "010-12345678"),
        ("0571-88888888-123", "0571-88888888-123"),
        ("0571-8888888转12", "0571-8888888-12"),
        ("01012345678", "010-12345678"),  # 010 and 02x are the three-digit area codes
    ],
)
def test_mobiles_and_landlines_with_area_codes_are_taken(typed: str, kept: str) -> None:
    assert normalise_phone(typed) == kept


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "12345",
        "12345678901",  # 12x is not a mobile prefix
        "1380000000",  # ten digits
        "138000000000",  # twelve
        "88888888",  # a landline without its area code
        "010-1234567",  # three-digit area codes go with eight-digit numbers
        "0571-888888",
        "abc",
        "138 0000 000x",
    ],
)
def test_anything_else_is_not_a_phone_number(typed: str) -> None:
    assert normalise_phone(typed) is None
