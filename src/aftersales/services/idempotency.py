"""Idempotency keys: the first answer to a POST is kept and given again for a repeat.

A client (or a double-clicking person) that sends the same ``Idempotency-Key``
twice gets the first result, not a second case. Reusing a key for a different
request is refused, because the client has confused two requests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from aftersales.adapters.db import schema as s
from aftersales.errors import IdempotencyKeyReused, InvalidRequest
from aftersales.services.time import Clock

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def request_digest(method: str, path: str, payload: object) -> str:
    canonical = json.dumps([method, path, payload], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def once(
    engine: Engine,
    clock: Clock,
    *,
    account_id: str,
    key: str | None,
    digest: str,
    produce: Callable[[], Answer],
) -> Answer:
    """``produce()``'s answer, or the stored answer of an earlier request with this key."""
    if key is None:
        return produce()
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(f"Idempotency-Key must be 1–{MAX_KEY_LENGTH} characters")
    stored = _stored(engine, account_id, key, digest)
    if stored is not None:
        return stored
    answer = produce()
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(s.idempotency_keys).values(
                    account_id=account_id,
                    key=key,
                    request_sha256=digest,
                    status=answer.status,
                    body=answer.body,
                    created_at=clock.now(),
                )
            )
    except IntegrityError:
        # A concurrent repeat stored its answer first; both are the same request.
        return _stored(engine, account_id, key, digest) or answer
    return answer


def _stored(engine: Engine, account_id: str, key: str, digest: str) -> Answer | None:
    k = s.idempotency_keys
    with engine.connect() as conn:
        row = conn.execute(
            select(k.c.request_sha256, k.c.status, k.c.body).where(
                k.c.account_id == account_id, k.c.key == key
            )
        ).first()
    if row is None:
        return None
    if row.request_sha256 != digest:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {key!r} was first used for a different request; "
            "use a new key for a new request"
        )
    return Answer(row.status, dict(row.body), replayed=True)
