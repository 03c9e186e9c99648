"""Request signatures: ``X-Aftersales-Signature: t=<unix seconds>,v1=<hex>``.

``v1`` is HMAC-SHA256 over ``f"{t}.{body}"`` keyed with the endpoint's secret.
:func:`sign` is the sender's half, :func:`verify_signature` the receiver's.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

SIGNATURE_HEADER = "X-Aftersales-Signature"
SIGNATURE_TOLERANCE_S = 300


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes | str, *, timestamp: int) -> str:
    """The ``X-Aftersales-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, _as_bytes(body))}"


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes | str,
    *,
    now: datetime,
    tolerance_s: int = SIGNATURE_TOLERANCE_S,
) -> bool:
    """True when ``header`` signs exactly ``body`` with ``secret`` within ``tolerance_s`` of ``now``.

    ``body`` must be the raw request body as received (not re-serialised JSON).
    Several ``v1=`` values are accepted (any one matching is enough), which
    leaves room for rotating secrets. A malformed header is simply False.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    if not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return False
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs(now.timestamp() - timestamp) > tolerance_s:
        return False  # too old (a replay) or from a clock far ahead
    expected = _mac(secret, timestamp, _as_bytes(body))
    # Check every candidate, so timing does not reveal which one matched.
    matches = [hmac.compare_digest(expected, c) for c in candidates]
    return any(matches)
