"""One unit of work per HTTP request, on SQLite and PostgreSQL.

A request's authentication, ownership check, idempotency reservation, command
and stored answer are one transaction; concurrent requests with one
``Idempotency-Key`` have one effect; concurrent sandbox advances are applied
one after the other, none lost. The concurrent cases run against a real
server (uvicorn in a thread, its thread pool answering requests side by side).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.driver import statements_on
from aftersales.bootstrap import Container, bootstrap
from aftersales.demo import dataset as data
from aftersales.demo.setup import create_demo_sandbox, ensure_demo_accounts
from aftersales.domain.lifecycle import Programme
from aftersales.entrypoints.api.app import create_app
from aftersales.services import accounts
from aftersales.services.sandboxes import get_sandbox
from aftersales.services.time import FixedClock
from aftersales.settings import Settings

TEN_AM = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SB = "uow"
LAMP = f"{SB}.{data.ITEM_LAMP_HANGZHOU}"  # bought by the demo buyer


@dataclass
class World:
    container: Container
    buyer: dict[str, str]  # bearer headers
    ops: dict[str, str]


def _bearer(container: Container, username: str) -> dict[str, str]:
    made = accounts.create_api_token(container.services, username=username, name="uow-test")
    return {"Authorization": f"Bearer {made.token}"}


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    container = bootstrap(settings, clock=FixedClock(TEN_AM), migrate=True)
    ensure_demo_accounts(container)
    create_demo_sandbox(container, SB, start=TEN_AM)
    yield World(container, _bearer(container, data.DEMO_BUYER), _bearer(container, "ops"))
    container.close()


@pytest.fixture
def server(world: World) -> Iterator[str]:
    """The app served on a free local port by uvicorn in a thread; its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(world.container), host="127.0.0.1", port=port, log_level="warning"
    )
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not served.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    served.should_exit = True
    thread.join(timeout=30)


def _together(count: int, call):  # type: ignore[no-untyped-def]
    """``call(i)`` from ``count`` threads released at the same moment; their results."""
    gate = threading.Barrier(count)

    def run(i: int):  # type: ignore[no-untyped-def]
        gate.wait()
        return call(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_a_help_request_is_one_begin_and_one_commit_including_sign_in_and_idempotency(
    world: World,
) -> None:
    engine = world.container.engine
    seen: list[str] = []
    for name in ("begin", "commit", "rollback"):
        event.listen(engine, name, lambda *_, name=name: seen.append(name))
    client = TestClient(create_app(world.container))
    answer = client.post(
        "/api/v1/help-requests",
        json={"order_item_id": LAMP, "failure": "installation_late"},
        headers={**world.buyer, "Idempotency-Key": "one-transaction"},
    )
    assert answer.status_code == 201, answer.text
    assert seen == ["begin", "commit"]


def test_eight_concurrent_posts_with_one_idempotency_key_have_one_effect(
    world: World, server: str
) -> None:
    with httpx.Client(base_url=server, headers=world.buyer, timeout=60) as client:
        opened = client.post("/api/v1/chats", json={"order_item_id": LAMP, "text": "灯不亮"})
        assert opened.status_code == 201, opened.text
        thread_id = opened.json()["id"]

        def post(_: int) -> httpx.Response:
            return client.post(
                f"/api/v1/chats/{thread_id}/messages",
                json={"text": "还是不亮"},
                headers={"Idempotency-Key": "same-message"},
            )

        answers = _together(8, post)
    assert sorted(a.status_code for a in answers) == [200] * 8, [a.text for a in answers]
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 7
    assert len({a.text for a in answers}) == 1  # every one got the first answer
    with world.container.engine.connect() as conn:
        messages = conn.execute(
            select(func.count())
            .select_from(s.chat_messages)
            .where(s.chat_messages.c.thread_id == thread_id)
        ).scalar_one()
    assert messages == 2  # the opening message and one more, not eight


def test_four_concurrent_advances_of_61_minutes_move_the_sandbox_clock_244_minutes(
    world: World, server: str
) -> None:
    with httpx.Client(base_url=server, headers=world.ops, timeout=60) as client:

        def advance(i: int) -> httpx.Response:
            return client.post(
                f"/api/v1/sandboxes/{SB}/advance",
                params={"by": "61m"},
                headers={"Idempotency-Key": f"advance-{i}"},
            )

        answers = _together(4, advance)
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert get_sandbox(world.container.services, SB).now == TEN_AM + timedelta(minutes=244)
    readings = sorted(datetime.fromisoformat(a.json()["now"]) for a in answers)
    assert readings == [TEN_AM + timedelta(minutes=61 * n) for n in (1, 2, 3, 4)]


@pytest.mark.postgres
def test_a_pooled_connection_the_server_closed_is_replaced_without_a_failed_request(
    pg_admin, pg_migrated_template: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """No ping on checkout: a connection the server has hung up on is noticed by its socket."""
    with pg_admin.fresh_database(pg_migrated_template) as url:
        container = bootstrap(Settings(data_dir=tmp_path, database_url=url), migrate=False)
        try:
            client = TestClient(create_app(container))
            assert client.get("/readyz").status_code == 200
            with container.engine.connect() as conn:  # the pooled connection, idle again after
                pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            terminated = pg_admin.connection.execute(
                "SELECT pg_terminate_backend(%s)", (pid,)
            ).fetchone()
            assert terminated == (True,)
            _wait_until_gone(pg_admin, pid)
            answer = client.post("/login", data={"username": "nobody", "password": "x"})
            assert answer.status_code == 401  # answered (a sign-in refused), not a 500
        finally:
            container.close()


def _wait_until_gone(pg_admin, pid: int) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 10
    while pg_admin.connection.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)
    ).fetchone() != (0,):
        assert time.monotonic() < deadline, "the backend was not terminated"
        time.sleep(0.01)


def test_a_help_request_reads_its_item_sandbox_and_open_case_in_one_query_and_deletes_nothing(
    world: World,
) -> None:
    client = TestClient(create_app(world.container))
    with statements_on(world.container.engine) as seen:
        for key in ("first-click", "second-click"):
            answer = client.post(
                "/api/v1/help-requests",
                json={"order_item_id": LAMP, "failure": "installation_late"},
                headers={**world.buyer, "Idempotency-Key": key},
            )
            assert answer.status_code in (200, 201), answer.text
            if key == "first-click":
                assert answer.status_code == 201
                first = [" ".join(s.split()) for s in seen]
    statements = [" ".join(s.split()) for s in seen]
    assert answer.status_code == 200  # the second click answers with the open case
    item_reads = [s for s in first if "FROM order_items" in s]
    assert len(item_reads) == 1, item_reads  # ownership, sandbox clock and open case together
    assert "sandboxes" in item_reads[0] and "cases" in item_reads[0]
    assert not [s for s in first if s.startswith("DELETE")]
    assert not [s for s in first if s.startswith("SELECT") and "FROM sandboxes" in s]
    # The bearer token was read for the first request only: the second found it kept.
    token_reads = [s for s in statements if "FROM api_tokens" in s]
    assert len(token_reads) == 1, token_reads


@pytest.mark.postgres
def test_statements_prepared_on_a_pooled_connection_outlive_reads_and_readiness_checks(
    pg_admin, pg_migrated_template: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A read-only unit of work ends with COMMIT, not ROLLBACK (which makes psycopg drop
    every prepared statement of the connection, ``DEALLOCATE ALL`` in the server log)."""
    with pg_admin.fresh_database(pg_migrated_template) as url:
        settings = Settings(data_dir=tmp_path, database_url=url, db_pool_size=1)
        container = bootstrap(settings, clock=FixedClock(TEN_AM), migrate=False)
        try:
            ensure_demo_accounts(container)
            create_demo_sandbox(container, SB, start=TEN_AM)
            buyer = _bearer(container, data.DEMO_BUYER)
            client = TestClient(create_app(container))
            for n in range(8):  # psycopg prepares a statement on its fifth run
                answer = client.post(
                    "/api/v1/help-requests",
                    json={"order_item_id": LAMP, "failure": "installation_late"},
                    headers={**buyer, "Idempotency-Key": f"click-{n}"},
                )
                assert answer.status_code in (200, 201), answer.text
            prepared = _prepared_statements(container)
            assert prepared > 0
            assert client.get("/readyz").status_code == 200
            assert client.get("/api/v1/cases", headers=buyer).status_code == 200
            get_sandbox(container.services, SB)  # a use case that only reads
            assert _prepared_statements(container) >= prepared
        finally:
            container.close()


def _prepared_statements(container: Container) -> int:
    with container.engine.connect() as conn:  # the pool's one steady connection
        count = conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar()
        conn.commit()
    return int(count or 0)


def test_a_burst_of_requests_larger_than_the_thread_pool_is_answered_without_a_stall(
    world: World, server: str
) -> None:
    """Requests wait for a connection in the event loop, so the threads never all wait for
    connections that only a thread could give back (which used to stall until the pool's
    30 s timeout and answer 500)."""
    with httpx.Client(
        base_url=server,
        headers=world.buyer,
        timeout=20,
        limits=httpx.Limits(max_connections=96),
    ) as client:
        answers = _together(96, lambda _: client.get("/api/v1/cases"))
    assert [a.status_code for a in answers] == [200] * 96


def test_a_unit_of_work_says_when_entering_and_leaving_it_needs_no_round_trip(
    world: World,
) -> None:
    """The HTTP layer enters a request's unit of work on the event loop only when that
    sends nothing (an idle pooled PostgreSQL connection; never SQLite's BEGIN IMMEDIATE),
    and leaves it there only when nothing is left to commit or roll back."""
    services = world.container.services
    pg = world.container.engine.dialect.name == "postgresql"
    with services.uow() as warm:  # a connection is in the pool from now on
        warm.commit()
    uow = services.uow()
    assert uow.opens_at_once() is pg
    with uow:
        assert not uow.opens_at_once()  # already open
        uow.reference.intake_item(LAMP, Programme.ONE_CLICK_HELP)
        assert uow.settled() is False  # a transaction is open (SQLite's began at entry)
        uow.commit()
        assert uow.settled() is pg
        uow.idempotency.reserve("someone", "key-1", "digest", TEN_AM)  # run by the driver
        assert uow.settled() is False
        uow.commit()
        assert uow.settled() is pg
    with services.uow() as uow:
        assert uow.idempotency.reserve("someone", "key-1", "digest", TEN_AM) is not None


def test_a_request_cancelled_after_writing_rolls_back_and_gives_its_connection_back(
    world: World,
) -> None:
    """A shutdown may cancel a request in flight: its unit of work still rolls back, in the
    thread pool, and its connection goes back to the pool (the clean-up is shielded)."""
    import anyio

    from aftersales.entrypoints.api.deps import services

    container = world.container

    # What the dependency reads of the request: the app's state, with the container on it.
    request: Any = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(container=container)))

    async def cancelled_request() -> None:
        requests = services(request)
        svc = await requests.__anext__()
        with svc.uow() as uow:
            uow.idempotency.reserve("someone", "cancelled", "digest", TEN_AM)
        with anyio.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(anyio.get_cancelled_exc_class()):
                await requests.athrow(anyio.get_cancelled_exc_class()())

    anyio.run(cancelled_request)
    assert container.engine.pool.checkedout() == 0
    with container.services.uow() as uow:  # the key was never kept: reserving it works
        assert uow.idempotency.reserve("someone", "cancelled", "digest", TEN_AM) is None
