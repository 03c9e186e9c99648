"""The ``aftersales`` command line.

Every option has an ``AFTERSALES_*`` environment twin. Errors in policy files or
arguments are printed as one plain sentence naming what to fix, with exit code 2.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from aftersales.adapters.policy_files import load_policy_book
from aftersales.domain.errors import DomainError
from aftersales.domain.explain import Language, local_time
from aftersales.domain.ledger import balances
from aftersales.domain.policy import PolicyBook, _parse_duration

app = typer.Typer(
    no_args_is_help=True, help="After-sales commitments kept as SLA clocks, paid and explained."
)
policies_app = typer.Typer(no_args_is_help=True, help="Check and list the policy documents.")
calendar_app = typer.Typer(no_args_is_help=True, help="Ask the business calendars questions.")
app.add_typer(policies_app, name="policies")
app.add_typer(calendar_app, name="calendar")

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


def _book(dirs: list[Path] | None) -> PolicyBook:
    try:
        return load_policy_book(dirs or [])
    except DomainError as exc:
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
        parsed = _parse_duration(duration)
    except ValueError as exc:
        console.print(f"[red]--duration: {exc}[/red]")
        raise typer.Exit(2) from exc
    if not isinstance(parsed, timedelta):
        console.print(
            f"[red]--duration {duration!r} is not a duration such as 1h, 48h or 30d[/red]"
        )
        raise typer.Exit(2)
    calendar = book.calendar(name)
    tz = str(calendar.timezone)
    try:
        due = calendar.add(at, parsed)
    except DomainError as exc:
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


def main() -> None:
    try:
        app()
    except DomainError as exc:  # anything the domain refuses reaches the user as one sentence
        console.print(f"[red]error:[/red] {exc}")
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()
