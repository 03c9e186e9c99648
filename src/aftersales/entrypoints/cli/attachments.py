"""The ``attachments`` group: ``sweep`` removes files a crash left behind.

Uploads are written in the transaction that records them and removed when it
fails, but a process killed at the wrong moment can leave a staged file or a
stored file no row points at. The worker sweeps once an hour; this command does
it now and says what it removed.
"""

from __future__ import annotations

from typing import Annotated

import typer

from aftersales.entrypoints.cli.common import (
    DatabaseUrl,
    DataDir,
    console,
    duration,
    open_container,
)

app = typer.Typer(no_args_is_help=True, help="Photos and files kept for cases.")


@app.command("sweep")
def sweep(
    older_than: Annotated[
        str,
        typer.Option(
            help="Only files last written longer ago than this (e.g. 24h, 30d); younger ones "
            "may belong to a request still being answered."
        ),
    ] = "24h",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Remove staged files and stored files no attachment points at; print what went."""
    from aftersales.services.attachments import sweep_files

    age = duration("--older-than", older_than)
    if age.total_seconds() < 3600:
        console.print(
            "[red]--older-than: give at least 1h, so no upload in progress is taken[/red]"
        )
        raise typer.Exit(2)
    container = open_container(data_dir, database_url, None)
    try:
        swept = sweep_files(container.services, older_than_s=age.total_seconds())
    finally:
        container.close()
    console.print(
        f"removed {swept.staged} staged and {swept.orphans} unreferenced files "
        f"({swept.bytes:,} bytes); {swept.kept} kept"
    )
