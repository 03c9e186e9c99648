"""Idempotency keys are reserved before the request runs: status and body come later.

A request with an ``Idempotency-Key`` first inserts its key (the unique primary
key makes concurrent repeats wait for it), runs, and stores its answer in the
same transaction; a row without an answer is one being answered.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 23:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column("status", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("body", existing_type=sa.JSON(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys WHERE status IS NULL")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column("status", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("body", existing_type=sa.JSON(), nullable=False)
