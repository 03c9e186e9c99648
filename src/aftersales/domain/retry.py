"""Retry schedules: how long to wait after a failure, and when to stop trying.

A :class:`RetryPolicy` grows the wait geometrically from a base delay up to a
cap, optionally adds jitter, and optionally gives up after a number of failed
attempts. The jitter is not random: it comes from a hash of a caller-chosen key
(a webhook delivery's idempotency key, say) and the attempt number, so the same
thing always waits the same — a schedule can be shown, tested and recomputed —
while different things spread out instead of all coming back in the same second.

Pure: no clock, no I/O. The caller adds the delay to its own ``now``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """Wait ``base_s × factor^(n−1)`` after the n-th failure, at most ``cap_s``, plus jitter.

    ``jitter`` is a share of that delay (0.2: up to 20 % more), derived from the
    key; 0 means none, and then the key does not matter. ``max_attempts`` is
    how many failed attempts are allowed in all; ``None`` retries forever.
    """

    base_s: float
    factor: float = 2.0
    cap_s: float = 3600.0
    jitter: float = 0.0
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if not self.base_s > 0:
            raise ValueError(f"the base delay must be positive, got {self.base_s}")
        if not self.factor >= 1:
            raise ValueError(f"the growth factor must be at least 1, got {self.factor}")
        if not self.cap_s >= self.base_s:
            raise ValueError(
                f"the cap ({self.cap_s} s) must be at least the base delay ({self.base_s} s)"
            )
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"the jitter share must be between 0 and 1, got {self.jitter}")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1 or None, got {self.max_attempts}")

    def backoff_s(self, attempts: int) -> float:
        """The delay after the ``attempts``-th failure before jitter, in seconds.

        Counting starts at 1; zero or less is read as the first failure.
        """
        wait = float(self.base_s)
        for _ in range(max(1, attempts) - 1):
            if wait >= self.cap_s or self.factor == 1:
                break
            wait *= self.factor
        return min(wait, float(self.cap_s))

    def delay(self, attempts: int, key: str = "") -> timedelta:
        """How long to wait after the ``attempts``-th failure of the thing named ``key``.

        The jitter is whole milliseconds, from a SHA-256 of ``"<key>#<attempt>"``:
        the same key and attempt always give the same delay.
        """
        n = max(1, attempts)
        wait_s = self.backoff_s(n)
        if self.jitter == 0:
            return timedelta(seconds=wait_s)
        digest = hashlib.sha256(f"{key}#{n}".encode()).digest()
        share = int.from_bytes(digest[:8], "big") / 2**64  # in [0, 1)
        jitter_ms = int(wait_s * self.jitter * share * 1000)
        return timedelta(seconds=wait_s, milliseconds=jitter_ms)

    def gives_up(self, attempts: int) -> bool:
        """True once ``attempts`` failed attempts use up the allowance (never without one)."""
        return self.max_attempts is not None and attempts >= self.max_attempts
