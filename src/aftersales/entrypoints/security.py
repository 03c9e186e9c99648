"""Security headers on every answer, and ``Secure`` cookies when the page came over HTTPS.

A plain ASGI middleware (:class:`SecurityHeaders`), so errors, static files and
redirects get the headers too:

- ``Content-Security-Policy``: scripts only from this site's own files — no inline
  script, no ``eval`` — so text that slipped into a page cannot run; styles may be
  inline (the pages set widths in ``style=``; ECharts styles its canvas). No site
  may frame the pages (``frame-ancestors 'none'``, and ``X-Frame-Options: DENY``
  for older browsers). An answer that brings its own policy keeps it (the API
  documentation pages allow their one inline start-up script by its hash).
- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin``.
- Over HTTPS only: ``Strict-Transport-Security``, and ``Secure`` added to every
  cookie set. Whether a request came over HTTPS is ``scope["scheme"]``: the
  connection's own, or what ``X-Forwarded-Proto`` says when the connection comes
  from a trusted proxy (``AFTERSALES_TRUSTED_PROXIES``; uvicorn's
  ``ProxyHeadersMiddleware`` reads it, see :func:`install`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: blob:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "worker-src": "'self' blob:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
HSTS = "max-age=31536000; includeSubDomains"


def content_security_policy(
    *, script_hashes: Sequence[str] = (), image_hosts: Sequence[str] = ()
) -> str:
    """The policy, allowing besides this site's script files the inline scripts whose
    SHA-256 (base64) is given, and images from ``image_hosts`` besides this site's."""
    policy = dict(POLICY)
    if script_hashes:
        policy["script-src"] += "".join(f" 'sha256-{h}'" for h in script_hashes)
    if image_hosts:
        policy["img-src"] += "".join(f" {host}" for host in image_hosts)
    return "; ".join(f"{name} {value}" for name, value in policy.items())


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.I)


def policy_for_page(html: str, *, image_hosts: Sequence[str] = ()) -> str:
    """The policy for a page we do not write ourselves (the API documentation), allowing
    exactly the inline scripts it holds now."""
    hashes = [
        base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        for body in _INLINE_SCRIPT.findall(html)
    ]
    return content_security_policy(script_hashes=hashes, image_hosts=image_hosts)


DEFAULT_POLICY = content_security_policy()


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_security(list(message.get("headers", [])), https)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _with_security(headers: list[tuple[bytes, bytes]], https: bool) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    wanted = [
        (b"content-security-policy", DEFAULT_POLICY.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]
    if https:
        wanted.append((b"strict-transport-security", HSTS.encode()))
        headers = [
            (name, _secure(value) if name.lower() == b"set-cookie" else value)
            for name, value in headers
        ]
    return headers + [(name, value) for name, value in wanted if name not in present]


def _secure(cookie: bytes) -> bytes:
    attributes = {part.strip().lower() for part in cookie.split(b";")[1:]}
    return cookie if b"secure" in attributes else cookie + b"; Secure"


def install(app: FastAPI, *, trusted_proxies: Sequence[str]) -> None:
    """Add the headers, outside them the proxy headers reader: a request from one of
    ``trusted_proxies`` (addresses or networks; ``*`` trusts any) takes its scheme and
    client address from ``X-Forwarded-Proto`` / ``X-Forwarded-For``."""
    app.add_middleware(SecurityHeaders)
    if trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(trusted_proxies))
