"""Errors raised by the domain, and the root of the project's one error tree.

The root lives here because the domain imports nothing outside itself; the
whole tree, with the errors services and adapters add, is drawn in
:mod:`aftersales.errors`. The domain's own branch::

    AftersalesError
    ├── DomainError            a rule refuses the request (HTTP 422)
    │   ├── PolicyError        a policy or calendar document is invalid (names file, field, problem)
    │   ├── CalendarError      a calendar question cannot be answered (e.g. outside its horizon)
    │   ├── EligibilityError   input for an eligibility decision is incomplete or inconsistent
    │   ├── IllegalTransition  a case or clock was asked to do something its state forbids
    │   └── LedgerError        a payout or penalty cannot be computed as asked
    └── Forbidden              the actor's role may not do this at all (HTTP 403; see access.py)

Every error carries a message a person can act on: what was attempted, and why
it was refused.
"""

from __future__ import annotations


class AftersalesError(Exception):
    """Base of every error the project raises on purpose; its message is for people."""


class DomainError(AftersalesError):
    """A rule refuses what was asked; the message says which and why."""


class Forbidden(AftersalesError):
    """The actor's role may not take this action (whatever the state of the case)."""


class PolicyError(DomainError):
    """A policy document (or a calendar definition) failed validation.

    ``source`` names the file (or other origin) and ``field`` the dotted path of the
    offending value, so the message says where to look and what to change.
    """

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {problem}")


class CalendarError(DomainError):
    """A business-calendar operation could not be answered."""


class EligibilityError(DomainError):
    """The facts given for an eligibility decision are incomplete or inconsistent."""


class IllegalTransition(DomainError):
    """A case or clock was asked for a change its current state does not allow."""

    def __init__(self, subject: str, attempted: str, state: str, why: str) -> None:
        self.subject = subject
        self.attempted = attempted
        self.state = state
        self.why = why
        super().__init__(f"cannot {attempted} {subject} in state '{state}': {why}")


class LedgerError(DomainError):
    """A penalty or ledger entry cannot be computed from what was given."""
