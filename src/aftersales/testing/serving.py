"""Running ``aftersales serve`` as an operator would, for the tests and the benchmarks.

One way to start the service on a free port, wait until ``/readyz`` answers (a
condition polled, never a fixed sleep, so a loaded machine only makes it slower),
and stop it as Ctrl-C would; and one way to wait for a line a process prints.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

STOP_TIMEOUT_S = 30


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at this moment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_command() -> list[str]:
    """How to run ``aftersales`` from this interpreter: its console script when installed."""
    script = Path(sys.executable).parent / "aftersales"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "aftersales.entrypoints.cli"]


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without its ``AFTERSALES_*`` settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}
    return {**env, **settings}


@dataclass(frozen=True)
class Served:
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def served(
    args: Sequence[str],
    *,
    env: dict[str, str],
    log: Path,
    command: Sequence[str] | None = None,
    timeout_s: float = 180,
) -> Iterator[Served]:
    """``aftersales serve ARGS --host 127.0.0.1 --port P`` until the block ends.

    Yields once ``/readyz`` answers 200; fails with the end of the server's log if it
    exits first or does not come up within ``timeout_s``. On leaving, SIGINT (as
    Ctrl-C), then SIGKILL if it has not stopped within :data:`STOP_TIMEOUT_S`.
    """
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(command or cli_command()),
                "serve",
                *args,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        give_up = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"aftersales serve exited early:\n{_tail(log)}")
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass  # not listening yet
            if time.monotonic() > give_up:
                raise RuntimeError(f"aftersales serve did not come up:\n{_tail(log)}")
            time.sleep(0.2)
        yield Served(base_url, process, log)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop as Ctrl-C would; kill what is still running after :data:`STOP_TIMEOUT_S`."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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


def _tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"
