"""An index on attachments' storage keys, for sweeping stored files no row points at.

The sweep of orphaned upload files (``adapters/attachments.py``) asks, 500 keys at a
time, which of the files it found some attachment still points at; without an index
each question read the whole attachments table, so a sweep cost files × rows.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_attachments_storage_key", "attachments", ["storage_key"])


def downgrade() -> None:
    op.drop_index("ix_attachments_storage_key", table_name="attachments")
