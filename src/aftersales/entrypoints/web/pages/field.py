"""What the party doing the work needs beside a case, and its saved solution texts.

* :func:`field_context`: for the case page, the customer's contact (whole, or
  masked as :func:`aftersales.domain.access.may_see_contact` decides), the agreed
  visit and whether the viewer may book it, the viewer's saved solutions, the
  history as sentences, and the clocks' names for the exemption choices;
* ``/provider/solutions``: a provider's, shop's or brand's saved solution texts
  (OH-4), kept, changed and deleted here and picked on the case page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aftersales.domain import access
from aftersales.domain.access import Action
from aftersales.domain.cases import Case
from aftersales.entrypoints.api.deps import ServicesDep
from aftersales.entrypoints.viewer import Viewer
from aftersales.entrypoints.web.pages.common import (
    PageContext,
    page,
    page_router,
    render,
    require_csrf,
)
from aftersales.services import solutions as svc_solutions
from aftersales.services import views
from aftersales.services.base import Services

router = page_router()
SolutionsPage = Annotated[PageContext, Depends(page("solutions"))]


def keeps_solutions(viewer: Viewer) -> bool:
    return bool(viewer.party) and access.allowed(viewer.role, Action.KEEP_SOLUTION_TEXTS)


def saved_solution(svc: Services, viewer: Viewer, solution_id: str) -> str:
    """The text of one of the viewer's saved solutions ("" if none is chosen or it is gone)."""
    if not solution_id or not keeps_solutions(viewer):
        return ""
    for text in svc_solutions.texts_of(svc, viewer.party or ""):
        if text.id == solution_id:
            return text.body
    return ""


def field_context(
    svc: Services, ctx: PageContext, viewer: Viewer, case: Case, now: datetime
) -> dict[str, Any]:
    """What the case page shows of the visit and the people, for this viewer."""
    view = views.case_view(svc, viewer.scope, case)
    policy = case.policy(svc.book)
    tz = ZoneInfo(policy.timezone)
    appointment = case.appointment_at.astimezone(tz) if case.appointment_at else None
    return {
        "view": view,
        "contact": view.contact,
        "history": view.history,
        "names": view.names,
        "private": view.private,
        "appointment": f"{appointment:%Y-%m-%d %H:%M}" if appointment else "",
        "appointment_value": f"{appointment:%Y-%m-%dT%H:%M}" if appointment else "",
        "visit_min": f"{now.astimezone(tz):%Y-%m-%dT%H:%M}",
        "can_book": case.is_open
        and access.allowed(viewer.role, Action.SET_APPOINTMENT)
        and not view.private,
        "solutions": svc_solutions.texts_of(svc, viewer.party or "")
        if keeps_solutions(viewer)
        else [],
        "keeps_solutions": keeps_solutions(viewer),
        "clock_names": {d.id: d.name for d in policy.clocks},
        "noted": ctx.request.query_params.get("noted") == "1",
        "errors": {},
        "typed": {},
    }


@router.get("/provider/solutions", response_class=HTMLResponse)
def solutions_page(ctx: SolutionsPage, svc: ServicesDep) -> Response:
    return _solutions(ctx, svc)


def _solutions(
    ctx: PageContext,
    svc: Services,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    typed: dict[str, dict[str, str]] | None = None,
) -> Response:
    viewer = ctx.signed_in
    texts = svc_solutions.texts_of(svc, viewer.party or "") if keeps_solutions(viewer) else []
    return render(
        ctx,
        "solutions.html",
        status=status,
        texts=texts,
        errors=errors or {},
        typed=typed or {},
        saved=ctx.request.query_params.get("saved") == "1",
    )


def _refused(
    ctx: PageContext, svc: Services, form: str, problems: list[svc_solutions.Problem], **typed: str
) -> Response:
    keys = [f"field.solution_{p.field}_{p.code}" for p in problems]
    return _solutions(ctx, svc, 422, errors={form: keys}, typed={form: typed})


@router.post("/provider/solutions")
def add_solution(
    ctx: SolutionsPage,
    svc: ServicesDep,
    title: str = Form(""),
    body: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    viewer = require_csrf(ctx, csrf_token)
    problems = svc_solutions.problems_of(title, body)
    if not problems and len(svc_solutions.texts_of(svc, viewer.party or "")) >= (
        svc_solutions.TEXTS_MAX
    ):
        problems = [svc_solutions.Problem("owner", "too_many")]
    if problems:
        return _refused(ctx, svc, "new", problems, title=title, body=body)
    svc_solutions.save_text(svc, role=viewer.role, owner=viewer.party, title=title, body=body)
    return RedirectResponse("/provider/solutions?saved=1", status_code=303)


@router.post("/provider/solutions/{text_id}")
def change_solution(
    ctx: SolutionsPage,
    svc: ServicesDep,
    text_id: str,
    title: str = Form(""),
    body: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    viewer = require_csrf(ctx, csrf_token)
    problems = svc_solutions.problems_of(title, body)
    if problems:
        return _refused(ctx, svc, text_id, problems, title=title, body=body)
    svc_solutions.save_text(
        svc, role=viewer.role, owner=viewer.party, title=title, body=body, text_id=text_id
    )
    return RedirectResponse("/provider/solutions?saved=1", status_code=303)


@router.post("/provider/solutions/{text_id}/delete")
def delete_solution(
    ctx: SolutionsPage, svc: ServicesDep, text_id: str, csrf_token: str = Form("")
) -> Response:
    viewer = require_csrf(ctx, csrf_token)
    svc_solutions.delete_text(svc, role=viewer.role, owner=viewer.party, text_id=text_id)
    return RedirectResponse("/provider/solutions", status_code=303)
