"""The web pages, one module per area, gathered into one router.

``auth`` (sign-in, language), ``consumer`` (orders, help, repair form, my cases, my
points), ``chats`` (the buyer's and the brand's chats about an item), ``case``
(the case page and its actions), ``field`` (contacts, visits and saved solutions
beside a case), ``provider`` (the queue), ``agent`` (the
hotline desk), ``partner`` (merchants and brands), ``ops`` (dashboard, payouts,
complaints, sandboxes), ``imports`` (bulk imports of master data), ``brands`` and
``notifications`` (each account's notification centre);
``common`` holds what they share and ``formats`` how amounts and times are written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from aftersales.entrypoints.web.pages import (
    agent,
    appointments,
    auth,
    brands,
    case,
    chats,
    consumer,
    field,
    imports,
    notifications,
    ops,
    partner,
    provider,
)
from aftersales.entrypoints.web.pages.common import page_router, refusal

AREAS = (
    auth,
    consumer,
    chats,
    case,
    field,
    provider,
    appointments,
    agent,
    partner,
    ops,
    imports,
    brands,
    notifications,
)


@dataclass(frozen=True)
class Web:
    """The pages' router, and how a refusal is shown as a page."""

    router: APIRouter
    refusal: Callable[[Request, int, str, str], Response]


def build_web() -> Web:
    """Every area's pages on one router; the app mounts it with the static files."""
    router = page_router()
    for area in AREAS:
        router.include_router(area.router)
    return Web(router, refusal)
