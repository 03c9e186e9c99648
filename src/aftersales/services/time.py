"""Time for services: live mode reads a Clock; a sandbox reads its own test clock.

A sandbox's clock is a row (``sandboxes.now``) that only moves when someone
advances it, like the test clocks payment platforms offer; cases opened in the
sandbox live on that time, so a 48-hour commitment plays out in seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from aftersales.services.ports import UnitOfWork
from aftersales.services.records import LIVE


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The real time, always aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved (tests, benchmarks)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        from datetime import timedelta

        self.at = self.at + timedelta(**delta)
        return self.at


def now_in(uow: UnitOfWork, sandbox: str, clock: Clock) -> datetime:
    """The current instant in ``sandbox`` (live: the clock); SandboxNotFound if none."""
    if sandbox == LIVE:
        return clock.now()
    return uow.sandboxes.get(sandbox).now
