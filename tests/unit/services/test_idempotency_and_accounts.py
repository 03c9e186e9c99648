"""Idempotency keys (``once``) and accounts, sessions and API tokens on the in-memory adapter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from aftersales.adapters.memory import MemoryStore
from aftersales.domain.lifecycle import Role
from aftersales.errors import (
    AlreadyExists,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    NotSignedIn,
    RequestInFlight,
    Throttled,
)
from aftersales.services import accounts
from aftersales.services import cases as svc
from aftersales.services.base import Services
from aftersales.services.idempotency import Answer, once, request_digest
from aftersales.services.time import FixedClock
from tests.unit.services.world import BUYER

# ---------------------------------------------------------------- idempotency keys


def _help_once(services: Services, key: str | None, payload: object = "oi-lamp") -> Answer:
    def produce() -> Answer:
        opened = svc.request_help(
            services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
        )
        return Answer(201 if opened.created else 200, {"id": opened.case.id})

    digest = request_digest("POST", "/api/v1/help-requests", payload)
    return once(services, account_id="acc-1", key=key, digest=digest, produce=produce)


def test_once_replays_the_first_answer_for_a_repeated_key(
    services: Services, store: MemoryStore
) -> None:
    first = _help_once(services, "k-1")
    again = _help_once(services, "k-1")
    assert (first.status, first.replayed) == (201, False)
    assert (again.status, again.body, again.replayed) == (201, first.body, True)
    assert len(store.tables.cases) == 1
    again.body["id"] = "changed by the caller"
    assert _help_once(services, "k-1").body == first.body  # each replay is its own copy


def test_once_refuses_a_key_reused_for_another_request_and_runs_nothing(
    services: Services, store: MemoryStore
) -> None:
    _help_once(services, "k-1")
    outbox = len(store.tables.outbox)
    with pytest.raises(IdempotencyKeyReused, match="first used for a different request"):
        _help_once(services, "k-1", payload="something else")
    assert len(store.tables.outbox) == outbox


def test_a_request_that_fails_leaves_its_key_free_for_the_retry(services: Services) -> None:
    def failing() -> Answer:
        raise RuntimeError("the command failed")

    digest = request_digest("POST", "/x", {})
    with pytest.raises(RuntimeError):
        once(services, account_id="acc-1", key="k-2", digest=digest, produce=failing)
    retried = once(
        services, account_id="acc-1", key="k-2", digest=digest, produce=lambda: Answer(200, {})
    )
    assert not retried.replayed


def test_a_key_reserved_but_not_answered_is_in_flight(services: Services) -> None:
    digest = request_digest("POST", "/x", {})
    with services.uow() as uow:
        assert uow.idempotency.reserve("acc-1", "k-3", digest, services.clock.now()) is None
        uow.commit()
    with pytest.raises(RequestInFlight, match="still being answered"):
        once(services, account_id="acc-1", key="k-3", digest=digest, produce=lambda: Answer(1, {}))


def test_keys_are_per_account_and_no_key_runs_every_time(services: Services) -> None:
    digest = request_digest("POST", "/x", {})
    calls: list[int] = []

    def produce() -> Answer:
        calls.append(1)
        return Answer(200, {"n": len(calls)})

    once(services, account_id="acc-1", key="k", digest=digest, produce=produce)
    once(services, account_id="acc-2", key="k", digest=digest, produce=produce)
    once(services, account_id="acc-1", key=None, digest=digest, produce=produce)
    once(services, account_id="acc-1", key=None, digest=digest, produce=produce)
    assert len(calls) == 4


# ---------------------------------------------------------------- accounts and sessions

# Hashing parameters do not matter to what is stored where; cheap ones keep the tests fast.
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "_hasher", CHEAP)


def _installer(services: Services) -> accounts.Account:
    return accounts.create_account(
        services,
        username="hz-install-01",
        password="correct horse",
        role=Role.PROVIDER,
        party="hz-install-01",
        name="杭州安装",
    )


def test_a_password_is_stored_only_as_an_argon2id_hash(
    services: Services, store: MemoryStore
) -> None:
    account = _installer(services)
    stored = store.tables.accounts[account.id].password_hash
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert accounts.find_account(services, "hz-install-01") == account
    assert accounts.list_accounts(services) == [account]


def test_sign_in_opens_a_session_whose_token_is_stored_only_as_a_digest(
    services: Services, store: MemoryStore
) -> None:
    account = _installer(services)
    session = accounts.sign_in(services, "hz-install-01", "correct horse")
    assert session is not None and session.account == account
    (digest,) = store.tables.sessions
    assert digest != session.token and len(digest) == 64
    again = accounts.session_for(services, session.token)
    assert again is not None and again.csrf_token == session.csrf_token


@pytest.mark.parametrize(
    ("username", "password"),
    [("hz-install-01", "wrong horse"), ("nobody", "correct horse"), ("hz-install-01", "")],
)
def test_a_wrong_password_or_unknown_user_opens_no_session(
    services: Services, store: MemoryStore, username: str, password: str
) -> None:
    _installer(services)
    assert accounts.sign_in(services, username, password) is None
    assert store.tables.sessions == {}


def test_a_session_ends_at_expiry_and_at_sign_out(services: Services, clock: FixedClock) -> None:
    _installer(services)
    first = accounts.sign_in(services, "hz-install-01", "correct horse")
    second = accounts.sign_in(services, "hz-install-01", "correct horse")
    assert first and second and first.csrf_token != second.csrf_token
    accounts.sign_out(services, first.token)
    assert accounts.session_for(services, first.token) is None
    assert accounts.session_for(services, second.token) is not None
    clock.advance(seconds=accounts.SESSION_LIFETIME.total_seconds() + 1)
    assert accounts.session_for(services, second.token) is None
    assert accounts.session_for(services, "made-up") is None


def test_expired_sessions_are_dropped_at_the_next_sign_in(
    services: Services, store: MemoryStore, clock: FixedClock
) -> None:
    _installer(services)
    accounts.sign_in(services, "hz-install-01", "correct horse")
    clock.advance(seconds=(accounts.SESSION_LIFETIME + timedelta(seconds=1)).total_seconds())
    accounts.sign_in(services, "hz-install-01", "correct horse")
    assert len(store.tables.sessions) == 1


def test_a_username_is_taken_once(services: Services) -> None:
    _installer(services)
    with pytest.raises(AlreadyExists, match="username 'hz-install-01' is taken"):
        _installer(services)
    again = accounts.ensure_account(
        services, username="hz-install-01", password="another one", role=Role.PROVIDER, party="x"
    )
    assert again.party == "hz-install-01"  # the first account stays as it was


def test_a_hash_made_with_older_parameters_is_replaced_at_sign_in(
    services: Services, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = _installer(services)
    old = store.tables.accounts[account.id].password_hash
    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=2, memory_cost=8, parallelism=1)
    )
    assert accounts.sign_in(services, "hz-install-01", "correct horse") is not None
    new = store.tables.accounts[account.id].password_hash
    assert new != old and "t=2" in new


def test_api_tokens_act_as_their_account_until_revoked(
    services: Services, store: MemoryStore
) -> None:
    account = _installer(services)
    token = accounts.create_api_token(services, username="hz-install-01", name="order-sync")
    assert all(row.digest != token.token for row in store.tables.tokens.values())
    assert accounts.account_for_token(services, token.token) == account
    assert accounts.account_for_token(services, "as_made-up") is None
    assert accounts.revoke_api_token(services, token.id) is True
    assert accounts.revoke_api_token(services, token.id) is False
    assert accounts.account_for_token(services, token.token) is None
    with pytest.raises(accounts.AccountError, match="no account 'nobody'"):
        accounts.create_api_token(services, username="nobody", name="x")


def test_sign_in_is_throttled_in_memory_as_in_sql(services: Services, clock: FixedClock) -> None:
    """The in-memory port counts failures as the SQL one does (the integration tests play
    the same rules on SQLite and PostgreSQL)."""
    _installer(services)
    for _ in range(5):
        assert accounts.sign_in(services, "hz-install-01", "wrong horse", "203.0.113.9") is None
    with pytest.raises(Throttled) as refused:
        accounts.sign_in(services, "hz-install-01", "correct horse", "203.0.113.9")
    assert refused.value.retry_after_s == 5
    clock.advance(seconds=5)
    assert accounts.sign_in(services, "hz-install-01", "correct horse", "203.0.113.9")
    for _ in range(4):  # the success cleared the account's count
        assert accounts.sign_in(services, "hz-install-01", "wrong horse") is None
    assert accounts.sign_in(services, "hz-install-01", "correct horse") is not None


def test_tokens_are_listed_revoked_and_expire_per_account(
    services: Services, clock: FixedClock
) -> None:
    owner = _installer(services)
    accounts.create_account(services, username="ops", password="long enough", role=Role.OPERATIONS)
    short = accounts.create_api_token(
        services, username="hz-install-01", name="erp", expires_in=timedelta(hours=1)
    )
    kept = accounts.create_api_token(services, username="hz-install-01", name="sync")
    ops = accounts.create_api_token(services, username="ops", name="console")
    mine = accounts.list_tokens(services, role=Role.PROVIDER, caller_id=owner.id)
    assert {t.id for t in mine} == {kept.id, short.id}
    with pytest.raises(Forbidden):
        accounts.list_tokens(services, role=Role.PROVIDER, caller_id=owner.id, account_id="*")
    with pytest.raises(NotFound):
        accounts.revoke_token_of(services, ops.id, role=Role.PROVIDER, caller_id=owner.id)
    assert accounts.authenticate_token(services, short.token) == owner
    clock.advance(hours=1)
    with pytest.raises(NotSignedIn, match="expired at"):
        accounts.authenticate_token(services, short.token)
    revoked = accounts.revoke_token_of(services, kept.id, role=Role.OPERATIONS, caller_id="x")
    assert revoked.revoked_at == clock.now()
    with pytest.raises(NotSignedIn, match="revoked"):
        accounts.authenticate_token(services, kept.token)
