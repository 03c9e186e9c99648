"""What the command groups share: the console, the options with their environment twins,
and how settings, policies, languages, instants and durations are read from arguments.

Every problem is printed as one plain sentence naming what to fix, with exit code 2.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from aftersales.bootstrap import Container, load_policies
from aftersales.domain.durations import duration_from_text
from aftersales.domain.explain import Language
from aftersales.domain.instants import in_range
from aftersales.domain.policy import PolicyBook
from aftersales.errors import AftersalesError

console = Console(soft_wrap=True)  # sentences stay whole when piped or copied

PolicyDirs = Annotated[
    list[Path] | None,
    typer.Option(
        "--policy-dir",
        envvar="AFTERSALES_POLICY_DIRS",
        help="Extra policy directory; its files replace shipped files of the same name.",
    ),
]
Lang = Annotated[str, typer.Option("--lang", envvar="AFTERSALES_LANG", help="zh, en or both.")]
LogFormat = Annotated[
    str,
    typer.Option(
        "--log-format",
        envvar="AFTERSALES_LOG_FORMAT",
        help="json (one object per line, for log collectors) or text.",
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="AFTERSALES_DATA_DIR",
        help="Where the SQLite file and attachments live.",
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="AFTERSALES_DATABASE_URL",
        help="postgresql://… or sqlite:///…; default SQLite.",
    ),
]


def open_container(
    data_dir: Path | None, database_url: str | None, policy_dirs: list[Path] | None, **more: object
) -> Container:
    """Settings from the options (over ``AFTERSALES_*``), wired together; exit 2 if unusable."""
    from aftersales.bootstrap import bootstrap
    from aftersales.settings import load_settings

    try:
        settings = load_settings(
            data_dir=data_dir, database_url=database_url, policy_dirs=policy_dirs or None, **more
        )
        return bootstrap(settings)
    except AftersalesError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def warn_about_server(container: Container) -> None:
    """Log what the database server's settings mean for the service, if anything (at start)."""
    import logging

    for line in container.server_advice():
        logging.getLogger("aftersales.startup").warning(line)


def settle_startup_objects() -> None:
    """Move everything made while starting (modules, policies, the address tables) out of
    the garbage collector's sight.

    A long-running command makes and frees many short-lived objects; each full
    collection would otherwise walk the tens of thousands of objects that live for
    the whole process. ``gc.freeze`` leaves them to reference counting only (they
    are never freed anyway), so collections cost what the current work made.
    """
    import gc

    gc.collect()
    gc.freeze()


def load_book(dirs: list[Path] | None) -> PolicyBook:
    """The shipped policies with ``dirs`` on top; exit 2 naming the first problem."""
    try:
        return load_policies(dirs)
    except AftersalesError as exc:
        console.print(f"[red]policy error:[/red] {exc}")
        raise typer.Exit(2) from exc


def languages(lang: str) -> tuple[Language, ...]:
    """``--lang`` as the languages to print: zh, en, or both."""
    if lang == "zh":
        return ("zh",)
    if lang == "en":
        return ("en",)
    if lang == "both":
        return ("zh", "en")
    console.print(f"[red]--lang must be zh, en or both, not {lang!r}[/red]")
    raise typer.Exit(2)


def instant(text: str, option: str = "the time") -> datetime:
    """An ISO date-time with a UTC offset, so it names one instant; exit 2 saying what to fix."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        console.print(
            f"[red]{option} {text!r} is not an ISO date-time such as 2026-11-24T09:00+08:00[/red]"
        )
        raise typer.Exit(2) from exc
    if at.tzinfo is None:
        console.print(
            f"[red]{option} needs a UTC offset, e.g. +08:00, so it names one instant[/red]"
        )
        raise typer.Exit(2)
    try:
        return in_range(at)
    except ValueError as exc:
        console.print(f"[red]{option}: {exc}[/red]")
        raise typer.Exit(2) from exc


def duration(option: str, text: str) -> timedelta:
    """``text`` given for ``option`` as a duration (61m, 48h, 30d, PT1H)."""
    try:
        return duration_from_text(text)
    except ValueError as exc:
        console.print(f"[red]{option}: {exc}[/red]")
        raise typer.Exit(2) from exc
