"""Accounts, passwords and web sessions.

Passwords are hashed with argon2id (``argon2-cffi``); a hash made with older
parameters is replaced on the next successful sign-in. A web session is a random
token in an HttpOnly cookie; the database keeps only its SHA-256, so a leaked
table signs nobody in. Each session carries its own CSRF token for forms.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from aftersales.domain.lifecycle import Role
from aftersales.errors import AlreadyExists, InvalidRequest
from aftersales.services.base import Services
from aftersales.services.records import Account

SESSION_LIFETIME = timedelta(days=7)
MIN_PASSWORD_LENGTH = 8
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,99}$")
# Roles that act for a party, and what the party is.
PARTY_OF_ROLE = {
    Role.CONSUMER: "buyer account",
    Role.PROVIDER: "provider id",
    Role.MERCHANT: "shop (merchant) id",
    Role.BRAND: "brand id",
}
_hasher = PasswordHasher()


class AccountError(InvalidRequest):
    """An account request is incomplete or clashes; the message says what to change."""


@dataclass(frozen=True)
class Session:
    account: Account
    token: str  # goes in the cookie; never stored
    csrf_token: str
    expires_at: datetime


def create_account(
    svc: Services,
    *,
    username: str,
    password: str,
    role: Role,
    name: str = "",
    party: str | None = None,
) -> Account:
    """Add an account; the username must be new and the password long enough."""
    username = username.strip()
    if not _USERNAME.match(username):
        raise AccountError(
            f"username {username!r}: use 2–100 letters, digits, '.', '_', '@' or '-'"
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if role is Role.SYSTEM:
        raise AccountError("the 'system' role is the platform itself; nobody signs in as it")
    if role in PARTY_OF_ROLE and not (party or "").strip():
        raise AccountError(
            f"a {role.value} account acts for a party: give its {PARTY_OF_ROLE[role]}"
        )
    account = Account(
        id=f"acc-{secrets.token_hex(6)}",
        username=username,
        name=name.strip() or username,
        role=role,
        party=(party or "").strip() or None,
    )
    password_hash = _hasher.hash(password)
    with svc.uow() as uow:
        uow.accounts.add(account, password_hash, svc.clock.now())  # AlreadyExists if taken
        uow.commit()
    return account


def ensure_account(
    svc: Services,
    *,
    username: str,
    password: str,
    role: Role,
    name: str = "",
    party: str | None = None,
) -> Account:
    """The account with this username, created if there is none (for demo data)."""
    found = find_account(svc, username)
    if found is not None:
        return found
    try:
        return create_account(
            svc, username=username, password=password, role=role, name=name, party=party
        )
    except AlreadyExists:  # made meanwhile by another process starting on the same data
        found = find_account(svc, username)
        assert found is not None
        return found


def find_account(svc: Services, username: str) -> Account | None:
    with svc.uow() as uow:
        stored = uow.accounts.by_username(username)
    return None if stored is None else stored.account


def list_accounts(svc: Services) -> list[Account]:
    with svc.uow() as uow:
        return uow.accounts.list()


def sign_in(svc: Services, username: str, password: str) -> Session | None:
    """A new session when the password matches an active account; else None (no hint which)."""
    with svc.uow() as uow:
        stored = uow.accounts.by_username(username.strip())
        if stored is None:
            _hasher.hash(password)  # the same work either way: no timing hint an account exists
            return None
        try:
            _hasher.verify(stored.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        account = stored.account
        if not account.active:
            return None
        now = svc.clock.now()
        token = secrets.token_urlsafe(32)
        session = Session(account, token, secrets.token_urlsafe(24), now + SESSION_LIFETIME)
        if _hasher.check_needs_rehash(stored.password_hash):
            uow.accounts.set_password_hash(account.id, _hasher.hash(password))
        uow.accounts.drop_sessions_expired(now)
        uow.accounts.add_session(
            _digest(token), account.id, session.csrf_token, now, session.expires_at
        )
        uow.commit()
    return session


def session_for(svc: Services, token: str | None) -> Session | None:
    """The live session behind a cookie's token, or None (unknown, expired, account off)."""
    if not token:
        return None
    with svc.uow() as uow:
        record = uow.accounts.session(_digest(token))
    if record is None or record.expires_at <= svc.clock.now() or not record.account.active:
        return None
    return Session(record.account, token, record.csrf_token, record.expires_at)


def sign_out(svc: Services, token: str | None) -> None:
    if token:
        with svc.uow() as uow:
            uow.accounts.drop_session(_digest(token))
            uow.commit()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---------------------------------------------------------------- API tokens for systems


@dataclass(frozen=True)
class ApiToken:
    id: str
    account: Account
    name: str
    token: str  # shown once, never stored


def create_api_token(svc: Services, *, username: str, name: str) -> ApiToken:
    """A new token that acts as ``username``'s account; only its digest is stored."""
    account = find_account(svc, username)
    if account is None:
        raise AccountError(f"no account {username!r}; create it first (aftersales accounts create)")
    if not name.strip():
        raise AccountError("name the token after the system that will use it, e.g. 'order-sync'")
    token = "as_" + secrets.token_urlsafe(32)
    record = ApiToken(f"tok-{secrets.token_hex(6)}", account, name.strip()[:100], token)
    with svc.uow() as uow:
        uow.accounts.add_token(record.id, account.id, record.name, _digest(token), svc.clock.now())
        uow.commit()
    return record


def account_for_token(svc: Services, token: str | None) -> Account | None:
    """The active account behind a bearer token, or None (unknown, revoked, account off)."""
    if not token:
        return None
    with svc.uow() as uow:
        account = uow.accounts.account_for_token(_digest(token))
    if account is None or not account.active:
        return None
    return account


def revoke_api_token(svc: Services, token_id: str) -> bool:
    with svc.uow() as uow:
        revoked = uow.accounts.revoke_token(token_id, svc.clock.now())
        uow.commit()
    return revoked
