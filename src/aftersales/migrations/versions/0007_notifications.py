"""Notifications: what each account is told, the channels it chose, and each send.

- ``notifications``: one row per account and notice, unique per (account, case,
  kind, clock, mark) so a notice saved twice is one notification;
- ``notification_preferences``: email, SMS and chat-app channels per account;
- ``notification_deliveries``: one send through one channel, retried by the worker;
- ``clocks.marks``: a clock's warning marks, armed and fired.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 02:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aftersales.adapters.db.types

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("email_on", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("sms_on", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("chat_id", sa.String(length=200), nullable=True),
        sa.Column("chat_on", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("language", sa.String(length=2), server_default="zh", nullable=False),
        sa.Column("updated_at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_notification_preferences_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_notification_preferences")),
    )
    op.create_table(
        "notifications",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("sandbox", sa.String(length=64), server_default="live", nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("clock_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("mark", sa.String(length=80), server_default="", nullable=False),
        sa.Column("level", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("reason", sa.JSON(), nullable=False),
        sa.Column("read_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.Column("acked_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.Column("dispatched_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_notifications_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_notifications_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "account_id",
            "case_id",
            "kind",
            "clock_id",
            "mark",
            name=op.f("uq_notifications_account_id_case_id_kind_clock_id_mark"),
        ),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notifications_account_id_id"), ["account_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notifications_case_id_clock_id"), ["case_id", "clock_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notifications_dispatched_at_id"), ["dispatched_at", "id"], unique=False
        )

    op.create_table(
        "notification_deliveries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("notification_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_deliveries_notification_id_notifications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
        sa.UniqueConstraint(
            "notification_id",
            "channel",
            name=op.f("uq_notification_deliveries_notification_id_channel"),
        ),
    )
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_deliveries_status_next_attempt_at"),
            ["status", "next_attempt_at"],
            unique=False,
        )

    with op.batch_alter_table("clocks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("marks", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clocks", schema=None) as batch_op:
        batch_op.drop_column("marks")

    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_deliveries_status_next_attempt_at"))

    op.drop_table("notification_deliveries")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_dispatched_at_id"))
        batch_op.drop_index(batch_op.f("ix_notifications_case_id_clock_id"))
        batch_op.drop_index(batch_op.f("ix_notifications_account_id_id"))

    op.drop_table("notifications")
    op.drop_table("notification_preferences")
