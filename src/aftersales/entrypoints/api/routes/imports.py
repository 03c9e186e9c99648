"""Bulk imports as background jobs: upload a file, then follow the job and fetch its errors.

``POST /api/v1/imports`` takes a CSV or NDJSON file (multipart field ``file``),
copies it to the data directory in chunks (413 above ``AFTERSALES_IMPORT_MAX_BYTES``),
checks its encoding and header at once (422 naming what to fix), queues a job
and answers 202 with the job and its ``Location``. The worker runs the job; its
status, counts, progress and first 100 row problems are at that location, every
row problem in ``errors.csv`` when it has ended.

Operations and integration accounts may import; an integration account acting
for a shop loads that shop's data only and sees only the jobs it started.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response

from aftersales.bootstrap import Container, open_import_file
from aftersales.domain import access
from aftersales.domain.access import Action
from aftersales.entrypoints.api import models as m
from aftersales.entrypoints.api.deps import Caller, ContainerDep, PostOnce, ServicesDep
from aftersales.entrypoints.api.errors import PROBLEMS, WRITE_PROBLEMS
from aftersales.entrypoints.viewer import Viewer
from aftersales.errors import Conflict, Forbidden, InvalidRequest, PayloadTooLarge
from aftersales.services import imports
from aftersales.services import master_data as md
from aftersales.services.base import Services
from aftersales.services.idempotency import Answer

router = APIRouter(prefix="/api/v1", tags=["imports"], responses=PROBLEMS)
_MULTIPART_SLACK = 64 * 1024  # the form's other fields and boundaries


@dataclass
class Upload:
    """An uploaded import file, staged on disk; removed after the request unless a job took it."""

    key: str
    filename: str
    size: int
    sha256: str
    kept: bool = False


def staged_upload(
    request: Request,
    box: ContainerDep,
    file: Annotated[UploadFile, File(description="a .csv, .ndjson or .jsonl file")],
) -> Iterator[Upload]:
    """The request's file copied to the staging folder, before the request's transaction
    begins (so a large copy holds no database lock)."""
    files = box.import_files
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > files.max_bytes + _MULTIPART_SLACK:
        raise PayloadTooLarge(
            f"the upload is {int(declared):,} bytes; one import takes at most "
            f"{files.max_bytes:,} bytes — split the file"
        )
    filename = (file.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    staged = files.stage(file.file, filename=filename)
    upload = Upload(staged.key, filename, staged.size, staged.sha256)
    try:
        yield upload
    finally:
        if not upload.kept:
            files.delete(upload.key)


StagedUpload = Annotated[Upload, Depends(staged_upload)]


def submit_upload(
    svc: Services,
    box: Container,
    viewer: Viewer,
    upload: Upload,
    *,
    kind: str | None,
    sandbox: str | None,
    dry_run: bool,
) -> dict[str, object]:
    """Check a staged upload (encoding, kind, header) and queue its import; the job."""
    world = md.world_of(svc, (sandbox or "").strip() or None)
    scope = imports.scope_for(viewer.role, viewer.party, world)
    kind = (kind or "").strip() or None
    if not upload.filename:
        raise InvalidRequest(
            "the uploaded file needs a name ending in .csv, .ndjson or .jsonl"
            " / 上传的文件须有以 .csv、.ndjson 或 .jsonl 结尾的文件名"
        )
    source = open_import_file(box.import_files.path(upload.key), name=upload.filename, kind=kind)
    try:
        why = imports.check_source(source, scope)
        refused_for_shop = scope.merchant is not None and imports.for_marketplace_only(source)
    finally:
        source.close()
    if why is not None:
        raise Forbidden(why) if refused_for_shop else InvalidRequest(why)
    job = imports.submit_job(
        svc,
        role=viewer.role,
        account_id=viewer.account_id,
        party=viewer.party,
        filename=upload.filename,
        kind=kind,
        sandbox=world.sandbox,
        dry_run=dry_run,
        storage_key=upload.key,
        bytes_total=upload.size,
    )
    upload.kept = True
    return job


@router.post(
    "/imports",
    status_code=202,
    response_model=m.ImportJobOut,
    responses={413: PROBLEMS[422] | {"description": "the file is over the size limit"}},
)
def create_import(
    upload: StagedUpload,
    caller: Caller,
    svc: ServicesDep,
    box: ContainerDep,
    once: PostOnce,
    kind: Annotated[
        str | None,
        Form(
            description="import every row as this kind (brands, products, order_items…); "
            "default: from the file name (CSV) or each line's kind (NDJSON)"
        ),
    ] = None,
    sandbox: Annotated[str | None, Form(description="load into this sandbox")] = None,
    dry_run: Annotated[bool, Form(description="check and count only; keep nothing")] = False,
) -> JSONResponse:
    """Queue the import of a CSV or NDJSON file of master data; follow it at ``Location``."""
    access.require(caller.role, Action.IMPORT_DATA)
    payload = m.ImportUpload(
        filename=upload.filename, sha256=upload.sha256, kind=kind, sandbox=sandbox, dry_run=dry_run
    )

    def produce() -> Answer:
        job = submit_upload(svc, box, caller, upload, kind=kind, sandbox=sandbox, dry_run=dry_run)
        return Answer(202, m.ImportJobOut.model_validate(job).model_dump(mode="json"))

    response = once(svc, caller, payload, produce)
    if response.status_code == 202:
        job_id = json.loads(bytes(response.body))["id"]
        response.headers["Location"] = f"/api/v1/imports/{job_id}"
    return response


@router.get("/imports/{import_id}", response_model=m.ImportJobOut)
def import_job(import_id: str, caller: Caller, svc: ServicesDep) -> m.ImportJobOut:
    """An import job: its status, counts so far, progress, and first 100 row problems."""
    job = imports.get_job(svc, import_id, role=caller.role, account_id=caller.account_id)
    return m.ImportJobOut.model_validate(job)


@router.get(
    "/imports/{import_id}/errors.csv",
    response_class=Response,
    responses={
        200: {"description": "every row problem (file, line, field, message), UTF-8 with a BOM"},
        409: {**WRITE_PROBLEMS[409], "description": "the job has not ended yet"},
    },
)
def import_errors(import_id: str, caller: Caller, svc: ServicesDep, box: ContainerDep) -> Response:
    """Every row problem of an ended import, as a CSV file Excel opens as it is."""
    job = imports.get_job(svc, import_id, role=caller.role, account_id=caller.account_id)
    if job["status"] in ("queued", "running"):
        raise Conflict(
            f"import {import_id} is {job['status']}; its error report is ready when it ends"
        )
    path = box.import_files.errors_path(import_id)
    name = f"{import_id}.errors.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if path.exists():
        return FileResponse(path, media_type="text/csv; charset=utf-8", headers=headers)
    empty = codecs.BOM_UTF8 + b"file,line,field,message\r\n"
    return Response(empty, media_type="text/csv; charset=utf-8", headers=headers)
