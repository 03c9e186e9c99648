"""The compliance report from a rollup the database keeps, equal to the full GROUP BY.

``compliance_rollup`` holds, per world (``sandbox``), UTC hour a case was opened
and every dimension the report groups or is scoped by (programme, clock id,
assignee, city, category, merchant, brand), how many clocks have started (a
pending clock, such as SS-2's agreed day before any booking, is no commitment yet)
and how many are met, breached, not applicable or running (running or paused),
and how many points payouts there are with their points. Clock counts sit under the
clock's own id; a payout's points under the clock id it paid for, so the report
per clock adds points where it always has, and every other grouping sums over
clock ids. A NULL city or assignee is kept as ``''`` (the report shows both as
"—", one row).

**What it equals.** At every commit, for every key, the sums over the rollup's
rows equal the same sums over ``cases ⋈ order_items ⋈ orders ⋈ products ⋈
clocks`` (and ``⋈ ledger_entries`` with unit ``points``) as the rows are *now*:
the report follows master data as it is, not as it was when the case opened. A
statement changing one of those tables changes the join by exactly its changed
rows joined to the others as they stand, so a trigger per table adds that
difference:

- ``clocks`` inserted, deleted, or their status changed;
- ``ledger_entries`` inserted, deleted or changed;
- ``cases`` deleted, or their world, opening instant, programme, assignee or
  item changed (a reassignment moves the case's clocks and points to the new
  provider);
- ``order_items``: city, order or product changed; ``orders``: merchant changed;
  ``products``: category or brand changed (every case of that product moves;
  ``order_items (product_id)`` is indexed here to find them).

A row's own id is never changed (the triggers pair a statement's old and new rows
by primary key). Inserts of cases, items, orders and products and deletes of
items, orders and products add nothing: the foreign keys (enforced on both
databases) mean no clock or payout can yet point at a new case, and no case at a
deleted item. (The category and brand are the product's as it is now, as the
report has always read them, not the copies an order item keeps of what it was
sold with.) Rows
changed in ways the report does not read (a clock's due instant, a case's state)
are passed over before any join; a clock's status change looks its case, item,
order and product up once for both the count it leaves and the one it joins.

**Writers.** As in 0012: on PostgreSQL one trigger per statement over its
transition tables, each group's change added to one of eight ``shard`` rows picked
by the writing connection's server process (so concurrent writers rarely wait on
one row) in key order (so they never wait on each other in a cycle); on SQLite
one trigger per row, one shard. Rows whose counts reach zero stay (a reader sums
and drops empty groups); they are few (one per key per hour).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import sqlalchemy as sa
from alembic import op

from aftersales.adapters.db.types import UtcDateTime

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARDS = 8
TABLE = "compliance_rollup"
KEYS = (
    "sandbox",
    "hour",
    "programme",
    "clock_id",
    "assignee",
    "city",
    "category",
    "merchant",
    "brand",
)
COUNTS = ("clocks", "met", "breached", "not_applicable", "running", "payouts", "points")


class _Table(NamedTuple):
    name: str
    alias: str
    key: tuple[str, ...]  # its primary key
    read: tuple[str, ...]  # the columns the join reads (besides the key)
    moves: tuple[str, ...]  # changes to these (of ``read``) change the answer


_CLOCKS = _Table("clocks", "k", ("case_id", "clock_id"), ("status",), ("status",))
_LEDGER = _Table(
    "ledger_entries",
    "le",
    ("id",),
    ("case_id", "clock_id", "unit", "amount"),
    ("case_id", "clock_id", "unit", "amount"),
)
_CASE_MOVES = ("sandbox", "opened_at", "programme", "assignee", "order_item_id")
_CASES = _Table("cases", "c", ("id",), _CASE_MOVES, _CASE_MOVES)
_ITEMS = _Table(
    "order_items",
    "oi",
    ("id",),
    ("order_id", "product_id", "city"),
    ("order_id", "product_id", "city"),
)
_ORDERS = _Table("orders", "o", ("id",), ("merchant_id",), ("merchant_id",))
_PRODUCTS = _Table(
    "products", "p", ("id",), ("category_id", "brand_id"), ("category_id", "brand_id")
)

_HOUR = {
    "postgresql": "date_trunc('hour', c.opened_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
    # SQLite keeps instants as naive UTC text with microseconds (UtcDateTime).
    "sqlite": "strftime('%Y-%m-%d %H:00:00.000000', c.opened_at)",
}


def _case_dims(dialect: str) -> str:
    return (
        f"c.sandbox AS sandbox, {_HOUR[dialect]} AS hour, c.programme AS programme, "
        "{clock} AS clock_id, coalesce(c.assignee, '') AS assignee, "
        "coalesce(oi.city, '') AS city, p.category_id AS category, "
        "o.merchant_id AS merchant, p.brand_id AS brand"
    )


def _from(source: dict[str, str], first: _Table) -> str:
    """``first`` joined to its case, item, order and product, each read from ``source``
    (a transition table or a row) where given, else from the table itself."""

    def t(table: _Table) -> str:
        return f"{source.get(table.name, table.name)} AS {table.alias}"

    joins = [t(first)]
    if first is not _CASES:
        joins.append(f"JOIN {t(_CASES)} ON c.id = {first.alias}.case_id")
    joins += [
        f"JOIN {t(_ITEMS)} ON oi.id = c.order_item_id",
        f"JOIN {t(_ORDERS)} ON o.id = oi.order_id",
        f"JOIN {t(_PRODUCTS)} ON p.id = oi.product_id",
    ]
    return " ".join(joins)


def _pieces(dialect: str, source: dict[str, str], sign: str) -> list[str]:
    """The rows a side of a change adds (``sign`` '+') or takes away ('-'): its clocks'
    counts and its points payouts, each under its keys."""
    dims = _case_dims(dialect)

    def flag(test: str) -> str:
        return f"{sign}(CASE WHEN {test} THEN 1 ELSE 0 END)"

    def named(values: list[str]) -> str:
        return ", ".join(f"{v} AS {n}" for v, n in zip(values, COUNTS, strict=True))

    counted = named(
        [
            flag("k.status <> 'pending'"),
            flag("k.status = 'met'"),
            flag("k.status = 'breached'"),
            flag("k.status = 'not_applicable'"),
            flag("k.status IN ('running', 'paused')"),
            "0",
            "0",
        ]
    )
    paid = named(["0", "0", "0", "0", "0", f"{sign}1", f"{sign}le.amount"])
    pieces = []
    if _LEDGER.name not in source:
        pieces.append(
            f"SELECT {dims.format(clock='k.clock_id')}, {counted} FROM {_from(source, _CLOCKS)}"
        )
    if _CLOCKS.name not in source:
        pieces.append(
            f"SELECT {dims.format(clock='le.clock_id')}, {paid} "
            f"FROM {_from(source, _LEDGER)} WHERE le.unit = 'points'"
        )
    return pieces


def _status_change(dialect: str, changed: str) -> list[str]:
    """What clocks whose status changed (``changed``: rows of ``case_id, clock_id,
    status`` and the status it ``was``) move between the counts: each clock's case,
    item, order and product are looked up once for both sides."""

    def moved(test: str) -> str:
        new, old = test.format(s="k.status"), test.format(s="k.was")
        return f"(CASE WHEN {new} THEN 1 ELSE 0 END) - (CASE WHEN {old} THEN 1 ELSE 0 END)"

    values = [
        moved("{s} <> 'pending'"),
        moved("{s} = 'met'"),
        moved("{s} = 'breached'"),
        moved("{s} = 'not_applicable'"),
        moved("{s} IN ('running', 'paused')"),
        "0",
        "0",
    ]
    counted = ", ".join(f"{v} AS {n}" for v, n in zip(values, COUNTS, strict=True))
    dims = _case_dims(dialect).format(clock="k.clock_id")
    return [f"SELECT {dims}, {counted} FROM {_from({_CLOCKS.name: changed}, _CLOCKS)}"]


def _delta(dialect: str, rows: list[str], *, first: bool = False) -> str:
    """Add the signed ``rows`` to the rollup, one change per key (and shard); ``first``:
    into the empty table, all in shard 0 (the back-fill)."""
    keys = ", ".join(KEYS)
    sums = ", ".join(f"sum({n})" for n in COUNTS)
    nonzero = " OR ".join(f"sum({n}) <> 0" for n in COUNTS)
    shard = f"pg_backend_pid() % {SHARDS}" if dialect == "postgresql" and not first else "0"
    updates = ", ".join(f"{n} = {TABLE}.{n} + excluded.{n}" for n in COUNTS)
    upsert = "" if first else f" ON CONFLICT ({keys}, shard) DO UPDATE SET {updates}"
    return (
        f"INSERT INTO {TABLE} ({keys}, shard, {', '.join(COUNTS)}) "
        f"SELECT {keys}, {shard}, {sums} FROM ({' UNION ALL '.join(rows)}) AS x "
        f"GROUP BY {keys} HAVING {nonzero} ORDER BY {keys}{upsert}"
    )


# ---------------------------------------------------------------- PostgreSQL


def _pg_moved(table: _Table, side: str, other: str) -> str:
    """The rows of transition table ``side`` whose report columns differ on ``other``."""
    same = " AND ".join(f"a.{k} = b.{k}" for k in table.key)
    moved = " OR ".join(f"a.{m} IS DISTINCT FROM b.{m}" for m in table.moves)
    return f"(SELECT a.* FROM {side} AS a JOIN {other} AS b ON {same} WHERE {moved})"


def _pg_triggers() -> list[tuple[str, str, str, str, str]]:
    """(name, table, event, transition tables, body) of every PostgreSQL trigger."""
    out: list[tuple[_Table, str, str, list[str], str | None]] = []
    for table in (_CLOCKS, _LEDGER):
        rows_in = _pieces("postgresql", {table.name: "new_rows"}, "+")
        rows_out = _pieces("postgresql", {table.name: "old_rows"}, "-")
        out.append((table, "INSERT", "NEW TABLE AS new_rows", rows_in, None))
        out.append((table, "DELETE", "OLD TABLE AS old_rows", rows_out, None))
    # An update is first asked whether it moved anything the report reads (most do not:
    # a case's state, a clock's due instant), and only then joined.
    both = "OLD TABLE AS old_rows NEW TABLE AS new_rows"
    changed = (
        "(SELECT n.case_id, n.clock_id, n.status, o.status AS was FROM new_rows AS n "
        "JOIN old_rows AS o ON o.case_id = n.case_id AND o.clock_id = n.clock_id "
        "WHERE n.status IS DISTINCT FROM o.status)"
    )
    guard = f"SELECT 1 FROM {changed} AS moved"
    out.append((_CLOCKS, "UPDATE", both, _status_change("postgresql", changed), guard))
    for table in (_LEDGER, _CASES, _ITEMS, _ORDERS, _PRODUCTS):
        new = _pg_moved(table, "new_rows", "old_rows")
        old = _pg_moved(table, "old_rows", "new_rows")
        rows = _pieces("postgresql", {table.name: new}, "+")
        rows += _pieces("postgresql", {table.name: old}, "-")
        out.append((table, "UPDATE", both, rows, f"SELECT 1 FROM {new} AS moved"))
    rows_out = _pieces("postgresql", {"cases": "old_rows"}, "-")
    out.append((_CASES, "DELETE", "OLD TABLE AS old_rows", rows_out, None))
    triggers = []
    for t, event, transition, rows, only_if in out:
        body = _delta("postgresql", rows) + ";"
        if only_if is not None:
            body = f"IF EXISTS ({only_if}) THEN {body} END IF;"
        triggers.append((f"rollup_{t.name}_{event.lower()}", t.name, event, transition, body))
    return triggers


# ---------------------------------------------------------------- SQLite


def _sqlite_row(table: _Table, row: str) -> str:
    columns = ", ".join(f"{row}.{n} AS {n}" for n in table.key + table.read)
    return f"(SELECT {columns})"


def _sqlite_triggers() -> list[tuple[str, str, str]]:
    """(name, when, body) of every SQLite trigger."""
    out = []
    for table in (_CLOCKS, _LEDGER):
        new = {table.name: _sqlite_row(table, "NEW")}
        old = {table.name: _sqlite_row(table, "OLD")}
        out.append((table, "INSERT", "", _pieces("sqlite", new, "+")))
        out.append((table, "DELETE", "", _pieces("sqlite", old, "-")))
    changed = (
        "(SELECT NEW.case_id AS case_id, NEW.clock_id AS clock_id, NEW.status AS status, "
        "OLD.status AS was)"
    )
    rows = _status_change("sqlite", changed)
    out.append((_CLOCKS, "UPDATE OF status", "WHEN OLD.status IS NOT NEW.status", rows))
    for table in (_LEDGER, _CASES, _ITEMS, _ORDERS, _PRODUCTS):
        new = {table.name: _sqlite_row(table, "NEW")}
        old = {table.name: _sqlite_row(table, "OLD")}
        moved = " OR ".join(f"OLD.{m} IS NOT NEW.{m}" for m in table.moves)
        rows = _pieces("sqlite", new, "+") + _pieces("sqlite", old, "-")
        when = f"UPDATE OF {', '.join(table.moves)}"
        out.append((table, when, f"WHEN {moved}", rows))
    out.append(
        (_CASES, "DELETE", "", _pieces("sqlite", {"cases": _sqlite_row(_CASES, "OLD")}, "-"))
    )
    return [
        (
            f"rollup_{t.name}_{when.split()[0].lower()}",
            f"AFTER {when} ON {t.name} FOR EACH ROW {condition}",
            _delta("sqlite", rows) + ";",
        )
        for t, when, condition, rows in out
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        TABLE,
        sa.Column("sandbox", sa.String(length=64), nullable=False),
        sa.Column("hour", UtcDateTime(), nullable=False),
        sa.Column("programme", sa.String(length=32), nullable=False),
        sa.Column("clock_id", sa.String(length=64), nullable=False),
        sa.Column("assignee", sa.String(length=64), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("merchant", sa.String(length=64), nullable=False),
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in COUNTS),
        sa.PrimaryKeyConstraint(*KEYS, "shard", name=op.f("pk_compliance_rollup")),
    )
    op.create_index(op.f("ix_order_items_product_id"), "order_items", ["product_id"])
    # What is already there, counted once (the triggers below count what follows).
    op.execute(_delta(dialect, _pieces(dialect, {}, "+"), first=True))
    if dialect == "postgresql":
        for name, table, event, transition, delta in _pg_triggers():
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN {delta} RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} "
                f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )
    else:
        for name, when, body in _sqlite_triggers():
            op.execute(f"CREATE TRIGGER {name} {when} BEGIN {body} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, table, *_ in _pg_triggers():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        for name, *_ in _sqlite_triggers():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index(op.f("ix_order_items_product_id"), table_name="order_items")
    op.drop_table(TABLE)
