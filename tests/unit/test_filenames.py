"""File names are labels people read: nothing in them may reorder or hide what is shown."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aftersales.domain.filenames import BIDI_CONTROLS, MAX_NAME, clean_filename


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("photo\u202egpj.exe", "photogpj.exe"),  # shown as "photoexe.jpg" otherwise
        ("\u2066invoice\u2069.pdf", "invoice.pdf"),
        ("a\u200fb\u200e.png", "ab.png"),
        ("bell\x07\x00tab\t.png", "belltab.png"),
        ("C:\\Users\\me\\kettle.jpg", "kettle.jpg"),
        ("../../etc/passwd", "passwd"),
        ("故障照片 1.jpg", "故障照片 1.jpg"),
        ("\u202e", "upload"),
        ("..", "upload"),
    ],
)
def test_a_name_loses_folders_bidirectional_and_control_characters(sent: str, kept: str) -> None:
    assert clean_filename(sent) == kept


@given(st.text(max_size=400))
def test_no_cleaned_name_holds_a_control_or_bidirectional_character_or_is_too_long(
    sent: str,
) -> None:
    kept = clean_filename(sent)
    assert kept and len(kept) <= MAX_NAME
    assert not any(c in BIDI_CONTROLS or ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in kept)
    assert clean_filename(kept) == kept  # cleaning twice changes nothing
