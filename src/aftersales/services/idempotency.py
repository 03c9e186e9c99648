"""Idempotency keys: the first answer to a POST is kept and given again for a repeat.

A client (or a double-clicking person) that sends the same ``Idempotency-Key``
twice gets the first result, not a second case. The key is reserved *before*
the request runs, in the same transaction as the request's effects and its
stored answer: of several concurrent requests with one key, one runs; the
others wait for its transaction and replay its answer (or, if it failed, run
in its place). Reusing a key for a different request is refused, because the
client has confused two requests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aftersales.errors import IdempotencyKeyReused, InvalidRequest, RequestInFlight
from aftersales.services.base import Services

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
    svc: Services,
    *,
    account_id: str,
    key: str | None,
    digest: str,
    produce: Callable[[], Answer],
) -> Answer:
    """``produce()``'s answer, or the stored answer of an earlier request with this key.

    Runs in one unit of work (the request's, when ``svc`` is bound to it):
    reserve the key, produce, store the answer, commit. An error from
    ``produce`` undoes the reservation with everything else, so a retry runs anew.
    """
    if key is None:
        with svc.uow() as uow:
            answer = produce()
            uow.commit()
        return answer
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(f"Idempotency-Key must be 1–{MAX_KEY_LENGTH} characters")
    with svc.uow() as uow:
        stored = uow.idempotency.reserve(account_id, key, digest, svc.clock.now())
        if stored is not None:
            if stored.request_sha256 != digest:
                raise IdempotencyKeyReused(
                    f"Idempotency-Key {key!r} was first used for a different request; "
                    "use a new key for a new request"
                )
            if stored.status is None or stored.body is None:
                raise RequestInFlight(key)
            return Answer(stored.status, stored.body, replayed=True)
        answer = produce()
        uow.idempotency.complete(account_id, key, answer.status, answer.body)
        uow.commit()
    return answer
