"""Photos and documents on a case: checked before anything is kept, stored with the
row that records them, and swept when a crash left a file behind.

A request that carries files is judged whole first (:func:`check_uploads`: each
file's type and size, how many there are, their total): a refused request writes
nothing. Accepted files are written in the transaction that records them
(:func:`store_uploads`); if that transaction is not committed, the unit of work
removes the files it brought in. :func:`sweep_files` removes what a crash could
still leave: staged files and stored files no row points at, once a day old.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

from aftersales.domain.filenames import clean_filename
from aftersales.errors import InvalidRequest, PayloadTooLarge
from aftersales.services.base import Services, new_id
from aftersales.services.ports import FileStore, UnitOfWork
from aftersales.services.records import Attachment


@dataclass(frozen=True)
class Upload:
    """One file as received: its name (cleaned), the type the client declared, its bytes."""

    filename: str
    declared_type: str | None
    data: bytes

    @classmethod
    def of(cls, filename: str | None, declared_type: str | None, data: bytes) -> Upload:
        return cls(clean_filename(filename or ""), declared_type, data)


class TooManyFiles(InvalidRequest):
    """More files in one request than are taken."""

    def __init__(self, count: int, limit: int) -> None:
        self.count, self.limit = count, limit
        super().__init__(f"{count} files were sent; at most {limit} are taken with one report")


class FilesTooLarge(PayloadTooLarge):
    """The files of one request are together over their limit."""

    def __init__(self, total: int, limit: int) -> None:
        self.total, self.limit = total, limit
        super().__init__(
            f"the files together are {total:,} bytes; the limit is {limit:,} bytes "
            "— send fewer or smaller files"
        )


def files_of(svc: Services) -> FileStore:
    if svc.files is None:
        raise RuntimeError("these services were built without a file store")
    return svc.files


def check_uploads(
    svc: Services,
    uploads: Sequence[Upload],
    *,
    max_count: int | None = None,
    max_total_bytes: int | None = None,
) -> None:
    """Refuse the request's files unless every one is accepted and together they are within
    the limits; nothing is written either way."""
    files = files_of(svc)
    if max_count is not None and len(uploads) > max_count:
        raise TooManyFiles(len(uploads), max_count)
    for upload in uploads:
        files.check(upload.data, filename=upload.filename, declared_type=upload.declared_type)
    total = sum(len(u.data) for u in uploads)
    if max_total_bytes is not None and total > max_total_bytes:
        raise FilesTooLarge(total, max_total_bytes)


def store_uploads(
    svc: Services,
    uow: UnitOfWork,
    uploads: Sequence[Upload],
    *,
    case_id: str | None,
    at: datetime,
    by: str,
) -> list[Attachment]:
    """Write the files and their rows in ``uow``; a file brought in goes again if ``uow``
    is not committed."""
    if not uploads:
        return []
    files = files_of(svc)
    records = []
    for upload in uploads:
        stored: Any = files.put(
            upload.data, filename=upload.filename, declared_type=upload.declared_type
        )
        if getattr(stored, "created", False):
            uow.on_rollback(partial(files.discard, stored.key))
        record = Attachment(
            id=new_id("att"),
            case_id=case_id,
            filename=upload.filename,
            content_type=stored.content_type,
            size=stored.size,
            sha256=stored.sha256,
            storage_key=stored.key,
            uploaded_at=at,
            uploaded_by=by,
        )
        uow.attachments.add(record)
        records.append(record)
    return records


def shown(record: Attachment) -> Attachment:
    """The record with its name cleaned as it is shown (rows from before the rule too)."""
    name = clean_filename(record.filename)
    return record if name == record.filename else replace(record, filename=name)


@dataclass(frozen=True)
class Swept:
    staged: int
    orphans: int
    bytes: int
    kept: int


def sweep_files(svc: Services, *, older_than_s: float = 24 * 3600.0) -> Swept:
    """Remove staged files and stored files no attachment row points at, once older than
    ``older_than_s`` (a day by default, so no open transaction's file is taken)."""
    files = files_of(svc)
    sweep = getattr(files, "sweep", None)
    if sweep is None:
        return Swept(0, 0, 0, 0)  # a store with nothing on disk leaves nothing behind

    def referenced(keys: list[str]) -> set[str]:
        with svc.uow() as uow:
            return uow.attachments.referenced(keys)

    report = sweep(referenced, older_than_s=older_than_s)
    return Swept(report.staged, report.orphans, report.bytes, report.kept)
