"""Attachment bytes in a dict, checked as ``DiskAttachmentStore`` checks them.

The checks (empty, too large, not an accepted type, not the type it says it
is) are ``adapters.attachments.accepted_type``, shared with the disk store;
keys are content addresses, so the same file stored twice is kept once.
"""

from __future__ import annotations

import hashlib
import threading

from aftersales.adapters.attachments import AttachmentRejected, StoredFile, accepted_type


class MemoryFileStore:
    def __init__(self, *, max_bytes: int = 10 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._files: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def check(self, data: bytes, *, filename: str, declared_type: str | None) -> str:
        return accepted_type(
            data, filename=filename, declared_type=declared_type, max_bytes=self.max_bytes
        )

    def put(self, data: bytes, *, filename: str, declared_type: str | None) -> StoredFile:
        content_type = self.check(data, filename=filename, declared_type=declared_type)
        digest = hashlib.sha256(data).hexdigest()
        key = f"{digest[:2]}/{digest}"
        with self._lock:
            created = key not in self._files
            self._files.setdefault(key, bytes(data))
        return StoredFile(
            key=key, content_type=content_type, size=len(data), sha256=digest, created=created
        )

    def discard(self, key: str) -> None:
        with self._lock:
            self._files.pop(key, None)

    def open(self, key: str) -> bytes:
        with self._lock:
            data = self._files.get(key)
        if data is None:
            if key.startswith("/") or ".." in key.split("/"):  # outside the store, as on disk
                raise AttachmentRejected("invalid attachment key")
            raise FileNotFoundError(key)
        return data

    def __len__(self) -> int:
        """How many distinct files are held."""
        return len(self._files)
