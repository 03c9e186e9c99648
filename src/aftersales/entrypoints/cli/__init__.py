"""The ``aftersales`` command line (Typer): the root app and ``main``, its entry point.

Each command group lives in its own module: ``serve`` (serve, worker), ``db``,
``demo`` (demo, sample), ``imports`` (import), ``accounts``, ``sandbox``,
``policies``, ``attachments`` (sweep), ``explain`` (case and calendar explanations) and ``reconcile`` (a
full export against what is stored); ``common`` holds the console and the
options. Every option has an ``AFTERSALES_*`` environment twin. Errors in policy
files or arguments are printed as one plain sentence naming what to fix, with
exit code 2.
"""

from __future__ import annotations

import shutil

import typer

from aftersales.entrypoints.cli import (
    accounts,
    attachments,
    db,
    demo,
    explain,
    imports,
    policies,
    reconcile,
    sandbox,
    serve,
)
from aftersales.entrypoints.cli.common import console
from aftersales.errors import AftersalesError

app = typer.Typer(
    no_args_is_help=True, help="After-sales commitments kept as SLA clocks, paid and explained."
)


@app.callback()
def _each_run() -> None:
    # The console's width is the terminal's (or COLUMNS) when the command runs, not when
    # the module was first imported: one process may run many commands (tests, a shell).
    console.size = shutil.get_terminal_size()


app.command()(demo.sample)
app.command()(serve.worker)
app.command()(serve.serve)
app.command()(demo.demo)
app.command()(reconcile.reconcile)
app.command("import")(imports.import_files)
app.add_typer(policies.app, name="policies")
app.add_typer(explain.calendar_app, name="calendar")
app.add_typer(db.app, name="db")
app.add_typer(explain.case_app, name="case")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(accounts.app, name="accounts")
app.add_typer(attachments.app, name="attachments")


def main() -> None:
    try:
        app()
    except AftersalesError as exc:  # anything the domain refuses reaches the user as one sentence
        console.print(f"[red]error:[/red] {exc}")
        raise SystemExit(2) from exc
