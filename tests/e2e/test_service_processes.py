"""The service's processes as an operator runs them: db upgrade, worker, serve."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.serving import serving, wait_for_line


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}
    return {**env, "AFTERSALES_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200", **extra}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "aftersales.entrypoints.cli", *args]


def test_db_upgrade_creates_the_embedded_database(tmp_path: Path) -> None:
    result = subprocess.run(
        _cli("db", "upgrade"),
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "database at revision" in result.stdout
    assert (tmp_path / "data" / "aftersales.sqlite3").exists()


def test_bad_database_url_is_a_sentence_not_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        _cli("db", "upgrade", "--database-url", "mysql://nowhere/db"),
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "unsupported database" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_worker_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        _cli("worker", "--id", "w-test", "--poll", "0.2"),
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # The worker says it started once its loops run and its SIGTERM handler is in
        # place; a signal sent earlier would end it before it could stop cleanly.
        started = wait_for_line(process, "worker w-test started", timeout_s=120)
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
        output = started + rest
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "worker stopped: 0 cases handled, 0 payouts made" in output


@pytest.mark.timeout(180)
def test_serve_answers_health_and_readiness_then_stops(tmp_path: Path) -> None:
    with serving(tmp_path / "data") as base:
        assert httpx.get(f"{base}/readyz").json() == {"status": "ready"}
        assert httpx.get(f"{base}/healthz").status_code == 200
        anonymous = httpx.get(f"{base}/api/v1/cases/nope")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    assert "signed-in" in anonymous.json()["detail"]
