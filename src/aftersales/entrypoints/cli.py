"""The ``aftersales`` command line.

Every option has an ``AFTERSALES_*`` environment twin. Errors in policy files or
arguments are printed as one plain sentence naming what to fix, with exit code 2.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from aftersales.adapters.policy_files import load_policy_book
from aftersales.bootstrap import Container
from aftersales.domain.durations import duration_from_text
from aftersales.domain.explain import Language, local_time
from aftersales.domain.ledger import balances
from aftersales.domain.policy import PolicyBook
from aftersales.errors import AftersalesError
from aftersales.settings import Settings

app = typer.Typer(
    no_args_is_help=True, help="After-sales commitments kept as SLA clocks, paid and explained."
)
policies_app = typer.Typer(no_args_is_help=True, help="Check and list the policy documents.")
calendar_app = typer.Typer(no_args_is_help=True, help="Ask the business calendars questions.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
case_app = typer.Typer(no_args_is_help=True, help="Look at cases.")
sandbox_app = typer.Typer(no_args_is_help=True, help="Sandboxes with their own test clocks.")
app.add_typer(policies_app, name="policies")
app.add_typer(calendar_app, name="calendar")
app.add_typer(db_app, name="db")
app.add_typer(case_app, name="case")
accounts_app = typer.Typer(no_args_is_help=True, help="People and systems who sign in.")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(accounts_app, name="accounts")

console = Console(soft_wrap=True)  # sentences stay whole when piped or copied

PolicyDirs = Annotated[
    list[Path] | None,
    typer.Option(
        "--policy-dir",
        envvar="AFTERSALES_POLICY_DIRS",
        help="Extra policy directory; its files replace shipped files of the same name.",
    ),
]
Lang = Annotated[str, typer.Option("--lang", envvar="AFTERSALES_LANG", help="zh, en or both.")]
LogFormat = Annotated[
    str,
    typer.Option(
        "--log-format",
        envvar="AFTERSALES_LOG_FORMAT",
        help="json (one object per line, for log collectors) or text.",
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="AFTERSALES_DATA_DIR",
        help="Where the SQLite file and attachments live.",
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="AFTERSALES_DATABASE_URL",
        help="postgresql://… or sqlite:///…; default SQLite.",
    ),
]


def _container(
    data_dir: Path | None, database_url: str | None, policy_dirs: list[Path] | None, **more: object
) -> Container:
    from aftersales.bootstrap import bootstrap
    from aftersales.settings import load_settings

    try:
        settings = load_settings(
            data_dir=data_dir, database_url=database_url, policy_dirs=policy_dirs or None, **more
        )
        return bootstrap(settings)
    except AftersalesError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _book(dirs: list[Path] | None) -> PolicyBook:
    try:
        return load_policy_book(dirs or [])
    except AftersalesError as exc:
        console.print(f"[red]policy error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _languages(lang: str) -> tuple[Language, ...]:
    if lang == "zh":
        return ("zh",)
    if lang == "en":
        return ("en",)
    if lang == "both":
        return ("zh", "en")
    console.print(f"[red]--lang must be zh, en or both, not {lang!r}[/red]")
    raise typer.Exit(2)


@app.command()
def sample(
    policy_dir: PolicyDirs = None,
    lang: Lang = "both",
    only: Annotated[str | None, typer.Option(help="Play one scenario by key.")] = None,
) -> None:
    """Play the sample cases and explain every decision, citing its rule."""
    from aftersales.entrypoints.sample import SCENARIOS

    book = _book(policy_dir)
    languages = _languages(lang)
    chosen = [s for s in SCENARIOS if only in (None, s.key)]
    if not chosen:
        console.print(
            f"[red]no scenario {only!r}; choose one of: {', '.join(s.key for s in SCENARIOS)}[/red]"
        )
        raise typer.Exit(2)
    totals: dict[tuple[str, str], int] = {}
    for scenario in chosen:
        case = scenario.play(book)
        timezone = case.policy(book).timezone
        title = " / ".join(getattr(scenario, f"title_{lg}") for lg in languages)
        console.rule(f"[bold]{case.id}[/bold] {title}")
        for decision in case.decisions:
            when = local_time(decision.at, timezone)
            for language in languages:
                console.print(
                    f"[dim]{when}[/dim] [cyan]{decision.reason.rule}[/cyan] {decision.reason.render(language)}"
                )
        if case.payouts:
            table = Table("key", "payer", "payee", "amount", "rule")
            for payout in case.payouts:
                table.add_row(
                    payout.key, payout.payer, payout.payee, payout.amount.text_en(), payout.rule
                )
            console.print(table)
        else:
            console.print("[dim]no payout[/dim]")
        for (account, unit), value in balances(case.payouts).items():
            totals[(account, unit.value)] = totals.get((account, unit.value), 0) + value
    if totals:
        console.rule("balances")
        for (account, unit_name), value in sorted(totals.items()):
            console.print(f"{account:>14} {value:>+10,} {unit_name}")


@policies_app.command("check")
def policies_check(policy_dir: PolicyDirs = None) -> None:
    """Load and cross-check every policy document; exit 2 naming the first problem."""
    book = _book(policy_dir)
    console.print(
        f"[green]ok[/green]: {len(book.programmes)} programme versions, "
        f"{len(book.service_standards.standards)} service standards, "
        f"{len(book.catalog.categories)} categories, {len(book.calendars)} calendars"
    )


@policies_app.command("list")
def policies_list(policy_dir: PolicyDirs = None) -> None:
    """List programme versions with their effective dates and clocks."""
    book = _book(policy_dir)
    table = Table("id", "programme", "from", "until", "clocks")
    for policy in book.programmes:
        clocks = ", ".join(f"{c.id} {c.rule} {c.duration}" for c in policy.clocks)
        until = (
            local_time(policy.effective_until, policy.timezone) if policy.effective_until else "-"
        )
        table.add_row(
            policy.id,
            policy.programme.value,
            local_time(policy.effective_from, policy.timezone),
            until,
            clocks,
        )
    console.print(table)


@calendar_app.command("explain")
def calendar_explain(
    name: Annotated[str, typer.Argument(help="Calendar name, e.g. cn-business.")],
    start: Annotated[
        str, typer.Option(help="Start instant with offset, e.g. 2026-09-30T14:00+08:00.")
    ],
    duration: Annotated[str, typer.Option(help="Duration such as 1h, 48h or 30d.")] = "8h",
    policy_dir: PolicyDirs = None,
) -> None:
    """Show when a duration counted on a calendar falls due, and the open time it uses."""
    book = _book(policy_dir)
    if name not in book.calendars:
        console.print(
            f"[red]no calendar {name!r}; known: {', '.join(sorted(book.calendars))}[/red]"
        )
        raise typer.Exit(2)
    try:
        at = datetime.fromisoformat(start)
    except ValueError as exc:
        console.print(
            f"[red]--start {start!r} is not an ISO date-time such as 2026-09-30T14:00+08:00[/red]"
        )
        raise typer.Exit(2) from exc
    if at.tzinfo is None:
        console.print("[red]--start needs a UTC offset, e.g. +08:00, so it names one instant[/red]")
        raise typer.Exit(2)
    try:
        parsed = duration_from_text(duration)
    except ValueError as exc:
        console.print(f"[red]--duration: {exc}[/red]")
        raise typer.Exit(2) from exc
    calendar = book.calendar(name)
    tz = str(calendar.timezone)
    try:
        due = calendar.add(at, parsed)
    except AftersalesError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"{calendar.display_zh} / {calendar.display_en}")
    console.print(
        f"start {local_time(at, tz)} + {duration} of open time -> due [bold]{local_time(due, tz)}[/bold]"
    )
    intervals = list(calendar.open_intervals(at, due))
    for begin, end in intervals[:20]:
        console.print(f"  open {local_time(begin, tz)} -> {local_time(end, tz)}")
    if len(intervals) > 20:
        console.print(f"  … and {len(intervals) - 20} more open intervals")


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply the database migrations (the embedded SQLite default also does this at start-up)."""
    from aftersales.adapters.db import migrate
    from aftersales.adapters.db.engine import make_engine
    from aftersales.settings import load_settings

    try:
        settings = load_settings(data_dir=data_dir, database_url=database_url)
        engine = make_engine(settings.resolved_database_url)
        migrate.upgrade(engine)
        console.print(f"[green]database at revision {migrate.current_revision(engine)}[/green]")
        engine.dispose()
    except AftersalesError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command()
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

    from aftersales.entrypoints.observability import configure_logging
    from aftersales.worker.loop import build_worker

    configure_logging(log_format)
    container = _container(
        data_dir,
        database_url,
        policy_dir,
        worker_batch_size=batch,
        worker_poll_interval_s=poll,
        worker_lease_s=lease,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    total = build_worker(container, worker_id=worker_id, stop=stop).run()
    console.print(f"worker stopped: {total.cases} cases handled, {total.payouts} payouts made")
    container.close()


@app.command()
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
    from aftersales.entrypoints.observability import configure_logging
    from aftersales.worker.loop import build_worker

    configure_logging(log_format)
    container = _container(data_dir, database_url, policy_dir, host=host, port=port)
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
            _serve_processes(settings, workers, log_format)
        else:
            uvicorn.run(
                create_app(container),
                host=settings.host,
                port=settings.port,
                log_config=None,  # our handler (JSON lines) serves uvicorn's loggers too
                access_log=False,  # one line per request comes from the app, with its request id
            )
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=10)
        container.close()


def _serve_processes(settings: Settings, workers: int, log_format: str) -> None:
    """Several HTTP processes on one port; each builds its app from the environment.

    The database is already migrated (and the demo loaded) by this process; the
    children only connect. Their request metrics are pooled through
    ``PROMETHEUS_MULTIPROC_DIR`` so ``/metrics`` counts every process's requests.
    """
    import os
    import tempfile

    import uvicorn

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
    try:
        uvicorn.run(
            "aftersales.entrypoints.api.app:app_from_environment",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
        )
    finally:
        import shutil

        shutil.rmtree(metrics_dir, ignore_errors=True)


@app.command()
def demo(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    policy_dir: PolicyDirs = None,
    lang: Lang = "both",
) -> None:
    """Load the demo data set and play a business day on a sandbox clock, printing what was paid."""
    from aftersales.demo.play import play_demo

    container = _container(data_dir, database_url, policy_dir)
    play_demo(container, console, _languages(lang))
    container.close()


@case_app.command("explain")
def case_explain(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    policy_dir: PolicyDirs = None,
    lang: Lang = "both",
) -> None:
    """Every decision of a case, in order, with its rule."""
    from aftersales.services.cases import get_case

    container = _container(data_dir, database_url, policy_dir)
    languages = _languages(lang)
    case = get_case(container.services, case_id)
    print_case(case, container.book, languages)
    container.close()


def print_case(case: object, book: PolicyBook, languages: tuple[Language, ...]) -> None:
    from aftersales.domain.cases import Case

    assert isinstance(case, Case)
    policy = case.policy(book)
    zh, en = case.lifecycle.states[case.state]
    console.rule(f"[bold]{case.id}[/bold] {policy.name.zh} / {policy.name.en} · {zh} / {en}")
    for decision in case.decisions:
        when = local_time(decision.at, policy.timezone)
        for language in languages:
            console.print(
                f"[dim]{when}[/dim] [cyan]{decision.reason.rule}[/cyan] {decision.reason.render(language)}"
            )
    for payout in case.payouts:
        console.print(
            f"[green]paid[/green] {payout.amount.text_en()} {payout.payer} -> {payout.payee} ({payout.rule})"
        )


@sandbox_app.command("create")
def sandbox_create(
    sandbox_id: Annotated[str, typer.Argument()],
    start: Annotated[
        str | None, typer.Option(help="Clock start, e.g. 2026-11-24T09:00+08:00; default now.")
    ] = None,
    demo_data: Annotated[
        bool,
        typer.Option(
            "--demo-data/--empty",
            help="Give the sandbox its own copy of the demo orders (ids prefixed '<id>.').",
        ),
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a sandbox with its own clock."""
    from aftersales.demo.play import create_demo_sandbox
    from aftersales.services.sandboxes import create_sandbox

    container = _container(data_dir, database_url, None)
    at = _instant(start) if start else None
    if demo_data:
        sandbox = create_demo_sandbox(container, sandbox_id, start=at)
    else:
        sandbox = create_sandbox(container.engine, container.clock, sandbox_id=sandbox_id, start=at)
    console.print(f"sandbox {sandbox.id} at {sandbox.now.isoformat()}")


@sandbox_app.command("advance")
def sandbox_advance(
    sandbox_id: Annotated[str, typer.Argument()],
    by: Annotated[str, typer.Option(help="How far, e.g. 61m, 48h, 30d.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    policy_dir: PolicyDirs = None,
) -> None:
    """Move a sandbox clock forward; deadlines passed on the way fall due and pay out."""
    from aftersales.services.sandboxes import advance_sandbox

    try:
        delta = duration_from_text(by)
    except ValueError as exc:
        console.print(f"[red]--by: {exc}[/red]")
        raise typer.Exit(2) from exc
    container = _container(data_dir, database_url, policy_dir)
    with console.status(f"advancing sandbox '{sandbox_id}' by {by}, handling what falls due…"):
        sandbox, report = advance_sandbox(
            container.engine, container.book, sandbox_id, by=delta, real_now=container.clock.now()
        )
    console.print(
        f"sandbox {sandbox.id} now {sandbox.now.isoformat()}: {report.cases} cases handled, {report.payouts} payouts"
    )
    for key in report.payout_keys:
        console.print(f"  paid {key}")


@sandbox_app.command("list")
def sandbox_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    from aftersales.services.sandboxes import list_sandboxes

    container = _container(data_dir, database_url, None)
    for sandbox in list_sandboxes(container.engine):
        console.print(f"{sandbox.id}\t{sandbox.now.isoformat()}\t{sandbox.name}")


@accounts_app.command("create")
def accounts_create(
    username: Annotated[str, typer.Argument(help="What the person types to sign in.")],
    role: Annotated[
        str,
        typer.Option(help="consumer, agent, provider, merchant, brand or operations."),
    ],
    party: Annotated[
        str | None,
        typer.Option(help="Who the account acts for: buyer account, provider, shop or brand id."),
    ] = None,
    name: Annotated[str, typer.Option(help="Shown on pages and in the audit trail.")] = "",
    password: Annotated[
        str | None,
        typer.Option(
            envvar="AFTERSALES_NEW_ACCOUNT_PASSWORD",
            help="Asked for when not given (so it stays out of the shell history).",
        ),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an account that signs in to the web application."""
    from aftersales.domain.lifecycle import Role
    from aftersales.services.accounts import create_account

    try:
        chosen = Role(role)
    except ValueError as exc:
        roles = ", ".join(r.value for r in Role if r is not Role.SYSTEM)
        console.print(f"[red]--role {role!r} is not a role; use one of {roles}[/red]")
        raise typer.Exit(2) from exc
    container = _container(data_dir, database_url, None)
    secret = password or typer.prompt("password", hide_input=True, confirmation_prompt=True)
    account = create_account(
        container.engine,
        container.clock,
        username=username,
        password=secret,
        role=chosen,
        name=name,
        party=party,
    )
    console.print(f"account {account.username} ({account.role.value}) created as {account.id}")
    container.close()


@accounts_app.command("token")
def accounts_token(
    username: Annotated[str, typer.Argument(help="The account the system acts as.")],
    name: Annotated[str, typer.Option(help="Which system uses it, e.g. order-sync.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Make an API token for a system; it is shown once (send it as Authorization: Bearer …)."""
    from aftersales.services.accounts import create_api_token

    container = _container(data_dir, database_url, None)
    made = create_api_token(container.engine, container.clock, username=username, name=name)
    console.print(f"token {made.id} for {made.account.username} ({made.name}); keep it secret:")
    print(made.token)  # plain, so a script can capture it
    container.close()


@accounts_app.command("list")
def accounts_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Every account with its role and the party it acts for."""
    from aftersales.services.accounts import list_accounts

    container = _container(data_dir, database_url, None)
    table = Table("username", "role", "party", "name", "active")
    for a in list_accounts(container.engine):
        table.add_row(a.username, a.role.value, a.party or "", a.name, "yes" if a.active else "no")
    console.print(table)
    container.close()


def _instant(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        console.print(f"[red]{text!r} is not an ISO date-time such as 2026-11-24T09:00+08:00[/red]")
        raise typer.Exit(2) from exc
    if at.tzinfo is None:
        console.print(
            "[red]the time needs a UTC offset, e.g. +08:00, so it names one instant[/red]"
        )
        raise typer.Exit(2)
    return at


def main() -> None:
    try:
        app()
    except AftersalesError as exc:  # anything the domain refuses reaches the user as one sentence
        console.print(f"[red]error:[/red] {exc}")
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()
