"""Bearer tokens remembered for a few seconds per process, and what that may never change.

A token that passed is not read again for ``TOKEN_CACHE_SECONDS``; a revocation
in the same process is honoured at the next call (once committed), an expiry at
its instant, and an unknown token is looked up every time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from aftersales.adapters.memory import MemoryStore
from aftersales.domain.lifecycle import Role
from aftersales.errors import NotSignedIn
from aftersales.services import accounts
from aftersales.services.base import Services
from aftersales.services.records import Account, TokenRecord
from aftersales.services.time import FixedClock
from aftersales.services.token_cache import TokenCache

AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _record(token_id: str = "tok-1") -> TokenRecord:
    account = Account("acc-1", "shop-sync", "Shop", Role.MERCHANT, "shop-1")
    return TokenRecord(token_id, account, "sync", AT, None, None)


def test_a_kept_token_is_given_back_until_its_seconds_are_up() -> None:
    ticks = Ticks()
    cache = TokenCache(seconds=5, monotonic=ticks)
    cache.put("d1", _record(), cache.generation)
    ticks.now += 4.9
    assert cache.get("d1") == _record()
    ticks.now += 0.1
    assert cache.get("d1") is None


def test_a_token_read_before_a_revocation_is_not_kept_after_it() -> None:
    cache = TokenCache()
    generation = cache.generation  # taken before the read from the database
    cache.clear()  # a revocation committed meanwhile
    cache.put("d1", _record(), generation)
    assert cache.get("d1") is None


def test_the_least_recently_used_token_goes_first_when_full() -> None:
    cache = TokenCache(size=2)
    for digest in ("a", "b"):
        cache.put(digest, _record(digest), cache.generation)
    assert cache.get("a") is not None  # "b" is now the least recently used
    cache.put("c", _record("c"), cache.generation)
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None


@pytest.fixture
def cached(services: Services) -> Services:
    return replace(services, tokens=TokenCache())


def _merchant_token(svc: Services, **kwargs: object) -> accounts.ApiToken:
    accounts.create_account(
        svc, username="shop-sync", password="correct horse", role=Role.MERCHANT, party="shop-1"
    )
    return accounts.create_api_token(svc, username="shop-sync", name="sync", **kwargs)  # type: ignore[arg-type]


def test_a_token_that_passed_is_not_read_again_while_kept(
    cached: Services, store: MemoryStore
) -> None:
    made = _merchant_token(cached)
    assert accounts.authenticate_token(cached, made.token).username == "shop-sync"
    store.tables.tokens.clear()  # were it read again, it would be unknown
    assert accounts.authenticate_token(cached, made.token).username == "shop-sync"


def test_a_token_revoked_in_this_process_is_refused_at_the_next_call(cached: Services) -> None:
    made = _merchant_token(cached)
    accounts.authenticate_token(cached, made.token)  # now kept
    assert accounts.revoke_api_token(cached, made.id)
    with pytest.raises(NotSignedIn, match="revoked"):
        accounts.authenticate_token(cached, made.token)


def test_a_revocation_rolled_back_leaves_the_kept_token_working(cached: Services) -> None:
    made = _merchant_token(cached)
    accounts.authenticate_token(cached, made.token)
    with cached.uow() as uow:  # the owner's request failed after revoking: nothing committed
        accounts.revoke_token_of(cached, made.id, role=Role.OPERATIONS, caller_id="ops")
        uow.rollback()
    assert accounts.authenticate_token(cached, made.token).username == "shop-sync"


def test_a_kept_token_is_refused_from_its_instant_of_expiry(
    cached: Services, clock: FixedClock
) -> None:
    made = _merchant_token(cached, expires_in=timedelta(minutes=10))
    accounts.authenticate_token(cached, made.token)
    clock.advance(seconds=600)
    with pytest.raises(NotSignedIn, match="expired"):
        accounts.authenticate_token(cached, made.token)


def test_an_unknown_token_is_looked_up_every_time(cached: Services) -> None:
    with pytest.raises(NotSignedIn):
        accounts.authenticate_token(cached, "as_not-yet")
    assert cached.tokens is not None and cached.tokens.get(accounts.digest("as_not-yet")) is None
