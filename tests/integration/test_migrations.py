"""Migrations against real databases: SQLite always, PostgreSQL when configured.

The schema module is the contract; these tests hold the Alembic revisions to it
and check the storage promises the rest of the code leans on (aware UTC
instants that sort in time order, naive datetimes refused, SQLite pragmas).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    UniqueConstraint,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, StatementError

import aftersales
from aftersales.adapters.db.engine import DatabaseConfigError, make_engine, sqlite_url
from aftersales.adapters.db.migrate import (
    current_revision,
    downgrade,
    head_revision,
    is_up_to_date,
    make_revision,
    migration_options,
    migrations_dir,
    upgrade,
)
from aftersales.adapters.db.schema import brands, metadata, sandboxes, service_centres
from tests.integration.pg import PgAdmin

SCHEMA_TABLES = set(metadata.tables)
CST = timezone(timedelta(hours=8))  # China Standard Time: where the cases happen


@pytest.fixture
def bare_engine(database_url: str) -> Iterator[Engine]:
    """An engine on the still-empty database: no migrations applied."""
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def _differences(engine: Engine, target: MetaData) -> list[Any]:
    with engine.connect() as connection:
        options = migration_options(connection.dialect.name)
        options.pop("target_metadata")
        context = MigrationContext.configure(connection, opts=options)
        return list(compare_metadata(context, target))


def _flatten(diffs: list[Any]) -> list[tuple[Any, ...]]:
    # compare_metadata nests column-level changes one list deeper than table-level ones.
    flat: list[tuple[Any, ...]] = []
    for diff in diffs:
        flat.extend(diff if isinstance(diff, list) else [diff])
    return flat


# ---------------------------------------------------------------- the schema is created


def test_upgrading_an_empty_database_creates_every_table(bare_engine: Engine) -> None:
    assert _tables(bare_engine) == set()

    upgrade(bare_engine)

    assert _tables(bare_engine) == SCHEMA_TABLES | {"alembic_version"}


def test_migrations_and_models_agree(engine: Engine) -> None:
    # Types, nullability, server defaults, indexes, unique constraints and foreign
    # keys. The one SQLite quirk (empty-string defaults) is handled in migrate.py
    # by a comparator, not ignored here, so autogenerate sees it the same way.
    assert _differences(engine, metadata) == []


def test_the_comparison_would_notice_a_drift(engine: Engine) -> None:
    # Guard against a vacuous "no differences": change a copy of the models and
    # the comparison must see the new column and the changed empty-string default.
    drifted = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["sandboxes"].append_column(Column("colour", Integer, nullable=True))
    drifted.tables["brands"].c.warranty_terms_zh.server_default = None

    found = set()
    for diff in _flatten(_differences(engine, drifted)):
        found.add((diff[0], diff[2], diff[3]) if diff[0] == "modify_default" else diff[:3])

    assert ("add_column", None, "sandboxes") in found
    assert ("modify_default", "brands", "warranty_terms_zh") in found


def test_names_follow_the_metadata_naming_convention(engine: Engine) -> None:
    inspector = inspect(engine)
    for name, table in metadata.tables.items():
        expected_indexes = {index.name for index in table.indexes}
        expected_uniques = {c.name for c in table.constraints if isinstance(c, UniqueConstraint)}
        expected_fks = {fk.name for fk in table.foreign_key_constraints}

        indexes = {
            index["name"]
            for index in inspector.get_indexes(name)
            if "duplicates_constraint" not in index  # PostgreSQL lists a UNIQUE's index too
        }
        uniques = {c["name"] for c in inspector.get_unique_constraints(name)}
        fks = {fk["name"] for fk in inspector.get_foreign_keys(name)}
        pk = inspector.get_pk_constraint(name)["name"]

        assert indexes == expected_indexes, name
        assert uniques == expected_uniques, name
        assert fks == expected_fks, name
        assert pk == f"pk_{name}", name


# ---------------------------------------------------------------- moving between revisions


def test_upgrade_is_idempotent_and_is_up_to_date_tells_the_truth(
    database_url: str, bare_engine: Engine
) -> None:
    assert current_revision(bare_engine) is None
    assert not is_up_to_date(bare_engine)

    upgrade(bare_engine)
    assert current_revision(bare_engine) == head_revision()
    assert is_up_to_date(bare_engine)

    upgrade(bare_engine)  # a second run finds nothing to do
    upgrade(database_url)  # and so does one given a URL
    assert current_revision(bare_engine) == head_revision()
    assert is_up_to_date(bare_engine)
    assert _tables(bare_engine) == SCHEMA_TABLES | {"alembic_version"}


def test_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    downgrade(engine, "base")

    assert _tables(engine) == {"alembic_version"}
    assert current_revision(engine) is None
    assert not is_up_to_date(engine)

    upgrade(engine)

    assert _tables(engine) == SCHEMA_TABLES | {"alembic_version"}
    assert is_up_to_date(engine)
    assert _differences(engine, metadata) == []


def test_concurrent_upgrades_queue_instead_of_colliding(database_url: str) -> None:
    # Web and worker starting together on one fresh database both run upgrade().
    errors: list[BaseException] = []

    def run() -> None:
        try:
            upgrade(database_url)
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    engine = make_engine(database_url)
    try:
        assert is_up_to_date(engine)
    finally:
        engine.dispose()


# ---------------------------------------------------------------- errors say what to do


def test_a_database_from_newer_code_is_refused_with_advice(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))

    assert current_revision(engine) == "9999"
    assert not is_up_to_date(engine)
    with pytest.raises(DatabaseConfigError, match="newer aftersales"):
        upgrade(engine)


def test_an_unreachable_server_is_a_clear_error() -> None:
    # Port 1 on the loopback: nothing listens, the connection is refused at once.
    with pytest.raises(DatabaseConfigError, match="cannot connect to the database"):
        upgrade("postgresql://aftersales:secret@127.0.0.1:1/nowhere")


def test_the_password_never_appears_in_the_error() -> None:
    with pytest.raises(DatabaseConfigError) as caught:
        upgrade("postgresql://aftersales:s3cr3t@127.0.0.1:1/nowhere")
    assert "s3cr3t" not in str(caught.value)


def test_an_unsupported_url_is_a_clear_error() -> None:
    with pytest.raises(DatabaseConfigError, match="unsupported database"):
        upgrade("mysql://root@localhost/aftersales")


# ---------------------------------------------------------------- instants


def _add_sandbox(engine: Engine, sandbox_id: str, now: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(sandboxes).values(id=sandbox_id, name=sandbox_id, now=now, created_at=now)
        )


def test_instants_round_trip_as_aware_utc(engine: Engine) -> None:
    written = datetime(2024, 2, 10, 0, 30, 15, 123456, tzinfo=CST)  # 2024-02-09 16:30 UTC
    _add_sandbox(engine, "s1", written)

    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # The session zone must not leak into what the code reads back.
            connection.execute(text("SET TIME ZONE 'America/New_York'"))
        read = connection.execute(
            select(sandboxes.c.now).where(sandboxes.c.id == "s1")
        ).scalar_one()

    assert read == written
    assert read.tzinfo is UTC
    assert read == datetime(2024, 2, 9, 16, 30, 15, 123456, tzinfo=UTC)


def test_ordering_and_comparison_by_instant_are_time_order(engine: Engine) -> None:
    # Chosen so that sorting by the local wall-clock text would give the reverse order.
    instants = {
        "a": datetime(2024, 3, 1, 9, 0, tzinfo=CST),  # 01:00 UTC
        "b": datetime(2024, 3, 1, 2, 0, tzinfo=UTC),  # 02:00 UTC
        "c": datetime(2024, 2, 29, 23, 30, tzinfo=timezone(timedelta(hours=-6))),  # 05:30 UTC
        "d": datetime(2024, 3, 1, 13, 59, 59, 999999, tzinfo=CST),  # 05:59:59.999999 UTC
    }
    for key in ("d", "b", "c", "a"):
        _add_sandbox(engine, key, instants[key])

    cutoff = datetime(2024, 3, 1, 13, 30, tzinfo=CST)  # 05:30 UTC, same instant as "c"
    with engine.connect() as connection:
        ordered = connection.execute(select(sandboxes.c.id).order_by(sandboxes.c.now)).scalars()
        before = connection.execute(
            select(sandboxes.c.id).where(sandboxes.c.now < cutoff).order_by(sandboxes.c.now)
        ).scalars()
        at_or_after = connection.execute(
            select(sandboxes.c.id).where(sandboxes.c.now >= cutoff).order_by(sandboxes.c.now)
        ).scalars()
        assert list(ordered) == ["a", "b", "c", "d"]
        assert list(before) == ["a", "b"]
        assert list(at_or_after) == ["c", "d"]


def test_a_naive_datetime_is_refused(engine: Engine) -> None:
    naive = datetime(2024, 3, 1, 9, 0)  # noqa: DTZ001 - the point of the test

    with pytest.raises(StatementError, match="refusing to store a naive datetime") as caught:
        _add_sandbox(engine, "naive", naive)
    assert isinstance(caught.value.orig, ValueError)

    with (
        engine.connect() as connection,
        pytest.raises(StatementError, match="naive datetime"),
    ):
        connection.execute(select(sandboxes.c.id).where(sandboxes.c.now < naive))


# ---------------------------------------------------------------- connection settings


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            insert(service_centres).values(
                brand_id="no-such-brand", name="x", city="x", address="x", phone="x"
            )
        )


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path))
    try:
        # upgrade() switches foreign keys off on its connection for the run; the
        # pooled connection it hands back must have them on again.
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        engine.dispose()  # and so must a brand-new connection
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                insert(service_centres).values(
                    brand_id="missing", name="x", city="x", address="x", phone="x"
                )
            )
    finally:
        engine.dispose()


def test_server_defaults_fill_omitted_columns(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(brands).values(id="b1", name="B", hotline="400-000-0000", exclusions=[])
        )
        row = connection.execute(select(brands).where(brands.c.id == "b1")).one()
    assert row.warranty_terms_zh == "" and row.warranty_terms_en == ""
    assert row.exclusions == []


# ---------------------------------------------------------------- packaging and drafting


def test_the_environment_ships_inside_the_package() -> None:
    directory = migrations_dir()
    assert directory == Path(aftersales.__file__).resolve().parent / "migrations"
    for name in ("env.py", "script.py.mako", "versions/0001_initial.py"):
        assert (directory / name).is_file(), name


def test_make_revision_drafts_an_empty_revision_when_models_are_unchanged(
    tmp_path: Path,
) -> None:
    path = make_revision("nothing changed", versions_dir=tmp_path)

    module = ast.parse(path.read_text(encoding="utf-8"))
    assigned = {
        node.target.id: ast.literal_eval(node.value)
        for node in module.body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.value is not None
    }
    functions = {node.name: node for node in module.body if isinstance(node, ast.FunctionDef)}
    assert path.parent == tmp_path
    assert path.name == f"{int(head_revision()) + 1:04d}_nothing_changed.py"
    assert assigned["revision"] == path.name[:4]
    assert assigned["down_revision"] == head_revision()
    for name in ("upgrade", "downgrade"):
        assert [type(statement) for statement in functions[name].body] == [ast.Pass], name


def test_make_revision_writes_utc_datetime_with_its_import(tmp_path: Path) -> None:
    # A throwaway copy of the models with one more instant column, drafted
    # against the same scratch database make_revision uses.
    from alembic.autogenerate import produce_migrations, render_python_code
    from alembic.autogenerate.api import AutogenContext

    from aftersales.adapters.db.types import UtcDateTime

    changed = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["sandboxes"].append_column(Column("frozen_at", UtcDateTime, nullable=True))

    engine = make_engine(sqlite_url(tmp_path))
    try:
        upgrade(engine)
        with engine.connect() as connection:
            options = migration_options("sqlite")
            options["target_metadata"] = changed
            context = MigrationContext.configure(connection, opts=options)
            code = render_python_code(
                produce_migrations(context, changed).upgrade_ops,
                render_item=options["render_item"],
                render_as_batch=True,
            )
            autogen = AutogenContext(context, metadata=changed, opts=options)
            rendered = options["render_item"]("type", UtcDateTime(), autogen)
    finally:
        engine.dispose()

    assert rendered == "aftersales.adapters.db.types.UtcDateTime()"
    assert "import aftersales.adapters.db.types" in autogen.imports
    assert "aftersales.adapters.db.types.UtcDateTime()" in code
    assert "timezone=True" not in code


# ---------------------------------------------------------------- the fixtures themselves


@pytest.mark.postgres
def test_a_fresh_database_is_dropped_even_with_a_subprocess_connected(
    pg_admin: PgAdmin,
) -> None:
    holder = (
        "import sys, time, psycopg\n"
        "c = psycopg.connect(sys.argv[1])\n"
        "c.execute('SELECT 1')\n"
        "print('connected', flush=True)\n"
        "time.sleep(60)\n"
    )
    with pg_admin.fresh_database() as url:
        name = url.rsplit("/", 1)[1]
        upgrade(url)
        child = subprocess.Popen(
            [sys.executable, "-c", holder, url], stdout=subprocess.PIPE, text=True
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "connected"
        except BaseException:
            child.kill()
            raise
    try:
        assert not pg_admin.database_exists(name)
    finally:
        child.kill()
        child.wait(timeout=10)
