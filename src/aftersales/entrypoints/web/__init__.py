"""The web application for consumers, agents, providers, merchants, brands and operations."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from aftersales.bootstrap import Container
from aftersales.entrypoints.web.pages import PAGE_ROLES, STATIC_DIR, Web, build_web
from aftersales.entrypoints.web.viewer import Viewer, WebAuth

__all__ = ["PAGE_ROLES", "Viewer", "Web", "WebAuth", "mount_web"]


def mount_web(app: FastAPI, container: Container, auth: WebAuth) -> Web:
    """Add the pages and their static files (styles, scripts, vendored htmx and ECharts)."""
    web = build_web(container, auth)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return web
