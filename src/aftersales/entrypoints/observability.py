"""Operability: Prometheus metrics, JSON log lines, request ids.

Request metrics are counted in a plain ASGI middleware (:class:`RequestLog`); the platform's own figures (open
cases, deadlines due, claim lag, payouts) are read from indexed columns when
Prometheus scrapes, so there is no bookkeeping on the hot path and the figures
are right whichever process changed the data.

``/metrics`` is open by default (the demo scrapes it). ``AFTERSALES_METRICS_TOKEN``
makes it ask for ``Authorization: Bearer <token>``; ``AFTERSALES_METRICS_PORT``
takes it off the app and serves it on its own listener (``serve`` starts
prometheus_client's server there, at ``AFTERSALES_METRICS_HOST``), away from the
public address.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aftersales.bootstrap import Container
from aftersales.errors import InvalidRequest, NotSignedIn
from aftersales.services import views

log = logging.getLogger("aftersales.http")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
# The attributes every LogRecord has; anything else was passed in ``extra``.
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(fmt: str = "json", level: int = logging.INFO) -> None:
    """Logs to stderr, as JSON lines (``json``) or for a person at a terminal (``text``)."""
    if fmt not in ("json", "text"):
        raise InvalidRequest(f"log format {fmt!r}: use json or text")
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class PlatformCollector(Collector):
    """Open cases, deadlines due, claim lag and payouts of the live mode, read at scrape time."""

    def __init__(self, container: Container) -> None:
        self.container = container

    def collect(self) -> Iterator[Any]:
        figures = views.live_figures(self.container.services)
        cases = GaugeMetricFamily(
            "aftersales_open_cases", "Open live cases, by programme.", labels=["programme"]
        )
        for programme, count in figures.open_cases.items():
            cases.add_metric([programme], count)
        yield cases
        yield GaugeMetricFamily(
            "aftersales_deadlines_due",
            "Live SLA deadlines past due and not yet handled (warning marks not counted).",
            value=figures.deadlines_due,
        )
        lag = figures.claim_lag_s
        yield GaugeMetricFamily(
            "aftersales_claim_lag_seconds",
            "How long the oldest due live deadline has waited for a worker.",
            value=lag,
        )
        paid = CounterMetricFamily(
            "aftersales_payouts", "Live payouts made, by rule.", labels=["rule"]
        )
        points = CounterMetricFamily(
            "aftersales_payout_points", "Points paid to buyers, by rule.", labels=["rule"]
        )
        for rule, (count, total) in figures.payouts.items():
            paid.add_metric([rule], count)
            points.add_metric([rule], total)
        yield paid
        yield points


class RequestLog:
    """Request id, metrics and one log line per HTTP request: a plain ASGI middleware.

    It reads the request id header, sets ``X-Request-Id`` on the answer as it is
    sent, and when the answer's last byte has gone logs the line and counts the
    request. Plain ASGI rather than ``@app.middleware("http")``: that wrapper runs
    the app in a task of its own and passes the answer through a stream, work
    that cost about as much per request as everything the middleware does.
    A request the app fails on with an exception is answered (500), logged and
    counted by the app's error handler outside it, and not here.
    """

    def __init__(self, app: ASGIApp, *, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        # A caller's id is kept when it is a plain token (it goes into logs and headers).
        request_id = given if _REQUEST_ID.fullmatch(given) else secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id  # problem answers carry it
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)
        seconds = time.perf_counter() - started
        method, path = scope["method"], scope["path"]
        template = getattr(scope.get("route"), "path", "unmatched")
        self.requests.labels(method, template, str(status)).inc()
        self.latency.labels(template).observe(seconds)
        log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "request_id": request_id,
                "method": method,
                "path": path,
                "route": template,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
            },
        )


def instrument(app: FastAPI, container: Container) -> None:
    """Add ``/metrics``, request metrics and one JSON log line per request."""
    registry = CollectorRegistry()
    # Under ``serve --workers N`` every process writes its counts to files in
    # PROMETHEUS_MULTIPROC_DIR and a scrape sums them, whichever process answers.
    pooled = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
    if pooled:
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    own = CollectorRegistry() if pooled else registry
    requests = Counter(
        "aftersales_http_requests",
        "HTTP requests, by method, route and status.",
        ["method", "route", "status"],
        registry=own,
    )
    latency = Histogram(
        "aftersales_http_request_duration_seconds",
        "HTTP request duration, by route.",
        ["route"],
        registry=own,
    )
    registry.register(PlatformCollector(container))

    app.add_middleware(RequestLog, requests=requests, latency=latency)

    app.state.metrics_registry = registry  # for a listener of its own (serve)
    settings = container.settings
    if settings.metrics_port is not None:
        return  # served on its own port only
    token = settings.metrics_token

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if token is not None:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(
                given.strip().encode(), token.encode()
            ):
                raise NotSignedIn("metrics need Authorization: Bearer <AFTERSALES_METRICS_TOKEN>")
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def metrics_registry(container: Container) -> CollectorRegistry:
    """The figures of every HTTP process (pooled through ``PROMETHEUS_MULTIPROC_DIR``) and
    the platform's own, for a supervising process that serves metrics on its own port."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    registry.register(PlatformCollector(container))
    return registry
