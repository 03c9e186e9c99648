"""Accounts and web sessions: argon2 passwords, hashed session tokens, expiry, sign-out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from aftersales.adapters.db import schema as s
from aftersales.domain.lifecycle import Role
from aftersales.errors import AlreadyExists
from aftersales.services import accounts
from aftersales.services.time import FixedClock
from aftersales.testing import services_on

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def _installer(engine: Engine, clock: FixedClock) -> accounts.Account:
    return accounts.create_account(
        services_on(engine, clock),
        username="hz-install-01",
        password="correct horse",
        role=Role.PROVIDER,
        party="hz-install-01",
        name="杭州安装",
    )


def test_a_password_is_stored_only_as_an_argon2id_hash(engine: Engine) -> None:
    _installer(engine, FixedClock(NOW))
    with engine.connect() as conn:
        stored = conn.execute(select(s.accounts.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


def test_sign_in_opens_a_session_whose_token_is_stored_only_as_a_digest(engine: Engine) -> None:
    clock = FixedClock(NOW)
    account = _installer(engine, clock)
    session = accounts.sign_in(services_on(engine, clock), "hz-install-01", "correct horse")
    assert session is not None and session.account == account
    with engine.connect() as conn:
        stored = conn.execute(select(s.web_sessions.c.token_sha256)).scalar_one()
    assert stored != session.token and len(stored) == 64
    again = accounts.session_for(services_on(engine, clock), session.token)
    assert again is not None and again.csrf_token == session.csrf_token


@pytest.mark.parametrize(
    ("username", "password"),
    [("hz-install-01", "wrong horse"), ("nobody", "correct horse"), ("hz-install-01", "")],
)
def test_a_wrong_password_or_unknown_user_opens_no_session(
    engine: Engine, username: str, password: str
) -> None:
    clock = FixedClock(NOW)
    _installer(engine, clock)
    assert accounts.sign_in(services_on(engine, clock), username, password) is None


def test_a_session_ends_at_expiry_and_at_sign_out(engine: Engine) -> None:
    clock = FixedClock(NOW)
    _installer(engine, clock)
    first = accounts.sign_in(services_on(engine, clock), "hz-install-01", "correct horse")
    second = accounts.sign_in(services_on(engine, clock), "hz-install-01", "correct horse")
    assert first and second and first.csrf_token != second.csrf_token
    accounts.sign_out(services_on(engine), first.token)
    assert accounts.session_for(services_on(engine, clock), first.token) is None
    assert accounts.session_for(services_on(engine, clock), second.token) is not None
    clock.advance(seconds=accounts.SESSION_LIFETIME.total_seconds() + 1)
    assert accounts.session_for(services_on(engine, clock), second.token) is None
    assert accounts.session_for(services_on(engine, clock), "made-up") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"username": "x", "role": Role.OPERATIONS}, "username 'x'"),
        ({"username": "ops2", "role": Role.OPERATIONS, "password": "short"}, "at least 8"),
        ({"username": "buyer-9", "role": Role.CONSUMER}, "give its buyer account"),
        ({"username": "robot", "role": Role.SYSTEM}, "nobody signs in"),
        ({"username": "hz-install-01", "role": Role.OPERATIONS}, "is taken"),
    ],
)
def test_account_requests_that_cannot_be_met_say_what_to_change(
    engine: Engine, kwargs: dict[str, object], message: str
) -> None:
    clock = FixedClock(NOW)
    _installer(engine, clock)
    request = {"password": "long enough pw", "party": None, **kwargs}
    with pytest.raises((accounts.AccountError, AlreadyExists), match=message):
        accounts.create_account(services_on(engine, clock), **request)  # type: ignore[arg-type]
    assert len(accounts.list_accounts(services_on(engine))) == 1


def test_ensure_account_keeps_the_first_password(engine: Engine) -> None:
    clock = FixedClock(NOW)
    first = accounts.ensure_account(
        services_on(engine, clock), username="ops", password="first password", role=Role.OPERATIONS
    )
    again = accounts.ensure_account(
        services_on(engine, clock), username="ops", password="other password", role=Role.OPERATIONS
    )
    assert again == first
    assert accounts.sign_in(services_on(engine, clock), "ops", "first password") is not None
    assert accounts.sign_in(services_on(engine, clock), "ops", "other password") is None
    assert timedelta(days=1) < accounts.SESSION_LIFETIME
