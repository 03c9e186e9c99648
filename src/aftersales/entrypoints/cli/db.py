"""The ``db`` group: the database schema (``db upgrade`` applies the migrations)."""

from __future__ import annotations

import typer

from aftersales.entrypoints.cli.common import DatabaseUrl, DataDir, console
from aftersales.errors import AftersalesError

app = typer.Typer(no_args_is_help=True, help="Database schema.")


@app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply the database migrations (the embedded SQLite default also does this at start-up)."""
    from aftersales.bootstrap import upgrade_database
    from aftersales.settings import load_settings

    try:
        revision = upgrade_database(load_settings(data_dir=data_dir, database_url=database_url))
        console.print(f"[green]database at revision {revision}[/green]")
    except AftersalesError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
