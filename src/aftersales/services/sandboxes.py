"""Sandboxes: a private world with its own test clock.

Advancing a sandbox's clock steps through every deadline on the way, handling
each just after it falls due, so a 48-hour commitment plays out in one call and
every breach and payout carries the instant it really happened in the sandbox.
An advance is one transaction that holds the sandbox's row from the start, so
advances that race are applied one after the other and none is lost. Sandbox
cases, ledger entries and balances are tagged with the sandbox id and never
touch live ones.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from aftersales.domain.instants import in_range
from aftersales.errors import InvalidRequest
from aftersales.services.base import Services
from aftersales.services.deadlines import TickReport, handle_cases
from aftersales.services.records import LIVE, Sandbox
from aftersales.services.time import now_in

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_ONE_US = timedelta(microseconds=1)
MAX_STEPS_PER_ADVANCE = 100_000


class SandboxError(InvalidRequest):
    pass


def create_sandbox(
    svc: Services, *, sandbox_id: str, name: str = "", start: datetime | None = None
) -> Sandbox:
    if sandbox_id == LIVE or not _ID.match(sandbox_id):
        raise SandboxError(
            f"sandbox id {sandbox_id!r}: use lower-case letters, digits, '-' or '_' (not 'live')"
        )
    if start is not None and start.tzinfo is None:
        raise SandboxError("the sandbox start time needs a UTC offset, e.g. 2026-11-24T09:00+08:00")
    created = svc.clock.now()
    sandbox = Sandbox(sandbox_id, name or sandbox_id, start or created, created)
    with svc.uow() as uow:
        uow.sandboxes.add(sandbox)  # AlreadyExists if the id is taken
        uow.commit()
    return sandbox


def reset_sandbox(svc: Services, sandbox_id: str, *, start: datetime) -> tuple[Sandbox, int]:
    """Start a sandbox over: its cases and all they left are removed, its clock set back
    to ``start``; its orders stay, to be played again. How many cases were removed.

    So a demo run reuses its sandbox rather than adding another copy of the same
    orders (which every buyer would see again in their order list).
    """
    if start.tzinfo is None:
        raise SandboxError("the sandbox start time needs a UTC offset, e.g. 2026-11-24T09:00+08:00")
    with svc.uow() as uow:
        current = uow.sandboxes.get(sandbox_id, for_update=True)
        removed = uow.sandboxes.clear(sandbox_id)
        uow.sandboxes.set_now(sandbox_id, start)
        uow.commit()
    return Sandbox(current.id, current.name, start, current.created_at), removed


def get_sandbox(svc: Services, sandbox_id: str) -> Sandbox:
    with svc.uow() as uow:
        return uow.sandboxes.get(sandbox_id)


def list_sandboxes(svc: Services) -> list[Sandbox]:
    with svc.uow() as uow:
        return uow.sandboxes.list()


def advance_sandbox(
    svc: Services,
    sandbox_id: str,
    *,
    by: timedelta | None = None,
    to: datetime | None = None,
    real_now: datetime | None = None,
) -> tuple[Sandbox, TickReport]:
    """Move the sandbox clock forward, handling every deadline passed on the way.

    ``real_now`` (the caller's own clock) times the back-off of a case that fails.
    """
    if (by is None) == (to is None):
        raise SandboxError("give either how far to advance (by) or the instant to advance to (to)")
    if to is not None and to.tzinfo is None:
        raise SandboxError("the target time needs a UTC offset")
    report = TickReport()
    with svc.uow() as uow:
        current = uow.sandboxes.get(sandbox_id, for_update=True)  # later advances wait here
        target = current.now + by if by is not None else to
        assert target is not None
        try:
            in_range(target)
        except ValueError as exc:
            raise SandboxError(
                f"the sandbox clock is at {current.now.isoformat()}; moving it there would "
                f"leave the times this platform takes: {exc}"
            ) from None
        if target < current.now:
            raise SandboxError(
                f"a sandbox clock only moves forward: it is at {current.now.isoformat()}, "
                f"asked for {target.isoformat()}"
            )
        inner = svc.bound(uow)
        for _ in range(MAX_STEPS_PER_ADVANCE):
            due_at = uow.deadlines.earliest_before(sandbox_id, target)
            if due_at is None:
                break
            step = due_at + _ONE_US  # strictly past due: "within" is inclusive
            uow.sandboxes.set_now(sandbox_id, step)
            case_ids = uow.deadlines.cases_due(sandbox_id, step)
            report += handle_cases(inner, case_ids, now=step, real_now=real_now)
            report.claimed += len(case_ids)
        else:
            raise SandboxError(
                f"advancing sandbox '{sandbox_id}' needed more than {MAX_STEPS_PER_ADVANCE} steps"
            )
        uow.sandboxes.set_now(sandbox_id, target)
        uow.commit()
    return Sandbox(current.id, current.name, target, current.created_at), report


def current_time(svc: Services, sandbox: str) -> datetime:
    """The time in ``sandbox``: its test clock, or the real clock for live data."""
    with svc.uow() as uow:
        return now_in(uow, sandbox, svc.clock)
