"""Signed-in sessions: a cookie backed by :mod:`aftersales.services.accounts`.

The pages sign people in and out through :class:`CookieSessions`; the API reads
the same session (with its CSRF token) for calls made from a signed-in browser.
"""

from __future__ import annotations

from fastapi import Request, Response

from aftersales.entrypoints.viewer import Viewer
from aftersales.services import accounts
from aftersales.services.base import Services

SESSION_COOKIE = "aftersales_session"


class CookieSessions:
    """:class:`~aftersales.entrypoints.viewer.WebAuth` over server-side sessions."""

    def __init__(self, *, secure_cookie: bool = False) -> None:
        self.secure_cookie = secure_cookie

    def viewer(self, request: Request, svc: Services) -> Viewer | None:
        session = accounts.session_for(svc, request.cookies.get(SESSION_COOKIE))
        return None if session is None else _viewer(session)

    def sign_in(
        self, response: Response, svc: Services, username: str, password: str
    ) -> Viewer | None:
        session = accounts.sign_in(svc, username, password)
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
