"""Photos and documents on a case: upload (typed by content, not name), list, fetch."""

from __future__ import annotations

import hashlib
from typing import Annotated
from urllib.parse import quote as url_quote

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import JSONResponse, Response

from aftersales.domain.lifecycle import Channel
from aftersales.entrypoints.api import models as m
from aftersales.entrypoints.api.deps import (
    AttachmentStore,
    Caller,
    PostOnce,
    ServicesDep,
    visible_case,
)
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.errors import NotFound, PayloadTooLarge
from aftersales.services import cases as case_services
from aftersales.services.idempotency import Answer
from aftersales.services.records import Attachment

router = APIRouter(prefix="/api/v1", tags=["attachments"], responses=PROBLEMS)


def attachment_out(record: Attachment) -> m.AttachmentOut:
    return m.AttachmentOut(**{k: getattr(record, k) for k in m.AttachmentOut.model_fields})


@router.post("/cases/{case_id}/attachments", status_code=201, response_model=m.AttachmentOut)
async def upload(
    case_id: str,
    file: Annotated[UploadFile, File(description="a photo (JPEG, PNG, WebP, HEIC) or PDF")],
    caller: Caller,
    svc: ServicesDep,
    store: AttachmentStore,
    once: PostOnce,
) -> JSONResponse:
    """Attach a photo or document to a case; its type is judged by content, not by name."""
    visible_case(svc, caller, case_id)
    if file.size is not None and file.size > store.max_bytes:
        raise PayloadTooLarge(
            f"'{file.filename}' is {file.size:,} bytes; an attachment may have at most "
            f"{store.max_bytes:,} bytes — send a smaller photo"
        )
    data = await file.read()
    payload = m.AttachmentUpload(
        filename=file.filename or "upload",
        sha256=hashlib.sha256(data).hexdigest(),
        declared_type=file.content_type,
    )

    def produce() -> Answer:
        record = case_services.add_attachment(
            svc,
            data=data,
            filename=payload.filename,
            declared_type=payload.declared_type,
            actor=caller.actor(Channel.API),
            case_id=case_id,
        )
        return Answer(201, attachment_out(record).model_dump(mode="json"))

    return once(svc, caller, payload, produce)


@router.get("/cases/{case_id}/attachments", response_model=list[m.AttachmentOut])
def attachments(case_id: str, caller: Caller, svc: ServicesDep) -> list[m.AttachmentOut]:
    """The case's attachments: name, type, size and digest of each, not their bytes."""
    visible_case(svc, caller, case_id)
    return [attachment_out(r) for r in case_services.attachments_of(svc, case_id)]


@router.get(
    "/cases/{case_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={200: {"description": "the file's bytes, with its content type"}},
)
def attachment(
    case_id: str, attachment_id: str, caller: Caller, svc: ServicesDep, store: AttachmentStore
) -> Response:
    """One attachment's bytes, served with the type found in its content: a photo may be
    shown in the page, anything else (a PDF too) is a download, never run by the browser."""
    visible_case(svc, caller, case_id)
    found = [r for r in case_services.attachments_of(svc, case_id) if r.id == attachment_id]
    if not found:
        raise NotFound("attachment", attachment_id, f"case {case_id} has no such attachment")
    record = found[0]
    return Response(
        store.open(record.storage_key),
        media_type=record.content_type,
        headers={
            "Content-Disposition": content_disposition(record.filename, record.content_type),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
        },
    )


INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})


def content_disposition(filename: str, content_type: str) -> str:
    """``inline`` for the photo types, ``attachment`` for everything else; the name (already
    cleaned of control and bidirectional characters) as ASCII and as UTF-8."""
    how = "inline" if content_type in INLINE_TYPES else "attachment"
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"{how}; filename=\"{ascii_name}\"; filename*=UTF-8''{url_quote(filename)}"
