"""Signing in and out, the start page of each role, and the language switch."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aftersales.entrypoints.api.deps import ServicesDep, web_auth
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

router = page_router()
Auth = Annotated[WebAuth, Depends(web_auth)]
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
def login(
    request: Request,
    auth: Auth,
    svc: ServicesDep,
    username: str = Form(...),
    password: str = Form(...),
    next: str = Form(""),
) -> Response:
    back = same_site_path(next)
    response = RedirectResponse("/", status_code=303)
    viewer = auth.sign_in(response, svc, username.strip(), password)
    if viewer is None:
        ctx = context(request, svc)
        return render(ctx, "login.html", status=401, failed=True, username=username, next=back)
    response.headers["location"] = back or HOME_OF[viewer.role]
    return response


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
