"""Sign-in throttling and token expiry.

- ``sign_in_failures``: failed sign-ins counted per account name and per client
  address, kept in the database so every HTTP process sees the same counts;
- ``api_tokens.expires_at``: a token may be made to stop working at an instant.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aftersales.adapters.db.types

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("blocked_until", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_failures")),
    )
    op.create_index(
        op.f("ix_sign_in_failures_last_failure_at"), "sign_in_failures", ["last_failure_at"]
    )
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(
            sa.Column("expires_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
    op.drop_table("sign_in_failures")
