"""Running ``aftersales serve`` for a test, as an operator would, on a free port."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def wait_for_line(process: subprocess.Popen[str], needle: str, *, timeout_s: float) -> str:
    """Read ``process``'s output until a line containing ``needle``; return what was read.

    Waits on the pipe (never a fixed sleep), so a slow start on a loaded machine only
    takes longer; fails with the output so far if the process ends or ``timeout_s`` passes.
    """
    assert process.stdout is not None
    lines: list[str] = []
    give_up = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (left := give_up - time.monotonic()) > 0:
            if not selector.select(timeout=left):
                continue
            line = process.stdout.readline()
            if not line:
                raise AssertionError(
                    f"the process ended before saying {needle!r}:\n{''.join(lines)}"
                )
            lines.append(line)
            if needle in line:
                return "".join(lines)
    raise AssertionError(f"no {needle!r} after {timeout_s:.0f} s:\n{''.join(lines)}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment without the caller's AFTERSALES_* settings, with a private data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}
    return {**env, "AFTERSALES_DATA_DIR": str(data_dir), "COLUMNS": "250", **extra}


@contextmanager
def serving(
    data_dir: Path, *args: str, timeout_s: float = 180, env: dict[str, str] | None = None
) -> Iterator[str]:
    """``aftersales serve ARGS`` until the block ends; yields its base URL once /readyz answers.

    ``env``: ``AFTERSALES_*`` settings for the server (an SMTP server, say)."""
    port = free_port()
    log = data_dir.parent / f"serve-{port}.log"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aftersales.entrypoints.cli",
                "serve",
                "--port",
                str(port),
                *args,
            ],
            env=cli_env(data_dir, **(env or {})),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise AssertionError(f"aftersales serve exited early:\n{log.read_text()}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"aftersales serve did not come up:\n{log.read_text()}")
            time.sleep(0.3)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
