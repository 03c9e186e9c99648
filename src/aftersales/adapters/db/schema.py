"""The relational schema, as SQLAlchemy Core tables.

Alembic migrations in ``aftersales/migrations`` create exactly this; a test
compares the two. Every instant is a :class:`UtcDateTime`. ``sandbox`` is
``'live'`` for real cases and a sandbox id for test-clock cases, so sandboxes
never touch live balances.

**Size.** ~840 lines, one job: the tables Alembic's migrations must equal (one
``MetaData``, compared by a test); dispatch capacity, appointments, the compliance
rollup and the providers' shares each added a table or two of declarations, no logic. It would split per concern (cases and clocks,
master data, ledger, notifications, accounts) into modules sharing ``metadata``;
kept together so a reader sees every foreign key in one place.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from aftersales.adapters.db.types import UtcDateTime

LIVE = "live"

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

sandboxes = Table(
    "sandboxes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("now", UtcDateTime, nullable=False),  # the sandbox's test clock
    Column("created_at", UtcDateTime, nullable=False),
)

# ---------------------------------------------------------------- reference data


def master_columns() -> tuple[Column[object], ...]:
    """What every master-data table carries besides its own fields.

    ``sandbox``: the world the record belongs to (``live`` or a sandbox id; a
    sandbox's records are stored under ids prefixed ``<sandbox>.``).
    ``active``: removal is deactivation, so nothing a case points at disappears.
    ``source_updated_at``: the source system's own time of the version stored;
    an older update than this one is ignored. ``digest``: a hash of the fields as
    last written, so a repeat is recognised as one.
    """
    return (
        Column("sandbox", String(64), nullable=False, server_default=LIVE),
        Column("active", Boolean, nullable=False, server_default=text("true")),
        Column("source_updated_at", UtcDateTime, nullable=True),
        Column("source_version", BigInteger, nullable=True),
        Column("digest", String(64), nullable=True),
    )


brands = Table(
    "brands",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("hotline", String(40), nullable=False),  # NW-2a: the brand's 400 line
    Column("warranty_terms_zh", Text, nullable=False, server_default=""),
    Column("warranty_terms_en", Text, nullable=False, server_default=""),
    Column("exclusions", JSON, nullable=False),  # NW-8: [{"zh":..,"en":..}]
    *master_columns(),
)

service_centres = Table(
    "service_centres",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("brand_id", String(64), ForeignKey("brands.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("city", String(64), nullable=False),
    Column("address", String(400), nullable=False),
    Column("phone", String(40), nullable=False),
    Column("hours", String(100), nullable=False, server_default=""),
    Index(None, "brand_id", "city"),
)

merchants = Table(
    "merchants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    # OH-3: provider ids (as the marketplace gives them) the shop prefers; a dispatch weighs it.
    Column("preferred_providers", JSON, nullable=True),
    *master_columns(),
)

providers = Table(
    "providers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),  # brand_centre | repairer | installer
    Column("brand_id", String(64), ForeignKey("brands.id"), nullable=True),
    Column("calendar", String(64), nullable=False, server_default="wall"),
    Column("phone", String(40), nullable=False, server_default=""),
    Column("contact", String(200), nullable=False, server_default=""),
    Column("owner", String(64), nullable=True),  # the shop that loaded it, if a shop did
    # SS-2: weekly visit windows [{"weekdays": [1..7], "start": "09:00", "end": "12:00",
    # "capacity": 3, "area_code": "310115" | null}] (migration 0014)
    # null: none given (a provider loaded before 0014, or one that takes no bookings)
    Column("appointment_windows", JSON, nullable=True),
    # OH-3: the area (six-digit code) the provider sets out from; dispatch weighs the
    # distance from its centre to the address's area (migration 0018). Null: not given.
    Column("base_area", String(6), nullable=True),
    *master_columns(),
)

# OH-3: the provider serves ``service_tag`` on ``category_id`` (and below) in an
# area (a province, city or district by its six-digit code), by one way of fulfilling.
provider_coverage = Table(
    "provider_coverage",
    metadata,
    Column("provider_id", String(64), ForeignKey("providers.id"), primary_key=True),
    Column("area_code", String(12), primary_key=True),
    Column("category_id", String(64), primary_key=True),
    Column("service_tag", String(64), primary_key=True),
    Column("fulfil", String(16), primary_key=True),  # on_site | in_store | mail_in
    Column("area_name", String(64), nullable=False),
    Column("area_level", String(16), nullable=False),  # province | city | district
    Column("sandbox", String(64), nullable=False, server_default=LIVE),
    Index(None, "area_code", "service_tag", "category_id"),
)

# OH-3: how many cases a provider takes a day: overall (``area_code`` empty) or in one
# area (a province, city or district code) if it says so. No row: no stated limit.
provider_capacity = Table(
    "provider_capacity",
    metadata,
    Column("provider_id", String(64), ForeignKey("providers.id"), primary_key=True),
    Column("area_code", String(12), primary_key=True),
    Column("per_day", Integer, nullable=False),
    Column("sandbox", String(64), nullable=False, server_default=LIVE),
)

# OH-3: days a provider takes no case (leave, closures), both ends included, local days.
provider_closures = Table(
    "provider_closures",
    metadata,
    Column("sandbox", String(64), nullable=False, server_default=LIVE),
    Column("provider_id", String(64), ForeignKey("providers.id"), primary_key=True),
    Column("first_day", Date, primary_key=True),
    Column("last_day", Date, nullable=False),
    Column("reason", String(200), nullable=False, server_default=""),
)

# OH-3: cases dispatched to a provider per local day and capacity area ('' overall),
# counted as they are handed over, per world (a sandbox's cases never use live capacity);
# a day's capacity is checked against it.
provider_loads = Table(
    "provider_loads",
    metadata,
    Column("sandbox", String(64), primary_key=True),
    Column("provider_id", String(64), ForeignKey("providers.id"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("area_code", String(12), primary_key=True),
    Column("dispatched", Integer, nullable=False),
)

buyers = Table(
    "buyers",
    metadata,
    Column("id", String(64), primary_key=True),  # the marketplace's buyer account id
    Column("name", String(200), nullable=False, server_default=""),
    Column("phone", String(40), nullable=False, server_default=""),
    *master_columns(),
    Index(None, "phone"),  # operations find a caller's cases by phone
    Index(None, "name"),  # a hotline agent finds a caller by name
)

products = Table(
    "products",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("brand_id", String(64), ForeignKey("brands.id"), nullable=False),
    Column("category_id", String(64), nullable=False),
    Column("badges", JSON, nullable=False),
    Column("service_tags", JSON, nullable=False),
    Column("warranty_months", Integer, nullable=True),
    Column("category_path", String(400), nullable=False, server_default=""),
    Column("owner", String(64), nullable=True),  # the shop that loaded it, if a shop did
    *master_columns(),
)

orders = Table(
    "orders",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("sandbox", String(64), nullable=False, server_default=LIVE),
    Column("buyer_account", String(64), nullable=False),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False),
    Column("placed_at", UtcDateTime, nullable=False),
    Column("paid_at", UtcDateTime, nullable=True),
    Column("contact_phone", String(40), nullable=False, server_default=""),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("source_updated_at", UtcDateTime, nullable=True),
    Column("source_version", BigInteger, nullable=True),
    Column("digest", String(64), nullable=True),
    Index(None, "buyer_account"),
    Index(None, "merchant_id"),
    Index(None, "contact_phone"),
)

order_items = Table(
    "order_items",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("order_id", String(64), ForeignKey("orders.id"), nullable=False),
    Column("product_id", String(64), ForeignKey("products.id"), nullable=False),
    Column("paid_price_fen", BigInteger, nullable=False),
    Column("purchased_on", Date, nullable=False),
    Column("delivered_on", Date, nullable=True),
    Column("address_text", Text, nullable=False, server_default=""),
    Column("province", String(64), nullable=True),
    Column("city", String(64), nullable=True),
    Column("district", String(64), nullable=True),
    Column("area_code", String(12), nullable=True),
    # The entitlements the item was sold with (NW-1, OH-1), copied from the
    # product when the item is first stored and never changed by catalogue updates.
    Column("brand_id", String(64), nullable=True),
    Column("category_id", String(64), nullable=True),
    Column("badges", JSON, nullable=True),
    Column("service_tags", JSON, nullable=True),
    Column("warranty_months", Integer, nullable=True),
    Column("entitled_on", Date, nullable=True),
    # Where the order item stands in the marketplace: paid, shipped, signed_for,
    # refunded or closed (events and order upserts move it).
    Column("status", String(16), nullable=False, server_default="paid"),
    Column("status_at", UtcDateTime, nullable=True),  # the source's time of that status
    Column("contact_phone", String(40), nullable=False, server_default=""),
    Index(None, "order_id"),
    Index(None, "product_id"),  # a product's items (the compliance rollup follows its moves)
)

# Events from the marketplace (POST /api/v1/events), kept once per id and world.
inbound_events = Table(
    "inbound_events",
    metadata,
    Column("sandbox", String(64), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("outcome", String(16), nullable=False),  # applied | stale | unknown | refused
    Column("message", Text, nullable=False, server_default=""),
    Index(None, "received_at"),
)

# Bulk imports run as background jobs (POST /api/v1/imports, the operations page).
import_jobs = Table(
    "import_jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("sandbox", String(64), nullable=False, server_default=LIVE),
    Column("filename", String(255), nullable=False),
    Column("kind", String(32), nullable=True),
    Column("dry_run", Boolean, nullable=False),
    Column("status", String(16), nullable=False),  # queued | running | done | failed
    Column("created_by", String(64), nullable=False),
    Column("merchant", String(64), nullable=True),  # a merchant-scoped token's shop
    Column("created_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("rows_read", BigInteger, nullable=False, server_default=text("0")),
    Column("bytes_read", BigInteger, nullable=False, server_default=text("0")),
    Column("bytes_total", BigInteger, nullable=True),
    Column("counts", JSON, nullable=False),
    Column("errors", JSON, nullable=False),  # the first row errors; the rest are counted
    Column("error_count", BigInteger, nullable=False, server_default=text("0")),
    Column("message", Text, nullable=False, server_default=""),
    Column("storage_key", String(255), nullable=True),  # the uploaded file, until it has run
    Index(None, "status", "created_at"),
)

# ---------------------------------------------------------------- cases

cases = Table(
    "cases",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("sandbox", String(64), nullable=False, server_default=LIVE),
    Column("programme", String(32), nullable=False),
    Column("policy_id", String(64), nullable=False),
    Column("order_item_id", String(64), ForeignKey("order_items.id"), nullable=False),
    Column("state", String(32), nullable=False),
    Column("is_open", Boolean, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("channel", String(32), nullable=False),
    Column("opened_by", String(64), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("service_tag", String(64), nullable=True),
    Column("failure", String(64), nullable=True),
    Column("overcharge_fen", BigInteger, nullable=True),
    Column("in_warranty", Boolean, nullable=True),
    Column("assignee", String(64), nullable=True),
    Column("caller_name", String(200), nullable=False, server_default=""),  # NW-2a
    Column("callback_phone", String(40), nullable=False, server_default=""),
    Column("appointment_at", UtcDateTime, nullable=True),  # the agreed visit time
    Column("quote", JSON, nullable=True),
    Column("reached_events", JSON, nullable=False),
    Column("decision_count", Integer, nullable=False, server_default=text("0")),
    Column("audit_count", Integer, nullable=False, server_default=text("0")),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("updated_at", UtcDateTime, nullable=False),
    # A second click on "help" while a request is open must find that request, never
    # open another: at most one open case per item and programme, even under races.
    Index(
        "uq_cases_open_per_item",
        "order_item_id",
        "programme",
        unique=True,
        sqlite_where=text("is_open"),
        postgresql_where=text("is_open"),
    ),
    Index(None, "assignee", "is_open"),
    Index(None, "order_item_id"),  # every case of an item, open or closed (case search)
    Index(None, "opened_by"),  # a platform hotline agent's own reports
)

# A world's cases newest first, ties by id (the case lists' keyset order, read
# backwards): a page never sorts the cases opened at one instant.
Index("ix_cases_sandbox_opened_at_id", cases.c.sandbox, cases.c.opened_at, cases.c.id.desc())

clocks = Table(
    "clocks",
    metadata,
    Column("case_id", String(64), ForeignKey("cases.id"), primary_key=True),
    Column("clock_id", String(64), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("due_at", UtcDateTime, nullable=True),
    Column("paused_at", UtcDateTime, nullable=True),
    Column("pause_reason", String(64), nullable=True),
    Column("remaining_us", BigInteger, nullable=True),
    Column("stopped_at", UtcDateTime, nullable=True),
    Column("breached_at", UtcDateTime, nullable=True),
    Column("reason", JSON, nullable=True),
    # Warning marks: {"armed": [[mark, instant], ...], "fired": [mark, ...]} (notifications)
    Column("marks", JSON, nullable=True),
    # Who held the case while the clock ran (issue 15, migration 0016):
    # [{"kind", "party", "since", "until", "why"}, ...], oldest first.
    Column("holders", JSON, nullable=True),
)

# One row per running clock, and one per armed warning mark ("<clock>@<mark>"): the
# whole deadline engine reads only this index.
deadlines = Table(
    "deadlines",
    metadata,
    Column("case_id", String(64), ForeignKey("cases.id"), primary_key=True),
    Column("clock_id", String(64), primary_key=True),
    Column("sandbox", String(64), nullable=False, server_default=LIVE),
    Column("due_at", UtcDateTime, nullable=False),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_until", UtcDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Index(None, "sandbox", "due_at"),
    # The clocks' own rows (not warning marks) in due order, ties broken by the key:
    # the provider queue's top-N reads it in order, past no mark and no sort, even
    # when thousands fall due at one instant (the 18:00 cliff).
    Index(
        "ix_deadlines_clocks_due",
        "sandbox",
        "due_at",
        "case_id",
        "clock_id",
        sqlite_where=text("clock_id NOT LIKE '%@%'"),
        postgresql_where=text("clock_id NOT LIKE '%@%'"),
    ),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("key", String(200), nullable=False, unique=True),  # case/clock/failure
    Column("sandbox", String(64), nullable=False, server_default=LIVE),
    Column("case_id", String(64), ForeignKey("cases.id"), nullable=False),
    Column("clock_id", String(64), nullable=False),
    Column("failure", String(64), nullable=False),
    Column("penalty_id", String(64), nullable=False),
    Column("rule", String(16), nullable=False),
    Column("payer_role", String(16), nullable=False),
    Column("payer", String(64), nullable=False),
    Column("payee", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("unit", String(8), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("gates_complaints", Boolean, nullable=False),
    Column("reason", JSON, nullable=False),
    Index(None, "case_id"),
    Index(None, "sandbox", "at"),  # payout lists and exports, newest first
    Index(None, "sandbox", "payee"),
    Index(None, "sandbox", "payer"),
)

# A provider's share of a payout, owed to the merchant when the provider held the
# breached clock (issue 15). Apart from ``ledger_entries`` so the payout counts and the
# compliance rollup (their triggers) keep counting what buyers were paid; its key is
# the payout's key + "/provider-share", unique, and it names the payout.
ledger_shares = Table(
    "ledger_shares",
    metadata,
    Column("key", String(240), primary_key=True),
    Column("share_of", String(200), ForeignKey("ledger_entries.key"), nullable=False),
    Column("sandbox", String(64), nullable=False, server_default=LIVE),
    Column("case_id", String(64), ForeignKey("cases.id"), nullable=False),
    Column("clock_id", String(64), nullable=False),
    Column("failure", String(64), nullable=False),
    Column("penalty_id", String(64), nullable=False),
    Column("rule", String(16), nullable=False),
    Column("payer_role", String(16), nullable=False),
    Column("payer", String(64), nullable=False),
    Column("payee", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("unit", String(8), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("reason", JSON, nullable=False),
    Index(None, "case_id"),
    Index(None, "sandbox", "payer"),
    Index(None, "sandbox", "payee"),
)

account_balances = Table(
    "account_balances",
    metadata,
    Column("sandbox", String(64), primary_key=True),
    Column("account", String(64), primary_key=True),
    Column("unit", String(8), primary_key=True),
    Column("balance", BigInteger, nullable=False),
)

# Counts the metrics scrape reads instead of counting rows: kept by triggers (migration
# 0012) as cases open and close and payouts are written; a reader sums the ``shard``
# rows, which spread concurrent writers on PostgreSQL over several rows.
open_case_counts = Table(
    "open_case_counts",
    metadata,
    Column("sandbox", String(64), primary_key=True),
    Column("programme", String(32), primary_key=True),
    Column("shard", Integer, primary_key=True),
    Column("open_cases", BigInteger, nullable=False),
)

payout_counts = Table(
    "payout_counts",
    metadata,
    Column("sandbox", String(64), primary_key=True),
    Column("rule", String(16), primary_key=True),
    Column("unit", String(8), primary_key=True),
    Column("shard", Integer, primary_key=True),
    Column("payouts", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
)

# The compliance report's counts per world, UTC hour a case was opened and every key the
# report groups or is scoped by, kept by triggers (migration 0015, which says what they
# keep equal to what); a reader sums the ``shard`` rows as for the counts above. A NULL
# assignee or city is kept as ''.
compliance_rollup = Table(
    "compliance_rollup",
    metadata,
    Column("sandbox", String(64), primary_key=True),
    Column("hour", UtcDateTime, primary_key=True),
    Column("programme", String(32), primary_key=True),
    Column("clock_id", String(64), primary_key=True),
    Column("assignee", String(64), primary_key=True),
    Column("city", String(64), primary_key=True),
    Column("category", String(64), primary_key=True),
    Column("merchant", String(64), primary_key=True),
    Column("brand", String(64), primary_key=True),
    Column("shard", Integer, primary_key=True),
    Column("clocks", BigInteger, nullable=False),
    Column("met", BigInteger, nullable=False),
    Column("breached", BigInteger, nullable=False),
    Column("not_applicable", BigInteger, nullable=False),
    Column("running", BigInteger, nullable=False),
    Column("payouts", BigInteger, nullable=False),
    Column("points", BigInteger, nullable=False),
    # OH-3: a provider's on-time record (met and breached since a day) in dispatch.
    Index("ix_compliance_rollup_assignee_hour", "assignee", "hour"),
)

complaints = Table(
    "complaints",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("case_id", String(64), ForeignKey("cases.id"), nullable=False),
    Column("clock_id", String(64), nullable=True),
    Column("filed_at", UtcDateTime, nullable=False),
    Column("filed_by", String(64), nullable=False),
    Column("text", Text, nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Column("reason", JSON, nullable=False),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("decided_by", String(64), nullable=True),
    Index(None, "case_id"),
    Index(None, "status"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("case_id", String(64), ForeignKey("cases.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("subject", String(200), nullable=False),
    Column("reason", JSON, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("case_id", String(64), ForeignKey("cases.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("role", String(16), nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("action", String(64), nullable=False),
    Column("from_state", String(32), nullable=True),
    Column("to_state", String(32), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    # A hotline agent sees the cases they added a caller's note to (read_models.scoped).
    Index(None, "actor_id"),
    Index(None, "at"),  # retention finds old entries by month
)

# Transactional outbox: written in the same transaction as the change it reports.
outbox = Table(
    "outbox",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("sandbox", String(64), nullable=False, server_default=LIVE),
    Column("case_id", String(64), nullable=True),
    Column("kind", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("dispatched_at", UtcDateTime, nullable=True),
    Index(None, "dispatched_at", "id"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("secret", String(200), nullable=False),
    Column("event_kinds", JSON, nullable=False),  # [] means every kind
    Column("sandbox", String(64), nullable=False, server_default=LIVE),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UtcDateTime, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("outbox_id", BigInteger, ForeignKey("outbox.id"), nullable=False),
    Column("endpoint_id", String(64), ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("idempotency_key", String(120), nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    UniqueConstraint("outbox_id", "endpoint_id"),
    Index(None, "status", "next_attempt_at"),
)

# SS-2: the visit window booked for a case (one per case, the current one), counted
# against the provider's window capacity; and every booking and move of it.
appointments = Table(
    "appointments",
    metadata,
    Column("case_id", String(64), ForeignKey("cases.id"), primary_key=True),
    Column("sandbox", String(64), nullable=False),
    Column("provider_id", String(64), nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("booked_at", UtcDateTime, nullable=False),
    Column("booked_by_role", String(32), nullable=False),
    Column("booked_by", String(64), nullable=False),
    Column("reschedules", Integer, nullable=False, server_default="0"),
    Index(None, "provider_id", "sandbox", "starts_at"),
)

appointment_changes = Table(
    "appointment_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(64), ForeignKey("cases.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("before_starts_at", UtcDateTime, nullable=True),
    Column("actor_role", String(32), nullable=False),
    Column("actor_id", String(64), nullable=False),
    Index(None, "case_id", "id"),
)

# A handler's reusable solution texts (OH-4): each provider, shop or brand keeps its own.
solution_texts = Table(
    "solution_texts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),  # the provider, shop or brand
    Column("title", String(100), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "owner"),
)

# ---------------------------------------------------------------- chat, attachments

chat_threads = Table(
    "chat_threads",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("order_item_id", String(64), ForeignKey("order_items.id"), nullable=False),
    Column("brand_id", String(64), ForeignKey("brands.id"), nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column(
        "case_id", String(64), ForeignKey("cases.id"), nullable=True
    ),  # once turned into a report
    Index(None, "order_item_id"),
)

chat_messages = Table(
    "chat_messages",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("thread_id", String(64), ForeignKey("chat_threads.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("sender_role", String(16), nullable=False),
    Column("sender_id", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Index(None, "thread_id", "at"),
)

# How the buyer is reached for a case, as the repair form gave it (NW-2b): one row a case.
case_contacts = Table(
    "case_contacts",
    metadata,
    Column("case_id", String(64), ForeignKey("cases.id"), primary_key=True),
    Column("phone", String(40), nullable=False),
    Column("address", Text, nullable=False),
    Column("preferred_time", String(100), nullable=False),
    Column("given_at", UtcDateTime, nullable=False),
    Column("given_by", String(64), nullable=False),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("case_id", String(64), ForeignKey("cases.id"), nullable=True),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("storage_key", String(255), nullable=False),
    Column("uploaded_at", UtcDateTime, nullable=False),
    Column("uploaded_by", String(64), nullable=False),
    Index(None, "case_id"),
    # The sweep of stored files asks which keys a row still points at (migration 0019).
    Index("ix_attachments_storage_key", "storage_key"),
)

# ---------------------------------------------------------------- accounts and sign-in

# People and systems who sign in. ``party`` is what the account acts for: the buyer
# account (consumer), the provider, the shop (merchant), the brand; an agent may name
# the brand whose hotline they staff; operations name none.
accounts = Table(
    "accounts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("party", String(64), nullable=True),
    Column("password_hash", String(255), nullable=False),  # argon2id
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UtcDateTime, nullable=False),
)

# Web sessions: the cookie carries a random token; only its SHA-256 is stored, so a
# copy of this table signs nobody in. Each session has its own CSRF token.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index(None, "account_id"),
)

# A POST with an Idempotency-Key answers a repeat with the first answer (a double-clicked
# "help" opens one case). Keys are per account; the request's digest guards reuse.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    Column("status", Integer),  # None while the first request is being answered
    Column("body", JSON),
    Column("created_at", UtcDateTime, nullable=False),
)

# API tokens for systems (the marketplace's other services). Like session tokens, only
# their SHA-256 is kept; the token itself is shown once, when it is made.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("expires_at", UtcDateTime, nullable=True),  # None: until revoked
    Index(None, "account_id"),
)

# Failed sign-ins, one row per account name and per client address ("account:…",
# "address:…"), shared by every HTTP process; ``blocked_until`` is when the next
# attempt is heard again (services/sign_in.py says how it grows).
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", UtcDateTime, nullable=False),
    Column("blocked_until", UtcDateTime, nullable=True),
    Index(None, "last_failure_at"),  # forgotten counts are deleted by age
)

# ---------------------------------------------------------------- notifications

# What an account is told: made from a case's notices in the transaction that saves the
# case. The unique key makes a notice saved twice (a retried chunk, racing workers) one
# row. ``clock_id`` and ``mark`` are '' where they do not apply (never NULL: NULLs would
# not collide in the key). ``dispatched_at``: handed to the account's channels.
notifications = Table(
    "notifications",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("account_id", String(64), ForeignKey("accounts.id"), nullable=False),
    Column("sandbox", String(64), nullable=False, server_default=LIVE),
    Column("case_id", String(64), ForeignKey("cases.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("clock_id", String(64), nullable=False, server_default=""),
    Column("mark", String(80), nullable=False, server_default=""),
    Column("level", Integer, nullable=False, server_default=text("0")),
    Column("at", UtcDateTime, nullable=False),
    Column("reason", JSON, nullable=False),
    Column("read_at", UtcDateTime, nullable=True),
    Column("acked_at", UtcDateTime, nullable=True),
    Column("dispatched_at", UtcDateTime, nullable=True),
    UniqueConstraint("account_id", "case_id", "kind", "clock_id", "mark"),
    Index(None, "account_id", "id"),
    Index(None, "case_id", "clock_id"),
    Index(None, "dispatched_at", "id"),
)

# The channels each account chose beside the in-app list (which is always on).
notification_preferences = Table(
    "notification_preferences",
    metadata,
    Column("account_id", String(64), ForeignKey("accounts.id"), primary_key=True),
    Column("email", String(254), nullable=True),
    Column("email_on", Boolean, nullable=False, server_default=text("false")),
    Column("phone", String(32), nullable=True),
    Column("sms_on", Boolean, nullable=False, server_default=text("false")),
    Column("chat_id", String(200), nullable=True),
    Column("chat_on", Boolean, nullable=False, server_default=text("false")),
    Column("language", String(2), nullable=False, server_default="zh"),
    Column("updated_at", UtcDateTime, nullable=False),
)

# One send of one notification through one channel, retried with back-off by the worker.
notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("notification_id", BigInteger, ForeignKey("notifications.id"), nullable=False),
    Column("channel", String(8), nullable=False),  # email | sms | chat
    Column("address", String(254), nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    UniqueConstraint("notification_id", "channel"),
    Index(None, "status", "next_attempt_at"),
)
