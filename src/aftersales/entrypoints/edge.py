"""The edge: what every request must pass before a route reads it, checked once for all routes.

:class:`EdgeGuard` is a plain ASGI middleware in front of the routes and pages.
It refuses, with the status a client can act on and the field it is about:

- a body over its limit (413), from ``Content-Length`` before anything is read,
  then by counting the bytes as they arrive, so a large body is never read
  whole; the limit is :attr:`BodyLimits.default` (``AFTERSALES_MAX_BODY_BYTES``)
  except on the few routes that take files or batches (:func:`body_limits`);
- an API body of a type the route does not take (415, naming what it takes);
- a JSON body that is not JSON (400);
- a control character (U+0000–U+001F except tab, line feed and carriage return)
  in the path, a query parameter, the ``Idempotency-Key`` header, a JSON string
  or key at any depth, or a form field (422, naming the field). Such characters
  are never part of a name, an id or a sentence; PostgreSQL cannot even store
  U+0000 in text, so refusing them here keeps the two databases answering alike.

API requests are answered with problem+json carrying the request id; page
requests (a browser's form post or page) with the error page in the viewer's
language. A refusal found while the body streams in (its size, a multipart
field) is raised as :class:`EdgeRefusal` from ``receive``, which the route's
body parsing lets through to the app's error handlers, after the request's unit
of work has rolled back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# C0 controls except tab, line feed and carriage return.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# The headers whose values a route reads as input (others are the server's business).
INPUT_HEADERS = ("idempotency-key",)
WRITES = frozenset({"POST", "PUT", "PATCH"})
JSON_TYPES = ("application/json",)
MiB = 1024 * 1024


@dataclass(frozen=True)
class Limit:
    """How large a body a route takes, and what it is called in the refusal."""

    max_bytes: int
    what: str = "a request body"
    said_bytes: int | None = None  # the figure to state, when the room is a little larger

    def sentence(self, size: int | None) -> str:
        said = self.said_bytes or self.max_bytes
        got = f"this one has {size:,} bytes" if size is not None else "this one is larger"
        return f"{self.what} may have at most {said:,} bytes; {got}"


@dataclass(frozen=True)
class Accepts:
    """The body types a route takes (415 for others), as ``(media types, sentence)``."""

    types: tuple[str, ...]
    say: str


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    limit: Limit
    accepts: Accepts | None = None


@dataclass(frozen=True)
class BodyLimits:
    """The default limit and the routes that take more (or another type): first match wins."""

    default: Limit
    rules: tuple[Rule, ...] = ()
    api_accepts: Accepts = field(
        default_factory=lambda: Accepts(JSON_TYPES, "JSON (Content-Type: application/json)")
    )

    def of(self, path: str) -> tuple[Limit, Accepts | None]:
        """The limit for ``path``, and the types it takes when it is an API route."""
        for rule in self.rules:
            if rule.pattern.fullmatch(path):
                return rule.limit, rule.accepts
        return self.default, self.api_accepts if path.startswith("/api/") else None


class EdgeRefusal(HTTPException):
    """A request refused at the edge while its body was being read (raised from ``receive``)."""

    def __init__(self, status: int, detail: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(status_code=status, detail=detail)


Refuse = Callable[[Request, int, str, str | None], Response]


def control_character(text: str) -> str | None:
    """The first control character in ``text`` as ``U+0000``, or None."""
    found = CONTROL.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def shown(name: str) -> str:
    """``name`` fit to be shown: its control characters as U+FFFD."""
    return CONTROL.sub("\ufffd", name)


def _control_sentence(name: str, code: str) -> str:
    return (
        f"{shown(name)}: contains the control character {code}, which no field takes; "
        "send the text without it"
    )


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in a parsed JSON value (keys too), with its dotted place."""
    if isinstance(value, str):
        yield where or "body", value
    elif isinstance(value, dict):
        for key, item in value.items():
            place = f"{where}.{key}" if where else str(key)
            yield place, str(key)
            yield from _strings(item, place)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}.{index}" if where else str(index))


def first_control_in_json(value: Any) -> tuple[str, str] | None:
    """``(field, U+XXXX)`` of the first control character in a JSON value, or None."""
    for place, text in _strings(value, ""):
        code = control_character(text)
        if code:
            return place, code
    return None


def _media_type(scope: Scope) -> tuple[str, dict[bytes, bytes]]:
    raw = _header(scope, b"content-type")
    if raw is None:
        return "", {}
    media, options = parse_options_header(raw)
    return media.decode("latin-1").strip().lower(), options


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


def _takes(accepts: Accepts, media: str) -> bool:
    for accepted in accepts.types:
        if media == accepted:
            return True
        if (
            accepted == "application/json"
            and media.startswith("application/")
            and (media.endswith("+json"))
        ):
            return True
    return False


class _FieldScanner:
    """Watches a multipart body go by and raises at the first form field (not file
    content) holding a control character; its file names are fields too."""

    def __init__(self, boundary: bytes) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self._field = b""
        self._value = b""
        self.name = ""
        self.is_file = False
        self.data = bytearray()
        self.broken = False
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_done,
                "on_part_data": self._data,
                "on_part_end": self._end,
            },
        )

    def feed(self, chunk: bytes) -> None:
        if self.broken or not chunk:
            return
        try:
            self.parser.write(chunk)
        except EdgeRefusal:
            raise
        except Exception:  # a malformed form is the form parser's to report
            self.broken = True

    def _begin(self) -> None:
        self.headers, self.data, self.name, self.is_file = [], bytearray(), "", False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self.headers.append((self._field.lower(), self._value))
        self._field, self._value = b"", b""

    def _headers_done(self) -> None:
        for key, value in self.headers:
            if key == b"content-disposition":
                _, options = parse_options_header(value)
                self.name = options.get(b"name", b"").decode("utf-8", "replace")
                filename = options.get(b"filename")
                if filename is not None:
                    self.is_file = True
                    code = control_character(filename.decode("utf-8", "replace"))
                    if code:
                        raise EdgeRefusal(
                            422,
                            _control_sentence(f"{self.name} (file name)", code),
                            shown(self.name),
                        )
        code = control_character(self.name)
        if code:
            raise EdgeRefusal(422, _control_sentence("a form field's name", code), None)

    def _data(self, data: bytes, start: int, end: int) -> None:
        if not self.is_file and len(self.data) < MiB:
            self.data += data[start:end]

    def _end(self) -> None:
        if not self.is_file:
            code = control_character(self.data.decode("utf-8", "replace"))
            if code:
                raise EdgeRefusal(422, _control_sentence(self.name, code), shown(self.name))


class EdgeGuard:
    """The ASGI middleware (see the module's docstring). ``refuse(request, status, detail,
    field)`` draws a refusal made before the app runs: a page or a problem."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits, refuse: Refuse) -> None:
        self.app = app
        self.limits = limits
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refused_before_body(scope)
        if refusal is not None:
            await self._answer(scope, receive, send, *refusal)
            return
        declared = _header(scope, b"content-length")
        chunked = _header(scope, b"transfer-encoding") is not None
        has_body = chunked or declared not in (None, b"0")
        if not has_body and scope["method"] not in WRITES:
            await self.app(scope, receive, send)
            return
        limit, accepts = self.limits.of(scope["path"])
        media, options = _media_type(scope)
        if declared is not None and declared.isdigit() and int(declared) > limit.max_bytes:
            await self._answer(scope, receive, send, 413, limit.sentence(int(declared)), None)
            return
        if has_body and accepts is not None and not _takes(accepts, media):
            said = f"this request says {media!r}" if media else "this request names no type"
            detail = f"send {accepts.say}; {said}"
            await self._answer(scope, receive, send, 415, detail, None)
            return
        if media in ("application/x-www-form-urlencoded",) or _takes(
            Accepts(JSON_TYPES, ""), media
        ):
            await self._read_whole(scope, receive, send, limit, media)
            return
        scanner = None
        if media == "multipart/form-data" and b"boundary" in options:
            scanner = _FieldScanner(options[b"boundary"])
        await self.app(scope, _counting(receive, limit, scanner), send)

    def _refused_before_body(self, scope: Scope) -> tuple[int, str, str | None] | None:
        code = control_character(scope["path"])
        if code:
            return 422, _control_sentence("the path", code), "path"
        query = bytes(scope.get("query_string", b"")).decode("utf-8", "replace")
        for name, value in parse_qsl(query, keep_blank_values=True):
            code = control_character(name) or control_character(value)
            if code:
                return 422, _control_sentence(name, code), shown(name)
        for header in INPUT_HEADERS:
            raw = _header(scope, header.encode())
            if raw is not None:
                code = control_character(raw.decode("latin-1"))
                if code:
                    return 422, _control_sentence(header.title(), code), header.title()
        return None

    async def _read_whole(
        self, scope: Scope, receive: Receive, send: Send, limit: Limit, media: str
    ) -> None:
        """Read a JSON or URL-encoded body (within its limit), check it, then hand it on."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit.max_bytes:
                await self._answer(scope, receive, send, 413, limit.sentence(None), None)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        refusal = _check_body(body, media)
        if refusal is not None:
            await self._answer(scope, _replay(body, receive), send, *refusal)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        detail: str,
        field_name: str | None,
    ) -> None:
        response = self.refuse(Request(scope, receive), status, detail, field_name)
        await response(scope, receive, send)


def _check_body(body: bytes, media: str) -> tuple[int, str, str | None] | None:
    if not body:
        return None
    if media == "application/x-www-form-urlencoded":
        for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            code = control_character(name) or control_character(value)
            if code:
                return 422, _control_sentence(name, code), shown(name)
        return None
    try:
        parsed = json.loads(body, strict=False)  # raw controls in strings: named below
    except ValueError as exc:  # UnicodeDecodeError is one too
        return 400, f"the body is not JSON: {exc}", None
    found = first_control_in_json(parsed)
    if found is not None:
        return 422, _control_sentence(found[0], found[1]), shown(found[0])
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then whatever the server says next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _counting(receive: Receive, limit: Limit, scanner: _FieldScanner | None) -> Receive:
    """A ``receive`` that raises :class:`EdgeRefusal` (413) once more than the limit arrives,
    and lets ``scanner`` see a multipart body's bytes as they pass."""
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit.max_bytes:
                raise EdgeRefusal(413, limit.sentence(None))
            if scanner is not None:
                scanner.feed(chunk)
        return message

    return counted
