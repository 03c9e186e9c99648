"""Operations' imports page: upload a file of master data, follow the jobs, read their problems.

The upload goes through the same checks and queue as ``POST /api/v1/imports``;
a job's page refreshes itself every two seconds until the job has ended.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aftersales.entrypoints.api.deps import ContainerDep, ServicesDep
from aftersales.entrypoints.api.routes.imports import StagedUpload, submit_upload
from aftersales.entrypoints.web.pages.common import (
    PageContext,
    page,
    page_router,
    render,
    require_csrf,
)
from aftersales.services import imports
from aftersales.services.master_records import PLURALS
from aftersales.services.sandboxes import list_sandboxes

router = page_router()
ImportsPage = Annotated[PageContext, Depends(page("ops_imports"))]
RUNNING = ("queued", "running")
# The kinds offered in the form; the file's name decides when none is chosen.
FORM_KINDS = (
    "brands",
    "merchants",
    "buyers",
    "products",
    "providers",
    "coverage",
    "service_centres",
    "order_items",
)


@router.get("/ops/imports", response_class=HTMLResponse)
def ops_imports(ctx: ImportsPage, svc: ServicesDep) -> Response:
    viewer = ctx.signed_in
    jobs = imports.list_jobs(svc, role=viewer.role, account_id=viewer.account_id, limit=50)
    return render(
        ctx,
        "imports.html",
        jobs=jobs,
        sandboxes=list_sandboxes(svc),
        kinds=FORM_KINDS,
        results=imports.RESULTS,
        refreshing=any(j["status"] in RUNNING for j in jobs),
    )


@router.post("/ops/imports")
def ops_upload(
    upload: StagedUpload,
    ctx: ImportsPage,
    svc: ServicesDep,
    box: ContainerDep,
    csrf_token: str = Form(""),
    kind: str = Form(""),
    sandbox: str = Form(""),
    dry_run: str = Form(""),
) -> Response:
    viewer = require_csrf(ctx, csrf_token)
    job = submit_upload(
        svc,
        box,
        viewer,
        upload,
        kind=kind or None,
        sandbox=sandbox or None,
        dry_run=bool(dry_run),
    )
    return RedirectResponse(f"/ops/imports/{job['id']}", status_code=303)


@router.get("/ops/imports/{import_id}", response_class=HTMLResponse)
def ops_import(import_id: str, ctx: ImportsPage, svc: ServicesDep) -> Response:
    viewer = ctx.signed_in
    job = imports.get_job(svc, import_id, role=viewer.role, account_id=viewer.account_id)
    return render(
        ctx,
        "import_job.html",
        job=job,
        plurals=PLURALS,
        results=imports.RESULTS,
        refreshing=job["status"] in RUNNING,
    )
