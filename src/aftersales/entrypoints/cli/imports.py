"""``aftersales import``: load master data from CSV and NDJSON files, with a progress bar.

Exit codes: 0 when every row was loaded (or found unchanged or stale), 1 when
some rows were refused (they are listed in the errors file), 2 when a file or
an argument is refused as a whole (then nothing is loaded).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from aftersales.entrypoints.cli.common import (
    DatabaseUrl,
    DataDir,
    PolicyDirs,
    console,
    open_container,
    settle_startup_objects,
)
from aftersales.errors import AftersalesError

if TYPE_CHECKING:
    from aftersales.bootstrap import Container
    from aftersales.services.imports import ImportReport
    from aftersales.worker.import_parts import FileToImport

KINDS_HELP = (
    "Import every file (or NDJSON line without a kind) as this kind: brands, merchants, "
    "buyers, products, providers, coverage, service_centres, order_items (or orders). "
    "Default: a CSV file's name says its kind (products.csv, order_items-2026-11.csv); "
    "an NDJSON line its 'kind' field."
)


def default_errors_path(first: Path) -> Path:
    """``products.csv`` → ``products.errors.csv`` beside it."""
    stem = first.name[: -len(first.suffix)] if first.suffix else first.name
    return first.with_name(f"{stem}.errors.csv")


def import_files(
    paths: Annotated[
        list[Path],
        typer.Argument(help="CSV (.csv) or NDJSON (.ndjson, .jsonl) files, loaded in this order."),
    ],
    kind: Annotated[str | None, typer.Option("--kind", help=KINDS_HELP)] = None,
    sandbox: Annotated[
        str | None,
        typer.Option("--sandbox", help="Load into this sandbox (test mode) instead of live data."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Check everything and say what would change; keep nothing."),
    ] = False,
    errors: Annotated[
        Path | None,
        typer.Option(
            "--errors",
            help="Where to write the rows that were refused (default: <first file>.errors.csv "
            "beside it); written only when there are some.",
        ),
    ] = None,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            help="Processes that load the files of orders side by side, each a part of the "
            "orders split by order id (PostgreSQL; other files are loaded first, in order).",
        ),
    ] = 1,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    policy_dir: PolicyDirs = None,
) -> None:
    """Load brands, shops, buyers, products, providers, coverage and orders from files."""
    from aftersales.bootstrap import ImportErrorFile
    from aftersales.services import imports
    from aftersales.services import master_data as md
    from aftersales.worker.import_parts import FileToImport

    if jobs < 1:
        console.print("[red]error:[/red] --jobs must be 1 or more")
        raise typer.Exit(2)
    container = open_container(data_dir, database_url, policy_dir)
    settle_startup_objects()
    try:
        md.world_of(container.services, sandbox)
    except AftersalesError as exc:
        console.print(f"[red]error:[/red] {exc}")
        container.close()
        raise typer.Exit(2) from exc
    if jobs > 1 and container.settings.is_embedded:
        console.print(
            "[yellow]notice:[/yellow] SQLite takes one writer at a time; "
            "importing with one process (--jobs pays off on PostgreSQL)"
        )
    errors_path = errors or default_errors_path(paths[0])
    error_file = ImportErrorFile(errors_path)
    report = imports.ImportReport(dry_run=dry_run, sink=error_file.add)
    started = time.monotonic()
    try:
        _run(
            container,
            [FileToImport(path, kind) for path in paths],
            report,
            jobs=jobs,
            sandbox=sandbox,
            dry_run=dry_run,
            started=started,
        )
    finally:
        written = error_file.close()
        container.close()
    for notice in report.notices:
        console.print(f"[yellow]notice:[/yellow] {notice}")
    for problem in report.errors:
        if problem.line == 0 and problem.file in report.refused_files:
            console.print(f"[red]refused:[/red] {problem.file}: {problem.message}")
    _print_report(report, time.monotonic() - started)
    if written is not None:
        console.print(f"{report.error_count:,} problems written to [bold]{written}[/bold]")
    elif errors_path.exists():  # the report of an earlier run of these files
        errors_path.unlink()
        console.print(f"no problems; removed the earlier report {errors_path}")
    if report.refused_files:
        console.print("[red]nothing was loaded[/red]: fix the refused files and run again")
        raise typer.Exit(2)
    raise typer.Exit(0 if report.clean else 1)


def _run(
    container: Container,
    files: list[FileToImport],
    report: ImportReport,
    *,
    jobs: int,
    sandbox: str | None,
    dry_run: bool,
    started: float,
) -> None:
    from aftersales.worker.import_parts import import_files

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("dry run" if dry_run else "importing", total=None, rows=0, rate="")

        def progress(rows: int, read: int, total: int | None) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            bar.update(
                task, completed=read, total=total, rows=rows, rate=f"{rows / elapsed:,.0f} rows/s"
            )

        import_files(
            container,
            files,
            report=report,
            jobs=jobs,
            sandbox=sandbox,
            dry_run=dry_run,
            progress=progress,
        )


def _print_report(report: ImportReport, seconds: float) -> None:
    from aftersales.services import imports
    from aftersales.services.master_records import PLURALS

    title = "dry run — nothing was kept" if report.dry_run else "import"
    table = Table("kind", *imports.RESULTS, title=title)
    for kind, counts in report.counts.items():
        table.add_row(PLURALS.get(kind, kind), *(f"{counts.get(r, 0):,}" for r in imports.RESULTS))
    totals = report.totals
    table.add_row("[bold]all[/bold]", *(f"[bold]{totals[r]:,}[/bold]" for r in imports.RESULTS))
    console.print(table)
    rate = report.rows_read / seconds if seconds > 0 else 0.0
    console.print(
        f"{report.rows_read:,} rows read in {seconds:,.1f} s ({rate:,.0f} rows/s); "
        f"{report.error_count:,} problems"
    )
