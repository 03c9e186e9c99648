"""Who is calling: the signed-in account, its role and the party it acts for.

A :class:`Viewer` is the person looking at a page or the caller of the API. The
pages and the API read sessions through :class:`WebAuth` only, so how sessions
are kept (cookie, server-side row, CSRF token) stays with the accounts service
that owns them.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request, Response

from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.services.base import Services
from aftersales.services.views import Scope


@dataclass(frozen=True)
class Viewer:
    account_id: str
    name: str
    role: Role
    party: str | None
    csrf_token: str

    @property
    def scope(self) -> Scope:
        return Scope(self.role, self.party, self.account_id)

    def actor(self, channel: Channel = Channel.WEB) -> Actor:
        """The actor recorded for this viewer's changes (X-4).

        Parties act as themselves (the buyer account, the provider, the shop, the
        brand); agents and operations staff act as the person signed in.
        """
        acts_as = self.party if self.role not in (Role.AGENT, Role.OPERATIONS) else None
        return Actor(self.role, acts_as or self.account_id, channel, self.name)

    def csrf_ok(self, submitted: str | None) -> bool:
        return bool(submitted) and hmac.compare_digest(self.csrf_token, submitted or "")


class WebAuth(Protocol):
    """Sessions, read and written in the request's own unit of work (``svc``)."""

    def viewer(self, request: Request, svc: Services) -> Viewer | None:
        """The signed-in viewer of this request, or None."""
        ...

    async def sign_in(
        self, request: Request, response: Response, svc: Services, username: str, password: str
    ) -> Viewer | None:
        """Check the password; on success set the session cookie on ``response``.

        ``svc`` is not bound to a request's unit of work: the password is checked
        between short transactions of its own, never inside one. Raises
        :class:`~aftersales.errors.Throttled` while sign-ins are refused.
        """
        ...

    def sign_out(self, request: Request, response: Response, svc: Services) -> None: ...
