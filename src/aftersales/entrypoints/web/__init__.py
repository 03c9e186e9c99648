"""The web application for consumers, agents, providers, merchants, brands and operations.

Server-rendered pages, Chinese first. Each page checks who may see it
(:data:`PAGE_ROLES`) before it reads anything; every form carries the session's
CSRF token; every change goes through the same use cases the API calls,
recorded with channel ``web`` (X-4).
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from aftersales.bootstrap import Container
from aftersales.entrypoints.api import errors
from aftersales.entrypoints.viewer import Viewer, WebAuth
from aftersales.entrypoints.web.pages import Web, build_web
from aftersales.entrypoints.web.pages.common import (
    PAGE_ROLES,
    STATIC_DIR,
    PageRefused,
    is_page,
    page_refusal,
)
from aftersales.errors import AftersalesError

__all__ = ["PAGE_ROLES", "STATIC_DIR", "Viewer", "Web", "WebAuth", "mount_web"]


def mount_web(app: FastAPI, container: Container, auth: WebAuth) -> Web:
    """Add the pages and their static files (styles, scripts, vendored htmx and ECharts).

    The pages read ``container`` and ``auth`` from ``app.state`` on each request.
    """
    app.state.container = container
    app.state.web_auth = auth
    web = build_web()
    app.include_router(web.router)
    # Refusals of page routes become pages, drawn after the request's unit of work
    # has rolled back; the same errors elsewhere answer as problems.
    app.add_exception_handler(PageRefused, _drawn)
    app.add_exception_handler(AftersalesError, _drawn)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return web


async def _drawn(request: Request, exc: Exception) -> Response:
    if isinstance(exc, PageRefused) or is_page(request):
        return page_refusal(request, exc)
    assert isinstance(exc, AftersalesError)
    return errors.answer(request, exc)
