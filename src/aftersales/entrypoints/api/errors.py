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
from aftersales.entrypoints.edge import EdgeRefusal

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
    400: {
        **_PROBLEM,
        "description": "a parameter or the body cannot be read (broken JSON, a damaged cursor)",
    },
    401: {**_PROBLEM, "description": "not signed in, or an unknown token"},
    403: {**_PROBLEM, "description": "the caller's role may not do this"},
    404: {**_PROBLEM, "description": "not found, or not the caller's to see"},
    422: {
        **_PROBLEM,
        "description": "invalid input (a control character, a time out of range, "
        "…), or refused by a rule (the reason cites it)",
    },
}
# What an operation that takes a body or changes something may answer besides.
WRITE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    409: {
        **_PROBLEM,
        "description": "the state changed under the request, or a request with "
        "the same Idempotency-Key is still being answered (Retry-After)",
    },
    413: {**_PROBLEM, "description": "the body is over its limit"},
    415: {**_PROBLEM, "description": "the body is of a type the operation does not take"},
}
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
# The field-level refusals of the edge (entrypoints/edge.py), by status.
_EDGE: dict[int, type[e.AftersalesError]] = {
    400: e.MalformedRequest,
    413: e.PayloadTooLarge,
    415: e.UnsupportedMediaType,
    422: e.InvalidRequest,
}
_PAGE_KEYS = {
    404: "error.not_found",
    413: "error.too_large",
    415: "error.media_type",
    400: "error.invalid",
    422: "error.invalid",
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


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with every status an API operation can answer: the common
    problems on every operation, and those of bodies and changes on operations that write.
    A route's own description of a status stands."""
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            wanted = dict(PROBLEMS)
            if method in WRITE_METHODS or "requestBody" in operation:
                wanted.update(WRITE_PROBLEMS)
            for status, answer in wanted.items():
                operation["responses"].setdefault(
                    str(status),
                    {
                        "description": answer["description"],
                        "content": {
                            "application/problem+json": {
                                "schema": {"$ref": "#/components/schemas/Problem"}
                            }
                        },
                    },
                )
    return schema


def is_page_request(request: Request) -> bool:
    """Does a person's browser want this answer (a page), not a program (a problem)?"""
    if request.url.path.startswith("/api/"):
        return False
    if "text/html" in request.headers.get("accept", ""):
        return True
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media in ("application/x-www-form-urlencoded", "multipart/form-data")


def edge_refusal(page: PageRefusal | None) -> Callable[[Request, int, str, str | None], Response]:
    """How a refusal at the edge (entrypoints/edge.py) is answered: the error page for a
    browser, else a problem naming the field."""

    def refuse(request: Request, status: int, detail: str, field: str | None) -> Response:
        if page is not None and is_page_request(request):
            return page(request, status, _PAGE_KEYS.get(status, "error.title"), detail)
        exc = _EDGE.get(status, e.InvalidRequest)(detail)
        if field is not None:
            exc.field_errors = [{"field": field, "message": detail}]  # type: ignore[attr-defined]
        return answer(request, exc)

    return refuse


def validation_error(exc: RequestValidationError) -> e.InvalidRequest:
    """What was wrong with the request, field by field, as an error of the tree.

    A body that is not JSON at all cannot be read (400); anything else is a value
    that cannot be used (422).
    """
    problems = [
        f"{'.'.join(str(p) for p in error['loc'] if p != 'body') or 'body'}: "
        + str(error["msg"]).removeprefix("Value error, ")
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

    refuse_at_edge = edge_refusal(page)

    async def no_route(request: Request, exc: Exception) -> Response:
        """An unknown path or method: a problem for the API and programs, a page for people.
        A refusal of the edge found while the body was read is answered as the edge does."""
        assert isinstance(exc, StarletteHTTPException)
        if isinstance(exc, EdgeRefusal):
            return refuse_at_edge(request, exc.status_code, str(exc.detail), exc.field)
        phrase = HTTPStatus(exc.status_code).phrase
        wants_page = "text/html" in request.headers.get("accept", "")
        if page is not None and wants_page and not request.url.path.startswith("/api/"):
            response = page(
                request, exc.status_code, _PAGE_KEYS.get(exc.status_code, "error.title"), ""
            )
        else:
            detail = str(exc.detail)
            if detail == phrase:  # Starlette's own words; a route's own words stand
                if exc.status_code == 404:
                    detail = f"there is no {request.url.path}; /docs lists the endpoints"
                elif exc.status_code == 405:
                    detail = f"{request.method} is not allowed on {request.url.path}"
            response = problem(request, exc.status_code, phrase, detail)
        for name, value in (exc.headers or {}).items():  # Allow, on a 405
            response.headers[name] = value
        return response

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
