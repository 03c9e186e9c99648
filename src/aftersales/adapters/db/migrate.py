"""Schema migrations: apply them, ask where a database stands, draft new ones.

The Alembic environment lives inside the package (``aftersales/migrations``) and
is configured here in code, so ``aftersales db upgrade`` works from an installed
wheel with no ``alembic.ini``. Public API:

- :func:`upgrade` / :func:`downgrade`: move a database to a revision (default: head);
- :func:`current_revision`, :func:`is_up_to_date`: where a database stands;
- :func:`make_revision`: draft a new revision file for a developer (autogenerate);
- :func:`migration_options`: the ``context.configure`` options ``env.py`` uses.

Every failure leaves as :class:`~aftersales.adapters.db.engine.DatabaseConfigError`
with a sentence naming what to do.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from aftersales.adapters.db.engine import (
    DatabaseConfigError,
    end_transaction,
    make_engine,
    sqlite_url,
)
from aftersales.adapters.db.schema import metadata
from aftersales.adapters.db.types import UtcDateTime

__all__ = [
    "current_revision",
    "downgrade",
    "head_revision",
    "is_up_to_date",
    "make_revision",
    "migration_options",
    "migrations_dir",
    "upgrade",
]

# Any fixed 64-bit number will do: concurrent upgrades of one PostgreSQL database
# (two replicas starting together) queue on this transaction-scoped advisory lock.
PG_MIGRATION_LOCK_KEY = 0x6166_7465_7273  # ASCII "afters"

_TYPES_MODULE = UtcDateTime.__module__


def migrations_dir() -> Path:
    """The ``aftersales/migrations`` directory of the installed package."""
    path = Path(str(files("aftersales.migrations")))
    if not (path / "env.py").is_file():
        raise DatabaseConfigError(
            f"the Alembic environment is missing from {path}; reinstall aftersales "
            "from a wheel or source tree (it must not be imported from a zip file)"
        )
    return path


def _config(connection: Connection | None = None, *, extra_versions: Path | None = None) -> Config:
    cfg = Config()
    # Config values go through configparser interpolation: a literal % is written %%.
    cfg.set_main_option("script_location", str(migrations_dir()).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if extra_versions is not None:
        locations = os.pathsep.join([str(migrations_dir() / "versions"), str(extra_versions)])
        cfg.set_main_option("version_locations", locations.replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Alembic would spell our TypeDecorator with the impl's arguments
    # (``UtcDateTime(timezone=True)``); the type takes none, and needs its import.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        autogen_context.imports.add(f"import {_TYPES_MODULE}")
        return f"{_TYPES_MODULE}.UtcDateTime()"
    return False


def _sqlite_literal(rendered: str | None) -> str | None:
    if rendered is None:
        return None
    text_ = rendered.strip()
    while text_.startswith("(") and text_.endswith(")"):
        text_ = text_[1:-1].strip()
    if len(text_) >= 2 and text_[0] == text_[-1] == "'":
        return text_[1:-1].replace("''", "'")
    return text_


def _compare_server_default(
    context: MigrationContext,
    inspected_column: Any,
    metadata_column: Any,
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    # SQLite reflects ``DEFAULT ''`` as the text "''" and Alembic's SQLite
    # normaliser only unquotes non-empty strings, so every empty-string default
    # would show up as a change in every autogenerate run. Compare the literal
    # values ourselves there; anything else goes to Alembic's own comparison.
    if context.dialect.name == "sqlite":
        inspected = _sqlite_literal(inspected_default)
        if inspected == "" and inspected == _sqlite_literal(rendered_metadata_default):
            return False
    return None


def migration_options(dialect_name: str) -> dict[str, Any]:
    """Options for ``context.configure`` (used by ``env.py`` and by the tests)."""
    return {
        "target_metadata": metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        "render_as_batch": dialect_name == "sqlite",
        "compare_type": True,
        "compare_server_default": _compare_server_default,
        "render_item": _render_item,
    }


# ---------------------------------------------------------------- running


def _describe(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


@contextmanager
def _engine(engine_or_url: Engine | str) -> Iterator[Engine]:
    if isinstance(engine_or_url, Engine):
        yield engine_or_url
        return
    engine = make_engine(engine_or_url, pool_size=1)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _translated(engine: Engine) -> Iterator[None]:
    """Turn driver and Alembic failures into one actionable DatabaseConfigError."""
    where = _describe(engine)
    try:
        yield
    except DatabaseConfigError:
        raise
    except CommandError as exc:
        raise DatabaseConfigError(
            f"cannot migrate the database at {where}: {exc}. If the database was "
            "migrated by a newer aftersales, upgrade aftersales; otherwise check the "
            "revision asked for (see `alembic history` or docs/database.md)"
        ) from exc
    except DBAPIError as exc:
        detail = str(exc.orig).strip() or type(exc.orig).__name__
        raise DatabaseConfigError(
            f"database error at {where}: {detail}. Check AFTERSALES_DATABASE_URL, "
            "that the server is running and that the user may create tables"
        ) from exc


@contextmanager
def _connection(engine: Engine) -> Iterator[Connection]:
    try:
        connection = engine.connect()
    except DBAPIError as exc:
        detail = str(exc.orig).strip() or type(exc.orig).__name__
        raise DatabaseConfigError(
            f"cannot connect to the database at {_describe(engine)}: {detail}. "
            "Check AFTERSALES_DATABASE_URL and that the server is running"
        ) from exc
    with connection:
        yield connection


def _set_sqlite_foreign_keys(connection: Connection, enabled: bool) -> None:
    # Straight to the driver: through SQLAlchemy the statement would open a
    # transaction first, and inside one SQLite ignores this pragma.
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")
    finally:
        cursor.close()


def _migrate(engine: Engine, action: Callable[[Config], None]) -> None:
    """Run an Alembic command inside one transaction on one connection."""
    with _translated(engine), _connection(engine) as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration rebuilds a table (copy, drop, rename); with foreign
            # keys enforced the drop would cascade or fail. Switch them off for
            # the run and verify every reference before committing instead.
            _set_sqlite_foreign_keys(connection, False)
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK_KEY}
                    )
                action(_config(connection))
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise DatabaseConfigError(
                            f"migration left {len(broken)} broken foreign key(s) in "
                            f"{_describe(engine)} (first: {tuple(broken[0])}); nothing was "
                            "changed. Fix the revision's data steps and run it again"
                        )
        finally:
            if sqlite:
                _set_sqlite_foreign_keys(connection, True)


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Migrate a database up to ``revision``; already there is fine (idempotent).

    On PostgreSQL the whole run is one transaction holding an advisory lock, so
    concurrent callers queue and the second finds nothing to do; on SQLite the
    engine's ``BEGIN IMMEDIATE`` does the same.
    """
    with _engine(engine_or_url) as engine:
        _migrate(engine, lambda cfg: command.upgrade(cfg, revision))


def downgrade(engine_or_url: Engine | str, revision: str) -> None:
    """Migrate a database down to ``revision`` (``"base"`` drops every table)."""
    with _engine(engine_or_url) as engine:
        _migrate(engine, lambda cfg: command.downgrade(cfg, revision))


def head_revision() -> str:
    """The newest revision this code knows."""
    heads = ScriptDirectory.from_config(_config()).get_heads()
    if len(heads) != 1:
        raise DatabaseConfigError(
            f"the migrations have {len(heads)} heads ({', '.join(heads) or 'none'}); "
            "a developer must merge them (`alembic merge`) before release"
        )
    return heads[0]


def _current_heads(engine: Engine) -> tuple[str, ...]:
    with _translated(engine), _connection(engine) as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
        end_transaction(connection, failed=False)  # a read: keeps prepared statements
    return heads


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; ``None`` for a database never migrated."""
    heads = _current_heads(engine)
    if len(heads) > 1:
        raise DatabaseConfigError(
            f"the database at {_describe(engine)} is at several revisions at once "
            f"({', '.join(heads)}); run `aftersales db upgrade`"
        )
    return heads[0] if heads else None


def is_up_to_date(engine: Engine) -> bool:
    """True when the database is exactly at this code's head revision."""
    return set(_current_heads(engine)) == {head_revision()}


# ---------------------------------------------------------------- drafting


def _next_revision_id(script: ScriptDirectory) -> str:
    numbers = [int(rev.revision) for rev in script.walk_revisions() if rev.revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def _add_format_hooks(cfg: Config) -> None:
    # Drafts come out formatted like the rest of the code, when ruff is installed.
    if importlib.util.find_spec("ruff") is None:
        return
    cfg.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
    cfg.set_section_option("post_write_hooks", "ruff_fix.type", "module")
    cfg.set_section_option("post_write_hooks", "ruff_fix.module", "ruff")
    cfg.set_section_option(
        "post_write_hooks", "ruff_fix.options", "check --fix --quiet REVISION_SCRIPT_FILENAME"
    )
    cfg.set_section_option("post_write_hooks", "ruff_format.type", "module")
    cfg.set_section_option("post_write_hooks", "ruff_format.module", "ruff")
    cfg.set_section_option(
        "post_write_hooks", "ruff_format.options", "format --quiet REVISION_SCRIPT_FILENAME"
    )


def make_revision(
    message: str, *, autogenerate: bool = True, versions_dir: Path | None = None
) -> Path:
    """Draft a new revision file and return its path: for developers, not at run time.

    Autogenerate compares ``schema.metadata`` with a scratch SQLite database
    migrated to head, so the draft holds exactly what the models changed. Read
    it before committing: Alembic cannot see renames, data moves or
    PostgreSQL-only details. The file goes to ``aftersales/migrations/versions``
    (so use an editable install) unless ``versions_dir`` says otherwise.
    """
    if not re.search(r"[A-Za-z0-9]", message):
        raise DatabaseConfigError("a revision needs a message, e.g. 'add case priority'")
    target = versions_dir if versions_dir is not None else migrations_dir() / "versions"
    if not os.access(target, os.W_OK):
        raise DatabaseConfigError(
            f"cannot write a revision into {target}: use an editable install "
            "(pip install -e .) or pass versions_dir"
        )
    with tempfile.TemporaryDirectory(prefix="aftersales-revision-") as scratch:
        engine = make_engine(sqlite_url(Path(scratch)))
        try:
            upgrade(engine)
            with _translated(engine), _connection(engine) as connection:
                cfg = _config(connection, extra_versions=versions_dir)
                _add_format_hooks(cfg)
                rev_id = _next_revision_id(ScriptDirectory.from_config(cfg))
                written = command.revision(
                    cfg,
                    message=message,
                    autogenerate=autogenerate,
                    rev_id=rev_id,
                    version_path=str(target),
                )
                connection.rollback()
        finally:
            engine.dispose()
    scripts = written if isinstance(written, list) else [written]
    paths = [Path(s.path) for s in scripts if isinstance(s, Script)]
    if len(paths) != 1:
        raise DatabaseConfigError(f"Alembic wrote {len(paths)} revision files, expected one")
    return paths[0]
