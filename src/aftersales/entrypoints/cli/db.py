"""The ``db`` group: the database schema (``db upgrade`` applies the migrations), and
backups (``db backup PATH``, ``db restore PATH``; docs/operations.md says how), and
retention (``db retention --keep 90d``: old audit entries, events and deliveries)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aftersales.entrypoints.cli.common import DatabaseUrl, DataDir, console
from aftersales.errors import AftersalesError

app = typer.Typer(no_args_is_help=True, help="Database schema and backups.")


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


@app.command("backup")
def db_backup(
    path: Annotated[Path, typer.Argument(help="The new file to write; never overwritten.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Back the database up while the service runs (SQLite's online backup; pg_dump -Fc)."""
    from aftersales.bootstrap import backup_database
    from aftersales.settings import load_settings

    try:
        size = backup_database(load_settings(data_dir=data_dir, database_url=database_url), path)
    except AftersalesError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"[green]backed up to {path} ({size:,} bytes)[/green]")


@app.command("restore")
def db_restore(
    path: Annotated[Path, typer.Argument(help="A file made by `aftersales db backup`.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Restore even while other processes have the database open."),
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Replace the database's contents with a backup (stop serve and the workers first)."""
    from aftersales.bootstrap import restore_database
    from aftersales.settings import load_settings

    try:
        settings = load_settings(data_dir=data_dir, database_url=database_url)
        restore_database(settings, path, force=force)
    except AftersalesError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(
        f"[green]restored from {path}[/green]; run `aftersales db upgrade` if the backup "
        "is from an earlier release"
    )


@app.command("retention")
def db_retention(
    keep: Annotated[
        str, typer.Option("--keep", help="How long to keep rows, in days, e.g. 90d.")
    ] = "90d",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Delete audit entries, events, webhook deliveries and clocks older than --keep, by month.

    Never what an open case, a pending delivery or the ledger needs; safe while the
    service runs (small transactions) and to run again.
    """
    from aftersales.bootstrap import retain_database
    from aftersales.settings import load_settings

    try:
        settings = load_settings(data_dir=data_dir, database_url=database_url)
        report = retain_database(settings, keep=keep, dry_run=dry_run)
    except AftersalesError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    verb = "would delete" if report.dry_run else "deleted"
    console.print(f"rows older than {report.cutoff:%Y-%m-%d %H:%M} UTC:")
    if not report.deleted:
        console.print("  nothing to delete")
    for table, months in report.deleted.items():
        by_month = ", ".join(f"{month}: {n:,}" for month, n in months.items())
        console.print(f"  {table}: {verb} {sum(months.values()):,} ({by_month})")
