"""A shop's preferred service providers, and the on-time record from the rollup (OH-3).

``merchants.preferred_providers``: the provider ids, as the marketplace gives them,
that the shop prefers for its requests; a dispatch among qualified providers scores
being one of them (``weights.preferred`` in ``policies/dispatch.toml``). Nullable:
existing shops name none.

``compliance_rollup (assignee, hour)``: a provider's on-time record (clocks met and
breached on its cases over the policy's days), which dispatch reads for every
candidate, comes from the rollup's rows for that provider rather than from every
clock of every case it ever held.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("merchants") as batch:
        batch.add_column(sa.Column("preferred_providers", sa.JSON(), nullable=True))
    op.create_index("ix_compliance_rollup_assignee_hour", "compliance_rollup", ["assignee", "hour"])


def downgrade() -> None:
    op.drop_index("ix_compliance_rollup_assignee_hour", table_name="compliance_rollup")
    with op.batch_alter_table("merchants") as batch:
        batch.drop_column("preferred_providers")
