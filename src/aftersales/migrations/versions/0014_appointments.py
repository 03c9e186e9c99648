"""Appointment slots (SS-2): providers' weekly visit windows, the window booked per case.

- ``providers.appointment_windows``: the provider's weekly windows as the master
  data sends them (weekdays, local start and end, capacity, optionally one area);
- ``appointments``: the window booked for a case (one per case), by provider and
  start so a slot search counts a window's bookings by index;
- ``appointment_changes``: every booking and buyer's reschedule of a case's visit.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aftersales.adapters.db.types

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = aftersales.adapters.db.types.UtcDateTime


def upgrade() -> None:
    with op.batch_alter_table("providers") as batch:
        batch.add_column(sa.Column("appointment_windows", sa.JSON(), nullable=True))
    op.create_table(
        "appointments",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("sandbox", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("starts_at", _UTC(), nullable=False),
        sa.Column("ends_at", _UTC(), nullable=False),
        sa.Column("booked_at", _UTC(), nullable=False),
        sa.Column("booked_by_role", sa.String(length=32), nullable=False),
        sa.Column("booked_by", sa.String(length=64), nullable=False),
        sa.Column("reschedules", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_appointments_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_appointments")),
    )
    op.create_index(
        op.f("ix_appointments_provider_id_sandbox_starts_at"),
        "appointments",
        ["provider_id", "sandbox", "starts_at"],
        unique=False,
    )
    op.create_table(
        "appointment_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("at", _UTC(), nullable=False),
        sa.Column("starts_at", _UTC(), nullable=False),
        sa.Column("ends_at", _UTC(), nullable=False),
        sa.Column("before_starts_at", _UTC(), nullable=True),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_appointment_changes_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_changes")),
    )
    op.create_index(
        op.f("ix_appointment_changes_case_id_id"),
        "appointment_changes",
        ["case_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_appointment_changes_case_id_id"), table_name="appointment_changes")
    op.drop_table("appointment_changes")
    op.drop_index(op.f("ix_appointments_provider_id_sandbox_starts_at"), table_name="appointments")
    op.drop_table("appointments")
    with op.batch_alter_table("providers") as batch:
        batch.drop_column("appointment_windows")
