"""The ``sandbox`` group: sandboxes with their own test clocks, created, listed, moved forward."""

from __future__ import annotations

from typing import Annotated

import typer

from aftersales.entrypoints.cli.common import (
    DatabaseUrl,
    DataDir,
    PolicyDirs,
    console,
    duration,
    instant,
    open_container,
)

app = typer.Typer(no_args_is_help=True, help="Sandboxes with their own test clocks.")


@app.command("create")
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
    from aftersales.services.sandboxes import create_sandbox

    container = open_container(data_dir, database_url, None)
    at = instant(start, "--start") if start else None
    if demo_data:
        sandbox = container.seed_sandbox_with_demo(container.services, sandbox_id, start=at)
    else:
        sandbox = create_sandbox(container.services, sandbox_id=sandbox_id, start=at)
    console.print(f"sandbox {sandbox.id} at {sandbox.now.isoformat()}")


@app.command("advance")
def sandbox_advance(
    sandbox_id: Annotated[str, typer.Argument()],
    by: Annotated[str, typer.Option(help="How far, e.g. 61m, 48h, 30d.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    policy_dir: PolicyDirs = None,
) -> None:
    """Move a sandbox clock forward; deadlines passed on the way fall due and pay out."""
    from aftersales.services.sandboxes import advance_sandbox

    delta = duration("--by", by)
    container = open_container(data_dir, database_url, policy_dir)
    with console.status(f"advancing sandbox '{sandbox_id}' by {by}, handling what falls due…"):
        sandbox, report = advance_sandbox(
            container.services, sandbox_id, by=delta, real_now=container.clock.now()
        )
    console.print(
        f"sandbox {sandbox.id} now {sandbox.now.isoformat()}: {report.cases} cases handled, {report.payouts} payouts"
    )
    for key in report.payout_keys:
        console.print(f"  paid {key}")


@app.command("list")
def sandbox_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    from aftersales.services.sandboxes import list_sandboxes

    container = open_container(data_dir, database_url, None)
    for sandbox in list_sandboxes(container.services):
        console.print(f"{sandbox.id}\t{sandbox.now.isoformat()}\t{sandbox.name}")
