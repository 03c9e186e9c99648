"""The one place that wires settings, database, policies, clock and adapters together."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine

from aftersales.adapters.attachments import DiskAttachmentStore
from aftersales.adapters.db.engine import make_engine
from aftersales.adapters.db.uow import unit_of_work_factory
from aftersales.adapters.import_files import ImportFiles
from aftersales.adapters.policy_files import load_policy_book
from aftersales.domain.policy import PolicyBook
from aftersales.errors import AftersalesError, ConfigurationError, NotConfigured, NotSignedIn
from aftersales.services.base import Services
from aftersales.services.imports import FILE_KINDS, RowProblem, RowSource
from aftersales.services.ports import FileStore, Places
from aftersales.services.reconcile import FileProblem, FileRecord
from aftersales.services.records import Sandbox
from aftersales.services.time import Clock, SystemClock
from aftersales.services.token_cache import TokenCache
from aftersales.settings import Settings

if TYPE_CHECKING:
    from aftersales.adapters.db.retention import RetentionReport


class SeedSandbox(Protocol):
    """Create a sandbox holding its own copy of the demo's orders (ids prefixed ``<id>.``)."""

    def __call__(
        self, svc: Services, sandbox_id: str, *, start: datetime | None = None, name: str = ""
    ) -> Sandbox: ...


def _no_demo_data(
    svc: Services, sandbox_id: str, *, start: datetime | None = None, name: str = ""
) -> Sandbox:
    raise ConfigurationError(f"sandbox '{sandbox_id}': this process has no demo data to copy")


@dataclass
class Container:
    settings: Settings
    engine: Engine
    book: PolicyBook
    clock: Clock
    services: Services
    # Uploaded import files waiting for the worker, and the jobs' error reports.
    import_files: ImportFiles
    # The HTTP app reaches the demo data set only through this (the demo stays CLI-side).
    seed_sandbox_with_demo: SeedSandbox = field(default=_no_demo_data)

    def close(self) -> None:
        self.engine.dispose()

    def request_connections(self) -> int | None:
        """How many requests may hold a database connection at once in this process: the
        pool's steady size (its overflow is left for the worker threads and for the rare
        route that opens a second unit of work); None: no limit."""
        from aftersales.adapters.db.engine import steady_connections

        return steady_connections(self.engine)

    def server_advice(self) -> list[str]:
        """What the database server's settings undo of the service's guarantees or speed
        (autovacuum or fsync off on PostgreSQL), said at start-up; empty when nothing."""
        from aftersales.adapters.db.advice import server_advice

        return server_advice(self.engine)

    def not_ready(self) -> str | None:
        """Why the service cannot take requests yet (None: the database answers, schema at head)."""
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        from aftersales.adapters.db import migrate

        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                conn.commit()  # not a rollback, which would drop the driver's prepared statements
            current = migrate.is_up_to_date(self.engine)
        except (AftersalesError, SQLAlchemyError) as exc:
            return f"the database does not answer: {exc}"
        if not current:
            return (
                "the database schema is not at this release's revision; run `aftersales db upgrade`"
            )
        return None

    def check_event_signature(self, header: str, body: bytes) -> None:
        """Pass when ``header`` signs ``body`` with one of ``AFTERSALES_EVENTS_SECRETS``.

        Signed as our webhooks are (``t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{body}">``),
        within 300 s of now. NotConfigured when no secret is set; NotSignedIn
        saying what is wrong otherwise.
        """
        from aftersales.adapters.webhooks.signing import SIGNATURE_TOLERANCE_S, verify_signature

        secrets = self.settings.events_secrets
        if not secrets:
            raise NotConfigured(
                "signed events are not set up on this server: set AFTERSALES_EVENTS_SECRETS to "
                "the secret shared with the marketplace (comma-separated, two while rotating) "
                "and restart, or send an integration account's token as Authorization: Bearer …"
            )
        now = self.clock.now()
        if any(verify_signature(secret, header, body, now=now) for secret in secrets):
            return
        sent_at = _signature_time(header)
        if sent_at is None:
            raise NotSignedIn(
                "X-Aftersales-Signature must read t=<unix seconds>,v1=<hex HMAC-SHA256 of "
                "'<t>.<body>' keyed with the shared secret>"
            )
        off = int(now.timestamp()) - sent_at
        if abs(off) > SIGNATURE_TOLERANCE_S:
            raise NotSignedIn(
                f"the signature's time t={sent_at} is {abs(off)} s "
                f"{'old' if off > 0 else 'ahead of our clock'}; sign each request when it is "
                f"sent (at most {SIGNATURE_TOLERANCE_S} s apart) and check the sender's clock"
            )
        raise NotSignedIn(
            "the signature does not match the body with any configured secret: sign the raw "
            "body exactly as sent, as '<t>.<body>' with HMAC-SHA256, keyed with the shared secret"
        )

    def translate_taobao(self, message: Any) -> MarketplaceMessage:
        """One Taobao/Tmall TMC message as our event, or why it makes none (see docs/events.md)."""
        from aftersales.adapters import taobao

        try:
            made = taobao.translate(message)
        except taobao.TaobaoMessageError as exc:
            return MarketplaceMessage(
                exc.topic, exc.message_id, refused=str(exc), field_name=exc.field
            )
        if isinstance(made, taobao.Skipped):
            return MarketplaceMessage(made.topic, made.message_id, skipped=made.reason)
        given_id = message.get("id") if isinstance(message, dict) else None
        message_id = None if given_id in (None, "") else str(given_id).strip()
        return MarketplaceMessage(made.topic, message_id, event=made.as_json())


@dataclass(frozen=True)
class MarketplaceMessage:
    """A message in a marketplace's own format: the event made from it, or why none was."""

    topic: str
    message_id: str | None
    event: dict[str, Any] | None = None
    skipped: str = ""  # a topic we make no event from, and why
    refused: str = ""  # what is wrong with the message
    field_name: str | None = None  # the field that is wrong


def _signature_time(header: str) -> int | None:
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def sql_services(
    engine: Engine, book: PolicyBook, clock: Clock, files: FileStore | None = None
) -> Services:
    """Services whose units of work are SQL transactions on ``engine``."""
    return Services(
        uow=unit_of_work_factory(engine, book),
        book=book,
        clock=clock,
        files=files,
        places=_places(),
        tokens=TokenCache(),
    )


def _places() -> Places:
    """Addresses to areas: one per process (it remembers what it has resolved)."""
    global _PLACES
    if _PLACES is None:
        from aftersales.adapters.places import ChinaPlaces

        _PLACES = ChinaPlaces()
    return _PLACES


_PLACES: Places | None = None


def bootstrap(
    settings: Settings, *, clock: Clock | None = None, migrate: bool | None = None
) -> Container:
    """Build everything the entry points need.

    The embedded SQLite default is migrated at start-up; PostgreSQL is migrated
    explicitly (``aftersales db upgrade``) unless ``migrate=True`` is passed.
    """
    from aftersales.adapters.db import migrate as migrations

    engine = make_engine(settings.resolved_database_url, pool_size=settings.db_pool_size)
    if migrate or (migrate is None and settings.is_embedded):
        migrations.upgrade(engine)
    book = load_policy_book(settings.policy_dirs)
    clock = clock or SystemClock()
    files = DiskAttachmentStore(settings.attachments_dir, max_bytes=settings.attachment_max_bytes)
    services = sql_services(engine, book, clock, files)
    container = Container(
        settings=settings,
        engine=engine,
        book=book,
        clock=clock,
        services=services,
        import_files=ImportFiles(settings.imports_dir, max_bytes=settings.import_max_bytes),
    )
    container.seed_sandbox_with_demo = partial(_seed_with_demo, container)
    return container


def _seed_with_demo(
    container: Container,
    svc: Services,
    sandbox_id: str,
    *,
    start: datetime | None = None,
    name: str = "",
) -> Sandbox:
    """A sandbox with the demo's orders, made with ``svc`` (the request's unit of work).

    The demo package is imported here, on first use only.
    """
    from aftersales.demo.setup import create_demo_sandbox

    return create_demo_sandbox(container, sandbox_id, start=start, name=name, services=svc)


def load_policies(dirs: list[Path] | None = None) -> PolicyBook:
    """The shipped policies with ``dirs`` on top (PolicyError names the first problem)."""
    return load_policy_book(dirs or [])


def upgrade_database(settings: Settings) -> str:
    """Apply the migrations to the configured database; the revision it is at afterwards."""
    from aftersales.adapters.db import migrate

    engine = make_engine(settings.resolved_database_url)
    try:
        migrate.upgrade(engine)
        return migrate.current_revision(engine) or "base"
    finally:
        engine.dispose()


def backup_database(settings: Settings, path: Path) -> int:
    """Back the configured database up to the new file ``path``; its size in bytes."""
    from aftersales.adapters.db import backups

    return backups.backup(settings.resolved_database_url, path)


def retain_database(settings: Settings, *, keep: str, dry_run: bool = False) -> RetentionReport:
    """Thin the growing tables of the configured database to ``keep`` (``"90d"``)."""
    from aftersales.adapters.db import retention

    span = retention.parse_keep(keep)
    engine = make_engine(settings.resolved_database_url)
    try:
        return retention.retain(engine, keep=span, now=datetime.now(UTC), dry_run=dry_run)
    finally:
        engine.dispose()


def restore_database(settings: Settings, path: Path, *, force: bool = False) -> None:
    """Replace the configured database's contents with the backup at ``path``."""
    from aftersales.adapters.db import backups

    backups.restore(settings.resolved_database_url, path, force=force)


def read_record_file(
    path: Path, *, kind: str | None, kinds: Collection[str]
) -> tuple[str | None, Iterator[FileRecord | FileProblem]]:
    """The kind of an export or import file (CSV or NDJSON) and its rows, read as they stream.

    The kind is the one given, else a CSV file's name's (None for NDJSON, whose
    lines name their own). The file is opened at once (FileRefused now, naming
    what to fix, when the file as a whole cannot be read); rows and row
    problems come as iterated.
    """
    from aftersales.adapters.record_files import RawRecord, open_record_file

    opened = open_record_file(path, kind=kind, kinds=kinds)

    def rows() -> Iterator[FileRecord | FileProblem]:
        with opened:
            for row in opened:
                if isinstance(row, RawRecord):
                    yield FileRecord(row.kind, row.fields, row.line)
                else:
                    yield FileProblem(row.line, row.field, row.message)

    return opened.kind, rows()


def open_import_file(
    source: str | os.PathLike[str] | IO[bytes], *, name: str | None = None, kind: str | None = None
) -> RowSource:
    """An import file opened for reading (CSV or NDJSON, UTF-8 or GBK), for
    :func:`aftersales.services.imports.run_import`; InvalidRequest (its message in English
    and Chinese) when the file as a whole cannot be imported."""
    from aftersales.adapters.record_files import open_record_file

    return open_record_file(source, name=name, kind=kind, kinds=FILE_KINDS)


class ImportErrorFile:
    """An import's row problems written to a CSV file Excel opens as it is; the file is made
    at the first problem, under its final name only once :meth:`close` is called."""

    def __init__(self, path: Path) -> None:
        from aftersales.adapters.record_files import ErrorReport

        self._report = ErrorReport(path)
        self.path = path

    @property
    def count(self) -> int:
        return self._report.count

    def add(self, problem: RowProblem) -> None:
        from aftersales.adapters.record_files import RowError

        self._report.add(RowError(problem.file, problem.line, problem.field, problem.message))

    def close(self) -> Path | None:
        """The report's path, or None when there were no problems (and no file)."""
        return self._report.close()

    def discard(self) -> None:
        self._report.discard()
