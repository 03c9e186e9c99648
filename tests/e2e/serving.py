"""Running ``aftersales serve`` for a test, as an operator would, on a free port.

The starting, the wait for ``/readyz`` and the stop are :mod:`aftersales.testing.serving`'s
(the benchmarks start the service the same way); this module adds a test's defaults:
this interpreter, a private data directory, and the log beside it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aftersales.testing.serving import clean_env, free_port, served, wait_for_line

__all__ = ["cli_env", "free_port", "serving", "wait_for_line"]


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment without the caller's AFTERSALES_* settings, with a private data dir."""
    return clean_env(AFTERSALES_DATA_DIR=str(data_dir), COLUMNS="250", **extra)


@contextmanager
def serving(
    data_dir: Path, *args: str, timeout_s: float = 180, env: dict[str, str] | None = None
) -> Iterator[str]:
    """``aftersales serve ARGS`` until the block ends; yields its base URL once /readyz answers.

    ``env``: ``AFTERSALES_*`` settings for the server (an SMTP server, say)."""
    log = data_dir.parent / f"serve-{data_dir.name}.log"
    with served(
        args,
        env=cli_env(data_dir, **(env or {})),
        log=log,
        command=[sys.executable, "-m", "aftersales.entrypoints.cli"],
        timeout_s=timeout_s,
    ) as server:
        yield server.base_url
