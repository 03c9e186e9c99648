"""Master data by the marketplace's own ids: brands, merchants, providers, products,
buyers and orders.

For each kind (``/api/v1/brands`` … ``/api/v1/orders``):

* ``PUT /{id}`` creates or replaces the record; ``PATCH /{id}`` changes the
  fields given (lists are replaced whole); both answer ``201`` when created,
  ``200`` otherwise, with ``result`` (created, updated, unchanged, stale) and the
  record as stored; a refused record is ``422`` with the field errors;
* ``DELETE /{id}`` deactivates (nothing a case points at is ever deleted);
* ``GET /{id}`` and ``GET /`` (filters on the kind's references, ``active``,
  ``after`` and ``limit`` for cursor paging);
* ``POST /batch`` takes many records (a JSON array, or NDJSON with
  ``Content-Type: application/x-ndjson``) and answers per record.

``?sandbox=<id>`` targets a sandbox instead of live data. Operations and
integration tokens load and read; a shop's integration token (an integration
account whose party is the shop) loads only its own products, providers and
orders. A brand's after-sales information (NW-3) is readable by everyone
signed in.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from aftersales.domain import access
from aftersales.domain.access import Action
from aftersales.domain.lifecycle import Role
from aftersales.entrypoints.api.deps import Caller, ServicesDep
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.entrypoints.viewer import Viewer
from aftersales.errors import (
    InvalidRequest,
    MalformedRequest,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from aftersales.services import master_data as md
from aftersales.services.base import Services
from aftersales.services.master_records import KINDS, PLURALS

router = APIRouter(prefix="/api/v1", tags=["master data"], responses=PROBLEMS)

MAX_BODY_BYTES = 16 * 1024 * 1024
# The reference filters a list may take, per kind: query name -> stored column.
FILTERS: dict[str, dict[str, str]] = {
    "brand": {},
    "merchant": {},
    "buyer": {},
    "provider": {"brand_id": "brand_id", "type": "kind", "owner": "owner"},
    "product": {"brand_id": "brand_id", "category": "category_id", "owner": "owner"},
    "order": {"buyer_id": "buyer_account", "merchant_id": "merchant_id"},
}


class RecordRefusedProblem(InvalidRequest):
    """A record that was refused, with its field errors for the problem document."""

    def __init__(self, outcome: md.Outcome) -> None:
        self.field_errors = outcome.errors
        super().__init__(f"the {outcome.kind} record {outcome.id} was refused: {outcome.message}")


def _scope(caller: Viewer) -> md.Scope:
    if caller.role is Role.INTEGRATION and caller.party:
        return md.Scope(merchant=caller.party)
    return md.MARKETPLACE


async def _json_body(request: Request) -> Any:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/json", "application/x-ndjson", "application/ndjson"):
        raise UnsupportedMediaType(
            f"send JSON (Content-Type: application/json) or NDJSON, not {kind or 'nothing'}"
        )
    too_large = PayloadTooLarge(
        f"the body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB; "
        "send fewer records per call, or import the file (POST /api/v1/imports)"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():  # never more than the limit in memory
        received += len(chunk)
        if received > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRequest("the body is not UTF-8") from exc
    if kind != "application/json":
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise MalformedRequest(f"line {number} is not JSON: {exc.msg}") from exc
        return records
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedRequest(f"the body is not JSON: {exc.msg} at character {exc.pos}") from exc


def _answer(outcome: md.Outcome, svc: Services, kind: str, world: md.World) -> JSONResponse:
    if outcome.result == "refused":
        raise RecordRefusedProblem(outcome)
    body: dict[str, Any] = outcome.as_dict()
    if outcome.id is not None:
        body["record"] = md.get_record(svc, kind, outcome.id, world=world)
    return JSONResponse(body, status_code=201 if outcome.result == "created" else 200)


def _visible(kind: str, caller: Viewer, record: dict[str, Any], world: md.World) -> None:
    """A shop's token sees its own products, providers and orders only."""
    scope = _scope(caller)
    if scope.merchant is None:
        return
    column = {"product": "owner", "provider": "owner", "order": "merchant_id"}.get(kind)
    if column is not None and not scope.owns(record.get(column), world):
        raise NotFound(kind, str(record.get("id")))
    if kind == "buyer":
        raise NotFound(kind, str(record.get("id")))


def _register(kind: str) -> None:
    plural = PLURALS[kind]
    one = f"/{plural}/{{record_id}}"

    async def put_record(
        record_id: str,
        request: Request,
        caller: Caller,
        svc: ServicesDep,
        sandbox: str | None = None,
    ) -> JSONResponse:
        access.require(caller.role, Action.LOAD_MASTER_DATA)
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise MalformedRequest("send one record as a JSON object")
        if body.get("id", record_id) != record_id:
            raise InvalidRequest("the id in the body differs from the one in the path")
        world = md.world_of(svc, sandbox)
        try:
            stored = md.get_record(svc, kind, record_id, world=world)
        except NotFound:
            pass
        else:  # a shop's token does not learn of another shop's records
            _visible(kind, caller, stored, world)
        outcome = md.upsert(
            svc, kind, [{**body, "id": record_id}], world=world, scope=_scope(caller)
        )[0]
        return _answer(outcome, svc, kind, world)

    async def patch_record(
        record_id: str,
        request: Request,
        caller: Caller,
        svc: ServicesDep,
        sandbox: str | None = None,
    ) -> JSONResponse:
        access.require(caller.role, Action.LOAD_MASTER_DATA)
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise MalformedRequest("send the fields to change as a JSON object")
        world = md.world_of(svc, sandbox)
        _visible(kind, caller, md.get_record(svc, kind, record_id, world=world), world)
        outcome = md.patch_record(svc, kind, record_id, body, world=world, scope=_scope(caller))
        return _answer(outcome, svc, kind, world)

    def delete_record(
        record_id: str, caller: Caller, svc: ServicesDep, sandbox: str | None = None
    ) -> JSONResponse:
        access.require(caller.role, Action.LOAD_MASTER_DATA)
        world = md.world_of(svc, sandbox)
        _visible(kind, caller, md.get_record(svc, kind, record_id, world=world), world)
        outcome = md.patch_record(
            svc, kind, record_id, {"active": False}, world=world, scope=_scope(caller)
        )
        return _answer(outcome, svc, kind, world)

    def get_record(
        record_id: str, caller: Caller, svc: ServicesDep, sandbox: str | None = None
    ) -> dict[str, Any]:
        if kind != "brand":  # NW-3: a brand's after-sales information is for everyone
            access.require(caller.role, Action.READ_MASTER_DATA)
        world = md.world_of(svc, sandbox)
        record = md.get_record(svc, kind, record_id, world=world)
        _visible(kind, caller, record, world)
        return record

    def list_records(
        request: Request,
        caller: Caller,
        svc: ServicesDep,
        sandbox: str | None = None,
        after: str | None = None,
        limit: int = Query(100, ge=1, le=500),
        active: bool | None = None,
    ) -> dict[str, Any]:
        access.require(caller.role, Action.READ_MASTER_DATA)
        if kind == "buyer" and _scope(caller).merchant is not None:
            raise NotFound("buyers", "")
        world = md.world_of(svc, sandbox)
        filters = {
            column: request.query_params[name]
            for name, column in FILTERS[kind].items()
            if name in request.query_params
        }
        if active is not None:
            filters["active"] = "true" if active else "false"
        items, cursor = md.list_records(
            svc,
            kind,
            world=world,
            after=after,
            limit=limit,
            filters=filters,
            scope=_scope(caller),
        )
        return {"items": items, "next": cursor}

    async def batch(
        request: Request,
        caller: Caller,
        svc: ServicesDep,
        sandbox: str | None = None,
        dry_run: bool = False,
    ) -> JSONResponse:
        access.require(caller.role, Action.LOAD_MASTER_DATA)
        body = await _json_body(request)
        if not isinstance(body, list):
            raise MalformedRequest("send the records as a JSON array (or as NDJSON lines)")
        world = md.world_of(svc, sandbox)
        outcomes = md.upsert(svc, kind, body, world=world, scope=_scope(caller), dry_run=dry_run)
        counts = Counter(o.result for o in outcomes)
        return JSONResponse(
            {
                "dry_run": dry_run,
                "counts": dict(sorted(counts.items())),
                "results": [o.as_dict() for o in outcomes],
            }
        )

    routes: list[tuple[str, Callable[..., Any], str, str]] = [
        (f"/{plural}/batch", batch, "POST", f"Create or replace many {plural} in one call"),
        (one, put_record, "PUT", f"Create or replace one of the {plural}"),
        (one, patch_record, "PATCH", f"Change some fields of one of the {plural}"),
        (one, delete_record, "DELETE", f"Deactivate one of the {plural}"),
        (one, get_record, "GET", f"One of the {plural}"),
        (f"/{plural}", list_records, "GET", f"The {plural}, a page at a time"),
    ]
    for path, endpoint, method, summary in routes:
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            summary=summary,
            name=f"{method.lower()}_{kind}{'s' if path.endswith(plural) else ''}",
        )


for _kind in KINDS:
    _register(_kind)
