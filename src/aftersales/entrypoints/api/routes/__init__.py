"""The /api/v1 endpoints, one router per resource, and the health checks beside them.

Each module holds one :class:`fastapi.APIRouter` and nothing else that lives
longer than a request: what a route needs comes from
:mod:`aftersales.entrypoints.api.deps`. :data:`ROUTERS` is the order the app
factory includes them in.
"""

from __future__ import annotations

from fastapi import APIRouter

from aftersales.entrypoints.api.routes import (
    attachments,
    cases,
    chats,
    clocks,
    complaints,
    compliance,
    events,
    health,
    imports,
    intake,
    master_data,
    notifications,
    order_items,
    payouts,
    policies,
    quotes,
    sandboxes,
    tokens,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    cases.router,
    intake.router,
    clocks.router,
    quotes.router,
    complaints.router,
    chats.router,
    attachments.router,
    payouts.router,
    compliance.router,
    master_data.router,
    order_items.router,
    policies.router,
    sandboxes.router,
    events.router,
    imports.router,
    notifications.router,
    tokens.router,
)
