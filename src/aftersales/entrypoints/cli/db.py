"""The ``db`` group: the database schema (``db upgrade`` applies the migrations)."""

from __future__ import annotations

import typer

from aftersales.entrypoints.cli.common import DatabaseUrl, DataDir, console
from aftersales.errors import AftersalesError

app = typer.Typer(no_args_is_help=True, help="Database schema.")


@app.command("upgrade")
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
