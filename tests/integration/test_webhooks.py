"""Webhook delivery against a real HTTP receiver on 127.0.0.1.

The receiver is a ``ThreadingHTTPServer`` on an ephemeral port that records
every request and can be told to answer 500 to its first N requests or to hold
them (so the client times out). Outbox rows are inserted directly, as the case
repository would; every test runs on SQLite and, when configured, PostgreSQL.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select, update

from aftersales.adapters.db.schema import LIVE, outbox, webhook_deliveries
from aftersales.adapters.webhooks import (
    DEAD,
    DELIVERED,
    PENDING,
    DeliveryReport,
    WebhookDispatcher,
    WebhookError,
    deactivate_endpoint,
    deliver_due,
    delivery_log,
    fan_out,
    list_endpoints,
    redeliver,
    register_endpoint,
    retry_delay,
    sign,
    verify_signature,
)
from aftersales.settings import Settings
from aftersales.testing.webhook_sink import serving_posts

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
MAX_ATTEMPTS = 5
TIMEOUT_S = 5.0

# ---------------------------------------------------------------- the receiver


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class Receiver:
    """Records requests; answers ``fail_status`` to the first ``fail_first`` of them,
    and holds the first ``stall_first`` for up to ``stall_s`` (or until ``release``)."""

    port: int = 0
    fail_first: int = 0
    fail_status: int = 500
    stall_first: int = 0
    stall_s: float = 10.0
    statuses: dict[int, int] = field(default_factory=dict)  # request index -> status, first
    requests: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    got_request: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def keys(self) -> list[str]:
        return [r.headers["idempotency-key"] for r in self.requests]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        with self.lock:
            index = len(self.requests)
            self.requests.append(
                Received(
                    path=handler.path,
                    headers={k.lower(): v for k, v in handler.headers.items()},
                    body=body,
                )
            )
        self.got_request.set()
        if index < self.stall_first:
            self.release.wait(self.stall_s)
        status = self.statuses.get(index, self.fail_status if index < self.fail_first else 200)
        payload = b"boom" if status >= 400 else b"ok"
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "text/plain")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            pass  # the client gave up (a timeout test): nothing to answer


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    with serving_posts(state._handle, on_stop=state.release.set) as port:
        state.port = port
        yield state


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    # trust_env=False: a proxy configured in the environment must not see 127.0.0.1 traffic.
    with httpx.Client(trust_env=False) as c:
        yield c


# ---------------------------------------------------------------- helpers


def add_event(
    engine: Engine,
    kind: str = "case.opened",
    *,
    sandbox: str = LIVE,
    case_id: str | None = "case-1",
    payload: dict[str, Any] | None = None,
    at: datetime = NOW,
) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            outbox.insert().values(
                sandbox=sandbox,
                case_id=case_id,
                kind=kind,
                at=at,
                payload=payload if payload is not None else {"state": "open"},
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def add_endpoint(
    engine: Engine, url: str, kinds: tuple[str, ...] = (), sandbox: str = LIVE
) -> tuple[str, str]:
    with engine.begin() as conn:
        return register_endpoint(conn, url=url, event_kinds=kinds, sandbox=sandbox, now=NOW)


def run_fan_out(engine: Engine, now: datetime = NOW, batch: int = 500) -> int:
    with engine.begin() as conn:
        return fan_out(conn, now=now, batch=batch)


def deliver(
    engine: Engine,
    client: httpx.Client,
    now: datetime = NOW,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    timeout_s: float = TIMEOUT_S,
    batch: int = 100,
) -> DeliveryReport:
    return deliver_due(
        engine,
        now=now,
        client=client,
        max_attempts=max_attempts,
        timeout_s=timeout_s,
        batch=batch,
    )


def deliveries(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(webhook_deliveries).order_by(webhook_deliveries.c.id)))


def only_delivery(engine: Engine) -> Any:
    rows = deliveries(engine)
    assert len(rows) == 1, rows
    return rows[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- signing (no database)


def test_signature_verifies_with_the_secret_only() -> None:
    body = '{"id":1,"kind":"case.opened","data":{"note":"屏幕碎了"}}'.encode()
    t = int(NOW.timestamp())
    header = sign("s3cret", body, timestamp=t)
    assert header.startswith(f"t={t},v1=")
    assert verify_signature("s3cret", header, body, now=NOW)
    assert verify_signature("s3cret", header, body.decode(), now=NOW)  # str body, same bytes
    assert not verify_signature("other", header, body, now=NOW)
    assert not verify_signature("s3cret", header, body.replace(b"1", b"2", 1), now=NOW)
    # Stale (a replay) or from far in the future: outside the 300 s tolerance.
    assert verify_signature("s3cret", header, body, now=NOW + timedelta(seconds=300))
    assert not verify_signature("s3cret", header, body, now=NOW + timedelta(seconds=301))
    assert not verify_signature("s3cret", header, body, now=NOW - timedelta(seconds=301))
    assert verify_signature("s3cret", header, body, now=NOW + timedelta(hours=1), tolerance_s=3600)
    # A re-signed timestamp without the secret fails too.
    forged = header.replace(f"t={t}", f"t={t + 1000}")
    assert not verify_signature("s3cret", forged, body, now=NOW + timedelta(seconds=1000))
    # Malformed headers are False, never an exception.
    for bad in (None, "", "garbage", "t=abc,v1=00", f"t={t}", "v1=00", f"t={t};v1=00"):
        assert not verify_signature("s3cret", bad, body, now=NOW)
    # Several v1 values (secret rotation): any matching one is enough.
    rotated = f"{header},v1={'0' * 64}"
    assert verify_signature("s3cret", rotated, body, now=NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_signature("s3cret", header, body, now=NOW.replace(tzinfo=None))


def test_retry_delay_doubles_is_capped_and_has_reproducible_jitter() -> None:
    key = "17:we_abc"
    delays = [retry_delay(n, key).total_seconds() for n in range(1, 12)]
    bases = [min(3600, 10 * 2 ** (n - 1)) for n in range(1, 12)]
    for delay, base in zip(delays, bases, strict=True):
        assert base <= delay < base * 1.2
    assert delays == [retry_delay(n, key).total_seconds() for n in range(1, 12)]
    assert max(delays) < 3600 * 1.2
    others = {retry_delay(1, f"{i}:we_abc").total_seconds() for i in range(20)}
    assert len(others) > 10  # different deliveries spread out


# ---------------------------------------------------------------- registry


def test_register_validates_urls_and_kinds(engine: Engine) -> None:
    bad_urls = [
        "",
        "   ",
        "ftp://example.com/hook",
        "javascript:alert(1)",
        "example.com/hook",
        "http://",
        "https://example.com:99999/hook",
        "https://exa mple.com/hook",
        "https://example.com/hook#part",
        "https://example.com/" + "a" * 2000,
    ]
    with engine.begin() as conn:
        for url in bad_urls:
            with pytest.raises(WebhookError, match="URL"):
                register_endpoint(conn, url=url, now=NOW)
        with pytest.raises(WebhookError, match="list of kinds"):
            register_endpoint(
                conn,
                url="https://example.com/hook",
                event_kinds="case.opened",
                now=NOW,
            )
        with pytest.raises(WebhookError, match="sandbox"):
            register_endpoint(conn, url="https://example.com/hook", sandbox="", now=NOW)
        assert list_endpoints(conn) == []

        endpoint_id, secret = register_endpoint(
            conn,
            url="HTTPS://example.com:8443/hook?x=1",
            event_kinds=["clock.breached", "case.opened", "clock.breached"],
            now=NOW,
        )
        other_id, other_secret = register_endpoint(
            conn, url="http://127.0.0.1/h", sandbox="sb-1", now=NOW
        )
    assert endpoint_id != other_id and secret != other_secret
    assert len(secret) >= 40  # token_urlsafe(32): 43 characters

    with engine.begin() as conn:
        endpoints = list_endpoints(conn)
        assert [e.id for e in endpoints] == sorted([endpoint_id, other_id])  # same created_at
        first = next(e for e in endpoints if e.id == endpoint_id)
        assert first.event_kinds == ("case.opened", "clock.breached")
        assert first.sandbox == LIVE and first.active and first.created_at == NOW
        assert not hasattr(first, "secret")
        assert [e.id for e in list_endpoints(conn, sandbox="sb-1")] == [other_id]

        deactivate_endpoint(conn, other_id)
        deactivate_endpoint(conn, other_id)  # harmless twice
        assert [e.id for e in list_endpoints(conn, include_inactive=False)] == [endpoint_id]
        with pytest.raises(WebhookError, match="no webhook endpoint"):
            deactivate_endpoint(conn, "we_missing")


# ---------------------------------------------------------------- delivery


def test_delivery_carries_body_headers_and_a_valid_signature(
    engine: Engine, receiver: Receiver, client: httpx.Client
) -> None:
    endpoint_id, secret = add_endpoint(engine, receiver.url("/hooks/a"))
    at = datetime(2025, 3, 3, 8, 59, 30, 123456, tzinfo=UTC)
    outbox_id = add_event(
        engine,
        "clock.breached",
        case_id="C-42",
        payload={"clock": "respond_24h", "reason": {"zh": "超时", "en": "late"}},
        at=at,
    )

    dispatcher = WebhookDispatcher(engine, client, max_attempts=MAX_ATTEMPTS, timeout_s=TIMEOUT_S)
    report = dispatcher.tick(NOW)

    assert (report.fanned_out, report.claimed, report.delivered) == (1, 1, 1)
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.path == "/hooks/a"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == f"{outbox_id}:{endpoint_id}"
    assert request.headers["x-aftersales-event"] == "clock.breached"
    assert json.loads(request.body) == {
        "id": outbox_id,
        "kind": "clock.breached",
        "at": "2025-03-03T08:59:30.123456Z",
        "sandbox": "live",
        "case_id": "C-42",
        "data": {"clock": "respond_24h", "reason": {"zh": "超时", "en": "late"}},
    }
    signature = request.headers["x-aftersales-signature"]
    assert verify_signature(secret, signature, request.body, now=NOW)
    assert not verify_signature("wrong-secret", signature, request.body, now=NOW)
    assert not verify_signature(secret, signature, request.body + b" ", now=NOW)
    assert not verify_signature(secret, signature, request.body, now=NOW + timedelta(minutes=10))
    t = int(signature.split(",")[0].removeprefix("t="))
    assert t - int(NOW.timestamp()) in (0, 1)  # now, plus the moments the call has taken

    row = only_delivery(engine)
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == (
        DELIVERED,
        1,
        200,
        None,
    )
    assert row.delivered_at == NOW and row.next_attempt_at is None
    with engine.connect() as conn:
        assert conn.execute(select(outbox.c.dispatched_at)).scalar_one() == NOW
        (record,) = delivery_log(conn)
    assert (record.kind, record.case_id, record.url, record.event_at) == (
        "clock.breached",
        "C-42",
        receiver.url("/hooks/a"),
        at,
    )

    # Nothing left to do on the next tick.
    assert dispatcher.tick(NOW + timedelta(hours=1)).claimed == 0
    assert len(receiver.requests) == 1


def test_endpoints_receive_only_the_kinds_they_asked_for(
    engine: Engine, receiver: Receiver, client: httpx.Client
) -> None:
    breaches, _ = add_endpoint(engine, receiver.url("/breaches"), ("clock.breached", "payout.made"))
    everything, _ = add_endpoint(engine, receiver.url("/all"))
    for kind in ("case.opened", "clock.breached", "clock.met", "payout.made"):
        add_event(engine, kind)

    assert run_fan_out(engine) == 4
    report = deliver(engine, client)
    assert report.delivered == 6

    by_path: dict[str, list[str]] = {}
    for r in receiver.requests:
        by_path.setdefault(r.path, []).append(r.headers["x-aftersales-event"])
    assert sorted(by_path["/breaches"]) == ["clock.breached", "payout.made"]
    assert sorted(by_path["/all"]) == ["case.opened", "clock.breached", "clock.met", "payout.made"]
    with engine.connect() as conn:
        assert len(delivery_log(conn, breaches)) == 2
        assert len(delivery_log(conn, everything)) == 4
        assert len(delivery_log(conn, everything, limit=3)) == 3
        log = delivery_log(conn)
        assert [r.id for r in log] == sorted((r.id for r in log), reverse=True)  # newest first


def test_one_delivery_per_endpoint_per_event_however_often_fan_out_runs(engine: Engine) -> None:
    add_endpoint(engine, "https://a.example/hook")
    add_endpoint(engine, "https://b.example/hook")
    ids = [add_event(engine, "case.dispatched") for _ in range(3)]

    assert run_fan_out(engine, batch=2) == 2
    assert run_fan_out(engine, batch=2) == 1
    assert run_fan_out(engine) == 0
    assert len(deliveries(engine)) == 6

    # Even if the outbox rows were somehow offered again, the (outbox, endpoint)
    # pair is unique and the second fan-out adds nothing.
    with engine.begin() as conn:
        conn.execute(update(outbox).values(dispatched_at=None))
    assert run_fan_out(engine) == 3
    rows = deliveries(engine)
    assert len(rows) == 6
    assert Counter(r.outbox_id for r in rows) == dict.fromkeys(ids, 2)
    assert all(r.idempotency_key == f"{r.outbox_id}:{r.endpoint_id}" for r in rows)
    assert all(r.status == PENDING and r.next_attempt_at == NOW for r in rows)


def test_events_without_a_matching_endpoint_are_only_marked_dispatched(engine: Engine) -> None:
    add_endpoint(engine, "https://a.example/hook", ("payout.made",))
    add_event(engine, "case.opened")
    assert run_fan_out(engine) == 1
    assert deliveries(engine) == []
    with engine.connect() as conn:
        assert conn.execute(select(outbox.c.dispatched_at)).scalar_one() == NOW


def test_a_500_is_retried_after_backoff_with_the_same_idempotency_key(
    engine: Engine, receiver: Receiver, client: httpx.Client
) -> None:
    receiver.fail_first = 1
    endpoint_id, secret = add_endpoint(engine, receiver.url())
    outbox_id = add_event(engine)
    run_fan_out(engine)

    first = deliver(engine, client)
    assert (first.claimed, first.retrying, first.delivered) == (1, 1, 0)
    row = only_delivery(engine)
    key = f"{outbox_id}:{endpoint_id}"
    expected_next = NOW + retry_delay(1, key)
    assert (row.status, row.attempts, row.last_status_code) == (PENDING, 1, 500)
    assert row.last_error.startswith("HTTP 500")
    assert row.next_attempt_at == expected_next
    assert timedelta(seconds=10) <= expected_next - NOW < timedelta(seconds=12)

    # Not due yet: nothing is sent.
    early = deliver(engine, client, expected_next - timedelta(seconds=1))
    assert early.claimed == 0 and len(receiver.requests) == 1

    second = deliver(engine, client, expected_next)
    assert (second.claimed, second.delivered) == (1, 1)
    row = only_delivery(engine)
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == (
        DELIVERED,
        2,
        200,
        None,
    )
    assert row.delivered_at == expected_next
    assert receiver.keys() == [key, key]
    assert receiver.requests[0].body == receiver.requests[1].body
    for r in receiver.requests:
        assert verify_signature(secret, r.headers["x-aftersales-signature"], r.body, now=NOW)


def test_a_timeout_and_a_refused_connection_count_as_failures(
    engine: Engine, receiver: Receiver, client: httpx.Client
) -> None:
    receiver.stall_first = 1
    receiver.stall_s = 3.0
    slow_id, _ = add_endpoint(engine, receiver.url("/slow"))
    closed_id, _ = add_endpoint(engine, f"http://127.0.0.1:{free_port()}/nobody")
    add_event(engine)
    run_fan_out(engine)

    report = deliver(engine, client, timeout_s=0.3)
    assert (report.claimed, report.retrying) == (2, 2)
    receiver.release.set()
    rows = {r.endpoint_id: r for r in deliveries(engine)}
    slow, closed = rows[slow_id], rows[closed_id]
    assert (slow.status, slow.attempts, slow.last_status_code) == (PENDING, 1, None)
    assert slow.last_error.startswith("timeout after 0.3 s")
    assert (closed.status, closed.attempts, closed.last_status_code) == (PENDING, 1, None)
    assert closed.last_error.startswith("connection error")
    assert slow.next_attempt_at == NOW + retry_delay(1, slow.idempotency_key)

    # The receiver answers promptly now: the next due attempt succeeds.
    retry = deliver(engine, client, slow.next_attempt_at, timeout_s=0.3)
    assert retry.delivered == 1
    assert [r.path for r in receiver.requests] == ["/slow", "/slow"]


def test_dead_after_max_attempts_then_redeliver_starts_again(
    engine: Engine, receiver: Receiver, client: httpx.Client
) -> None:
    receiver.fail_first = 3
    receiver.fail_status = 503
    add_endpoint(engine, receiver.url())
    add_event(engine)
    run_fan_out(engine)

    now = NOW
    gaps = []
    for attempt in (1, 2, 3):
        report = deliver(engine, client, now, max_attempts=3)
        assert report.claimed == 1
        row = only_delivery(engine)
        assert row.attempts == attempt and row.last_status_code == 503
        if attempt < 3:
            assert row.status == PENDING
            gaps.append(row.next_attempt_at - now)
            now = row.next_attempt_at
    assert report.dead == 1
    assert (row.status, row.next_attempt_at) == (DEAD, None)
    assert timedelta(seconds=10) <= gaps[0] < timedelta(seconds=12)
    assert timedelta(seconds=20) <= gaps[1] < timedelta(seconds=24)
    assert deliver(engine, client, now + timedelta(days=30), max_attempts=3).claimed == 0

    later = now + timedelta(hours=2)
    with engine.begin() as conn:
        redeliver(conn, row.id, later)
    row = only_delivery(engine)
    assert (row.status, row.attempts, row.next_attempt_at) == (PENDING, 0, later)
    assert row.last_status_code == 503  # the history stays until the next attempt

    report = deliver(engine, client, later, max_attempts=3)
    assert report.delivered == 1
    row = only_delivery(engine)
    assert (row.status, row.attempts, row.delivered_at) == (DELIVERED, 1, later)
    assert len(set(receiver.keys())) == 1 and len(receiver.requests) == 4

    with engine.begin() as conn:
        with pytest.raises(WebhookError, match="only a dead delivery"):
            redeliver(conn, row.id, later)
        with pytest.raises(WebhookError, match="no webhook delivery"):
            redeliver(conn, 999_999, later)


def test_sandbox_endpoints_get_only_their_sandbox_events(
    engine: Engine, receiver: Receiver, client: httpx.Client
) -> None:
    add_endpoint(engine, receiver.url("/live"))
    add_endpoint(engine, receiver.url("/sb-1"), sandbox="sb-1")
    add_event(engine, "case.opened", case_id="live-case")
    add_event(engine, "case.opened", sandbox="sb-1", case_id="sb1-case")
    add_event(engine, "payout.made", sandbox="sb-1", case_id="sb1-case")
    add_event(engine, "case.opened", sandbox="sb-2", case_id="sb2-case")

    assert run_fan_out(engine) == 4
    assert deliver(engine, client).delivered == 3

    seen = {
        (r.path, json.loads(r.body)["sandbox"], json.loads(r.body)["case_id"])
        for r in receiver.requests
    }
    assert seen == {
        ("/live", "live", "live-case"),
        ("/sb-1", "sb-1", "sb1-case"),
    }
    assert sorted(r.path for r in receiver.requests) == ["/live", "/sb-1", "/sb-1"]
    with engine.connect() as conn:
        undispatched = conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.dispatched_at.is_(None))
        ).scalar_one()
    assert undispatched == 0  # sb-2's event had no endpoint and is simply done


def test_a_deactivated_endpoint_gets_nothing_more(
    engine: Engine, receiver: Receiver, client: httpx.Client
) -> None:
    gone, _ = add_endpoint(engine, receiver.url("/gone"))
    add_endpoint(engine, receiver.url("/kept"))
    add_event(engine)
    run_fan_out(engine)
    with engine.begin() as conn:
        deactivate_endpoint(conn, gone)
    add_event(engine, "case.dispatched")
    run_fan_out(engine)

    assert deliver(engine, client).delivered == 2
    assert {r.path for r in receiver.requests} == {"/kept"}
    rows = [r for r in deliveries(engine) if r.endpoint_id == gone]
    assert [(r.status, r.last_error) for r in rows] == [(DEAD, "endpoint deactivated")]
    with engine.begin() as conn, pytest.raises(WebhookError, match="deactivated"):
        redeliver(conn, rows[0].id, NOW)


@pytest.mark.parametrize("answer_to_b", [200, 500])
def test_a_late_outcome_from_an_expired_claim_is_not_recorded(
    engine: Engine, receiver: Receiver, client: httpx.Client, answer_to_b: int
) -> None:
    """Worker A's request hangs past its lease and worker B takes the delivery over.
    Whatever B's attempt came to, A's late 200 must not be recorded on top of it."""
    receiver.stall_first = 1
    receiver.statuses = {0: 200, 1: answer_to_b}
    add_endpoint(engine, receiver.url())
    add_event(engine)
    run_fan_out(engine)

    reports: list[DeliveryReport] = []
    worker_a = threading.Thread(target=lambda: reports.append(deliver(engine, client)))
    worker_a.start()
    assert receiver.got_request.wait(5)

    after_lease = NOW + timedelta(seconds=60 + 3 * TIMEOUT_S + 1)
    with httpx.Client(trust_env=False) as other_client:
        report_b = deliver(engine, other_client, after_lease)
    assert report_b.claimed == 1 and report_b.superseded == 0

    receiver.release.set()
    worker_a.join(10)
    (report_a,) = reports
    assert (report_a.claimed, report_a.superseded, report_a.delivered) == (1, 1, 0)
    assert not report_a.outcomes[0].recorded
    row = only_delivery(engine)
    assert (row.attempts, row.last_status_code) == (1, answer_to_b)
    assert row.status == (DELIVERED if answer_to_b == 200 else PENDING)
    assert len(set(receiver.keys())) == 1 and len(receiver.requests) == 2


# ---------------------------------------------------------------- concurrency


def test_concurrent_fan_outs_split_the_backlog_without_duplicates(engine: Engine) -> None:
    events, workers = 120, 4
    endpoint_ids = [add_endpoint(engine, f"https://{n}.example/hook")[0] for n in "ab"]
    with engine.begin() as conn:
        conn.execute(
            outbox.insert(),
            [
                {
                    "sandbox": LIVE,
                    "case_id": f"c{i}",
                    "kind": "case.opened",
                    "at": NOW,
                    "payload": {},
                }
                for i in range(events)
            ],
        )

    start = threading.Barrier(workers)
    taken: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait(5)
            for _ in range(events):  # bounded, so a regression fails instead of hanging
                n = run_fan_out(engine, batch=7)
                if n == 0:
                    return
                taken.append(n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(taken) == events  # every outbox row taken by exactly one fan-out
    rows = deliveries(engine)
    assert len(rows) == events * len(endpoint_ids)
    assert len({(r.outbox_id, r.endpoint_id) for r in rows}) == len(rows)


# Row locks are a PostgreSQL matter; SQLite's BEGIN IMMEDIATE serialises writers instead.
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_skip_locked_lets_a_second_fan_out_take_the_next_rows(engine: Engine) -> None:
    add_endpoint(engine, "https://a.example/hook")
    ids = [add_event(engine) for _ in range(10)]

    with engine.connect() as first, engine.connect() as second, first.begin():
        assert fan_out(first, now=NOW, batch=5) == 5
        with second.begin():
            # Had the second caller waited for the first one's locks, this would fail.
            second.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
            assert fan_out(second, now=NOW, batch=5) == 5
            seen_by_second = (
                second.execute(
                    select(webhook_deliveries.c.outbox_id).order_by(webhook_deliveries.c.outbox_id)
                )
                .scalars()
                .all()
            )
            assert seen_by_second == ids[5:]
    assert sorted(r.outbox_id for r in deliveries(engine)) == ids


def test_concurrent_deliverers_post_each_delivery_once(engine: Engine, receiver: Receiver) -> None:
    add_endpoint(engine, receiver.url("/a"))
    add_endpoint(engine, receiver.url("/b"))
    for _ in range(15):
        add_event(engine)
    run_fan_out(engine)

    workers = 3
    start = threading.Barrier(workers)
    errors: list[BaseException] = []
    totals: list[int] = []

    def work() -> None:
        try:
            with httpx.Client(trust_env=False) as own_client:
                start.wait(5)
                for _ in range(100):  # bounded, so a regression fails instead of hanging
                    report = deliver(engine, own_client, batch=4)
                    if report.claimed == 0:
                        return
                    totals.append(report.delivered)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(totals) == 30
    counts = Counter(receiver.keys())
    assert len(counts) == 30 and set(counts.values()) == {1}
    assert {r.status for r in deliveries(engine)} == {DELIVERED}


def test_dispatcher_from_settings(engine: Engine, receiver: Receiver, client: httpx.Client) -> None:
    receiver.fail_first = 10
    settings = Settings(webhook_max_attempts=2, webhook_timeout_s=1.5)
    dispatcher = WebhookDispatcher.from_settings(engine, client, settings, delivery_batch=10)
    assert (dispatcher.max_attempts, dispatcher.timeout_s) == (2, 1.5)
    add_endpoint(engine, receiver.url())
    add_event(engine)

    first = dispatcher.tick(NOW)
    assert (first.fanned_out, first.retrying) == (1, 1)
    second = dispatcher.tick(NOW + timedelta(minutes=5))
    assert (second.fanned_out, second.dead) == (0, 1)
    (outcome,) = second.outcomes
    assert (outcome.status, outcome.attempts, outcome.status_code) == (DEAD, 2, 500)
    with engine.connect() as conn:
        assert [r.status for r in delivery_log(conn, status=DEAD)] == [DEAD]
