"""Import files on disk: uploads waiting for the worker, and the error reports of jobs.

An upload is copied in chunks to ``<root>/staged/`` under a random name (never
the client's), counting and hashing as it goes; past ``max_bytes`` the copy
stops, the partial file is removed and the upload is refused. The worker reads
the staged file and deletes it when the job ends. A job's full error report is
written to ``<root>/reports/<job id>.errors.csv`` and kept.

The web process and the worker must see the same data directory.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from aftersales.errors import InvalidRequest, PayloadTooLarge

_CHUNK = 1024 * 1024
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class StagedFile:
    key: str  # relative to the root
    size: int
    sha256: str


class ImportFiles:
    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def stage(self, stream: IO[bytes], *, filename: str) -> StagedFile:
        """Copy an upload to the staging folder; PayloadTooLarge past ``max_bytes``."""
        folder = self.root / "staged"
        folder.mkdir(parents=True, exist_ok=True)
        suffix = Path(filename).suffix.lower()
        key = f"staged/{secrets.token_hex(12)}{suffix if _SUFFIX.match(suffix) else ''}"
        target = self.root / key
        digest = hashlib.sha256()
        size = 0
        try:
            with target.open("xb") as out:
                while chunk := stream.read(_CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PayloadTooLarge(
                            f"'{filename}' is larger than {self.max_bytes:,} bytes, the most one "
                            "import takes; split it into several files"
                            f" / “{filename}”超过单次导入上限 {self.max_bytes:,} 字节，请拆分为多个文件"
                        )
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return StagedFile(key, size, digest.hexdigest())

    def path(self, key: str) -> Path:
        """Where the staged file ``key`` is; refuses a key that leads out of the folder."""
        path = (self.root / key).resolve()
        if (self.root / "staged").resolve() not in path.parents:
            raise InvalidRequest(f"not a staged import file: {key!r}")
        return path

    def delete(self, key: str | None) -> None:
        if key:
            self.path(key).unlink(missing_ok=True)

    def errors_path(self, job_id: str) -> Path:
        """Where the full error report of job ``job_id`` is (or will be) written."""
        if not _JOB_ID.match(job_id):
            raise InvalidRequest(f"not an import job id: {job_id!r}")
        folder = self.root / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{job_id}.errors.csv"
