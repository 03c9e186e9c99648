"""Health, readiness, Prometheus metrics and JSON log lines, as an operator reads them."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from aftersales.bootstrap import Container, bootstrap
from aftersales.demo import dataset as data
from aftersales.demo.setup import create_demo_sandbox
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.entrypoints.api.app import create_app
from aftersales.entrypoints.observability import JsonLogFormatter
from aftersales.services import cases as svc
from aftersales.services.time import FixedClock
from aftersales.settings import Settings
from tests.e2e.serving import serving

TEN_AM = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, FixedClock]]:
    clock = FixedClock(TEN_AM)
    container = bootstrap(Settings(data_dir=tmp_path_factory.mktemp("ops")), clock=clock)
    yield container, clock
    container.close()


def _metric(body: str, name: str) -> float:
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def test_metrics_count_open_cases_due_deadlines_and_claim_lag(
    world: tuple[Container, FixedClock],
) -> None:
    container, clock = world
    # Live orders: a sandbox copy of the demo orders, moved to live.
    create_demo_sandbox(container, "m", start=TEN_AM)
    with container.engine.begin() as conn:
        conn.execute(text("UPDATE orders SET sandbox = 'live' WHERE sandbox = 'm'"))
    svc.request_help(
        container.services,
        order_item_id=f"m.{data.ITEM_LAMP_HANGZHOU}",
        actor=Actor(Role.CONSUMER, data.DEMO_BUYER, Channel.HELP_BUTTON),
        failure="installation_late",
    )
    client = TestClient(create_app(container))
    before = client.get("/metrics").text
    assert _metric(before, 'aftersales_open_cases{programme="one_click_help"}') == 1
    assert _metric(before, "aftersales_deadlines_due") == 0
    clock.advance(minutes=61)  # the 1-hour solution clock (OH-4) is now 1 minute overdue
    after = client.get("/metrics").text
    assert _metric(after, "aftersales_deadlines_due") == 1
    assert _metric(after, "aftersales_claim_lag_seconds") == pytest.approx(60, abs=1)
    assert 'aftersales_http_requests_total{method="GET",route="/metrics",status="200"}' in after


def test_readiness_fails_with_advice_when_the_schema_is_behind(
    world: tuple[Container, FixedClock],
) -> None:
    container, _ = world
    client = TestClient(create_app(container))
    assert client.get("/readyz").json() == {"status": "ready"}
    with container.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503
    assert "aftersales db upgrade" in not_ready.json()["detail"]
    assert client.get("/healthz").status_code == 200


def test_each_request_is_logged_as_one_json_line_with_its_request_id(
    world: tuple[Container, FixedClock], caplog: pytest.LogCaptureFixture
) -> None:
    container, _ = world
    client = TestClient(create_app(container))
    with caplog.at_level(logging.INFO, logger="aftersales.http"):
        response = client.get("/healthz", headers={"X-Request-Id": "req-42"})
    assert response.headers["X-Request-Id"] == "req-42"
    record = next(r for r in caplog.records if getattr(r, "request_id", None) == "req-42")
    line = json.loads(JsonLogFormatter().format(record))
    assert line["level"] == "info" and line["logger"] == "aftersales.http"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
    assert line["duration_ms"] >= 0 and "time" in line
    assert timedelta(0) <= timedelta(milliseconds=line["duration_ms"]) < timedelta(seconds=10)


def test_serve_with_two_worker_processes_answers_and_counts_every_request_in_metrics(
    tmp_path: Path,
) -> None:
    """``serve --workers 2``: both processes serve one port, and /metrics sums them."""
    with (
        serving(tmp_path / "data", "--workers", "2", "--no-worker") as base,
        httpx.Client(base_url=base) as client,
    ):
        answers = [client.get("/healthz").status_code for _ in range(40)]
        body = client.get("/metrics").text
    assert answers == [200] * 40
    total = sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith("aftersales_http_requests_total{") and 'route="/healthz"' in line
    )
    assert total == 40
    assert "aftersales_open_cases" in body  # read from the database, once per scrape


def test_api_docs_open_without_the_internet(tmp_path: Path) -> None:
    """/docs and /redoc load Swagger UI and ReDoc from the package, never from a CDN."""
    container = bootstrap(Settings(data_dir=tmp_path))
    client = TestClient(create_app(container))
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', html.text)
        assert sources and all(s.startswith("/") for s in sources), sources
        for source in sources:
            if source.startswith("/docs-assets/"):
                assert client.get(source).status_code == 200, source
    assert client.get("/openapi.json").json()["info"]["title"] == "aftersales"
    container.close()
