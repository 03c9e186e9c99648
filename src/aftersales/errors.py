"""The one error tree: every error raised on purpose, and the status each answers with.

Every error carries a message a person can act on: what was attempted, what
was wrong, and how to put it right. Services and adapters raise these; the
entry points translate them in one place each (the HTTP table in
``entrypoints/api/errors.py``, the CLI's exit code in ``entrypoints/cli``).
Database and network failures are translated at the adapter with
``raise ... from exc`` into one of these, or left to surface as a 500 with the
request id. The tree, with the HTTP status of each branch::

    AftersalesError
    ├── DomainError                a rule refuses the request ............... 422
    │   ├── PolicyError            a policy or calendar document is invalid
    │   ├── CalendarError          a calendar question cannot be answered
    │   ├── EligibilityError       eligibility facts incomplete or inconsistent
    │   ├── IllegalTransition      the case's or clock's state forbids it
    │   └── LedgerError            a payout cannot be computed as asked
    ├── Forbidden                  the caller's role may not do this ........ 403
    ├── NotSignedIn                no session, or an unknown token .......... 401
    ├── InvalidRequest             a value in the request is unusable ....... 422
    │   ├── InvalidFields          named fields of a form, each with its problem
    │   ├── MalformedRequest       the body or a parameter cannot be read ... 400
    │   └── IdempotencyKeyReused   one key, two different requests
    ├── NotFound                   no such thing, or not the caller's ....... 404
    │   ├── CaseNotFound
    │   └── SandboxNotFound
    ├── Conflict                   the state changed under the request ...... 409
    │   ├── ConcurrentUpdate       a case was saved by someone else meanwhile
    │   ├── AlreadyExists          an id is taken
    │   ├── OpenCaseExists         the item already has an open case (two clicks raced)
    │   └── RequestInFlight        the same Idempotency-Key is being answered (Retry-After)
    ├── PayloadTooLarge            a body or file over its limit ............ 413
    ├── UnsupportedMediaType       a file of a type not taken ............... 415
    ├── Throttled                  too many attempts; wait (Retry-After) .... 429
    └── ConfigurationError         settings, database URL or data files ..... 500 (CLI: exit 2)
        └── NotConfigured          a feature waits for a setting ............ 503

Anything else is a defect: answered 500 as problem+json with the request id,
and logged with its traceback.
"""

from __future__ import annotations

from aftersales.domain.errors import (
    AftersalesError,
    CalendarError,
    DomainError,
    EligibilityError,
    Forbidden,
    IllegalTransition,
    LedgerError,
    PolicyError,
)


class NotSignedIn(AftersalesError):
    """The caller is not signed in, or its token is unknown or revoked."""


class InvalidRequest(AftersalesError):
    """A value in the request cannot be used; the message names it and says what to send."""


class InvalidFields(InvalidRequest):
    """Fields of a form that cannot be used: ``problems`` maps each field to a problem code
    (``"phone.invalid"``), which a page shows beside the field in its own language."""

    def __init__(self, problems: dict[str, str], message: str) -> None:
        self.problems = dict(problems)
        super().__init__(message)


class MalformedRequest(InvalidRequest):
    """The request cannot be read at all (broken JSON, a cursor that was tampered with)."""


class IdempotencyKeyReused(InvalidRequest):
    """An ``Idempotency-Key`` was first used for a different request."""


class NotFound(AftersalesError):
    """No such thing, or not the caller's to see (the two answer the same)."""

    def __init__(self, what: str, key: str, hint: str = "") -> None:
        self.what, self.key = what, key
        super().__init__(f"no {what} with id '{key}'" + (f"; {hint}" if hint else ""))


class CaseNotFound(NotFound):
    def __init__(self, case_id: str) -> None:
        super().__init__("case", case_id)


class SandboxNotFound(NotFound):
    def __init__(self, sandbox: str) -> None:
        super().__init__("sandbox", sandbox, "create one first (aftersales sandbox create)")


class Conflict(AftersalesError):
    """The request met a state it cannot be applied to; reading again and retrying may work."""


class ConcurrentUpdate(Conflict):
    """A case was changed by someone else between reading and saving it."""


class AlreadyExists(Conflict):
    """An id that must be new is taken."""


class OpenCaseExists(Conflict):
    """The order item already has an open case of the programme (two requests raced)."""


class RequestInFlight(Conflict):
    """The first request with this ``Idempotency-Key`` has not been answered yet."""

    def __init__(self, key: str, retry_after_s: int = 1) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(
            f"a request with Idempotency-Key {key!r} is still being answered; "
            f"repeat it after {retry_after_s} s to get its answer"
        )


class PayloadTooLarge(AftersalesError):
    """A body or file is over its size limit."""


class UnsupportedMediaType(AftersalesError):
    """A file or body of a type that is not taken; the message lists what is."""


class Throttled(AftersalesError):
    """Too many attempts in a short time."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class ConfigurationError(AftersalesError):
    """Settings, the database URL, policy or data files cannot be used as given."""


class NotConfigured(ConfigurationError):
    """A feature is off until an operator sets it up; the message names the setting."""


__all__ = [
    "AftersalesError",
    "AlreadyExists",
    "CalendarError",
    "CaseNotFound",
    "ConcurrentUpdate",
    "ConfigurationError",
    "Conflict",
    "DomainError",
    "EligibilityError",
    "Forbidden",
    "IdempotencyKeyReused",
    "IllegalTransition",
    "InvalidFields",
    "InvalidRequest",
    "LedgerError",
    "MalformedRequest",
    "NotConfigured",
    "NotFound",
    "NotSignedIn",
    "OpenCaseExists",
    "PayloadTooLarge",
    "PolicyError",
    "RequestInFlight",
    "SandboxNotFound",
    "Throttled",
    "UnsupportedMediaType",
]
