"""Case contacts: the phone, service address and preferred time a repair form gives (NW-2b).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aftersales.adapters.db.types

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_contacts",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("preferred_time", sa.String(length=100), nullable=False),
        sa.Column("given_at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("given_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_contacts_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_contacts")),
    )


def downgrade() -> None:
    op.drop_table("case_contacts")
