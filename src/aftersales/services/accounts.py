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
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from aftersales.adapters.db import schema as s
from aftersales.domain.lifecycle import Role
from aftersales.errors import InvalidRequest
from aftersales.services.time import Clock

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
class Account:
    id: str
    username: str
    name: str
    role: Role
    party: str | None
    active: bool = True


@dataclass(frozen=True)
class Session:
    account: Account
    token: str  # goes in the cookie; never stored
    csrf_token: str
    expires_at: datetime


def create_account(
    engine: Engine,
    clock: Clock,
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
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(s.accounts).values(
                    id=account.id,
                    username=account.username,
                    name=account.name,
                    role=role.value,
                    party=account.party,
                    password_hash=_hasher.hash(password),
                    active=True,
                    created_at=clock.now(),
                )
            )
    except IntegrityError as exc:
        raise AccountError(f"username {username!r} is taken; choose another") from exc
    return account


def ensure_account(
    engine: Engine,
    clock: Clock,
    *,
    username: str,
    password: str,
    role: Role,
    name: str = "",
    party: str | None = None,
) -> Account:
    """The account with this username, created if there is none (for demo data)."""
    found = find_account(engine, username)
    if found is not None:
        return found
    return create_account(
        engine, clock, username=username, password=password, role=role, name=name, party=party
    )


def find_account(engine: Engine, username: str) -> Account | None:
    with engine.connect() as conn:
        row = conn.execute(select(s.accounts).where(s.accounts.c.username == username)).first()
    return None if row is None else _account(row)


def list_accounts(engine: Engine) -> list[Account]:
    with engine.connect() as conn:
        rows = conn.execute(select(s.accounts).order_by(s.accounts.c.role, s.accounts.c.username))
        return [_account(r) for r in rows]


def _account(row: object) -> Account:
    return Account(
        id=row.id,  # type: ignore[attr-defined]
        username=row.username,  # type: ignore[attr-defined]
        name=row.name,  # type: ignore[attr-defined]
        role=Role(row.role),  # type: ignore[attr-defined]
        party=row.party,  # type: ignore[attr-defined]
        active=bool(row.active),  # type: ignore[attr-defined]
    )


def sign_in(engine: Engine, clock: Clock, username: str, password: str) -> Session | None:
    """A new session when the password matches an active account; else None (no hint which)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(s.accounts).where(s.accounts.c.username == username.strip())
        ).first()
    if row is None:
        _hasher.hash(password)  # the same work either way: no timing hint an account exists
        return None
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    account = _account(row)
    if not account.active:
        return None
    now = clock.now()
    token = secrets.token_urlsafe(32)
    session = Session(account, token, secrets.token_urlsafe(24), now + SESSION_LIFETIME)
    with engine.begin() as conn:
        if _hasher.check_needs_rehash(row.password_hash):
            conn.execute(
                update(s.accounts)
                .where(s.accounts.c.id == account.id)
                .values(password_hash=_hasher.hash(password))
            )
        conn.execute(delete(s.web_sessions).where(s.web_sessions.c.expires_at < now))
        conn.execute(
            insert(s.web_sessions).values(
                token_sha256=_digest(token),
                account_id=account.id,
                csrf_token=session.csrf_token,
                created_at=now,
                expires_at=session.expires_at,
            )
        )
    return session


def session_for(engine: Engine, clock: Clock, token: str | None) -> Session | None:
    """The live session behind a cookie's token, or None (unknown, expired, account off)."""
    if not token:
        return None
    ws, a = s.web_sessions, s.accounts
    with engine.connect() as conn:
        row = conn.execute(
            select(ws.c.csrf_token, ws.c.expires_at, a)
            .select_from(ws.join(a, ws.c.account_id == a.c.id))
            .where(ws.c.token_sha256 == _digest(token))
        ).first()
    if row is None or row.expires_at <= clock.now() or not row.active:
        return None
    return Session(_account(row), token, row.csrf_token, row.expires_at)


def sign_out(engine: Engine, token: str | None) -> None:
    if token:
        with engine.begin() as conn:
            conn.execute(
                delete(s.web_sessions).where(s.web_sessions.c.token_sha256 == _digest(token))
            )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---------------------------------------------------------------- API tokens for systems


@dataclass(frozen=True)
class ApiToken:
    id: str
    account: Account
    name: str
    token: str  # shown once, never stored


def create_api_token(engine: Engine, clock: Clock, *, username: str, name: str) -> ApiToken:
    """A new token that acts as ``username``'s account; only its digest is stored."""
    account = find_account(engine, username)
    if account is None:
        raise AccountError(f"no account {username!r}; create it first (aftersales accounts create)")
    if not name.strip():
        raise AccountError("name the token after the system that will use it, e.g. 'order-sync'")
    token = "as_" + secrets.token_urlsafe(32)
    record = ApiToken(f"tok-{secrets.token_hex(6)}", account, name.strip()[:100], token)
    with engine.begin() as conn:
        conn.execute(
            insert(s.api_tokens).values(
                id=record.id,
                account_id=account.id,
                name=record.name,
                token_sha256=_digest(token),
                created_at=clock.now(),
            )
        )
    return record


def account_for_token(engine: Engine, token: str | None) -> Account | None:
    """The active account behind a bearer token, or None (unknown, revoked, account off)."""
    if not token:
        return None
    t, a = s.api_tokens, s.accounts
    with engine.connect() as conn:
        row = conn.execute(
            select(a)
            .select_from(t.join(a, t.c.account_id == a.c.id))
            .where(t.c.token_sha256 == _digest(token), t.c.revoked_at.is_(None))
        ).first()
    if row is None or not row.active:
        return None
    return _account(row)


def revoke_api_token(engine: Engine, clock: Clock, token_id: str) -> bool:
    with engine.begin() as conn:
        result = conn.execute(
            update(s.api_tokens)
            .where(s.api_tokens.c.id == token_id, s.api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=clock.now())
        )
    return result.rowcount == 1
