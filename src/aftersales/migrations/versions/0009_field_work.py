"""Field work: the hotline caller and callback phone, the agreed visit, solution texts.

- cases get ``caller_name`` and ``callback_phone`` (who rang the hotline for the
  buyer and where to call them back, NW-2a) and ``appointment_at`` (the visit time
  the handler agreed with the buyer);
- ``solution_texts``: each provider's, shop's or brand's reusable solution texts
  (OH-4);
- ``audit_log`` is indexed by actor (a hotline agent sees the cases they added a
  caller's note to), ``buyers`` by name (the agent finds a caller by name).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aftersales.adapters.db.types

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(
            sa.Column("caller_name", sa.String(length=200), server_default="", nullable=False)
        )
        batch.add_column(
            sa.Column("callback_phone", sa.String(length=40), server_default="", nullable=False)
        )
        batch.add_column(
            sa.Column("appointment_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True)
        )
    op.create_table(
        "solution_texts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_solution_texts")),
    )
    op.create_index(op.f("ix_solution_texts_owner"), "solution_texts", ["owner"], unique=False)
    op.create_index(op.f("ix_audit_log_actor_id"), "audit_log", ["actor_id"], unique=False)
    op.create_index(op.f("ix_buyers_name"), "buyers", ["name"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_buyers_name"), table_name="buyers")
    op.drop_index(op.f("ix_audit_log_actor_id"), table_name="audit_log")
    op.drop_index(op.f("ix_solution_texts_owner"), table_name="solution_texts")
    op.drop_table("solution_texts")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("appointment_at")
        batch.drop_column("callback_phone")
        batch.drop_column("caller_name")
