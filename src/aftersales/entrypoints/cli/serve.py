"""Running the service: ``serve`` (HTTP app, optionally with the deadline worker) and ``worker``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from aftersales.entrypoints.cli.common import (
    DatabaseUrl,
    DataDir,
    LogFormat,
    PolicyDirs,
    console,
    open_container,
)
from aftersales.settings import Settings

if TYPE_CHECKING:
    from aftersales.bootstrap import Container


def worker(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    policy_dir: PolicyDirs = None,
    worker_id: Annotated[
        str | None,
        typer.Option("--id", envvar="AFTERSALES_WORKER_ID", help="Name in claims and logs."),
    ] = None,
    batch: Annotated[
        int | None, typer.Option(envvar="AFTERSALES_WORKER_BATCH_SIZE", help="Deadlines per claim.")
    ] = None,
    poll: Annotated[
        float | None,
        typer.Option(envvar="AFTERSALES_WORKER_POLL_INTERVAL_S", help="Longest sleep, seconds."),
    ] = None,
    lease: Annotated[
        float | None, typer.Option(envvar="AFTERSALES_WORKER_LEASE_S", help="Claim lease, seconds.")
    ] = None,
    log_format: LogFormat = "json",
) -> None:
    """Run the deadline worker until SIGTERM or Ctrl-C (several may run side by side on PostgreSQL)."""
    import signal
    import threading

    from aftersales.entrypoints.cli.common import settle_startup_objects, warn_about_server
    from aftersales.entrypoints.observability import configure_logging
    from aftersales.worker.loop import build_worker

    configure_logging(log_format)
    container = open_container(
        data_dir,
        database_url,
        policy_dir,
        worker_batch_size=batch,
        worker_poll_interval_s=poll,
        worker_lease_s=lease,
    )
    warn_about_server(container)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    settle_startup_objects()
    total = build_worker(container, worker_id=worker_id, stop=stop).run()
    console.print(f"worker stopped: {total.cases} cases handled, {total.payouts} payouts made")
    container.close()


# uvloop runs the event loop (uvicorn's "auto" picks it when installed). The HTTP parser
# stays h11: httptools refuses a header value with a control character itself, with a
# bare 400, before the edge guard can answer 422 naming the header; in the profile the
# parser is about 3% of a request's CPU either way.
LOOP = "auto"
HTTP_PARSER = "h11"


def serve(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    policy_dir: PolicyDirs = None,
    host: Annotated[str | None, typer.Option(envvar="AFTERSALES_HOST")] = None,
    port: Annotated[int | None, typer.Option(envvar="AFTERSALES_PORT")] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo/--no-demo", envvar="AFTERSALES_DEMO", help="Load the demo data set first."
        ),
    ] = False,
    with_worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            envvar="AFTERSALES_SERVE_WORKER",
            help="Run the deadline worker in the same process.",
        ),
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            envvar="AFTERSALES_WEB_WORKERS",
            min=1,
            max=64,
            help="HTTP worker processes (one per core is a good start); the deadline "
            "worker still runs once, in the supervising process.",
        ),
    ] = 1,
    log_format: LogFormat = "json",
) -> None:
    """Serve the HTTP app (and the deadline worker) — on the embedded SQLite by default."""
    import threading

    import uvicorn

    from aftersales.entrypoints.api.app import create_app
    from aftersales.entrypoints.cli.common import warn_about_server
    from aftersales.entrypoints.observability import configure_logging
    from aftersales.worker.loop import build_worker

    configure_logging(log_format)
    container = open_container(data_dir, database_url, policy_dir, host=host, port=port)
    warn_about_server(container)
    if demo:
        from aftersales.demo.play import ensure_demo

        ensure_demo(container, console)
    stop = threading.Event()
    thread = None
    if with_worker:
        thread = threading.Thread(
            target=build_worker(container, stop=stop).run, name="deadline-worker", daemon=True
        )
        thread.start()
    settings = container.settings
    console.print(
        f"serving on http://{settings.host}:{settings.port}"
        + (f" with {workers} worker processes" if workers > 1 else "")
    )
    try:
        if workers > 1:
            _serve_processes(container, workers, log_format)
        else:
            app = create_app(container)
            if settings.metrics_port is not None:
                _metrics_listener(settings, app.state.metrics_registry)
            uvicorn.run(
                app,
                host=settings.host,
                port=settings.port,
                log_config=None,  # our handler (JSON lines) serves uvicorn's loggers too
                access_log=False,  # one line per request comes from the app, with its request id
                proxy_headers=False,  # the app reads them, from AFTERSALES_TRUSTED_PROXIES only
                loop=LOOP,
                http=HTTP_PARSER,
            )
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=10)
        container.close()


def _metrics_listener(settings: Settings, registry: object) -> None:
    """Serve ``/metrics`` on ``AFTERSALES_METRICS_HOST:AFTERSALES_METRICS_PORT`` (a thread of
    prometheus_client's own), so the app's public address does not answer it."""
    from prometheus_client import CollectorRegistry, start_http_server

    if settings.metrics_port is None or not isinstance(registry, CollectorRegistry):
        raise TypeError("metrics need a port and a registry")
    start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=registry)
    console.print(f"metrics on http://{settings.metrics_host}:{settings.metrics_port}/metrics")


def _serve_processes(container: Container, workers: int, log_format: str) -> None:
    """Several HTTP processes on one port; each builds its app from the environment.

    The database is already migrated (and the demo loaded) by this process; the
    children only connect. Their request metrics are pooled through
    ``PROMETHEUS_MULTIPROC_DIR`` so ``/metrics`` counts every process's requests.
    """
    import os
    import shutil
    import tempfile

    import uvicorn

    from aftersales.entrypoints.observability import metrics_registry

    settings = container.settings
    metrics_dir = tempfile.mkdtemp(prefix="aftersales-metrics-")
    os.environ.update(
        {
            "AFTERSALES_DATA_DIR": str(settings.data_dir.resolve()),
            "AFTERSALES_DATABASE_URL": settings.resolved_database_url,
            "AFTERSALES_POLICY_DIRS": ",".join(str(p.resolve()) for p in settings.policy_dirs),
            "AFTERSALES_LOG_FORMAT": log_format,
            "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
        }
    )
    if settings.metrics_port is not None:
        _metrics_listener(settings, metrics_registry(container))
    try:
        uvicorn.run(
            "aftersales.entrypoints.api.app:app_from_environment",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            proxy_headers=False,  # the app reads them, from AFTERSALES_TRUSTED_PROXIES only
            loop=LOOP,
            http=HTTP_PARSER,
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
