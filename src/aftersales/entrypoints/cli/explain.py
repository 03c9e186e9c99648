"""Explanations on demand: ``case explain`` (every decision of a stored case, with its rule)
and ``calendar explain`` (when a duration counted on a business calendar falls due)."""

from __future__ import annotations

from typing import Annotated

import typer

from aftersales.domain.cases import Case
from aftersales.domain.explain import Language, local_time
from aftersales.domain.policy import PolicyBook
from aftersales.entrypoints.cli.common import (
    DatabaseUrl,
    DataDir,
    Lang,
    PolicyDirs,
    console,
    duration,
    instant,
    languages,
    load_book,
    open_container,
)
from aftersales.errors import AftersalesError

case_app = typer.Typer(no_args_is_help=True, help="Look at cases.")
calendar_app = typer.Typer(no_args_is_help=True, help="Ask the business calendars questions.")


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

    container = open_container(data_dir, database_url, policy_dir)
    chosen = languages(lang)
    print_case(get_case(container.services, case_id), container.book, chosen)
    container.close()


def print_case(case: Case, book: PolicyBook, chosen: tuple[Language, ...]) -> None:
    """A case's state, then each decision in ``chosen`` languages, then its payouts."""
    policy = case.policy(book)
    zh, en = case.lifecycle.states[case.state]
    console.rule(f"[bold]{case.id}[/bold] {policy.name.zh} / {policy.name.en} · {zh} / {en}")
    for decision in case.decisions:
        when = local_time(decision.at, policy.timezone)
        for language in chosen:
            console.print(
                f"[dim]{when}[/dim] [cyan]{decision.reason.rule}[/cyan] {decision.reason.render(language)}"
            )
    for payout in case.payouts:
        console.print(
            f"[green]paid[/green] {payout.amount.text_en()} {payout.payer} -> {payout.payee} ({payout.rule})"
        )


@calendar_app.command("explain")
def calendar_explain(
    name: Annotated[str, typer.Argument(help="Calendar name, e.g. cn-business.")],
    start: Annotated[
        str, typer.Option(help="Start instant with offset, e.g. 2026-09-30T14:00+08:00.")
    ],
    duration_text: Annotated[
        str, typer.Option("--duration", help="Duration such as 1h, 48h or 30d.")
    ] = "8h",
    policy_dir: PolicyDirs = None,
) -> None:
    """Show when a duration counted on a calendar falls due, and the open time it uses."""
    book = load_book(policy_dir)
    if name not in book.calendars:
        console.print(
            f"[red]no calendar {name!r}; known: {', '.join(sorted(book.calendars))}[/red]"
        )
        raise typer.Exit(2)
    at = instant(start, "--start")
    length = duration("--duration", duration_text)
    calendar = book.calendar(name)
    tz = str(calendar.timezone)
    try:
        due = calendar.add(at, length)
    except AftersalesError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"{calendar.display_zh} / {calendar.display_en}")
    console.print(
        f"start {local_time(at, tz)} + {duration_text} of open time -> due [bold]{local_time(due, tz)}[/bold]"
    )
    intervals = list(calendar.open_intervals(at, due))
    for begin, end in intervals[:20]:
        console.print(f"  open {local_time(begin, tz)} -> {local_time(end, tz)}")
    if len(intervals) > 20:
        console.print(f"  … and {len(intervals) - 20} more open intervals")
