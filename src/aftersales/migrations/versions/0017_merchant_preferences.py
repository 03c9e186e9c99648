"""A shop's preferred service providers, weighed by dispatch (OH-3).

``merchants.preferred_providers``: the provider ids, as the marketplace gives them,
that the shop prefers for its requests; a dispatch among qualified providers scores
being one of them (``weights.preferred`` in ``policies/dispatch.toml``). Nullable:
existing shops name none.

Revision ID: 0017
Revises: 0015
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("merchants") as batch:
        batch.add_column(sa.Column("preferred_providers", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("merchants") as batch:
        batch.drop_column("preferred_providers")
