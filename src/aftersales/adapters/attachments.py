"""Attachments (photos of a fault, receipts) stored on disk behind a small interface.

Files are content-addressed (their SHA-256 names the file), so the same photo
uploaded twice is stored once. The type is decided from the file's first bytes,
not from the name or the client's word, and must be one of the accepted types.

Nothing is written before a file is accepted (:meth:`DiskAttachmentStore.check`
writes nothing). An accepted file is written to ``staging/`` first and moved
into place in one step, inside the transaction that records it; when that
transaction fails, a file it brought in is removed again (:meth:`discard`). A
crash can still leave a half-written staged file, or a file whose row was
never committed: :meth:`sweep` removes staged files older than a day and stored
files no row points at, once they are as old (so a file whose transaction is
still open is never taken).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterable
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
    created: bool = False  # this put brought the file in (it was not stored before)


@dataclass(frozen=True)
class SweepReport:
    """What a sweep removed: staged leftovers and stored files no row points at."""

    staged: int = 0
    orphans: int = 0
    bytes: int = 0
    kept: int = 0  # stored files still referenced (or too young to judge)


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


STAGING = "staging"
DAY_S = 24 * 3600.0


class DiskAttachmentStore:
    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    @property
    def staging(self) -> Path:
        return self.root / STAGING

    def check(self, data: bytes, *, filename: str, declared_type: str | None) -> str:
        """The file's type if it would be accepted; writes nothing."""
        return accepted_type(
            data, filename=filename, declared_type=declared_type, max_bytes=self.max_bytes
        )

    def put(self, data: bytes, *, filename: str, declared_type: str | None) -> StoredFile:
        """Check, stage and move the file into place; ``created`` says it was not there."""
        content_type = self.check(data, filename=filename, declared_type=declared_type)
        digest = hashlib.sha256(data).hexdigest()
        key = f"{digest[:2]}/{digest}"
        target = self.root / key
        created = False
        if not target.exists():
            self.staging.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.staging, suffix=".part")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)  # atomic: a reader never sees half a file
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            created = True
        else:
            os.utime(target)  # in use again: young enough that no sweep takes it meanwhile
        return StoredFile(
            key=key, content_type=content_type, size=len(data), sha256=digest, created=created
        )

    def discard(self, key: str) -> None:
        """Remove a stored file (one a failed transaction brought in); gone already is fine."""
        self._path(key).unlink(missing_ok=True)

    def open(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents or key.startswith(STAGING + "/"):
            raise AttachmentRejected("invalid attachment key")
        return path

    def sweep(
        self,
        referenced: Callable[[list[str]], Iterable[str]],
        *,
        older_than_s: float = DAY_S,
        now: float | None = None,
    ) -> SweepReport:
        """Remove staged files and unreferenced stored files last written over
        ``older_than_s`` ago. ``referenced`` answers which of some keys rows point at."""
        cutoff = (time.time() if now is None else now) - older_than_s
        staged = orphans = removed_bytes = kept = 0
        if self.staging.is_dir():
            for path in self.staging.iterdir():
                found = _old_file(path, cutoff)
                if found is not None:
                    path.unlink(missing_ok=True)
                    staged, removed_bytes = staged + 1, removed_bytes + found
        candidates: dict[str, tuple[Path, int]] = {}
        for folder in self.root.iterdir() if self.root.is_dir() else ():
            if folder.name == STAGING or not folder.is_dir():
                continue
            for path in folder.iterdir():
                found = _old_file(path, cutoff)
                if found is None:
                    kept += 1
                else:
                    candidates[f"{folder.name}/{path.name}"] = (path, found)
        keys = sorted(candidates)
        in_use: set[str] = set()
        for start in range(0, len(keys), 500):  # ask in batches: bounded IN lists
            in_use.update(referenced(keys[start : start + 500]))
        for key in keys:
            if key in in_use:
                kept += 1
                continue
            path, size = candidates[key]
            if _old_file(path, cutoff) is None:  # taken up again while we asked
                kept += 1
                continue
            path.unlink(missing_ok=True)
            orphans, removed_bytes = orphans + 1, removed_bytes + size
        return SweepReport(staged=staged, orphans=orphans, bytes=removed_bytes, kept=kept)


def _old_file(path: Path, cutoff: float) -> int | None:
    """The size of ``path`` if it is a file last written before ``cutoff``; else None."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    if not path.is_file() or stat.st_mtime >= cutoff:
        return None
    return stat.st_size
