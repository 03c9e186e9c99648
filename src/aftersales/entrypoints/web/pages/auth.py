"""Signing in and out, the start page of each role, and the language switch."""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import urlsplit

from anyio import to_thread
from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aftersales.entrypoints.api.deps import ContainerDep, ServicesDep, web_auth_dep
from aftersales.entrypoints.viewer import WebAuth
from aftersales.entrypoints.web.i18n import LANG_COOKIE, pick_lang
from aftersales.entrypoints.web.pages.common import (
    HOME_OF,
    PageContext,
    context,
    page_router,
    render,
    require_csrf,
)
from aftersales.errors import Throttled

router = page_router()
Auth = Annotated[WebAuth, Depends(web_auth_dep)]
Context = Annotated[PageContext, Depends(context)]


def same_site_path(target: str | None) -> str | None:
    """``target`` when it is a path of this site (``/cases/OH-1?x=1``), else None: a link
    that signs someone in and sends them elsewhere (``//evil.example``, ``https://…``) is
    not followed."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 0x20 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@router.get("/login", response_class=HTMLResponse)
def login_page(ctx: Context, failed: bool = False, next: str | None = None) -> Response:
    back = same_site_path(next)
    if ctx.viewer is not None and not failed:
        return RedirectResponse(back or HOME_OF[ctx.viewer.role], status_code=303)
    return render(ctx, "login.html", failed=failed, next=back)


@router.post("/login")
async def login(
    request: Request,
    auth: Auth,
    box: ContainerDep,
    username: str = Form(...),
    password: str = Form(...),
    next: str = Form(""),
) -> Response:
    """Sign in. Not in the request's unit of work: the password is checked (slowly, in a
    bounded pool of threads) between short transactions of the sign-in's own."""
    svc = box.services
    back = same_site_path(next)
    response = RedirectResponse("/", status_code=303)
    try:
        viewer = await auth.sign_in(request, response, svc, username.strip(), password)
    except Throttled as exc:
        ctx = await to_thread.run_sync(context, request, svc)
        wait = _wait_words(ctx, exc.retry_after_s)
        refused = render(
            ctx, "login.html", status=429, throttled=wait, username=username, next=back
        )
        refused.headers["Retry-After"] = str(exc.retry_after_s)
        return refused
    if viewer is None:
        ctx = await to_thread.run_sync(context, request, svc)
        return render(ctx, "login.html", status=401, failed=True, username=username, next=back)
    response.headers["location"] = back or HOME_OF[viewer.role]
    return response


def _wait_words(ctx: PageContext, seconds: int) -> str:
    """ "Try again in …" in the viewer's language, in seconds or whole minutes."""
    if seconds < 120:
        return ctx.t("signin.wait_seconds").format(n=seconds)
    return ctx.t("signin.wait_minutes").format(n=math.ceil(seconds / 60))


@router.post("/logout")
def logout(
    request: Request, ctx: Context, auth: Auth, svc: ServicesDep, csrf_token: str = Form("")
) -> Response:
    require_csrf(ctx, csrf_token)
    response = RedirectResponse("/login", status_code=303)
    auth.sign_out(request, response, svc)
    return response


@router.get("/lang/{code}")
def switch_lang(code: str, back: str = "/") -> Response:
    target = back if back.startswith("/") and not back.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(LANG_COOKIE, pick_lang(code), max_age=365 * 86_400, samesite="lax")
    return response


@router.get("/", response_class=HTMLResponse)
def home(ctx: Context) -> Response:
    if ctx.viewer is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME_OF[ctx.viewer.role], status_code=303)
