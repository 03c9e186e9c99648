"""Dispatch as a decision (OH-3): a provider's capacity, closures and daily load.

- ``provider_capacity``: cases a provider takes a day, overall (area code '') or
  in an area it names; no row means no stated limit;
- ``provider_closures``: leave and closures as local date ranges (both ends
  included) with a reason; dispatch skips a provider closed on the day, and the
  appointment slots read it too;
- ``provider_loads``: cases dispatched per world, provider, local day and capacity area,
  counted as they are handed over, so a capacity check reads one row.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 09:08:07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_capacity",
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("area_code", sa.String(length=12), nullable=False),
        sa.Column("per_day", sa.Integer(), nullable=False),
        sa.Column("sandbox", sa.String(length=64), server_default="live", nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_capacity_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("provider_id", "area_code", name=op.f("pk_provider_capacity")),
    )
    op.create_table(
        "provider_closures",
        sa.Column("sandbox", sa.String(length=64), server_default="live", nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_closures_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("provider_id", "first_day", name=op.f("pk_provider_closures")),
    )
    op.create_table(
        "provider_loads",
        sa.Column("sandbox", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("area_code", sa.String(length=12), nullable=False),
        sa.Column("dispatched", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_provider_loads_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint(
            "sandbox", "provider_id", "day", "area_code", name=op.f("pk_provider_loads")
        ),
    )


def downgrade() -> None:
    op.drop_table("provider_loads")
    op.drop_table("provider_closures")
    op.drop_table("provider_capacity")
