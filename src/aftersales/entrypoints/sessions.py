"""Signed-in sessions: a cookie backed by :mod:`aftersales.services.accounts`.

The pages sign people in and out through :class:`CookieSessions`; the API reads
the same session (with its CSRF token) for calls made from a signed-in browser.

Checking a password costs about a second of CPU (argon2, by design). It runs in
worker threads behind a capacity limiter of :data:`HASHING_THREADS`, so however
many sign-ins arrive at once, the event loop and the thread pool the other
requests use stay free; the attempts beyond the limit wait their turn without a
thread. The throttle check before it (:mod:`aftersales.services.sign_in`) is a
short read, so a blocked attempt is refused without waiting or hashing.
"""

from __future__ import annotations

import anyio
from anyio import to_thread
from fastapi import Request, Response

from aftersales.entrypoints.viewer import Viewer
from aftersales.services import accounts
from aftersales.services import sign_in as signing_in
from aftersales.services.base import Services

SESSION_COOKIE = "aftersales_session"
HASHING_THREADS = 2  # passwords checked at once per process


class CookieSessions:
    """:class:`~aftersales.entrypoints.viewer.WebAuth` over server-side sessions."""

    def __init__(self, *, secure_cookie: bool = False, hashing_threads: int = HASHING_THREADS):
        self.secure_cookie = secure_cookie
        self.hashing = anyio.CapacityLimiter(hashing_threads)

    def viewer(self, request: Request, svc: Services) -> Viewer | None:
        session = accounts.session_for(svc, request.cookies.get(SESSION_COOKIE))
        return None if session is None else _viewer(session)

    async def sign_in(
        self, request: Request, response: Response, svc: Services, username: str, password: str
    ) -> Viewer | None:
        address = request.client.host if request.client else None
        attempt = await to_thread.run_sync(signing_in.begin, svc, username, address)
        matched = await to_thread.run_sync(
            signing_in.password_matches, attempt, password, limiter=self.hashing
        )
        session = await to_thread.run_sync(signing_in.finish, svc, attempt, password, matched)
        if session is None:
            return None
        response.set_cookie(
            SESSION_COOKIE,
            session.token,
            max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=self.secure_cookie,
        )
        return _viewer(session)

    def sign_out(self, request: Request, response: Response, svc: Services) -> None:
        accounts.sign_out(svc, request.cookies.get(SESSION_COOKIE))
        response.delete_cookie(SESSION_COOKIE)


def _viewer(session: accounts.Session) -> Viewer:
    a = session.account
    return Viewer(a.id, a.name, a.role, a.party, session.csrf_token)
