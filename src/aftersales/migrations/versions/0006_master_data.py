"""Master data from the marketplace: worlds, versions, snapshots, coverage by area code.

- brands, merchants, providers, products and the new buyers table carry the
  world they belong to (``sandbox``), ``active`` (removal is deactivation), the
  source's ``source_updated_at`` and a ``digest`` of the fields last written;
- order items keep the entitlements they were sold with (brand, category,
  badges, services, warranty months, ``entitled_on``), their status, contact
  phone and the administrative code of their address;
- provider coverage is by area code (province, city or district) and way of
  fulfilling; the city names stored so far are turned into their codes;
- inbound events and import jobs get their tables.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 00:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import aftersales.adapters.db.types

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MASTER = ("brands", "merchants", "providers", "products")


def _master_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("sandbox", sa.String(length=64), server_default="live", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("source_updated_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.Column("source_version", sa.BigInteger(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=True),
    ]


def upgrade() -> None:
    for table in _MASTER:
        with op.batch_alter_table(table) as batch:
            for column in _master_columns():
                batch.add_column(column)
    with op.batch_alter_table("providers") as batch:
        batch.add_column(
            sa.Column("contact", sa.String(length=200), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
    with op.batch_alter_table("products") as batch:
        batch.add_column(
            sa.Column("category_path", sa.String(length=400), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
    op.create_table(
        "buyers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("phone", sa.String(length=40), server_default="", nullable=False),
        *_master_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buyers")),
    )
    with op.batch_alter_table("orders") as batch:
        batch.add_column(
            sa.Column("paid_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True)
        )
        batch.add_column(
            sa.Column("contact_phone", sa.String(length=40), server_default="", nullable=False)
        )
        batch.add_column(
            sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False)
        )
        batch.add_column(
            sa.Column(
                "source_updated_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True
            )
        )
        batch.add_column(sa.Column("source_version", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("digest", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_orders_merchant_id"), ["merchant_id"], unique=False)
    with op.batch_alter_table("order_items") as batch:
        batch.add_column(sa.Column("area_code", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("brand_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("category_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("badges", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("service_tags", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("warranty_months", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("entitled_on", sa.Date(), nullable=True))
        batch.add_column(
            sa.Column("status", sa.String(length=16), server_default="paid", nullable=False)
        )
        batch.add_column(
            sa.Column("status_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True)
        )
        batch.add_column(
            sa.Column("contact_phone", sa.String(length=40), server_default="", nullable=False)
        )
    # The items stored so far were sold with what their product says today.
    op.execute(
        "UPDATE order_items SET "
        "brand_id = (SELECT p.brand_id FROM products p WHERE p.id = order_items.product_id), "
        "category_id = (SELECT p.category_id FROM products p WHERE p.id = order_items.product_id), "
        "badges = (SELECT p.badges FROM products p WHERE p.id = order_items.product_id), "
        "service_tags = (SELECT p.service_tags FROM products p "
        "WHERE p.id = order_items.product_id), "
        "warranty_months = (SELECT p.warranty_months FROM products p "
        "WHERE p.id = order_items.product_id), "
        "entitled_on = purchased_on"
    )
    _codes_for_stored_addresses()
    _coverage_by_area_code()
    op.create_table(
        "inbound_events",
        sa.Column("sandbox", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("received_at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("sandbox", "id", name=op.f("pk_inbound_events")),
    )
    op.create_index(
        op.f("ix_inbound_events_received_at"), "inbound_events", ["received_at"], unique=False
    )
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("sandbox", sa.String(length=64), server_default="live", nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("merchant", sa.String(length=64), nullable=True),
        sa.Column("created_at", aftersales.adapters.db.types.UtcDateTime(), nullable=False),
        sa.Column("started_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.Column("finished_at", aftersales.adapters.db.types.UtcDateTime(), nullable=True),
        sa.Column("rows_read", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("bytes_read", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("error_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("message", sa.Text(), server_default="", nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_index(
        op.f("ix_import_jobs_status_created_at"),
        "import_jobs",
        ["status", "created_at"],
        unique=False,
    )


def _codes_for_stored_addresses() -> None:
    """Give the stored items the administrative code of their address (resolved again)."""
    from aftersales.adapters.addresses import AddressResolver

    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, address_text FROM order_items")).all()
    if not rows:
        return
    resolved = AddressResolver().resolve_many([r.address_text or "" for r in rows])
    updates = [
        {"id": r.id, "code": a.area_code}
        for r, a in zip(rows, resolved, strict=True)
        if a is not None and a.area_code
    ]
    if updates:
        conn.execute(sa.text("UPDATE order_items SET area_code = :code WHERE id = :id"), updates)


def _coverage_by_area_code() -> None:
    """Coverage was by city name: the same rows by the city's code, fulfilled on site."""
    from aftersales.adapters import areas

    conn = op.get_bind()
    old = conn.execute(
        sa.text("SELECT provider_id, city, category_id, service_tag FROM provider_coverage")
    ).all()
    op.drop_index(
        op.f("ix_provider_coverage_city_service_tag_category_id"), table_name="provider_coverage"
    )
    op.drop_table("provider_coverage")
    table = op.create_table(
        "provider_coverage",
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("area_code", sa.String(length=12), nullable=False),
        sa.Column("category_id", sa.String(length=64), nullable=False),
        sa.Column("service_tag", sa.String(length=64), nullable=False),
        sa.Column("fulfil", sa.String(length=16), nullable=False),
        sa.Column("area_name", sa.String(length=64), nullable=False),
        sa.Column("area_level", sa.String(length=16), nullable=False),
        sa.Column("sandbox", sa.String(length=64), server_default="live", nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_provider_coverage_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint(
            "provider_id",
            "area_code",
            "category_id",
            "service_tag",
            "fulfil",
            name=op.f("pk_provider_coverage"),
        ),
    )
    op.create_index(
        op.f("ix_provider_coverage_area_code_service_tag_category_id"),
        "provider_coverage",
        ["area_code", "service_tag", "category_id"],
        unique=False,
    )
    rows = {}
    for r in old:
        code = areas.city_code_named(r.city)
        if code is None:
            raise RuntimeError(
                f"coverage of provider {r.provider_id} names the city {r.city!r}, which has no "
                "administrative code; correct the row and run the upgrade again"
            )
        place = areas.area(code)
        key = (r.provider_id, code, r.category_id, r.service_tag, "on_site")
        rows[key] = {
            "provider_id": r.provider_id,
            "area_code": code,
            "category_id": r.category_id,
            "service_tag": r.service_tag,
            "fulfil": "on_site",
            "area_name": place.name,
            "area_level": place.level,
            "sandbox": "live",
        }
    if rows and table is not None:
        op.bulk_insert(table, list(rows.values()))


def downgrade() -> None:
    op.drop_index(op.f("ix_import_jobs_status_created_at"), table_name="import_jobs")
    op.drop_table("import_jobs")
    op.drop_index(op.f("ix_inbound_events_received_at"), table_name="inbound_events")
    op.drop_table("inbound_events")
    conn = op.get_bind()
    old = conn.execute(
        sa.text(
            "SELECT DISTINCT provider_id, area_name, category_id, service_tag "
            "FROM provider_coverage WHERE area_level <> 'province'"
        )
    ).all()
    op.drop_index(
        op.f("ix_provider_coverage_area_code_service_tag_category_id"),
        table_name="provider_coverage",
    )
    op.drop_table("provider_coverage")
    table = op.create_table(
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
    if old and table is not None:
        op.bulk_insert(
            table,
            [
                {
                    "provider_id": r.provider_id,
                    "city": r.area_name,
                    "category_id": r.category_id,
                    "service_tag": r.service_tag,
                }
                for r in old
            ],
        )
    with op.batch_alter_table("order_items") as batch:
        for name in (
            "contact_phone",
            "status_at",
            "status",
            "entitled_on",
            "warranty_months",
            "service_tags",
            "badges",
            "category_id",
            "brand_id",
            "area_code",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("orders") as batch:
        batch.drop_index(batch.f("ix_orders_merchant_id"))
        for name in (
            "digest",
            "source_version",
            "source_updated_at",
            "active",
            "contact_phone",
            "paid_at",
        ):
            batch.drop_column(name)
    op.drop_table("buyers")
    with op.batch_alter_table("products") as batch:
        batch.drop_column("owner")
        batch.drop_column("category_path")
    with op.batch_alter_table("providers") as batch:
        batch.drop_column("owner")
        batch.drop_column("contact")
    for table_name in _MASTER:
        with op.batch_alter_table(table_name) as batch:
            for name in ("digest", "source_version", "source_updated_at", "active", "sandbox"):
                batch.drop_column(name)
