"""Trying the platform out: ``sample`` plays the sample cases in memory and explains each
decision; ``demo`` loads the demo data set and plays a business day on a sandbox clock."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from aftersales.domain.explain import local_time
from aftersales.domain.ledger import balances
from aftersales.entrypoints.cli.common import (
    DatabaseUrl,
    DataDir,
    Lang,
    PolicyDirs,
    console,
    languages,
    load_book,
    open_container,
)


def sample(
    policy_dir: PolicyDirs = None,
    lang: Lang = "both",
    only: Annotated[str | None, typer.Option(help="Play one scenario by key.")] = None,
) -> None:
    """Play the sample cases and explain every decision, citing its rule."""
    from aftersales.entrypoints.sample import SCENARIOS

    book = load_book(policy_dir)
    chosen_languages = languages(lang)
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
        title = " / ".join(getattr(scenario, f"title_{lg}") for lg in chosen_languages)
        console.rule(f"[bold]{case.id}[/bold] {title}")
        for decision in case.decisions:
            when = local_time(decision.at, timezone)
            for language in chosen_languages:
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


def demo(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    policy_dir: PolicyDirs = None,
    lang: Lang = "both",
) -> None:
    """Load the demo data set and play a business day on a sandbox clock, printing what was paid."""
    from aftersales.demo.play import play_demo

    container = open_container(data_dir, database_url, policy_dir)
    play_demo(container, console, languages(lang))
    container.close()
