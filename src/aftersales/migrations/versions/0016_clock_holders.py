"""Who held each clock, and the providers' shares of penalties (issue 15).

- ``clocks.holders``: the clock's holding periods as JSON,
  ``[{"kind", "party", "since", "until", "why"}, ...]`` oldest first. A column of
  the clock's own row, so the deadline engine's bulk update writes it with the
  status it already writes (one more value on the rows that change, no more
  statements). The column is added in place (no table copy), so the triggers of
  0012 and 0015 on ``clocks`` stay as they are.
- ``ledger_shares``: a provider's share of a payout, owed to the merchant when the
  provider held the breached clock. Kept apart from ``ledger_entries`` so the
  payout counts (0012) and the compliance rollup (0015) keep counting what buyers
  were paid, unchanged; unique by key (X-1), naming its payout.

Back-fill: every clock that has started gets one period from its start with the
case's current assignee (the merchant when there is none or it is the merchant,
the brand when it is the product's brand, else a provider), closed where the
clock has ended (at the due instant for a breach). No shares are made for
breaches already paid: a share is recorded only with its payout.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 10:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import aftersales.adapters.db.types

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = aftersales.adapters.db.types.UtcDateTime
_BATCH = 2000

_clocks = sa.table(
    "clocks",
    sa.column("case_id", sa.String()),
    sa.column("clock_id", sa.String()),
    sa.column("status", sa.String()),
    sa.column("started_at", _UTC()),
    sa.column("stopped_at", _UTC()),
    sa.column("breached_at", _UTC()),
    sa.column("holders", sa.JSON()),
)
_cases = sa.table(
    "cases",
    sa.column("id", sa.String()),
    sa.column("assignee", sa.String()),
    sa.column("order_item_id", sa.String()),
)
_items = sa.table(
    "order_items",
    sa.column("id", sa.String()),
    sa.column("order_id", sa.String()),
    sa.column("product_id", sa.String()),
)
_orders = sa.table("orders", sa.column("id", sa.String()), sa.column("merchant_id", sa.String()))
_products = sa.table("products", sa.column("id", sa.String()), sa.column("brand_id", sa.String()))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def backfill_period(row: Any) -> list[dict[str, Any]]:
    """The one period a clock started before this migration is given."""
    if row.assignee is None or row.assignee == row.merchant_id:
        kind, party = "merchant", row.merchant_id
    elif row.assignee == row.brand_id:
        kind, party = "brand", row.assignee
    else:
        kind, party = "provider", row.assignee
    until = None
    if row.status == "breached" and row.breached_at is not None:
        until = row.breached_at
    elif row.status in ("met", "cancelled") and row.stopped_at is not None:
        until = row.stopped_at
    return [
        {
            "kind": kind,
            "party": party,
            "since": _iso(row.started_at),
            "until": _iso(until) if until is not None else None,
            "why": "before-0016",
        }
    ]


def _backfill(conn: sa.Connection) -> None:
    after: tuple[str, str] = ("", "")
    update = (
        sa.update(_clocks)
        .where(
            _clocks.c.case_id == sa.bindparam("_case_id"),
            _clocks.c.clock_id == sa.bindparam("_clock_id"),
        )
        .values(holders=sa.bindparam("_holders", type_=sa.JSON()))
    )
    while True:
        rows = conn.execute(
            sa.select(
                _clocks.c.case_id,
                _clocks.c.clock_id,
                _clocks.c.status,
                _clocks.c.started_at,
                _clocks.c.stopped_at,
                _clocks.c.breached_at,
                _cases.c.assignee,
                _orders.c.merchant_id,
                _products.c.brand_id,
            )
            .select_from(
                _clocks.join(_cases, _cases.c.id == _clocks.c.case_id)
                .join(_items, _items.c.id == _cases.c.order_item_id)
                .join(_orders, _orders.c.id == _items.c.order_id)
                .join(_products, _products.c.id == _items.c.product_id)
            )
            .where(
                sa.tuple_(_clocks.c.case_id, _clocks.c.clock_id) > sa.tuple_(*after),
                _clocks.c.started_at.is_not(None),
                _clocks.c.status != "not_applicable",
            )
            .order_by(_clocks.c.case_id, _clocks.c.clock_id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        conn.execute(
            update,
            [
                {"_case_id": r.case_id, "_clock_id": r.clock_id, "_holders": backfill_period(r)}
                for r in rows
            ],
        )
        after = (rows[-1].case_id, rows[-1].clock_id)


def upgrade() -> None:
    # In place on SQLite too (ALTER TABLE ADD COLUMN): a table copy would drop the
    # triggers that 0012 and 0015 keep on clocks.
    op.add_column("clocks", sa.Column("holders", sa.JSON(), nullable=True))
    op.create_table(
        "ledger_shares",
        sa.Column("key", sa.String(length=240), nullable=False),
        sa.Column("share_of", sa.String(length=200), nullable=False),
        sa.Column("sandbox", sa.String(length=64), server_default="live", nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("clock_id", sa.String(length=64), nullable=False),
        sa.Column("failure", sa.String(length=64), nullable=False),
        sa.Column("penalty_id", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("payer_role", sa.String(length=16), nullable=False),
        sa.Column("payer", sa.String(length=64), nullable=False),
        sa.Column("payee", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("at", _UTC(), nullable=False),
        sa.Column("reason", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_ledger_shares_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["share_of"],
            ["ledger_entries.key"],
            name=op.f("fk_ledger_shares_share_of_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_ledger_shares")),
    )
    op.create_index(op.f("ix_ledger_shares_case_id"), "ledger_shares", ["case_id"])
    op.create_index(op.f("ix_ledger_shares_sandbox_payer"), "ledger_shares", ["sandbox", "payer"])
    op.create_index(op.f("ix_ledger_shares_sandbox_payee"), "ledger_shares", ["sandbox", "payee"])
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_index(op.f("ix_ledger_shares_sandbox_payee"), table_name="ledger_shares")
    op.drop_index(op.f("ix_ledger_shares_sandbox_payer"), table_name="ledger_shares")
    op.drop_index(op.f("ix_ledger_shares_case_id"), table_name="ledger_shares")
    op.drop_table("ledger_shares")
    # In place (SQLite 3.35+ drops a column without a table copy; the triggers stay).
    op.execute("ALTER TABLE clocks DROP COLUMN holders")
