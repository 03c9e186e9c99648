"""Backing up the database to a file, and restoring it from one.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies a
consistent snapshot while the service keeps running. Restoring copies the
backup back into the database file with the same API, holding the database
exclusively, so no process ever reads a half-copied file; it is refused while
another process has the database open (a running ``serve`` or ``worker``) unless
forced.

PostgreSQL: ``pg_dump --format=custom`` for the backup and ``pg_restore --clean
--if-exists --single-transaction`` into the configured database for the restore
(the client tools must be installed, of the server's major version or newer).
The restore is one transaction: it fails as a whole or replaces every table the
backup holds. It is refused while other sessions are connected unless forced.

Either way the backup is written beside its path under a temporary name and
renamed into place when complete, so a failed backup leaves no file, and an
existing file is never overwritten. Attachments live on disk beside the
database (``AFTERSALES_DATA_DIR``) and are copied with the usual file tools.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from aftersales.errors import ConfigurationError, Conflict, InvalidRequest

PG_DUMP_TIMEOUT_S = 6 * 3600


class BackupRefused(InvalidRequest):
    """The backup or restore cannot be done as asked; the message says what to change."""


class DatabaseInUse(Conflict):
    """Other processes have the database open; stop them, or force the restore."""


def backup(database_url: str, path: Path) -> int:
    """Write a backup of the database to ``path`` (which must not exist); its size in bytes."""
    url = make_url(database_url)
    path = path.expanduser().resolve()
    if path.exists():
        raise BackupRefused(f"{path} exists already; choose a new file name for the backup")
    if not path.parent.is_dir():
        raise BackupRefused(f"there is no folder {path.parent} to write the backup into")
    partial = path.with_name(f".{path.name}.partial")
    try:
        if url.get_backend_name() == "sqlite":
            _sqlite_backup(_sqlite_file(url), partial)
        else:
            _run(url, "pg_dump", "--format=custom", "--no-owner", f"--file={partial}", subject=path)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path.stat().st_size


def restore(database_url: str, path: Path, *, force: bool = False) -> None:
    """Replace the database's contents with the backup at ``path``."""
    url = make_url(database_url)
    path = path.expanduser().resolve()
    if not path.is_file():
        raise BackupRefused(f"there is no backup file {path}")
    if url.get_backend_name() == "sqlite":
        _sqlite_restore(path, _sqlite_file(url), force=force)
        return
    if not force:
        others = _pg_other_sessions(url)
        if others:
            raise DatabaseInUse(
                f"{others} other session(s) are connected to the database; stop the "
                "services using it (serve, worker) first, or restore with --force"
            )
    _run(
        url,
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--exit-on-error",
        str(path),
        subject=path,
    )


# ---------------------------------------------------------------- SQLite


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupRefused("an in-memory SQLite database has nothing to back up or restore")
    return Path(url.database).resolve()


def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupRefused(f"there is no database at {source} to back up")
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        dst.close()
        src.close()


def _sqlite_restore(backup_file: Path, database: Path, *, force: bool) -> None:
    try:
        src = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
        ok = src.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise BackupRefused(f"{backup_file} is not an SQLite backup: {exc}") from exc
    if not ok or "alembic_version" not in tables:
        src.close()
        raise BackupRefused(f"{backup_file} is not a backup of this service's database")
    dst = sqlite3.connect(database, timeout=0 if not force else 30, isolation_level=None)
    try:
        if not force:
            # Exclusive locking mode: the lock taken below is kept until the connection
            # closes, and it cannot be taken while any other connection has the
            # database open (in WAL mode, even an idle one).
            dst.execute("PRAGMA locking_mode=EXCLUSIVE")
            try:
                dst.execute("BEGIN EXCLUSIVE")
                dst.execute("SELECT count(*) FROM sqlite_master").fetchone()
                dst.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                raise DatabaseInUse(
                    f"another process has {database} open; stop the services using it "
                    "(serve, worker) first, or restore with --force"
                ) from exc
        src.backup(dst)
    finally:
        dst.close()
        src.close()


# ---------------------------------------------------------------- PostgreSQL


def _libpq(url: URL) -> str:
    """The URL as libpq reads it: no SQLAlchemy driver name, no password (that goes in
    ``PGPASSWORD``, where other users' ``ps`` cannot read it)."""
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _pg_other_sessions(url: URL) -> int:
    import psycopg

    with psycopg.connect(_libpq(url), password=url.password) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def _run(url: URL, tool: str, *args: str, subject: Path) -> None:
    program = shutil.which(tool)
    if program is None:
        raise ConfigurationError(
            f"{tool} is not installed; install the PostgreSQL client tools "
            "(e.g. apt-get install postgresql-client) of the server's version or newer"
        )
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    done = subprocess.run(
        [program, f"--dbname={_libpq(url)}", *args],
        capture_output=True,
        text=True,
        timeout=PG_DUMP_TIMEOUT_S,
        check=False,
        env=env,
    )
    if done.returncode != 0:
        why = done.stderr.strip() or done.stdout.strip()
        raise BackupRefused(f"{tool} failed on {subject}, nothing changed: {why}")
