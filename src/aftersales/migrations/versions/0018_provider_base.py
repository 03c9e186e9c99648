"""Where a service provider sets out from, so dispatch can weigh distance (OH-3).

``providers.base_area``: the administrative code (district, city or province) of the
provider's base, as the marketplace gives it. Dispatch scores how near the base's
centre is to the centre of the address's area (``weights.distance`` in
``policies/dispatch.toml``). Nullable: providers loaded before it name none, and
where no qualified provider names one, distance plays no part.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("providers") as batch:
        batch.add_column(sa.Column("base_area", sa.String(length=6), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("providers") as batch:
        batch.drop_column("base_area")
