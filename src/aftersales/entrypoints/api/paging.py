"""Opaque cursors for keyset paging: the sort key of the last item seen, base64url-encoded."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import TypeVar

from aftersales.domain.instants import in_range
from aftersales.errors import InvalidRequest

IdT = TypeVar("IdT", str, int)


class BadCursor(InvalidRequest):
    """A cursor this API did not hand out (or one mangled on the way)."""


def encode_cursor(at: datetime, last_id: str | int) -> str:
    raw = json.dumps([at.isoformat(), last_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, id_type: type[IdT]) -> tuple[datetime, IdT]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at_text, last_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        at = in_range(datetime.fromisoformat(at_text))
        if not isinstance(last_id, id_type):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise BadCursor(
            "the cursor is not one this API gave out; pass next_cursor from the previous "
            "page unchanged, or leave it out to start from the first page"
        ) from exc
    return at, last_id
