"""Each account's notification centre: the list, acknowledging, channels, and the live badge.

The page lists the signed-in account's notifications newest first, a page at a
time (``?before=<id>``). Every page's script asks ``/notifications/badge.json``
every few seconds — a conditional GET whose ETag is the newest id and the unread
count, answered 304 while nothing changed — to keep the nav badge current, show
a new notification as a toast, and on this page fetch the fresh list
(``?fragment=list``) without reloading. A poll was chosen over Server-Sent
Events: it needs no long-lived connection, passes every proxy, and costs one
indexed count per account and interval.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from aftersales.entrypoints.api.deps import ServicesDep
from aftersales.entrypoints.web.pages.common import (
    PageContext,
    page,
    page_router,
    render,
    require_csrf,
)
from aftersales.services import notifications as notes

router = page_router()
NotificationsPage = Annotated[PageContext, Depends(page("notifications"))]


def _centre(
    ctx: PageContext,
    svc: ServicesDep,
    before: int | None,
    *,
    status: int = 200,
    form: dict[str, object] | None = None,
    problems: dict[str, str] | None = None,
    saved: bool = False,
    fragment: bool = False,
) -> Response:
    viewer = ctx.signed_in
    listed = notes.page_of(svc, viewer.account_id, before=before)
    if fragment:
        return render(ctx, "_notification_list.html", listed=listed, before=before)
    if form is None:
        prefs = notes.preferences_of(svc, viewer.account_id)
        form = {
            "email": prefs.email or "",
            "email_on": prefs.email_on,
            "phone": prefs.phone or "",
            "sms_on": prefs.sms_on,
            "chat_id": prefs.chat_id or "",
            "chat_on": prefs.chat_on,
            "language": prefs.language,
        }
    return render(
        ctx,
        "notifications.html",
        status=status,
        listed=listed,
        before=before,
        form=form,
        problems=problems or {},
        saved=saved,
    )


@router.get("/notifications", response_class=HTMLResponse)
def centre(
    ctx: NotificationsPage,
    svc: ServicesDep,
    before: int | None = Query(None, ge=1),
    fragment: str = Query(""),
    saved: int = Query(0),
) -> Response:
    return _centre(ctx, svc, before, saved=bool(saved), fragment=fragment == "list")


@router.get("/notifications/badge.json")
def badge(ctx: NotificationsPage, svc: ServicesDep, request: Request) -> Response:
    """The unread count and the newest notification, for the nav badge and the toast."""
    viewer = ctx.signed_in
    _, unread, latest = notes.counts(svc, viewer.account_id)
    etag = f'"{latest}-{unread}-{ctx.lang}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    newest = notes.page_of(svc, viewer.account_id, limit=1).items
    body: dict[str, object] = {"unread": unread, "latest": latest, "newest": None}
    if newest:
        n = newest[0]
        body["newest"] = {
            "id": n.id,
            "kind": ctx.t(f"notify.kind.{n.kind}"),
            "text": n.reason.render(ctx.lang),
            "href": f"/cases/{n.case_id}",
            "read": n.read_at is not None,
        }
    return JSONResponse(body, headers=headers)


@router.post("/notifications/{notification_id}/ack")
def acknowledge(
    notification_id: int,
    ctx: NotificationsPage,
    svc: ServicesDep,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    viewer = require_csrf(ctx, csrf_token)
    notes.acknowledge(svc, viewer.account_id, notification_id)
    return RedirectResponse(f"/notifications#n-{notification_id}", status_code=303)


@router.post("/notifications/read")
def read_all(
    ctx: NotificationsPage, svc: ServicesDep, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    viewer = require_csrf(ctx, csrf_token)
    notes.mark_read(svc, viewer.account_id)
    return RedirectResponse("/notifications", status_code=303)


@router.post("/notifications/preferences", response_class=HTMLResponse)
def preferences(
    ctx: NotificationsPage,
    svc: ServicesDep,
    csrf_token: Annotated[str, Form()] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    email_on: Annotated[str, Form()] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
    sms_on: Annotated[str, Form()] = "",
    chat_id: Annotated[str, Form(max_length=200)] = "",
    chat_on: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "zh",
) -> Response:
    viewer = require_csrf(ctx, csrf_token)
    form: dict[str, object] = {
        "email": email,
        "email_on": bool(email_on),
        "phone": phone,
        "sms_on": bool(sms_on),
        "chat_id": chat_id,
        "chat_on": bool(chat_on),
        "language": language,
    }
    try:
        notes.set_preferences(
            svc,
            viewer.account_id,
            email=email,
            email_on=bool(email_on),
            phone=phone,
            sms_on=bool(sms_on),
            chat_id=chat_id,
            chat_on=bool(chat_on),
            language=language,
        )
    except notes.PreferencesRefused as refused:
        # Nothing was kept: the form comes back as typed, each problem beside its field.
        problems = {f: p.in_(ctx.lang) for f, p in refused.problems.items()}
        return _centre(ctx, svc, None, status=422, form=form, problems=problems)
    return RedirectResponse("/notifications?saved=1#preferences", status_code=303)
