"""Attachments (photos of a fault, receipts) stored on disk behind a small interface.

Files are content-addressed (their SHA-256 names the file), so the same photo
uploaded twice is stored once. The type is decided from the file's first bytes,
not from the name or the client's word, and must be one of the accepted types.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aftersales.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType

ACCEPTED_TYPES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}


class AttachmentRejected(InvalidRequest):
    """The file cannot be accepted; the message says why and what is accepted."""


class AttachmentTooLarge(PayloadTooLarge, AttachmentRejected):
    """The file is over the size limit (413)."""


class AttachmentTypeRefused(UnsupportedMediaType, AttachmentRejected):
    """The file is not of a type taken, or not the type it says it is (415)."""


@dataclass(frozen=True)
class StoredFile:
    key: str
    content_type: str
    size: int
    sha256: str


def sniff_type(data: bytes) -> str | None:
    for content_type, signatures in ACCEPTED_TYPES.items():
        if any(data.startswith(sig) for sig in signatures):
            if content_type == "image/webp" and data[8:12] != b"WEBP":
                continue
            return content_type
    return None


def accepted_type(data: bytes, *, filename: str, declared_type: str | None, max_bytes: int) -> str:
    """The type of an upload read from its first bytes; AttachmentRejected, saying why, if
    it is empty, over ``max_bytes``, of a type not accepted or not what it says it is."""
    if not data:
        raise AttachmentRejected(f"'{filename}' is empty")
    if len(data) > max_bytes:
        raise AttachmentTooLarge(
            f"'{filename}' is {len(data):,} bytes; the limit is {max_bytes:,} bytes — send a smaller photo"
        )
    content_type = sniff_type(data)
    if content_type is None:
        accepted = ", ".join(sorted(ACCEPTED_TYPES))
        raise AttachmentTypeRefused(f"'{filename}' is not a photo or PDF we accept ({accepted})")
    if declared_type and declared_type.split(";")[0].strip() not in (
        content_type,
        "application/octet-stream",
    ):
        raise AttachmentTypeRefused(
            f"'{filename}' says it is {declared_type} but its content is {content_type}"
        )
    return content_type


class AttachmentStore(Protocol):
    def put(self, data: bytes, *, filename: str, declared_type: str | None) -> StoredFile: ...

    def open(self, key: str) -> bytes: ...


class DiskAttachmentStore:
    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def put(self, data: bytes, *, filename: str, declared_type: str | None) -> StoredFile:
        content_type = accepted_type(
            data, filename=filename, declared_type=declared_type, max_bytes=self.max_bytes
        )
        digest = hashlib.sha256(data).hexdigest()
        key = f"{digest[:2]}/{digest}"
        target = self.root / key
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)  # atomic: a reader never sees half a file
        return StoredFile(key=key, content_type=content_type, size=len(data), sha256=digest)

    def open(self, key: str) -> bytes:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise AttachmentRejected("invalid attachment key")
        return path.read_bytes()
