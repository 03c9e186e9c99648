"""The ``policies`` group: check the policy documents, and list the programme versions."""

from __future__ import annotations

import typer
from rich.table import Table

from aftersales.domain.explain import local_time
from aftersales.entrypoints.cli.common import PolicyDirs, console, load_book

app = typer.Typer(no_args_is_help=True, help="Check and list the policy documents.")


@app.command("check")
def policies_check(policy_dir: PolicyDirs = None) -> None:
    """Load and cross-check every policy document; exit 2 naming the first problem."""
    book = load_book(policy_dir)
    console.print(
        f"[green]ok[/green]: {len(book.programmes)} programme versions, "
        f"{len(book.service_standards.standards)} service standards, "
        f"{len(book.catalog.categories)} categories, {len(book.calendars)} calendars"
    )


@app.command("list")
def policies_list(policy_dir: PolicyDirs = None) -> None:
    """List programme versions with their effective dates and clocks."""
    book = load_book(policy_dir)
    table = Table("id", "programme", "from", "until", "clocks")
    for policy in book.programmes:
        clocks = ", ".join(f"{c.id} {c.rule} {c.duration or c.due}" for c in policy.clocks)
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
