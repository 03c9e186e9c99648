"""Indexes for the operations' case search and the payout lists.

- ``cases.order_item_id``: every case of an item, open or closed (the partial
  unique index covers open ones only), so a search by order or item is a lookup;
- ``cases.opened_by``: the reports a platform hotline agent filed (their list);
- ``buyers.phone`` and ``orders.contact_phone``: a caller found by phone (the
  index on ``buyers.name`` came with 0009);
- ``ledger_entries (sandbox, at)``: payouts of one world newest first, paged.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("ix_cases_order_item_id", "cases", ["order_item_id"]),
    ("ix_cases_opened_by", "cases", ["opened_by"]),
    ("ix_buyers_phone", "buyers", ["phone"]),
    ("ix_orders_contact_phone", "orders", ["contact_phone"]),
    ("ix_ledger_entries_sandbox_at", "ledger_entries", ["sandbox", "at"]),
)


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
