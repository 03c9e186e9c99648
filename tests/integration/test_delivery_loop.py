"""The webhook delivery loop beside the deadline loop, against subscribers that hang.

The subscribers are a real ``ThreadingHTTPServer`` on 127.0.0.1. A request to a
path under ``/hang`` gets no answer for 30 s — unless the test releases it, or
the client gives up and closes the connection — and every other path is
answered 200 at once. The server counts how many requests are in flight at
every moment a new one arrives, judging the others by their sockets (a client
that gave up has closed its end), so the count does not depend on how its
threads happen to be scheduled.

Everything runs on real time. Tests wait for conditions by polling with a
deadline; nothing sleeps a fixed time to let something happen.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, update
from sqlalchemy import select as sql_select

from aftersales.adapters.db import schema as s
from aftersales.adapters.policy_files import load_policy_book
from aftersales.adapters.webhooks import (
    DELIVERED,
    PENDING,
    PostTimeouts,
    fan_out,
    register_endpoint,
)
from aftersales.adapters.webhooks.store import CLAIM_WINDOW, Claim, claim_due
from aftersales.bootstrap import bootstrap
from aftersales.domain.policy import PolicyBook
from aftersales.services.time import SystemClock
from aftersales.settings import Settings
from aftersales.testing.webhook_sink import serving_posts
from aftersales.worker.deliveries import DeliveryLoop
from aftersales.worker.loop import build_worker
from tests.integration.bulk import create_due_help_cases

HANG_S = 30.0

# ---------------------------------------------------------------- the subscribers


class Subscribers:
    """Answers ``/hang…`` after ``HANG_S`` (or when released), anything else at once."""

    def __init__(self) -> None:
        self.port = 0
        self.lock = threading.Lock()
        self.paths: Counter[str] = Counter()  # requests received, by path
        self.open: set[socket.socket] = set()  # connections with a request being handled
        self.hanging = 0  # requests under /hang not yet answered or given up on
        self.max_in_flight = 0
        self._release_r, self._release_w = os.pipe()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def release(self) -> None:
        """Answer every hung request now (the pipe stays readable: later ones too)."""
        with contextlib.suppress(OSError):
            os.write(self._release_w, b"x")

    def close(self) -> None:
        self.release()
        os.close(self._release_w)
        os.close(self._release_r)

    @staticmethod
    def _peer_closed(sock: socket.socket) -> bool:
        try:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        sock = handler.connection
        hang = handler.path.startswith("/hang")
        with self.lock:
            self.paths[handler.path] += 1
            self.open = {c for c in self.open if not self._peer_closed(c)}
            self.open.add(sock)
            self.max_in_flight = max(self.max_in_flight, len(self.open))
            self.hanging += hang
        try:
            if hang:
                ready, _, _ = select.select([sock, self._release_r], [], [], HANG_S)
                if sock in ready:
                    return  # the client gave up and closed the connection
            handler.send_response(200)
            handler.send_header("Content-Length", "2")
            handler.end_headers()
            handler.wfile.write(b"ok")
        except OSError:
            pass
        finally:
            with self.lock:
                self.open.discard(sock)
                self.hanging -= hang


@pytest.fixture
def subscribers() -> Iterator[Subscribers]:
    state = Subscribers()
    with serving_posts(state.handle, on_stop=state.release) as port:
        state.port = port
        yield state
    state.close()


@pytest.fixture(scope="module")
def book() -> PolicyBook:
    return load_policy_book()


# ---------------------------------------------------------------- helpers


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll ``condition`` until it holds; return the monotonic time it was first seen to."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return time.monotonic()
        if time.monotonic() > deadline:
            pytest.fail(f"{what} (waited {timeout_s} s)", pytrace=False)
        time.sleep(0.005)


@contextlib.contextmanager
def running(
    target: Callable[[], object], stop: threading.Event, subscribers: Subscribers
) -> Iterator[None]:
    """Run ``target`` in a thread; afterwards stop it, answer the hung requests, and join it."""
    thread = threading.Thread(target=target, name="test-loop")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        subscribers.release()
        thread.join(30)
    assert not thread.is_alive(), "the loop did not stop"


def add_endpoint(engine: Engine, url: str, sandbox: str = "live") -> str:
    with engine.begin() as conn:
        endpoint_id, _ = register_endpoint(conn, url=url, sandbox=sandbox, now=datetime.now(UTC))
    return endpoint_id


def add_events(engine: Engine, count: int) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            s.outbox.insert(),
            [
                {
                    "sandbox": "live",
                    "case_id": f"c{i}",
                    "kind": "case.opened",
                    "at": now,
                    "payload": {},
                }
                for i in range(count)
            ],
        )


def deliveries(engine: Engine) -> list[Any]:
    d = s.webhook_deliveries
    with engine.connect() as conn:
        return list(conn.execute(sql_select(d).order_by(d.c.id)))


def delivery_loop(engine: Engine, stop: threading.Event, **options: Any) -> DeliveryLoop:
    settings: dict[str, Any] = {
        "timeouts": PostTimeouts(connect_s=2, read_s=HANG_S, total_s=20),
        "concurrency": 4,
        "poll_interval_s": 0.5,
        **options,
    }
    return DeliveryLoop(engine, SystemClock(), stop=stop, **settings)


# ---------------------------------------------------------------- payouts do not wait


@pytest.mark.timeout(180)
def test_a_hung_subscriber_does_not_delay_a_due_payout(
    engine: Engine, database_url: str, tmp_path: Path, subscribers: Subscribers, book: PolicyBook
) -> None:
    """A help request's 1-hour deadline falls due while the only subscriber hangs on
    the request's own events: the worker pays within a second all the same."""
    cases = create_due_help_cases(
        engine, book, count=1, sandbox="hung", due_after=timedelta(minutes=30), verbose=False
    )
    (case_id,) = cases.case_ids
    endpoint_id = add_endpoint(engine, subscribers.url("/hang"), sandbox="hung")
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        webhook_timeout_s=20,  # the request stays in flight through the whole measurement
        webhook_read_timeout_s=20,
        # How often the deadline loop looks at sandbox clocks is its own matter (it
        # sleeps until the next due instant on live data); polled often here so that
        # what is measured is only whether a hung subscriber holds the payout back.
        worker_poll_interval_s=0.1,
    )
    container = bootstrap(settings)
    stop = threading.Event()
    worker = build_worker(container, worker_id="hung-subscriber-test", stop=stop)
    ledger = s.ledger_entries

    def paid() -> bool:
        with engine.connect() as conn:
            key = cases.payout_key(case_id)
            return (
                conn.execute(sql_select(ledger.c.id).where(ledger.c.key == key)).first() is not None
            )

    try:
        with running(worker.run, stop, subscribers):
            wait_until(lambda: subscribers.hanging == 1, 20, "the subscriber got no request")
            assert not paid()
            # The sandbox clock moves past the 1-hour deadline: it is due from this commit on.
            with engine.begin() as conn:
                conn.execute(
                    update(s.sandboxes)
                    .where(s.sandboxes.c.id == "hung")
                    .values(now=cases.opened_at + timedelta(hours=1, microseconds=1))
                )
            became_due = time.monotonic()
            paid_at = wait_until(paid, 10, "the due payout was not made")
            delay_s = paid_at - became_due
            print(
                f"\n[hung subscriber, {engine.dialect.name}] payout committed {delay_s * 1000:.0f} ms after the deadline fell due"
            )

            # The hung request is still in flight: one request, unanswered, its delivery unrecorded.
            assert subscribers.hanging == 1 and sum(subscribers.paths.values()) == 1
            in_flight = [
                r for r in deliveries(engine) if r.endpoint_id == endpoint_id and r.attempts == 0
            ]
            assert any(r.next_attempt_at > datetime.now(UTC) for r in in_flight)  # claimed, leased
            assert delay_s < 1.0
    finally:
        container.close()
    # Stopped: the request in flight was answered (released) and recorded before the loop ended.
    assert DELIVERED in {r.status for r in deliveries(engine)}


# ---------------------------------------------------------------- bounded concurrency


@pytest.mark.timeout(120)
def test_hung_subscribers_hold_one_slot_each_while_the_others_are_delivered(
    engine: Engine, subscribers: Subscribers
) -> None:
    hung = [add_endpoint(engine, subscribers.url(f"/hang/{n}")) for n in range(3)]
    healthy = add_endpoint(engine, subscribers.url("/ok"))
    add_events(engine, 5)  # 5 deliveries for each of the 4 endpoints
    stop = threading.Event()
    loop = delivery_loop(engine, stop, concurrency=4)

    def healthy_all_delivered() -> bool:
        rows = [r for r in deliveries(engine) if r.endpoint_id == healthy]
        return len(rows) == 5 and all(r.status == DELIVERED for r in rows)

    with running(loop.run, stop, subscribers):
        wait_until(
            healthy_all_delivered, 20, "the healthy subscriber's deliveries did not all go out"
        )
        # Each hung subscriber got one request — still hanging — and no second one meanwhile.
        assert subscribers.hanging == 3
        assert all(subscribers.paths[f"/hang/{n}"] == 1 for n in range(3))
        assert subscribers.paths["/ok"] == 5
        assert subscribers.max_in_flight <= 4
        rows = deliveries(engine)
        for endpoint_id in hung:
            mine = [r for r in rows if r.endpoint_id == endpoint_id]
            assert {(r.status, r.attempts) for r in mine} == {(PENDING, 0)}
            assert sum(r.next_attempt_at > datetime.now(UTC) for r in mine) == 1  # one claimed

    # Stopping let the three requests in flight finish (released: 200) and recorded them.
    rows = deliveries(engine)
    for endpoint_id in hung:
        statuses = Counter(r.status for r in rows if r.endpoint_id == endpoint_id)
        assert statuses == {DELIVERED: 1, PENDING: 4}
    assert loop.total.delivered == 8


@pytest.mark.timeout(120)
def test_never_more_requests_in_flight_than_the_configured_concurrency(
    engine: Engine, subscribers: Subscribers
) -> None:
    """Five hung subscribers, two slots: requests go out two at a time, each abandoned
    after the total timeout (the read timeout alone would wait much longer)."""
    endpoints = [add_endpoint(engine, subscribers.url(f"/hang/{n}")) for n in range(5)]
    add_events(engine, 1)
    stop = threading.Event()
    loop = delivery_loop(
        engine,
        stop,
        concurrency=2,
        timeouts=PostTimeouts(connect_s=2, read_s=HANG_S, total_s=0.5),
    )

    def all_tried_once() -> bool:
        rows = deliveries(engine)
        return len(rows) == 5 and all(r.attempts == 1 for r in rows)

    with running(loop.run, stop, subscribers):
        started = time.monotonic()
        finished = wait_until(all_tried_once, 30, "not every subscriber was tried")
    assert subscribers.max_in_flight == 2
    assert sorted(subscribers.paths) == [f"/hang/{n}" for n in range(5)]
    assert set(subscribers.paths.values()) == {1}
    # Three rounds of two slots, each ending after the total timeout: ~1.5 s, not 3 × 30 s.
    assert 1.0 < finished - started < 15
    for row in deliveries(engine):
        assert row.endpoint_id in endpoints
        assert row.status == PENDING and row.last_status_code is None
        assert row.last_error.startswith("timeout after 0.5 s")
    assert (loop.total.retrying, loop.total.delivered) == (5, 0)


def test_a_claim_takes_one_delivery_per_endpoint_and_a_backlog_hides_no_one(
    engine: Engine,
) -> None:
    """One endpoint's backlog, longer than a claim's window of due rows and all of it
    older, does not keep another endpoint's delivery from being claimed."""
    backlog = add_endpoint(engine, "https://backlog.example/hook")
    add_events(engine, CLAIM_WINDOW + 8)
    with engine.begin() as conn:
        fan_out(conn, now=datetime.now(UTC))
    other = add_endpoint(engine, "https://other.example/hook")
    add_events(engine, 2)  # reach both endpoints, after the backlog
    with engine.begin() as conn:
        fan_out(conn, now=datetime.now(UTC))
    now = datetime.now(UTC)

    def claim(limit: int, skip: tuple[str, ...] = ()) -> list[Claim]:
        return claim_due(
            engine,
            now=now,
            limit=limit,
            lease=lambda _n: timedelta(minutes=1),
            one_per_endpoint=True,
            skip_endpoints=skip,
        )

    first = claim(5)
    assert sorted(c.endpoint_id for c in first) == sorted([backlog, other])
    backlog_ids = [r.id for r in deliveries(engine) if r.endpoint_id == backlog]
    assert next(c.delivery_id for c in first if c.endpoint_id == backlog) == backlog_ids[0]
    # Skipping the endpoint still being sent to: only the other one's next delivery.
    assert [c.endpoint_id for c in claim(5, skip=(backlog,))] == [other]
    assert claim(5, skip=(backlog, other)) == []
    assert [c.delivery_id for c in claim(5)] == [backlog_ids[1]]
