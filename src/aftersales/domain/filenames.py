"""A file name as people send it, made safe to keep and to show.

A name is only a label: the bytes are typed by their content. But a label can
still deceive. Bidirectional controls reorder what a reader sees
(``photo\u202egpj.exe`` displays as "photoexe.jpg"), and control characters
break headers and log lines. Such characters are dropped, a folder part is
cut off (``C:\\Users\\me\\x.jpg`` becomes ``x.jpg``), and the name is kept to
255 characters. Applied when a name is stored and again when it is shown, so
names stored before this rule look clean too.

Pure functions: no I/O.
"""

from __future__ import annotations

import unicodedata

MAX_NAME = 255
# Embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) and the marks
# (U+200E/F, U+061C) change the order text is displayed in.
BIDI_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u200e", "\u200f", "\u061c"]
)


def _kept(char: str) -> bool:
    if char in BIDI_CONTROLS:
        return False
    # Cc: C0/C1 controls (NUL, newline, DEL...); Cf other than joiners: invisible formatting.
    category = unicodedata.category(char)
    return category != "Cc" and (category != "Cf" or char in "\u200c\u200d")


def clean_filename(name: str, *, default: str = "upload") -> str:
    """``name`` without folders, bidirectional or control characters, at most 255 long;
    ``default`` when nothing is left."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c for c in base if _kept(c)).strip()
    if cleaned in ("", ".", ".."):
        return default
    return cleaned[:MAX_NAME]
