"""``aftersales reconcile PATH``: a marketplace's full export held against what is stored.

Reports what is missing, different and extra (exit 1 when anything is), and with
``--apply`` puts it right: missing and different records are loaded, extra ones
deactivated. See :mod:`aftersales.services.reconcile`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aftersales.entrypoints.cli.common import (
    DatabaseUrl,
    DataDir,
    PolicyDirs,
    console,
    open_container,
)
from aftersales.errors import AftersalesError

if TYPE_CHECKING:
    from aftersales.services.reconcile import ReconcileReport

SHOWN = 20  # ids listed per line; the counts say the rest


def reconcile(
    path: Annotated[
        Path,
        typer.Argument(
            help="A full export: NDJSON (one record a line, each naming its kind, orders with "
            "their items nested) or CSV of one flat kind (brands, merchants, buyers, products)."
        ),
    ],
    kind: Annotated[
        str | None,
        typer.Option(
            help="The kind every record is (product, order, …); default: from the file name "
            "(CSV) or each line's kind field (NDJSON)."
        ),
    ] = None,
    sandbox: Annotated[
        str | None, typer.Option(help="Reconcile a sandbox's own records instead of live data.")
    ] = None,
    apply: Annotated[
        bool,
        typer.Option(
            "--apply",
            help="Load what is missing or different and deactivate what is extra; without it "
            "nothing is changed.",
        ),
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    policy_dir: PolicyDirs = None,
) -> None:
    """Compare a full export with what is stored; --apply makes what is stored agree."""
    from aftersales.bootstrap import read_record_file
    from aftersales.services import master_data
    from aftersales.services import reconcile as rec

    if path.suffix.lower() == ".csv" and _names_orders(path, kind):
        kind = "order_items"  # one row per item, with its order's columns (as imports read it)
    container = open_container(data_dir, database_url, policy_dir)
    try:
        world = master_data.world_of(container.services, sandbox)
        file_kind, rows = read_record_file(path, kind=kind, kinds=rec.FILE_KINDS)
        report = rec.reconcile(
            container.services,
            rows,
            world=world,
            kinds=[file_kind] if file_kind else None,
            apply=apply,
        )
    except AftersalesError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    finally:
        container.close()
    _print(report, path, world.sandbox)
    kept = any(k.extra and k.extra_kept for k in report.kinds.values())
    if report.refused or kept or (report.drift and not apply):
        raise typer.Exit(1)


def _names_orders(path: Path, kind: str | None) -> bool:
    name = (kind or path.stem).lower()
    return name.startswith("order")


def _print(report: ReconcileReport, path: Path, sandbox: str) -> None:
    where = "live data" if sandbox == "live" else f"sandbox {sandbox}"
    mode = "applied" if report.applied else "report only: nothing changed; --apply puts it right"
    console.print(f"{path.name} against {where} ({mode})")
    for kind, k in report.kinds.items():
        console.print(
            f"{kind:<9} in file {k.in_file}  same {k.same}  missing {len(k.missing)}  "
            f"different {len(k.different)}  extra {len(k.extra)}  stale {len(k.stale)}  "
            f"refused {len(k.refused)}"
        )
        for label, ids in (
            ("missing", k.missing),
            ("different", k.different),
            ("extra", k.extra),
            ("stale", k.stale),
        ):
            if ids:
                more = f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else ""
                console.print(f"  {label:<9} {', '.join(ids[:SHOWN])}{more}")
        if k.extra and k.extra_kept:
            console.print(f"  [yellow]extra {k.extra_kept}[/yellow]")
        for problem in k.refused:
            console.print(f"  [red]refused[/red]   {_at(problem.line)}{problem.message}")
    for problem in report.problems:
        console.print(f"[red]unreadable[/red] {_at(problem.line)}{problem.message}")
    drift = report.drift
    if not drift:
        console.print("[green]no drift: what is stored agrees with the file[/green]")
    elif report.applied:
        created = sum(len(k.missing) for k in report.kinds.values())
        updated = sum(len(k.different) for k in report.kinds.values())
        deactivated = sum(len(k.extra) for k in report.kinds.values() if not k.extra_kept)
        console.print(
            f"[green]{created + updated + deactivated} records put right: {created} created, "
            f"{updated} updated, {deactivated} deactivated[/green]"
        )
    else:
        console.print(
            f"[yellow]{drift} records differ; run again with --apply to put them right[/yellow]"
        )


def _at(line: int | None) -> str:
    return f"line {line}: " if line is not None else ""
