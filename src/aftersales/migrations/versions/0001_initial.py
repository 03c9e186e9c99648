"""Initial schema: every table, index, unique constraint and foreign key.

Created from ``aftersales.adapters.db.schema.metadata`` by autogenerate and
tidied by hand; names follow the metadata's naming convention.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 14:15:57.009127
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aftersales.adapters.db.types

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_balances",
        sa.Column("sandbox", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sandbox", "account", "unit", name=op.f("pk_account_balances")),
    )
    op.create_table(
        "brands",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("hotline", sa.String(length=40), nullable=False),
        sa.Column("warranty_terms_zh", sa.Text(), server_default="", nullable=False),
        sa.Column("warranty_terms_en", sa.Text(), server_default="", nullable=False),
        sa.Column("exclusions", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brands")),
    )
    op.create_table(
        "merchants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchants")),
    )
    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("sandbox", sa.String(length=64), server_default="live", nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("dispatched_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        op.f("ix_outbox_dispatched_at_id"), "outbox", ["dispatched_at", "id"], unique=False
    )
    op.create_table(
        "sandboxes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("now", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("created_at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandboxes")),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("event_kinds", sa.JSON(), nullable=False),
        sa.Column("sandbox", sa.String(length=64), server_default="live", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("sandbox", sa.String(length=64), server_default="live", nullable=False),
        sa.Column("buyer_account", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("placed_at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_orders_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    op.create_index(op.f("ix_orders_buyer_account"), "orders", ["buyer_account"], unique=False)
    op.create_table(
        "products",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("category_id", sa.String(length=64), nullable=False),
        sa.Column("badges", sa.JSON(), nullable=False),
        sa.Column("service_tags", sa.JSON(), nullable=False),
        sa.Column("warranty_months", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_products_brand_id_brands")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_table(
        "providers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=True),
        sa.Column("calendar", sa.String(length=64), server_default="wall", nullable=False),
        sa.Column("phone", sa.String(length=40), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_providers_brand_id_brands")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
    )
    op.create_table(
        "service_centres",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=400), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("hours", sa.String(length=100), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_service_centres_brand_id_brands")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_centres")),
    )
    op.create_index(
        op.f("ix_service_centres_brand_id_city"),
        "service_centres",
        ["brand_id", "city"],
        unique=False,
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("outbox_id", sa.BigInteger(), nullable=False),
        sa.Column("endpoint_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_webhook_deliveries_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "outbox_id", "endpoint_id", name=op.f("uq_webhook_deliveries_outbox_id_endpoint_id")
        ),
    )
    op.create_index(
        op.f("ix_webhook_deliveries_status_next_attempt_at"),
        "webhook_deliveries",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "order_items",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("paid_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("purchased_on", sa.Date(), nullable=False),
        sa.Column("delivered_on", sa.Date(), nullable=True),
        sa.Column("address_text", sa.Text(), server_default="", nullable=False),
        sa.Column("province", sa.String(length=64), nullable=True),
        sa.Column("city", sa.String(length=64), nullable=True),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_items_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_order_items_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_items")),
    )
    op.create_index(op.f("ix_order_items_order_id"), "order_items", ["order_id"], unique=False)
    op.create_table(
        "provider_coverage",
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("category_id", sa.String(length=64), nullable=False),
        sa.Column("service_tag", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_coverage_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint(
            "provider_id", "city", "category_id", "service_tag", name=op.f("pk_provider_coverage")
        ),
    )
    op.create_index(
        op.f("ix_provider_coverage_city_service_tag_category_id"),
        "provider_coverage",
        ["city", "service_tag", "category_id"],
        unique=False,
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("sandbox", sa.String(length=64), server_default="live", nullable=False),
        sa.Column("programme", sa.String(length=32), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("order_item_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("opened_at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("service_tag", sa.String(length=64), nullable=True),
        sa.Column("failure", sa.String(length=64), nullable=True),
        sa.Column("overcharge_fen", sa.BigInteger(), nullable=True),
        sa.Column("in_warranty", sa.Boolean(), nullable=True),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("quote", sa.JSON(), nullable=True),
        sa.Column("reached_events", sa.JSON(), nullable=False),
        sa.Column("decision_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("audit_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("updated_at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_item_id"], ["order_items.id"], name=op.f("fk_cases_order_item_id_order_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    op.create_index(
        op.f("ix_cases_assignee_is_open"), "cases", ["assignee", "is_open"], unique=False
    )
    op.create_index(
        op.f("ix_cases_sandbox_opened_at"), "cases", ["sandbox", "opened_at"], unique=False
    )
    op.create_index(
        "uq_cases_open_per_item",
        "cases",
        ["order_item_id", "programme"],
        unique=True,
        sqlite_where=sa.text("is_open"),
        postgresql_where=sa.text("is_open"),
    )
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column("uploaded_at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_attachments_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index(op.f("ix_attachments_case_id"), "attachments", ["case_id"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("from_state", sa.String(length=32), nullable=True),
        sa.Column("to_state", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_audit_log_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", "seq", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "chat_threads",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("order_item_id", sa.String(length=64), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("opened_at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_chat_threads_brand_id_brands")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_chat_threads_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["order_item_id"],
            ["order_items.id"],
            name=op.f("fk_chat_threads_order_item_id_order_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_threads")),
    )
    op.create_index(
        op.f("ix_chat_threads_order_item_id"), "chat_threads", ["order_item_id"], unique=False
    )
    op.create_table(
        "clocks",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("clock_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.Column("due_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.Column("paused_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.Column("pause_reason", sa.String(length=64), nullable=True),
        sa.Column("remaining_us", sa.BigInteger(), nullable=True),
        sa.Column("stopped_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.Column("breached_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.Column("reason", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_clocks_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", "clock_id", name=op.f("pk_clocks")),
    )
    op.create_table(
        "complaints",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("clock_id", sa.String(length=64), nullable=True),
        sa.Column("filed_at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("filed_by", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.JSON(), nullable=False),
        sa.Column("decided_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_complaints_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
    )
    op.create_index(op.f("ix_complaints_case_id"), "complaints", ["case_id"], unique=False)
    op.create_index(op.f("ix_complaints_status"), "complaints", ["status"], unique=False)
    op.create_table(
        "deadlines",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("clock_id", sa.String(length=64), nullable=False),
        sa.Column("sandbox", sa.String(length=64), server_default="live", nullable=False),
        sa.Column("due_at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_deadlines_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", "clock_id", name=op.f("pk_deadlines")),
    )
    op.create_index(
        op.f("ix_deadlines_sandbox_due_at"), "deadlines", ["sandbox", "due_at"], unique=False
    )
    op.create_table(
        "decisions",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_decisions_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", "seq", name=op.f("pk_decisions")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("sandbox", sa.String(length=64), server_default="live", nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("clock_id", sa.String(length=64), nullable=False),
        sa.Column("failure", sa.String(length=64), nullable=False),
        sa.Column("penalty_id", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("payer_role", sa.String(length=16), nullable=False),
        sa.Column("payer", sa.String(length=64), nullable=False),
        sa.Column("payee", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("gates_complaints", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_ledger_entries_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("key", name=op.f("uq_ledger_entries_key")),
    )
    op.create_index(op.f("ix_ledger_entries_case_id"), "ledger_entries", ["case_id"], unique=False)
    op.create_index(
        op.f("ix_ledger_entries_sandbox_payee"),
        "ledger_entries",
        ["sandbox", "payee"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ledger_entries_sandbox_payer"),
        "ledger_entries",
        ["sandbox", "payer"],
        unique=False,
    )
    op.create_table(
        "chat_messages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("thread_id", sa.String(length=64), nullable=False),
        sa.Column("at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("sender_role", sa.String(length=16), nullable=False),
        sa.Column("sender_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"], ["chat_threads.id"], name=op.f("fk_chat_messages_thread_id_chat_threads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
    )
    op.create_index(
        op.f("ix_chat_messages_thread_id_at"), "chat_messages", ["thread_id", "at"], unique=False
    )


def downgrade() -> None:
    # Indexes and constraints go with their tables; children before parents.
    op.drop_table("chat_messages")
    op.drop_table("ledger_entries")
    op.drop_table("decisions")
    op.drop_table("deadlines")
    op.drop_table("complaints")
    op.drop_table("clocks")
    op.drop_table("chat_threads")
    op.drop_table("audit_log")
    op.drop_table("attachments")
    op.drop_table("cases")
    op.drop_table("provider_coverage")
    op.drop_table("order_items")
    op.drop_table("webhook_deliveries")
    op.drop_table("service_centres")
    op.drop_table("providers")
    op.drop_table("products")
    op.drop_table("orders")
    op.drop_table("webhook_endpoints")
    op.drop_table("sandboxes")
    op.drop_table("outbox")
    op.drop_table("merchants")
    op.drop_table("brands")
    op.drop_table("account_balances")
