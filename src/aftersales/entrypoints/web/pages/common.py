"""What every page shares: who may open it, its context, rendering, and refusals as pages.

A page declares :func:`page` with its name in :data:`PAGE_ROLES` to get a
:class:`PageContext` for a signed-in viewer of a role allowed there; forms check
the session's CSRF token with :func:`require_csrf`, and changes to a case go
through :func:`on_case`, which also asks the access table whether the viewer's
role may do the thing. Routes built on :class:`WebRoute` show every refusal as a
page in the viewer's language, with the status the error table gives it.

A form that is refused is drawn again rather than replaced by an error page:
the route raises :class:`FormRefused` with the template, what was typed and the
problem of each field (a catalogue key); the app's error handler draws it after
the request's unit of work has rolled back (nothing half written), with a
:class:`FormState` as ``form``. Templates show a field's value with
``form.value(name, default)`` and its problem, once, beside it with the
``field_error`` macro of ``_form.html``. :func:`fields_refused` turns a
service's :class:`~aftersales.errors.InvalidFields` into one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from aftersales.domain import access
from aftersales.domain.access import Action
from aftersales.domain.lifecycle import Role
from aftersales.entrypoints.api.deps import ServicesDep, container, web_auth
from aftersales.entrypoints.api.errors import status_of
from aftersales.entrypoints.viewer import Viewer
from aftersales.entrypoints.web.i18n import LANG_COOKIE, LANGS, Lang, pick_lang, text
from aftersales.entrypoints.web.pages.formats import install_filters
from aftersales.errors import (
    AftersalesError,
    Conflict,
    DomainError,
    Forbidden,
    IllegalTransition,
    InvalidFields,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    Throttled,
    UnsupportedMediaType,
)
from aftersales.services import views
from aftersales.services.base import Services

WEB_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"
ALL = frozenset(Role) - {Role.SYSTEM, Role.INTEGRATION}  # integrations use tokens, not pages

# Which roles may open which page (the authorization test reads this table).
PAGE_ROLES: dict[str, frozenset[Role]] = {
    "orders": frozenset({Role.CONSUMER}),
    "my_cases": frozenset({Role.CONSUMER}),
    "my_points": frozenset({Role.CONSUMER}),
    "chats": frozenset({Role.CONSUMER, Role.BRAND, Role.OPERATIONS}),
    "chat": frozenset({Role.CONSUMER, Role.BRAND, Role.AGENT, Role.OPERATIONS}),
    "repair_form": frozenset({Role.CONSUMER}),
    "help": frozenset({Role.CONSUMER}),
    "case": ALL,  # and then only a case the viewer's scope includes
    "queue": frozenset({Role.PROVIDER, Role.MERCHANT, Role.BRAND, Role.OPERATIONS}),
    "provider_days": frozenset({Role.PROVIDER, Role.OPERATIONS}),
    "solutions": frozenset({Role.PROVIDER, Role.MERCHANT, Role.BRAND}),
    "agent": frozenset({Role.AGENT, Role.OPERATIONS}),
    "partner": frozenset({Role.MERCHANT, Role.BRAND}),
    "ops": frozenset({Role.OPERATIONS}),
    "ops_cases": frozenset({Role.OPERATIONS}),
    "ops_payouts": frozenset({Role.OPERATIONS}),
    "ops_complaints": frozenset({Role.OPERATIONS}),
    "ops_sandboxes": frozenset({Role.OPERATIONS}),
    "ops_imports": frozenset({Role.OPERATIONS}),
    "brand": ALL,
    "notifications": ALL,  # each account's own notification centre
}

HOME_OF: dict[Role, str] = {
    Role.CONSUMER: "/my/orders",
    Role.AGENT: "/agent",
    Role.PROVIDER: "/provider/queue",
    Role.MERCHANT: "/partner",
    Role.BRAND: "/partner",
    Role.OPERATIONS: "/ops",
    Role.INTEGRATION: "/docs",  # a marketplace's system account: its pages are the API's
}


class PageRefused(Exception):
    """A page says no: ``status`` with the catalogue sentence ``key`` (401 goes to sign-in)."""

    def __init__(self, status: int, key: str, detail: str = "") -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.detail = detail


@dataclass(frozen=True)
class FormState:
    """A form as it was sent, and the problem of each field in the page's language."""

    values: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)

    def value(self, name: str, default: str = "") -> str:
        """What was typed into ``name``, or ``default`` on a form not yet sent."""
        return self.values.get(name, default)

    def error(self, name: str) -> str:
        return self.errors.get(name, "")

    def __bool__(self) -> bool:
        return bool(self.errors)


NO_FORM = FormState()


class FormRefused(PageRefused):
    """A form sent back to the person: ``template`` drawn again with ``values`` as typed and
    ``errors`` (field → catalogue key, formatted with ``params``) beside their fields."""

    def __init__(
        self,
        template: str,
        values: Mapping[str, str],
        errors: Mapping[str, str],
        *,
        status: int = 422,
        params: Mapping[str, str] | None = None,
        **context: Any,
    ) -> None:
        super().__init__(status, next(iter(errors.values()), "error.invalid"))
        self.template = template
        self.values = dict(values)
        self.errors = dict(errors)
        self.params = dict(params or {})
        self.context = context

    def state(self, lang: Lang) -> FormState:
        return FormState(
            self.values,
            {name: text(key, lang).format(**self.params) for name, key in self.errors.items()},
        )


def fields_refused(
    exc: InvalidFields, template: str, values: Mapping[str, str], prefix: str, **context: Any
) -> FormRefused:
    """A service's refusal of named fields as the form drawn again; each problem code
    (``phone.invalid``) is shown with the catalogue sentence ``<prefix><code>``."""
    errors = {name: f"{prefix}{code}" for name, code in exc.problems.items()}
    return FormRefused(template, values, errors, **context)


@dataclass
class PageContext:
    request: Request
    viewer: Viewer | None
    lang: Lang

    def t(self, key: str) -> str:
        return text(key, self.lang)

    @property
    def signed_in(self) -> Viewer:
        """The viewer of a page that only signed-in people reach."""
        if self.viewer is None:
            raise PageRefused(401, "login")
        return self.viewer


@cache
def templates() -> Jinja2Templates:
    """The page templates with the app's filters and globals (built once, on first use)."""
    built = Jinja2Templates(directory=str(TEMPLATES_DIR))
    built.env.globals.update(HOME_OF=HOME_OF, Role=Role, LANGS=LANGS)
    install_filters(built.env)
    return built


def context(request: Request, svc: ServicesDep) -> PageContext:
    """The viewer (if signed in) and the language: ``?lang=``, else the cookie, else Chinese."""
    lang = pick_lang(request.query_params.get("lang") or request.cookies.get(LANG_COOKIE))
    return PageContext(request, web_auth(request).viewer(request, svc), lang)


def page(name: str) -> Callable[[PageContext], Awaitable[PageContext]]:
    """A dependency: the context of page ``name``, refused to roles it is not for."""
    roles = PAGE_ROLES[name]

    # A coroutine: it only reads the context, so it runs without a thread-pool hop.
    async def check(ctx: Annotated[PageContext, Depends(context)]) -> PageContext:
        if ctx.viewer is None:
            raise PageRefused(401, "login")
        if ctx.viewer.role not in roles:
            raise PageRefused(403, "error.forbidden")
        return ctx

    return check


def render(ctx: PageContext, template: str, status: int = 200, **values: Any) -> Response:
    response = templates().TemplateResponse(
        ctx.request,
        template,
        {
            "ctx": ctx,
            "t": ctx.t,
            "lang": ctx.lang,
            "viewer": ctx.viewer,
            "form": NO_FORM,
            **values,
        },
        status_code=status,
    )
    if ctx.request.query_params.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, ctx.lang, max_age=365 * 86_400, samesite="lax")
    return response


def refusal(request: Request, status: int, key: str, detail: str = "") -> Response:
    """A refusal as a page; "sign in first" as a redirect to the sign-in page."""
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    # The request's unit of work has ended (rolled back): the viewer is read in a new one.
    ctx = context(request, container(request).services)
    return render(ctx, "error.html", status=status, key=key, detail=detail)


# How each branch of the error tree is said on a page, most specific first. The
# error's own message (English, for programs) is shown on English pages only.
_ERROR_KEYS: tuple[tuple[type[AftersalesError], str], ...] = (
    (NotFound, "error.not_found"),
    (Forbidden, "error.forbidden"),
    (IllegalTransition, "error.illegal"),
    (Conflict, "error.conflict"),
    (PayloadTooLarge, "error.too_large"),
    (UnsupportedMediaType, "error.media_type"),
    (Throttled, "error.throttled"),
    (InvalidRequest, "error.invalid"),
    (DomainError, "error.refused"),
)


def error_status(exc: AftersalesError) -> tuple[int, str]:
    """How a refused command shows on a page: its status and a sentence to act on."""
    status, _ = status_of(exc)
    key = next((key for cls, key in _ERROR_KEYS if isinstance(exc, cls)), "error.refused")
    return status, key


PAGE_SCOPE_KEY = "aftersales.page"


def is_page(request: Request) -> bool:
    """Was this request answered by a page route (so a refusal is drawn as a page)?"""
    return bool(request.scope.get(PAGE_SCOPE_KEY))


class WebRoute(APIRoute):
    """A page's route: its refusals become a page in the viewer's language, never JSON.

    The refusal is drawn by the app's error handlers, after the request's unit of
    work has been rolled back (catching it here, inside the dependencies' scope,
    would let the unit of work commit a refused request's half-done writes).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            request.scope[PAGE_SCOPE_KEY] = True
            return await handler(request)

        return handle


def page_refusal(request: Request, exc: Exception) -> Response:
    """A page's refusal, drawn after the request's unit of work has ended."""
    if isinstance(exc, FormRefused):
        # The request's unit of work has ended (rolled back): the viewer is read in a new one.
        ctx = context(request, container(request).services)
        return render(ctx, exc.template, exc.status, form=exc.state(ctx.lang), **exc.context)
    if isinstance(exc, PageRefused):
        return refusal(request, exc.status, exc.key, exc.detail)
    assert isinstance(exc, AftersalesError)
    status, key = error_status(exc)
    return refusal(request, status, key, str(exc))


def page_router() -> APIRouter:
    """A router for one area's pages: refusals as pages, and none of them in the API docs."""
    return APIRouter(include_in_schema=False, route_class=WebRoute)


def require_csrf(ctx: PageContext, token: str | None) -> Viewer:
    """The viewer, if the form carries the session's CSRF token."""
    viewer = ctx.signed_in
    if not viewer.csrf_ok(token):
        raise PageRefused(403, "error.csrf")
    return viewer


def see_case(svc: Services, ctx: PageContext, case_id: str) -> Viewer:
    """The viewer, if the case is in their scope; "not found" otherwise."""
    viewer = ctx.signed_in
    if not views.may_see_case(svc, viewer.scope, case_id):
        # Not "forbidden": whether the case exists is not the viewer's business.
        raise PageRefused(404, "error.not_found")
    return viewer


def on_case(
    svc: Services, ctx: PageContext, case_id: str, csrf_token: str, action: Action | None = None
) -> Viewer:
    """A change to a case: a valid form, a case the viewer may see, a role that may act."""
    viewer = require_csrf(ctx, csrf_token)
    see_case(svc, ctx, case_id)
    if action is not None and not access.allowed(viewer.role, action):
        raise PageRefused(403, "error.forbidden")
    return viewer


def back_to_case(case_id: str) -> RedirectResponse:
    return RedirectResponse(f"/cases/{quote(case_id)}", status_code=303)
