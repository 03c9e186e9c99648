"""The one table from the error tree (:mod:`aftersales.errors`) to HTTP statuses.

The API answers each error as problem+json with this status and title; the web
pages show the same status with a sentence in the viewer's language. The most
specific class wins: the table is walked along the error's class hierarchy.
"""

from __future__ import annotations

from aftersales import errors as e

STATUS: dict[type[BaseException], tuple[int, str]] = {
    e.MalformedRequest: (400, "Malformed request"),
    e.NotSignedIn: (401, "Sign in first"),
    e.Forbidden: (403, "Not allowed"),
    e.NotFound: (404, "Not found"),
    e.Conflict: (409, "Conflict"),
    e.PayloadTooLarge: (413, "Too large"),
    e.UnsupportedMediaType: (415, "Unsupported media type"),
    e.InvalidRequest: (422, "Invalid request"),
    e.DomainError: (422, "Request refused"),
    e.Throttled: (429, "Too many attempts"),
    e.ConfigurationError: (500, "Server misconfigured"),
    e.AftersalesError: (422, "Request refused"),
}


def status_of(exc: BaseException) -> tuple[int, str]:
    """The HTTP status and problem title for ``exc`` (500 for anything not in the tree)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500, "Internal server error"


def retry_after(exc: BaseException) -> int | None:
    """Seconds a client should wait before repeating, for errors that say so."""
    value = getattr(exc, "retry_after_s", None)
    return int(value) if value is not None else None
