"""The HTTP application factory: ``create_app(container)``; nothing is built at import.

The factory puts the container on ``app.state`` (routes reach it through
:mod:`aftersales.entrypoints.api.deps`), includes one router per resource,
mounts the web pages and the observability endpoints, registers the error
handlers once (:mod:`aftersales.entrypoints.api.errors`), and puts the edge
guard (:mod:`aftersales.entrypoints.edge`) in front of every route, inside the
observability middleware so its refusals are logged and counted too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from aftersales.bootstrap import Container
from aftersales.entrypoints import security
from aftersales.entrypoints.api import errors
from aftersales.entrypoints.api.deps import ConnectionSlots
from aftersales.entrypoints.api.routes import ROUTERS, events, master_data
from aftersales.entrypoints.edge import Accepts, BodyLimits, EdgeGuard, Limit, Rule
from aftersales.entrypoints.observability import instrument
from aftersales.entrypoints.sessions import CookieSessions
from aftersales.entrypoints.web import mount_web
from aftersales.settings import Settings

DESCRIPTION = (
    "After-sales commitments as SLA clocks, automatic exactly-once payouts and "
    "bilingual explanations. Authenticate with `Authorization: Bearer <token>` "
    "(made with `aftersales accounts token`) or a signed-in session plus "
    "`X-CSRF-Token` on writes. Every POST takes an `Idempotency-Key` header: a "
    "repeat with the same key returns the first answer. Lists page with `cursor`."
)


def app_from_environment() -> FastAPI:
    """The app of one of several HTTP processes (``serve --workers N``), set up from ``AFTERSALES_*``.

    The supervising process has migrated the database already, so this one only connects.
    """
    import os

    from aftersales.bootstrap import bootstrap
    from aftersales.entrypoints.observability import configure_logging
    from aftersales.settings import load_settings

    configure_logging(os.environ.get("AFTERSALES_LOG_FORMAT", "json"))
    return create_app(bootstrap(load_settings(), migrate=False))


def create_app(container: Container) -> FastAPI:
    """The whole HTTP app over ``container``: API, pages, static files, metrics."""
    app = FastAPI(
        title="aftersales",
        version="0.1.0",
        docs_url=None,  # served below from the package's own copies: no CDN, works offline
        redoc_url=None,
        description=DESCRIPTION,
    )
    app.state.container = container
    connections = container.request_connections()
    if connections is not None:
        app.state.connection_slots = ConnectionSlots(connections)
    for router in ROUTERS:
        app.include_router(router)
    _offline_docs(app)
    web = mount_web(app, container, CookieSessions())
    errors.install(app, page=web.refusal)
    app.add_middleware(
        EdgeGuard,
        limits=body_limits(container.settings),
        refuse=errors.edge_refusal(web.refusal),
    )
    instrument(app, container)  # it wraps the guard, so refusals are logged and counted
    # Outermost: security headers on every answer, and the proxy's word on scheme and client
    security.install(app, trusted_proxies=container.settings.trusted_proxies)
    _document_problems(app)
    return app


MULTIPART_SLACK = 64 * 1024  # a form's other fields and boundaries around its file
_FORM = Accepts(("multipart/form-data",), "a multipart form (multipart/form-data) with the file")
_RECORDS = Accepts(
    ("application/json", "application/x-ndjson", "application/ndjson"),
    "JSON (application/json) or NDJSON (application/x-ndjson)",
)
_JSON = Accepts(("application/json",), "JSON (Content-Type: application/json)")


def body_limits(settings: Settings) -> BodyLimits:
    """The largest body each route takes, and the types the API routes with files or batches
    take; everything else: ``max_body_bytes`` and, under /api/, JSON."""

    def rule(pattern: str, limit: Limit, accepts: Accepts | None) -> Rule:
        return Rule(re.compile(pattern), limit, accepts)

    return BodyLimits(
        default=Limit(settings.max_body_bytes),
        rules=(
            rule(
                r"/api/v1/cases/[^/]+/attachments",
                Limit(
                    settings.attachment_max_bytes + MULTIPART_SLACK,
                    "an attachment",
                    settings.attachment_max_bytes,
                ),
                _FORM,
            ),
            rule(
                r"/api/v1/imports",
                Limit(
                    settings.import_max_bytes + MULTIPART_SLACK,
                    "an import file",
                    settings.import_max_bytes,
                ),
                _FORM,
            ),
            rule(
                r"/ops/imports",
                Limit(
                    settings.import_max_bytes + MULTIPART_SLACK,
                    "an import file",
                    settings.import_max_bytes,
                ),
                None,
            ),
            rule(r"/api/v1/events(/.*)?", Limit(events.MAX_BODY_BYTES, "a batch of events"), _JSON),
            rule(
                r"/api/v1/(brands|merchants|providers|products|buyers|orders)(/.*)?",
                Limit(master_data.MAX_BODY_BYTES, "a batch of records"),
                _RECORDS,
            ),
            rule(
                r"/items/[^/]+/repair",
                Limit(settings.max_form_bytes, "a repair report with its photos"),
                None,
            ),
        ),
    )


def _document_problems(app: FastAPI) -> None:
    """The OpenAPI document lists every status each operation can answer (see errors)."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = errors.document_problems(plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


DOCS_ASSETS = Path(__file__).parent / "docs_assets"


def _offline_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) with their scripts and styles served
    from the package, so the API documentation opens without the internet."""
    app.mount("/docs-assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _own_policy(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title="aftersales API",
                swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                swagger_css_url="/docs-assets/swagger-ui.css",
                swagger_favicon_url="/docs-assets/favicon-32x32.png",
            )
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        # ReDoc's bundle always shows its maker's logo from their CDN (an image; hidden
        # when it cannot load, as offline).
        return _own_policy(
            get_redoc_html(
                openapi_url=openapi_url,
                title="aftersales API",
                redoc_js_url="/docs-assets/redoc.standalone.js",
                redoc_favicon_url="/docs-assets/favicon-32x32.png",
                with_google_fonts=False,
            ),
            image_hosts=("https://cdn.redoc.ly",),
        )


def _own_policy(page: HTMLResponse, *, image_hosts: tuple[str, ...] = ()) -> HTMLResponse:
    """The documentation page with a policy allowing its one inline start-up script (by
    hash), and no other."""
    page.headers["Content-Security-Policy"] = security.policy_for_page(
        bytes(page.body).decode(), image_hosts=image_hosts
    )
    return page
