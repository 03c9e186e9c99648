"""Open-loop load generator for the intake benchmark, run as a process of its own.

``python -m benchmarks.loadgen < spec.json > result.json``

The spec names the service, the offered rate, how many requests to send and which
order items and tokens they use (see :class:`Spec`). Request ``k`` is due at
``start + k / rate`` whatever happened to earlier requests: the schedule never
waits for an answer (open loop), so a slow service faces a growing queue instead
of a politely slowing client. Every latency is measured from the request's *due*
time, not from when it actually left, so time spent waiting for a free
connection, or behind a late scheduler, counts against the service rather than
being hidden (coordinated omission).

``httpx.AsyncClient``s carry the requests over bounded pools of keep-alive
connections (``concurrency`` connections in all, split over a few clients; see
:data:`CONNECTIONS_PER_CLIENT`). Due requests wait here, in order, for a free
connection. Two limits keep an overloaded run finite, like a client's pool
timeout and read timeout:

* a request that has not got a connection ``queue_timeout_s`` after its due time
  is dropped unsent (an error, with that latency);
* a request that was sent is waited for up to ``answer_timeout_s``. Giving up on
  it sooner would not spare the service anything: it finishes a request whose
  client has left (and creates its case), so early give-ups only pile hidden work
  onto the service and cases without a 201 into the database.

The result is one JSON object: per request its latency and outcome, plus the
generator's own CPU time and how late it launched requests, so the parent can
tell a saturated service from a saturated generator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

# httpcore's pool walks all its connections (and polls each idle socket) on every
# request and every release, so one client with many connections spends most of its
# CPU on bookkeeping. Several clients with small pools keep that cost flat.
CONNECTIONS_PER_CLIENT = 8
NOT_SENT = "not sent in time"  # no connection came free within queue_timeout_s
NO_ANSWER = "no answer"  # sent, not answered within answer_timeout_s


@dataclass(frozen=True)
class Spec:
    base_url: str
    rate: float  # requests per second, offered
    count: int  # requests to send
    first_item: int  # item number of request 0; request k uses item first_item + k
    item_prefix: str
    consumer_tokens: list[str]  # item n belongs to consumer (n // 2) % len(consumer_tokens)
    agent_token: str
    concurrency: int  # connections in the pool
    queue_timeout_s: float  # from the due time to getting a connection
    answer_timeout_s: float  # from sending to the answer
    help_failure: str

    @classmethod
    def from_json(cls, text: str) -> Spec:
        return cls(**json.loads(text))


def item_id(prefix: str, number: int) -> str:
    return f"{prefix}{number:07d}"


def is_help_item(number: int) -> bool:
    """Even items are lamps (one-click help by their buyer), odd ones phones (hotline repair)."""
    return number % 2 == 0


def consumer_of(number: int, consumers: int) -> int:
    return (number // 2) % consumers


def _request(spec: Spec, k: int) -> tuple[str, dict[str, Any], dict[str, str]]:
    number = spec.first_item + k
    item = item_id(spec.item_prefix, number)
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    if is_help_item(number):
        token = spec.consumer_tokens[consumer_of(number, len(spec.consumer_tokens))]
        headers["Authorization"] = f"Bearer {token}"
        body = {
            "order_item_id": item,
            "failure": spec.help_failure,
            "description": "安装师傅没有按约定时间上门 / the installer missed the slot",
        }
        return "/api/v1/help-requests", body, headers
    headers["Authorization"] = f"Bearer {spec.agent_token}"
    body = {
        "order_item_id": item,
        "description": "来电：手机开机后屏幕不亮 / caller: the screen stays dark after power-on",
    }
    return "/api/v1/repair-reports", body, headers


async def generate(spec: Spec) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    shards = max(1, spec.concurrency // CONNECTIONS_PER_CLIENT)
    per_client = max(1, spec.concurrency // shards)
    limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
    latency_s = [0.0] * spec.count
    outcome = [""] * spec.count  # "201", another status, or an exception's class name
    launch_lag_s = [0.0] * spec.count
    finished_at = [0.0] * spec.count
    # The queue of due requests is kept here, not in httpx's pool: each client sees at
    # most as many requests as it has connections.
    gates = [asyncio.Semaphore(per_client) for _ in range(shards)]
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=spec.base_url,
                    limits=limits,
                    timeout=httpx.Timeout(spec.answer_timeout_s),
                )
            )
            for _ in range(shards)
        ]
        # Open every connection before the clock starts, as a long-running client would have.
        await asyncio.gather(*(c.get("/healthz") for c in clients for _ in range(per_client)))

        async def send(k: int, due: float) -> None:
            launch_lag_s[k] = loop.time() - due
            path, body, headers = _request(spec, k)
            gate, client = gates[k % shards], clients[k % shards]
            try:
                async with asyncio.timeout_at(due + spec.queue_timeout_s):
                    await gate.acquire()
            except TimeoutError:
                outcome[k] = NOT_SENT
            else:
                try:
                    async with asyncio.timeout(spec.answer_timeout_s):
                        response = await client.post(path, json=body, headers=headers)
                    outcome[k] = str(response.status_code)
                except TimeoutError:
                    outcome[k] = NO_ANSWER
                except httpx.HTTPError as exc:
                    outcome[k] = type(exc).__name__
                finally:
                    gate.release()
            finished_at[k] = loop.time()
            latency_s[k] = finished_at[k] - due

        cpu_before = time.process_time()
        start = loop.time() + 0.05
        tasks: list[asyncio.Task[None]] = []
        for k in range(spec.count):
            due = start + k / spec.rate
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(send(k, due)))
        await asyncio.gather(*tasks)
        cpu_s = time.process_time() - cpu_before
    end = max(finished_at) if spec.count else start
    return {
        "started": start,  # on the monotonic clock, which other processes share (Linux)
        "ended": end,
        "count": spec.count,
        "rate": spec.rate,
        "wall_s": end - start,
        "schedule_s": spec.count / spec.rate,
        "latency_ms": [round(x * 1000, 3) for x in latency_s],
        "outcome": outcome,
        "launch_lag_ms": [round(x * 1000, 3) for x in launch_lag_s],
        "client_cpu_s": cpu_s,
    }


def main() -> int:
    spec = Spec.from_json(sys.stdin.read())
    result = asyncio.run(generate(spec))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
