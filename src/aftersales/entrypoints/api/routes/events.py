"""Marketplace events in: our event JSON, and Taobao/Tmall TMC messages (docs/events.md).

Both endpoints take one item or a JSON array of up to 1000, and answer 200 with
an outcome per item, in the order sent; an item that cannot be used is answered
``refused`` in its place and the others still go through. Only a request that
cannot be taken as a whole is answered with an error status.

Who may send: a request signed with a shared secret (``X-Aftersales-Signature``,
made as our outgoing webhooks are, see ``AFTERSALES_EVENTS_SECRETS``), or a
bearer token of an operations or integration account. When a signature is
present it is the one checked. A browser session is never enough: these are
machine-to-machine endpoints.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from aftersales.domain.lifecycle import Role
from aftersales.entrypoints.api import models as m
from aftersales.entrypoints.api.deps import ContainerDep, ServicesDep
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.errors import (
    Forbidden,
    InvalidRequest,
    MalformedRequest,
    NotSignedIn,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from aftersales.services import accounts, events, master_data
from aftersales.services.events import MAX_EVENTS, EventIn

router = APIRouter(prefix="/api/v1", tags=["events"], responses=PROBLEMS)

SIGNATURE_HEADER = "X-Aftersales-Signature"
MAX_BODY_BYTES = 32 * 1024 * 1024  # 1000 events, even orders of many items, fit well within
SENDERS = frozenset({Role.OPERATIONS, Role.INTEGRATION})

_ANSWERS: dict[int | str, dict[str, Any]] = {
    400: {**PROBLEMS[422], "description": "the body is not JSON"},
    401: {**PROBLEMS[401], "description": "no signature or token, or a wrong or stale signature"},
    413: {**PROBLEMS[422], "description": f"more than {MAX_EVENTS} items, or 32 MiB, at once"},
    415: {**PROBLEMS[422], "description": "the body is not sent as application/json"},
    503: {
        **PROBLEMS[422],
        "description": "a signed request, but no AFTERSALES_EVENTS_SECRETS is set on the server",
    },
}


def _body_schema(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [item, {"type": "array", "items": item, "maxItems": MAX_EVENTS}]
                    }
                }
            },
        }
    }


async def raw_body(request: Request) -> bytes:
    """The body exactly as sent: the signature is over these bytes (413 past MAX_BODY_BYTES)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(_too_large(int(declared)))
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(_too_large(len(body)))
    return body


def _too_large(size: int) -> str:
    return (
        f"the body has {size} bytes; send at most {MAX_BODY_BYTES // (1024 * 1024)} MiB "
        "a request (split the batch)"
    )


RawBody = Annotated[bytes, Depends(raw_body)]
Sandbox = Annotated[
    str | None,
    Query(description="the sandbox the events are for (an event may also name its own)"),
]


def sender(request: Request, body: RawBody, svc: ServicesDep, box: ContainerDep) -> str:
    """Who sends: ``signature`` (the shared secret), or the account behind the bearer token."""
    header = request.headers.get(SIGNATURE_HEADER)
    if header is not None:
        box.check_event_signature(header, body)
        return "signature"
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        account = accounts.account_for_token(svc, credential.strip())
        if account is None:
            raise NotSignedIn("the bearer token is unknown or was revoked")
        if account.role not in SENDERS:
            raise Forbidden(
                f"a {account.role.value} account may not send marketplace events; use an "
                "integration account's token, or sign the request with the shared secret"
            )
        return account.id
    raise NotSignedIn(
        f"sign the request with the shared secret ({SIGNATURE_HEADER}: t=<unix seconds>,"
        "v1=<hex HMAC-SHA256 of '<t>.<body>'>) or send an integration account's token as "
        "Authorization: Bearer …"
    )


Sender = Annotated[str, Depends(sender)]


def _items(request: Request, body: bytes, what: str) -> list[Any]:
    """The body as a list of items: JSON, one object or an array of at most MAX_EVENTS."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise UnsupportedMediaType(
            f"send the {what} as JSON with Content-Type: application/json"
            + (f" (this request says {media!r})" if media else " (this request names no type)")
        )
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise MalformedRequest(f"the body is not JSON: {exc}") from None
    if isinstance(parsed, dict):
        return [parsed]
    if not isinstance(parsed, list):
        raise InvalidRequest(
            f"the body must be one {what[:-1]} (a JSON object) or an array of them"
        )
    if len(parsed) > MAX_EVENTS:
        raise PayloadTooLarge(
            f"{len(parsed)} {what} in one request; send at most {MAX_EVENTS} a request"
        )
    return parsed


@router.post(
    "/events",
    response_model=m.EventsAnswer,
    responses=_ANSWERS,
    openapi_extra=_body_schema(EventIn.model_json_schema()),
)
def receive_events(
    request: Request, body: RawBody, who: Sender, svc: ServicesDep, sandbox: Sandbox = None
) -> JSONResponse:
    """Order and product events from the marketplace: one, or an array of up to 1000.

    Each event is kept once per id and world; a repeat is answered ``duplicate``.
    Out-of-order events are answered ``stale`` and change nothing.
    """
    items = _items(request, body, "events")
    world = master_data.world_of(svc, sandbox)
    outcomes = events.receive_many(svc, items, world=world)
    return JSONResponse(
        {
            "received": len(outcomes),
            "counts": events.counts(outcomes),
            "results": [o.as_dict() for o in outcomes],
        }
    )


@router.post(
    "/events/taobao",
    response_model=m.TaobaoAnswer,
    responses=_ANSWERS,
    openapi_extra=_body_schema(
        {
            "type": "object",
            "description": "a TMC message: topic, id, pub_time, content (a JSON string) …",
        }
    ),
)
def receive_taobao(
    request: Request,
    body: RawBody,
    who: Sender,
    svc: ServicesDep,
    box: ContainerDep,
    sandbox: Sandbox = None,
) -> JSONResponse:
    """Taobao/Tmall TMC messages, made into our events: one, or an array of up to 1000.

    Topics we make no event from are answered ``skipped``; a malformed message
    ``refused``, naming its field.
    """
    items = _items(request, body, "messages")
    world = master_data.world_of(svc, sandbox)
    results: list[dict[str, Any]] = []
    counts = {**dict.fromkeys(events.OUTCOMES, 0), "skipped": 0}
    for message in items:
        made = box.translate_taobao(message)
        found: dict[str, Any] = {"message_id": made.message_id, "topic": made.topic}
        if made.event is not None:
            found.update(events.receive(svc, made.event, world=world).as_dict())
        elif made.skipped:
            found.update(
                id=None, type=None, sandbox=world.sandbox, outcome="skipped", message=made.skipped
            )
        else:
            found.update(
                id=None,
                type=None,
                sandbox=world.sandbox,
                outcome="refused",
                message=made.refused,
                errors=[{"field": made.field_name or "message", "message": made.refused}],
            )
        counts[found["outcome"]] += 1
        results.append(found)
    return JSONResponse({"received": len(results), "counts": counts, "results": results})
