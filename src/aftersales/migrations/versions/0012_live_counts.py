"""Counts kept as rows change, so the metrics scrape costs the same at any size;
indexes for the provider queue, the case lists and retention by age.

- ``open_case_counts``: open cases per world and programme, spread over a few
  ``shard`` rows (by the writing connection's server process) so concurrent
  intakes on PostgreSQL rarely wait on one row (a reader sums the shards); rows
  are changed in key order, so two writers never wait on each other in a cycle;
- ``payout_counts``: payouts per world, rule and unit, with their total, the
  same way;
- triggers keep both: on PostgreSQL one per statement over its transition table
  (a chunk of 500 payouts adds one row change per group, not 500); on SQLite one
  per row (one writer at a time, so one shard);
- ``audit_log (at)``: the retention command finds old entries by month;
- ``deadlines (sandbox, due_at, case_id, clock_id)`` over the clocks' own rows
  (not warning marks): the provider queue reads its top-N in order;
- ``cases (sandbox, opened_at, id DESC)`` replaces its two-column prefix: the case
  lists page in order even when many cases share an instant.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARDS = 8

_CASE_DELTA = """
    INSERT INTO open_case_counts (sandbox, programme, shard, open_cases)
    SELECT sandbox, programme, pg_backend_pid() % {shards}, sum(n) FROM ({rows}) AS x
    GROUP BY sandbox, programme HAVING sum(n) <> 0 ORDER BY sandbox, programme
    ON CONFLICT (sandbox, programme, shard)
    DO UPDATE SET open_cases = open_case_counts.open_cases + excluded.open_cases
"""
_PAYOUT_DELTA = """
    INSERT INTO payout_counts (sandbox, rule, unit, shard, payouts, amount)
    SELECT sandbox, rule, unit, pg_backend_pid() % {shards}, sum(n), sum(amount)
    FROM ({rows}) AS x GROUP BY sandbox, rule, unit ORDER BY sandbox, rule, unit
    ON CONFLICT (sandbox, rule, unit, shard) DO UPDATE SET
        payouts = payout_counts.payouts + excluded.payouts,
        amount = payout_counts.amount + excluded.amount
"""
_NEW_OPEN = "SELECT sandbox, programme, 1 AS n FROM new_rows WHERE is_open"
_OLD_OPEN = "SELECT sandbox, programme, -1 AS n FROM old_rows WHERE is_open"
_NEW_PAID = "SELECT sandbox, rule, unit, 1 AS n, amount FROM new_rows"
_OLD_PAID = "SELECT sandbox, rule, unit, -1 AS n, -amount AS amount FROM old_rows"

# (trigger, table, event, transition tables, delta statement)
_PG_TRIGGERS = (
    (
        "open_case_counts_insert",
        "cases",
        "INSERT",
        "NEW TABLE AS new_rows",
        _CASE_DELTA.format(shards=SHARDS, rows=_NEW_OPEN),
    ),
    (
        "open_case_counts_update",
        "cases",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        _CASE_DELTA.format(shards=SHARDS, rows=f"{_NEW_OPEN} UNION ALL {_OLD_OPEN}"),
    ),
    (
        "open_case_counts_delete",
        "cases",
        "DELETE",
        "OLD TABLE AS old_rows",
        _CASE_DELTA.format(shards=SHARDS, rows=_OLD_OPEN),
    ),
    (
        "payout_counts_insert",
        "ledger_entries",
        "INSERT",
        "NEW TABLE AS new_rows",
        _PAYOUT_DELTA.format(shards=SHARDS, rows=_NEW_PAID),
    ),
    (
        "payout_counts_delete",
        "ledger_entries",
        "DELETE",
        "OLD TABLE AS old_rows",
        _PAYOUT_DELTA.format(shards=SHARDS, rows=_OLD_PAID),
    ),
)


def _sqlite_case(sign: str, row: str) -> str:
    return (
        "INSERT INTO open_case_counts (sandbox, programme, shard, open_cases) "
        f"SELECT {row}.sandbox, {row}.programme, 0, {sign}1 WHERE {row}.is_open "
        "ON CONFLICT (sandbox, programme, shard) "
        f"DO UPDATE SET open_cases = open_cases {sign} 1;"
    )


def _sqlite_payout(sign: str, row: str) -> str:
    return (
        "INSERT INTO payout_counts (sandbox, rule, unit, shard, payouts, amount) "
        f"VALUES ({row}.sandbox, {row}.rule, {row}.unit, 0, {sign}1, {sign}{row}.amount) "
        "ON CONFLICT (sandbox, rule, unit, shard) DO UPDATE SET "
        f"payouts = payouts {sign} 1, amount = amount {sign} {row}.amount;"
    )


_SQLITE_TRIGGERS = (
    ("open_case_counts_insert", "AFTER INSERT ON cases", _sqlite_case("+", "NEW")),
    (
        "open_case_counts_update",
        "AFTER UPDATE OF is_open, sandbox, programme ON cases",
        _sqlite_case("-", "OLD") + " " + _sqlite_case("+", "NEW"),
    ),
    ("open_case_counts_delete", "AFTER DELETE ON cases", _sqlite_case("-", "OLD")),
    ("payout_counts_insert", "AFTER INSERT ON ledger_entries", _sqlite_payout("+", "NEW")),
    ("payout_counts_delete", "AFTER DELETE ON ledger_entries", _sqlite_payout("-", "OLD")),
)


def upgrade() -> None:
    op.create_table(
        "open_case_counts",
        sa.Column("sandbox", sa.String(length=64), nullable=False),
        sa.Column("programme", sa.String(length=32), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("open_cases", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sandbox", "programme", "shard", name=op.f("pk_open_case_counts")),
    )
    op.create_table(
        "payout_counts",
        sa.Column("sandbox", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("payouts", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sandbox", "rule", "unit", "shard", name=op.f("pk_payout_counts")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    # Wider twins of two indexes, serving the same queries and ordered ties besides.
    op.create_index(
        "ix_deadlines_clocks_due",
        "deadlines",
        ["sandbox", "due_at", "case_id", "clock_id"],
        sqlite_where=sa.text("clock_id NOT LIKE '%@%'"),
        postgresql_where=sa.text("clock_id NOT LIKE '%@%'"),
    )
    op.create_index(
        "ix_cases_sandbox_opened_at_id", "cases", ["sandbox", "opened_at", sa.desc("id")]
    )
    op.drop_index("ix_cases_sandbox_opened_at", table_name="cases")
    # What is already there, counted once (the triggers below count what follows).
    op.execute(
        "INSERT INTO open_case_counts (sandbox, programme, shard, open_cases) "
        "SELECT sandbox, programme, 0, count(*) FROM cases WHERE is_open "
        "GROUP BY sandbox, programme"
    )
    op.execute(
        "INSERT INTO payout_counts (sandbox, rule, unit, shard, payouts, amount) "
        "SELECT sandbox, rule, unit, 0, count(*), sum(amount) FROM ledger_entries "
        "GROUP BY sandbox, rule, unit"
    )
    if op.get_bind().dialect.name == "postgresql":
        for name, table, event, transition, delta in _PG_TRIGGERS:
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN {delta}; RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} "
                f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )
    else:
        for name, when, body in _SQLITE_TRIGGERS:
            op.execute(f"CREATE TRIGGER {name} {when} BEGIN {body} END")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, table, *_ in _PG_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.create_index("ix_cases_sandbox_opened_at", "cases", ["sandbox", "opened_at"])
    op.drop_index("ix_cases_sandbox_opened_at_id", table_name="cases")
    op.drop_index("ix_deadlines_clocks_due", table_name="deadlines")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("payout_counts")
    op.drop_table("open_case_counts")
