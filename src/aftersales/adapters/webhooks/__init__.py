"""Webhooks: outbox events pushed to registered HTTP endpoints, signed and retried.

The outbox is written in the same transaction as every case change. Getting its
rows to subscribers happens in two steps, each safe to run in several workers
at once:

1. :func:`fan_out` (:mod:`.registry`) turns every undispatched outbox row into
   one ``webhook_deliveries`` row per matching active endpoint of the same
   sandbox, and marks the outbox row dispatched — all in the caller's
   transaction. The unique ``(outbox_id, endpoint_id)`` pair means an event
   reaches an endpoint at most once, however often fan-out runs.
2. Delivery claims the deliveries that are due (:func:`.store.claim_due`: a
   short transaction that pushes their ``next_attempt_at`` forward by a lease,
   so no other worker takes them meanwhile), POSTs them with no transaction
   open (:mod:`.sending`), and records each outcome in its own short
   transaction (:func:`.store.record_outcome`). Failures are retried on the
   :data:`.store.WEBHOOK_RETRY` schedule; after ``max_attempts`` a delivery is
   ``dead`` until someone calls :func:`redeliver`. The worker does this in its
   own loop, several requests at a time (:mod:`aftersales.worker.deliveries`);
   :func:`deliver_due` does one batch, one request after another.

Delivery is *at least once*: a worker that dies after the POST but before the
record, or a request slower than its lease, means the receiver may see the same
event twice. Each request carries the same ``Idempotency-Key`` on every attempt
(``"<outbox id>:<endpoint id>"``) so receivers can drop repeats. Recording is a
compare-and-set on ``(status, attempts, next_attempt_at)`` as claimed, so a
repeat never counts twice in the log.

Requests are signed (:mod:`.signing`): ``X-Aftersales-Signature:
t=<unix seconds>,v1=<hex>`` where ``v1`` is HMAC-SHA256 over ``f"{t}.{body}"``
keyed with the endpoint's secret; :func:`verify_signature` is the receiver's
half. See ``docs/webhooks.md``.

Every instant is an argument (``now``); nothing here reads the wall clock.

Errors::

    InvalidRequest
    └── WebhookError     an endpoint or delivery request cannot be honoured
                         (bad URL, unknown id, wrong state for a redelivery)

Transport failures (timeouts, refused connections, non-2xx answers) are not
raised: they are outcomes, recorded on the delivery and reported in
:class:`DeliveryReport`.
"""

from __future__ import annotations

from aftersales.adapters.webhooks.records import (
    DEAD,
    DELIVERED,
    PENDING,
    AttemptOutcome,
    DeliveryRecord,
    DeliveryReport,
    Endpoint,
    WebhookError,
)
from aftersales.adapters.webhooks.registry import (
    deactivate_endpoint,
    fan_out,
    list_endpoints,
    register_endpoint,
)
from aftersales.adapters.webhooks.sending import (
    EVENT_HEADER,
    IDEMPOTENCY_HEADER,
    USER_AGENT,
    PostTimeouts,
    WebhookDispatcher,
    deliver_due,
)
from aftersales.adapters.webhooks.signing import (
    SIGNATURE_HEADER,
    SIGNATURE_TOLERANCE_S,
    sign,
    verify_signature,
)
from aftersales.adapters.webhooks.store import (
    WEBHOOK_RETRY,
    delivery_log,
    event_body,
    redeliver,
    retry_delay,
)

__all__ = [
    "DEAD",
    "DELIVERED",
    "EVENT_HEADER",
    "IDEMPOTENCY_HEADER",
    "PENDING",
    "SIGNATURE_HEADER",
    "SIGNATURE_TOLERANCE_S",
    "USER_AGENT",
    "WEBHOOK_RETRY",
    "AttemptOutcome",
    "DeliveryRecord",
    "DeliveryReport",
    "Endpoint",
    "PostTimeouts",
    "WebhookDispatcher",
    "WebhookError",
    "deactivate_endpoint",
    "deliver_due",
    "delivery_log",
    "event_body",
    "fan_out",
    "list_endpoints",
    "redeliver",
    "register_endpoint",
    "retry_delay",
    "sign",
    "verify_signature",
]
