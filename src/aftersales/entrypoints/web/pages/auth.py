"""Signing in and out, the start page of each role, and the language switch."""

from __future__ import annotations

from typing import Annotated

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


@router.get("/login", response_class=HTMLResponse)
def login_page(ctx: Context, failed: bool = False) -> Response:
    if ctx.viewer is not None and not failed:
        return RedirectResponse(HOME_OF[ctx.viewer.role], status_code=303)
    return render(ctx, "login.html", failed=failed)


@router.post("/login")
def login(
    request: Request,
    auth: Auth,
    svc: ServicesDep,
    username: str = Form(...),
    password: str = Form(...),
) -> Response:
    response = RedirectResponse("/", status_code=303)
    viewer = auth.sign_in(response, svc, username.strip(), password)
    if viewer is None:
        ctx = context(request, svc)
        return render(ctx, "login.html", status=401, failed=True, username=username)
    response.headers["location"] = HOME_OF[viewer.role]
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
