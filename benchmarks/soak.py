"""The soak: mixed traffic for a fixed time while deadline workers are killed, on PostgreSQL.

What runs, as an operator would run it: ``aftersales serve --workers 2`` (without
its in-process deadline worker, so that every payout is made by a process that
may be killed) and two ``aftersales worker`` processes. Every 10
seconds (2.2 in the quick form, with a 3 s claim lease) one of the two workers, in turn, gets SIGKILL —
no chance to finish its transaction or give back its claims — and a new one is
started in its place at once.

The world is a sandbox whose test clock this process moves forward
:data:`SANDBOX_SPAN` over the run (about 60× real time in the full form), so the
one-hour solution clock of one-click help (OH-4) falls due while the run lasts:

* a few hundred help requests opened before the run by the bulk loader, staggered
  so that their deadlines pass one after another during the run;
* the traffic, from :data:`USERS` clients in a closed loop (each sends its next
  request when the last is answered): one-click help requests by buyers and
  national-warranty repair reports by a hotline agent (intake), complaints about
  the solution clock of a buyer's own request (before and after its payout, so the
  OH-7 gate is crossed while workers pay), photos (and a refused ``.exe``) attached
  to cases, and reads: case lists, cases, payouts, sandboxes.

After the run the clock is moved past every deadline still running, the workers
(left alone now) drain what is due, and the checks run. The run fails — the
command exits non-zero — on any 5xx or transport error, any case paid twice for
a clock (the check of ``tests/integration/test_exactly_once.py``: one ledger key
per case, clock and failure, one ``payout.made`` event per entry, balances equal
to the ledger's sums), any help request left unpaid or deadline still due, any
orphan row (deadlines, clocks, ledger entries or attachments without their case)
and any file in the service's data directory (attachment store, staged uploads)
that no attachment row names.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import httpx
from sqlalchemy import Engine, func, make_url, select, text, update
from tests.integration.bulk import SHANGHAI, create_due_help_cases

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.policy_files import load_policy_book
from aftersales.demo import dataset as demo
from aftersales.domain.lifecycle import Role
from aftersales.services.accounts import create_account, create_api_token
from aftersales.testing import services_on
from aftersales.testing.serving import cli_command, served
from benchmarks.common import Figure, Report, Spread, ensure_database, wait_for_log_line
from benchmarks.intake import (
    CONSUMERS,
    HELP_FAILURE,
    ITEM_PREFIX,
    _insert_items,
    _make_accounts,
    _reset_postgres,
)
from benchmarks.loadgen import consumer_of, is_help_item, item_id

GROUP: Final = "soak"
SANDBOX: Final = "soak"
# The bulk help requests open from 09:30 (inside OH-4's 09:00-18:00 window); the clock
# starts a minute before the first of their deadlines.
BULK_OPENED_AT: Final = datetime(2026, 11, 24, 9, 30, tzinfo=SHANGHAI)
CLOCK_START: Final = BULK_OPENED_AT + timedelta(minutes=59)
SANDBOX_SPAN: Final = timedelta(hours=2)  # how far the clock moves while the traffic runs
DRAIN_STEP: Final = timedelta(hours=2)  # then past every deadline opened during the run
SOLUTION: Final = timedelta(hours=1)  # OH-4
CLOCK_STEP_S: Final = 0.2
USERS: Final = 6  # clients in the closed loop
# Two HTTP processes, as on the 2-core machine the intake benchmark is sized for; no
# deadline worker inside serve, so every payout is made by a process that may be killed.
SERVE_ARGS: Final = ("--workers", "2", "--no-worker")
DRAIN_LIMIT_S: Final = 180.0
PNG: Final = b"\x89PNG\r\n\x1a\n"
EXE: Final = b"MZ\x90\x00\x03\x00\x00\x00"


@dataclass(frozen=True)
class Plan:
    seconds: float
    bulk: int  # help requests loaded before the run, falling due during it
    items: int  # order items the traffic may file requests for
    kill_every_s: float = 10.0
    # The workers' claim lease: a killed worker's claims are taken up again once it lapses
    # (None: the product's default, 30 s). The quick form shortens it so its drain does not
    # wait half a minute on the last kill's claims.
    lease_s: float | None = None

    @classmethod
    def of(cls, quick: bool) -> Plan:
        if quick:  # a smoke run: three kills in 7 s
            return cls(seconds=7.0, bulk=100, items=1_000, kill_every_s=2.2, lease_s=3.0)
        return cls(seconds=float(os.environ.get("AFTERSALES_SOAK_S", "120")), bulk=600, items=8_000)


@dataclass
class Tally:
    """What the traffic saw: answers by route and status, transport errors, cases opened."""

    answers: Counter[tuple[str, int]] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    help_cases: dict[str, int] = field(default_factory=dict)  # case id -> consumer
    next_item: int = 0

    @property
    def requests(self) -> int:
        return sum(self.answers.values()) + sum(self.errors.values())

    @property
    def server_errors(self) -> int:
        return sum(n for (_, status), n in self.answers.items() if status >= 500)


def database_for(database_url: str) -> str:
    url = make_url(database_url)
    return url.set(database=f"{url.database}_soak").render_as_string(hide_password=False)


def run(report: Report, *, quick: bool, database_url: str) -> None:
    plan = Plan.of(quick)
    url = database_for(database_url)
    ensure_database(url)
    engine = make_engine(url)
    data_dir = Path(tempfile.mkdtemp(prefix="aftersales-soak-"))
    try:
        consumers, agent, operations = _prepare(engine, plan)
        command = cli_command()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}
        env |= {"AFTERSALES_DATABASE_URL": url, "AFTERSALES_DATA_DIR": str(data_dir / "data")}
        if plan.lease_s is not None:
            env["AFTERSALES_WORKER_LEASE_S"] = str(plan.lease_s)
        tally = Tally()
        with (
            _serving(env, data_dir) as base_url,
            _workers(command, env, data_dir) as workers,
        ):
            started = time.monotonic()
            stop = threading.Event()
            clock = threading.Thread(
                target=_move_clock, args=(engine, plan.seconds, stop), daemon=True
            )
            killer = threading.Thread(
                target=workers.kill_in_turn, args=(plan.kill_every_s, stop), daemon=True
            )
            clock.start()
            killer.start()
            try:
                asyncio.run(_traffic(base_url, plan, tally, consumers, agent, operations, started))
            finally:
                stop.set()
                clock.join()
                killer.join()
            paid_in_run = _payouts(engine)
            print(
                f"  {tally.requests:,} requests in {time.monotonic() - started:,.0f} s; "
                f"{workers.kills} workers killed; {paid_in_run:,} payouts made meanwhile; "
                "draining",
                flush=True,
            )
            drained_in = _drain(engine)
        checks = _check(engine, tally, data_dir / "data")
    finally:
        engine.dispose()
    _report(report, plan, tally, workers, paid_in_run, drained_in, checks)
    failures = checks.failures(tally)
    if failures:  # the logs and the data directory stay for a look
        raise AssertionError(f"the soak failed (see {data_dir}): " + "; ".join(failures))
    shutil.rmtree(data_dir, ignore_errors=True)


# ---------------------------------------------------------------- preparing


def _prepare(engine: Engine, plan: Plan) -> tuple[list[str], str, str]:
    """A fresh schema, the demo's catalogue, the sandbox with its staggered help requests,
    order items in the sandbox for the traffic, and the tokens it uses."""
    started = time.perf_counter()
    _reset_postgres(engine)
    demo.load_demo(services_on(engine))
    # Deadlines from 10:30 on, spread over the first 80% of the clock's span.
    create_due_help_cases(
        engine,
        load_policy_book(),
        count=plan.bulk,
        sandbox=SANDBOX,
        opened_at=BULK_OPENED_AT,
        due_after=CLOCK_START - BULK_OPENED_AT,
        stagger=SANDBOX_SPAN * 0.8 / plan.bulk,
        verbose=False,
    )
    _insert_items(engine, plan.items, sandbox=SANDBOX, now=CLOCK_START)
    tokens = _make_accounts(engine)
    services = services_on(engine)
    create_account(
        services,
        username="soak-operations",
        password="soak-password-not-secret",
        role=Role.OPERATIONS,
        name="Operations",
    )
    operations = create_api_token(services, username="soak-operations", name="soak").token
    print(
        f"  sandbox {SANDBOX!r}: {plan.bulk:,} help requests falling due during the run, "
        f"{plan.items:,} order items for the traffic, in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return tokens.consumers, tokens.agent, operations


# ---------------------------------------------------------------- the processes


@contextmanager
def _serving(env: dict[str, str], logs: Path) -> Iterator[str]:
    with served(SERVE_ARGS, env=env, log=logs / "serve.log", timeout_s=120) as server:
        yield server.base_url


class _WorkerPool:
    """Two ``aftersales worker`` processes; one killed (SIGKILL) and replaced in turn."""

    def __init__(self, command: list[str], env: dict[str, str], logs: Path) -> None:
        self.command, self.env, self.logs = command, env, logs
        self.started = 0
        self.kills = 0
        self.kills_running = 0  # of those, kills of a worker that had said it started
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    def _log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def start(self) -> tuple[str, subprocess.Popen[bytes]]:
        name = f"soak-{self.started}"
        self.started += 1
        with self._log(name).open("wb") as out:
            process = subprocess.Popen(
                [*self.command, "worker", "--id", name],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return name, process

    def wait_until_started(self) -> None:
        for name, process in self.processes:
            wait_for_log_line(self._log(name), f"worker {name} started", process)

    def kill_in_turn(self, every_s: float, stop: threading.Event) -> None:
        """A kill every ``every_s`` seconds, on a fixed schedule; the replacement starts at
        once and is not waited for (a kill may find it still starting: that is a crash too)."""
        began = time.monotonic()
        while not stop.wait(max(0.0, began + (self.kills + 1) * every_s - time.monotonic())):
            victim = self.kills % len(self.processes)
            name, process = self.processes[victim]
            process.send_signal(signal.SIGKILL)
            process.wait()
            self.kills += 1
            if f"worker {name} started" in self._log(name).read_text(errors="replace"):
                self.kills_running += 1
            self.processes[victim] = self.start()

    def stop(self) -> None:
        for _, process in self.processes:
            process.send_signal(signal.SIGTERM)
        for _, process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def _workers(command: list[str], env: dict[str, str], logs: Path) -> Iterator[_WorkerPool]:
    pool = _WorkerPool(command, env, logs)
    try:
        pool.processes = [pool.start(), pool.start()]
        pool.wait_until_started()  # both at work before the traffic and the clock start
        yield pool
    finally:
        pool.stop()


def _set_clock(engine: Engine, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(update(s.sandboxes).where(s.sandboxes.c.id == SANDBOX).values(now=now))


def _move_clock(engine: Engine, seconds: float, stop: threading.Event) -> None:
    """Move the sandbox clock from CLOCK_START by SANDBOX_SPAN over ``seconds`` of real time."""
    began = time.monotonic()
    while not stop.wait(CLOCK_STEP_S):
        share = min(1.0, (time.monotonic() - began) / seconds)
        _set_clock(engine, CLOCK_START + SANDBOX_SPAN * share)


def _payouts(engine: Engine) -> int:
    le = s.ledger_entries
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(le).where(le.c.sandbox == SANDBOX)
            ).scalar_one()
        )


def _drain(engine: Engine) -> float:
    """Move the clock past every deadline opened during the run; seconds until none is due."""
    started = time.monotonic()
    final = CLOCK_START + SANDBOX_SPAN + DRAIN_STEP
    _set_clock(engine, final)
    d = s.deadlines
    probe = select(d.c.case_id).where(d.c.sandbox == SANDBOX, d.c.due_at <= final).limit(1)
    while time.monotonic() - started < DRAIN_LIMIT_S:
        with engine.connect() as conn:
            if conn.execute(probe).first() is None:
                return time.monotonic() - started
        time.sleep(0.1)
    return float("inf")


# ---------------------------------------------------------------- the traffic


async def _traffic(
    base_url: str,
    plan: Plan,
    tally: Tally,
    consumers: list[str],
    agent: str,
    operations: str,
    started: float,
) -> None:
    ends = started + plan.seconds
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:

        async def send(
            route: str, method: str, path: str, token: str, **kw: object
        ) -> httpx.Response | None:
            headers = {"Authorization": f"Bearer {token}"}
            if method == "POST":
                headers["Idempotency-Key"] = uuid.uuid4().hex
            try:
                response = await client.request(method, path, headers=headers, **kw)  # type: ignore[arg-type]
            except httpx.HTTPError as exc:
                tally.errors[f"{route}: {type(exc).__name__}"] += 1
                return None
            tally.answers[(route, response.status_code)] += 1
            return response

        async def file_request() -> None:
            if tally.next_item >= plan.items:
                return
            number = tally.next_item
            tally.next_item += 1
            item = item_id(ITEM_PREFIX, number)
            if is_help_item(number):
                consumer = consumer_of(number, CONSUMERS)
                body = {"order_item_id": item, "failure": HELP_FAILURE, "description": "soak"}
                response = await send(
                    "help request", "POST", "/api/v1/help-requests", consumers[consumer], json=body
                )
                if response is not None and response.status_code == 201:
                    tally.help_cases[response.json()["id"]] = consumer
            else:
                body = {"order_item_id": item, "description": "来电：屏幕不亮 / screen stays dark"}
                await send("repair report", "POST", "/api/v1/repair-reports", agent, json=body)

        def own_case(rng: random.Random) -> tuple[str, str] | None:
            if not tally.help_cases:
                return None
            case_id = rng.choice(list(tally.help_cases))
            return case_id, consumers[tally.help_cases[case_id]]

        async def complain(rng: random.Random) -> None:
            if (picked := own_case(rng)) is not None:
                case_id, token = picked
                body = {"clock_id": "solution", "text": "no solution within the hour"}
                await send(
                    "complaint", "POST", f"/api/v1/cases/{case_id}/complaints", token, json=body
                )

        async def attach(rng: random.Random) -> None:
            if (picked := own_case(rng)) is not None:
                case_id, token = picked
                refused = rng.random() < 0.25  # an .exe: refused, and nothing may be left of it
                content = (EXE if refused else PNG) + os.urandom(2_000)
                name = "tool.exe" if refused else "fault.png"
                files = {"file": (name, content, "application/octet-stream")}
                await send(
                    "attachment", "POST", f"/api/v1/cases/{case_id}/attachments", token, files=files
                )

        async def read(rng: random.Random) -> None:
            choice = rng.random()
            if choice < 0.4 and (picked := own_case(rng)) is not None:
                case_id, token = picked
                await send("read case", "GET", f"/api/v1/cases/{case_id}", token)
            elif choice < 0.7:
                token = rng.choice(consumers)
                await send("read cases", "GET", "/api/v1/cases", token, params={"limit": 20})
            elif choice < 0.9:
                await send(
                    "read payouts",
                    "GET",
                    "/api/v1/payouts",
                    operations,
                    params={"sandbox": SANDBOX},
                )
            else:
                await send("read sandboxes", "GET", "/api/v1/sandboxes", operations)

        async def user(n: int) -> None:
            rng = random.Random(n)
            while time.monotonic() < ends:
                roll = rng.random()
                if roll < 0.30:
                    await file_request()
                elif roll < 0.45:
                    await complain(rng)
                elif roll < 0.55:
                    await attach(rng)
                else:
                    await read(rng)

        await asyncio.gather(*(user(n) for n in range(USERS)))


# ---------------------------------------------------------------- the checks


@dataclass(frozen=True)
class Checks:
    help_cases: int  # one-click help requests in the sandbox: each owes one payout
    payouts: int  # ledger entries of the sandbox
    paid_help: int  # help requests with their OH-4 payout
    double: int  # (case, clock) pairs paid more than once
    payout_events: int
    balances_off: int  # accounts whose balance is not the sum of their ledger entries
    still_due: int
    orphan_rows: dict[str, int]
    orphan_files: int
    attachments: int

    def failures(self, tally: Tally) -> list[str]:
        found = []
        if tally.server_errors or tally.errors:
            found.append(
                f"{tally.server_errors} 5xx and {sum(tally.errors.values())} transport errors"
            )
        if self.double:
            found.append(f"{self.double} clocks paid twice")
        if self.paid_help != self.help_cases or self.still_due:
            found.append(
                f"{self.help_cases - self.paid_help} help requests unpaid, {self.still_due} deadlines still due"
            )
        if self.payout_events != self.payouts or self.balances_off:
            found.append(
                f"{self.payouts} ledger entries but {self.payout_events} payout events; "
                f"{self.balances_off} balances off"
            )
        if any(self.orphan_rows.values()) or self.orphan_files:
            found.append(f"orphans: {self.orphan_rows}, {self.orphan_files} files")
        return found


def _check(engine: Engine, tally: Tally, service_data: Path) -> Checks:
    """The checks after the drain; ``service_data`` is the service's data directory: every
    file in it (staged uploads, temporary files) must be an attachment a row names."""
    le, ob, bal, c = s.ledger_entries, s.outbox, s.account_balances, s.cases
    with engine.connect() as conn:
        help_cases = set(
            conn.execute(
                select(c.c.id).where(c.c.sandbox == SANDBOX, c.c.programme == "one_click_help")
            ).scalars()
        )
        entries = conn.execute(
            select(le.c.case_id, le.c.clock_id, le.c.key).where(le.c.sandbox == SANDBOX)
        ).all()
        payout_events = conn.execute(
            select(func.count())
            .select_from(ob)
            .where(ob.c.sandbox == SANDBOX, ob.c.kind == "payout.made")
        ).scalar_one()
        # A balance is what the payouts and the providers' shares of them (owed to the shop)
        # credited and debited.
        sums: Counter[str] = Counter()
        payer_sums: Counter[str] = Counter()
        for table in (le, s.ledger_shares):
            for payee, payer, amount in conn.execute(
                select(table.c.payee, table.c.payer, table.c.amount).where(
                    table.c.sandbox == SANDBOX, table.c.unit == "points"
                )
            ):
                sums[payee] += amount
                payer_sums[payer] += amount
        balances = dict(
            conn.execute(
                select(bal.c.account, bal.c.balance).where(
                    bal.c.sandbox == SANDBOX, bal.c.unit == "points"
                )
            ).all()
        )
        still_due = conn.execute(
            select(func.count())
            .select_from(s.deadlines)
            .where(
                s.deadlines.c.sandbox == SANDBOX,
                s.deadlines.c.due_at <= CLOCK_START + SANDBOX_SPAN + DRAIN_STEP,
            )
        ).scalar_one()
        orphan_rows = {
            table: conn.execute(
                text(
                    f"SELECT count(*) FROM {table} t LEFT JOIN cases c ON c.id = t.case_id "
                    "WHERE c.id IS NULL AND t.case_id IS NOT NULL"
                )
            ).scalar_one()
            for table in ("deadlines", "clocks", "ledger_entries", "complaints", "attachments")
        }
        # A deadline row for a clock that is not running (a mark's row is "<clock>@<mark>").
        orphan_rows["deadlines of stopped clocks"] = conn.execute(
            text(
                "SELECT count(*) FROM deadlines d LEFT JOIN clocks k ON k.case_id = d.case_id "
                "AND k.clock_id = split_part(d.clock_id, '@', 1) "
                "WHERE k.case_id IS NULL OR k.status <> 'running'"
            )
        ).scalar_one()
        keys = set(conn.execute(select(s.attachments.c.storage_key)).scalars())
    pairs = Counter((e.case_id, e.clock_id) for e in entries)
    paid = {e.case_id for e in entries if e.clock_id == "solution"}
    expected = {account: total for account, total in sums.items()}
    for account, total in payer_sums.items():
        expected[account] = expected.get(account, 0) - total
    balances_off = sum(1 for a, total in expected.items() if balances.get(a, 0) != total)
    files = [p for p in service_data.rglob("*") if p.is_file()]
    named = {f"attachments/{key}" for key in keys}
    orphan_files = sum(1 for p in files if p.relative_to(service_data).as_posix() not in named)
    return Checks(
        help_cases=len(help_cases),
        payouts=len(entries),
        paid_help=len(help_cases & paid),
        double=sum(1 for n in pairs.values() if n > 1),
        payout_events=int(payout_events),
        balances_off=balances_off,
        still_due=int(still_due),
        orphan_rows={k: int(v) for k, v in orphan_rows.items()},
        orphan_files=orphan_files,
        attachments=len(files),
    )


def _report(
    report: Report,
    plan: Plan,
    tally: Tally,
    workers: _WorkerPool,
    paid_in_run: int,
    drained_in: float,
    checks: Checks,
) -> None:
    by_route = Counter[str]()
    for (route, status), n in tally.answers.items():
        by_route[f"{route} {status}"] += n
    print("  answers: " + ", ".join(f"{k} ×{n:,}" for k, n in sorted(by_route.items())))
    if tally.errors:
        print("  transport errors: " + ", ".join(f"{k} ×{n}" for k, n in tally.errors.items()))
    note = (
        f"{plan.seconds:,.0f} s, {USERS} clients; {workers.kills} worker SIGKILLs "
        f"({workers.kills_running} after the worker had started); "
        f"{checks.help_cases:,} payouts due, {checks.paid_help:,} paid once, "
        f"{checks.double} paid twice ({paid_in_run:,} while the traffic ran, the rest "
        f"{drained_in:,.1f} s after the last move of the clock); "
        f"orphan rows {sum(checks.orphan_rows.values())}, orphan files {checks.orphan_files} "
        f"(of {checks.attachments})"
    )
    report.add(
        Figure(
            GROUP,
            "requests answered under worker kills",
            "requests",
            Spread.of([float(tally.requests)]),
            note=note,
        )
    )
    report.add(
        Figure(
            GROUP,
            "5xx answers and transport errors",
            "",
            Spread.of([float(tally.server_errors + sum(tally.errors.values()))]),
            better="lower",
            target="0",
            met=tally.server_errors == 0 and not tally.errors,
        )
    )
    report.add(
        Figure(
            GROUP,
            "payouts due, paid exactly once",
            "",
            Spread.of([float(checks.paid_help)]),
            target=f"= {checks.help_cases:,} due, none twice",
            met=checks.paid_help == checks.help_cases and checks.double == 0,
        )
    )
