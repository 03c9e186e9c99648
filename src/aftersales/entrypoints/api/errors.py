"""How an error becomes an HTTP answer: the one table from the error tree, and its handlers.

:data:`STATUS` maps each branch of :mod:`aftersales.errors` to a status and a
problem title; the most specific class wins, walking the error's class
hierarchy. :func:`install` registers the app's handlers once: errors of the tree,
unusable requests (422, or 400 for a body that is not JSON at all), unknown
paths and methods, and anything unexpected (500, logged with its traceback).
The API answers RFC 9457 problem+json carrying the request id; a browser asking
for a missing page gets a page in its language, drawn by the web's renderer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from aftersales import errors as e
from aftersales.entrypoints.api.models import Problem

log = logging.getLogger("aftersales.http")

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
    e.NotConfigured: (503, "Not configured"),
    e.ConfigurationError: (500, "Server misconfigured"),
    e.AftersalesError: (422, "Request refused"),
}

# The problem answers every /api/v1 operation documents (OpenAPI).
_PROBLEM: dict[str, Any] = {"model": Problem, "content": {"application/problem+json": {}}}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {**_PROBLEM, "description": "not signed in, or an unknown token"},
    403: {**_PROBLEM, "description": "the caller's role may not do this"},
    404: {**_PROBLEM, "description": "not found, or not the caller's to see"},
    422: {**_PROBLEM, "description": "invalid input, or refused by a rule (the reason cites it)"},
}

PageRefusal = Callable[[Request, int, str, str], Response]


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


def request_id_of(request: Request) -> str | None:
    """The request's id, as the observability middleware gave it (None outside that)."""
    return getattr(request.state, "request_id", None)


def problem(
    request: Request | None,
    status: int,
    title: str,
    detail: str,
    *,
    retry_s: int | None = None,
    errors: list[dict[str, str]] | None = None,
) -> JSONResponse:
    """A problem+json answer; with the request id when known, ``Retry-After`` if given, and
    the field errors (``[{"field", "message"}]``) when the error names them."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    headers: dict[str, str] = {}
    if request is not None and (request_id := request_id_of(request)) is not None:
        body["request_id"] = request_id
        headers["X-Request-Id"] = request_id
    if retry_s is not None:
        headers["Retry-After"] = str(retry_s)
    return JSONResponse(
        body, status_code=status, headers=headers, media_type="application/problem+json"
    )


def answer(request: Request, exc: e.AftersalesError) -> JSONResponse:
    """An error of the tree as its problem: status and title from the table."""
    status, title = status_of(exc)
    errors = getattr(exc, "field_errors", None)
    return problem(request, status, title, str(exc), retry_s=retry_after(exc), errors=errors)


def validation_error(exc: RequestValidationError) -> e.InvalidRequest:
    """What was wrong with the request, field by field, as an error of the tree.

    A body that is not JSON at all cannot be read (400); anything else is a value
    that cannot be used (422).
    """
    problems = [
        f"{'.'.join(str(p) for p in error['loc'] if p != 'body') or 'body'}: {error['msg']}"
        for error in exc.errors()
    ]
    unreadable = any(error.get("type") == "json_invalid" for error in exc.errors())
    cls = e.MalformedRequest if unreadable else e.InvalidRequest
    return cls("; ".join(problems))


def install(app: FastAPI, page: PageRefusal | None = None) -> None:
    """Register the app's error handlers (once); ``page`` draws an error page for browsers.

    Errors of the tree answer as problems, unless the web pages registered their
    own handler for them first (they draw refusals of page routes as pages).
    """

    async def tree(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, e.AftersalesError)
        return answer(request, exc)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return answer(request, validation_error(exc))

    async def no_route(request: Request, exc: Exception) -> Response:
        """An unknown path or method: a problem for the API and programs, a page for people."""
        assert isinstance(exc, StarletteHTTPException)
        phrase = HTTPStatus(exc.status_code).phrase
        wants_page = "text/html" in request.headers.get("accept", "")
        if page is not None and wants_page and not request.url.path.startswith("/api/"):
            key = "error.not_found" if exc.status_code == 404 else "error.title"
            return page(request, exc.status_code, key, "")
        detail = str(exc.detail)
        if detail == phrase:  # Starlette's own words; a route's own words stand
            if exc.status_code == 404:
                detail = f"there is no {request.url.path}; /docs lists the endpoints"
            elif exc.status_code == 405:
                detail = f"{request.method} is not allowed on {request.url.path}"
        return problem(request, exc.status_code, phrase, detail)

    async def defect(request: Request, exc: Exception) -> Response:
        """Anything unexpected: logged with its traceback, answered 500 with the request id."""
        request_id = request_id_of(request)
        log.error(
            "unhandled %s on %s %s",
            type(exc).__name__,
            request.method,
            request.url.path,
            exc_info=exc,
            extra={"request_id": request_id, "method": request.method, "path": request.url.path},
        )
        detail = "something went wrong on our side; it is logged"
        if request_id is not None:
            detail += f" under request id {request_id}"
        return problem(request, 500, "Internal server error", detail)

    if e.AftersalesError not in app.exception_handlers:
        app.add_exception_handler(e.AftersalesError, tree)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, no_route)
    app.add_exception_handler(Exception, defect)
