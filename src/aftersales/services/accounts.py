"""Accounts, passwords and web sessions.

Passwords are hashed with argon2id (``argon2-cffi``); a hash made with older
parameters is replaced on the next successful sign-in. A web session is a random
token in an HttpOnly cookie; the database keeps only its SHA-256, so a leaked
table signs nobody in. Each session carries its own CSRF token for forms.
Signing in itself, throttled, is :mod:`aftersales.services.sign_in`.

API tokens are kept the same way (a digest); one may be given a lifetime, after
which it is refused as expired, and its owner (or operations) may revoke it.
A token that passed is remembered for a few seconds per process
(:mod:`aftersales.services.token_cache`, which states the bound on revocations).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher

from aftersales.domain import access
from aftersales.domain.access import Action
from aftersales.domain.lifecycle import Role
from aftersales.errors import AlreadyExists, InvalidRequest, NotFound, NotSignedIn
from aftersales.services.base import Services
from aftersales.services.ports import UnitOfWork
from aftersales.services.records import Account, TokenRecord

SESSION_LIFETIME = timedelta(days=7)
MAX_TOKEN_LIFETIME = timedelta(days=3650)
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
    password_hash: str | None = None,
) -> Account:
    """Add an account; the username must be new and the password long enough.

    ``password_hash``: the hash of ``password`` made already (accounts that share a
    published password, as the demo's of one role do, share one hash: hashing is
    slow on purpose, a third of a second here).
    """
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
    if password_hash is None:
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
    password_hash: str | None = None,
) -> Account:
    """The account with this username, created if there is none (for demo data)."""
    found = find_account(svc, username)
    if found is not None:
        return found
    try:
        return create_account(
            svc,
            username=username,
            password=password,
            role=role,
            name=name,
            party=party,
            password_hash=password_hash,
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


def sign_in(
    svc: Services, username: str, password: str, address: str | None = None
) -> Session | None:
    """A new session when the password matches an active account; else None (no hint which).

    Throttled (:mod:`aftersales.services.sign_in`): raises
    :class:`~aftersales.errors.Throttled` while the account or address is blocked.
    """
    from aftersales.services import sign_in as signing_in

    return signing_in.sign_in(svc, username, password, address)


def session_for(svc: Services, token: str | None) -> Session | None:
    """The live session behind a cookie's token, or None (unknown, expired, account off)."""
    if not token:
        return None
    with svc.uow() as uow:
        record = uow.accounts.session(digest(token))
    if record is None or record.expires_at <= svc.clock.now() or not record.account.active:
        return None
    return Session(record.account, token, record.csrf_token, record.expires_at)


def sign_out(svc: Services, token: str | None) -> None:
    if token:
        with svc.uow() as uow:
            uow.accounts.drop_session(digest(token))
            uow.commit()


def digest(token: str) -> str:
    """What is stored of a session or API token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def hasher() -> PasswordHasher:
    """The one argon2id hasher (its parameters decide when a stored hash is renewed)."""
    return _hasher


# ---------------------------------------------------------------- API tokens for systems


@dataclass(frozen=True)
class ApiToken:
    id: str
    account: Account
    name: str
    token: str  # shown once, never stored
    expires_at: datetime | None = None


def create_api_token(
    svc: Services, *, username: str, name: str, expires_in: timedelta | None = None
) -> ApiToken:
    """A new token that acts as ``username``'s account; only its digest is stored.

    With ``expires_in`` it stops working that long from now; without, when revoked.
    """
    account = find_account(svc, username)
    if account is None:
        raise AccountError(f"no account {username!r}; create it first (aftersales accounts create)")
    if not name.strip():
        raise AccountError("name the token after the system that will use it, e.g. 'order-sync'")
    if expires_in is not None and expires_in <= timedelta(0):
        raise AccountError("a token's lifetime must be longer than nothing, e.g. 30d or 12h")
    if expires_in is not None and expires_in > MAX_TOKEN_LIFETIME:
        raise AccountError(
            f"a token may live at most {MAX_TOKEN_LIFETIME.days} days; leave the expiry out "
            "for one that lasts until it is revoked"
        )
    now = svc.clock.now()
    expires_at = None if expires_in is None else now + expires_in
    token = "as_" + secrets.token_urlsafe(32)
    record = ApiToken(f"tok-{secrets.token_hex(6)}", account, name.strip()[:100], token, expires_at)
    with svc.uow() as uow:
        uow.accounts.add_token(record.id, account.id, record.name, digest(token), now, expires_at)
        uow.commit()
    return record


def account_for_token(svc: Services, token: str | None) -> Account | None:
    """The active account behind a bearer token, or None (unknown, revoked, expired, off)."""
    try:
        return authenticate_token(svc, token)
    except NotSignedIn:
        return None


def authenticate_token(svc: Services, token: str | None) -> Account:
    """The active account behind a bearer token; :class:`NotSignedIn` saying why not."""
    record = None
    if token:
        record = _token_record(svc, digest(token))
    return _judged(svc, record)


def authenticate_kept_token(svc: Services, token: str) -> Account | None:
    """:func:`authenticate_token` for a token this process checked a moment ago (judged
    again now: expiry, account switched off), without the database; None when it is not
    kept, and the caller must then ask :func:`authenticate_token`."""
    cache = svc.tokens
    record = cache.get(digest(token)) if cache is not None and token else None
    return None if record is None else _judged(svc, record)


def _judged(svc: Services, record: TokenRecord | None) -> Account:
    if record is None or record.revoked_at is not None:
        raise NotSignedIn("the bearer token is unknown or was revoked")
    if record.expires_at is not None and record.expires_at <= svc.clock.now():
        raise NotSignedIn(
            f"the bearer token {record.id} expired at {record.expires_at.isoformat()}; "
            "ask for a new one (aftersales accounts token)"
        )
    if not record.account.active:
        raise NotSignedIn("the bearer token's account is switched off")
    return record.account


def _token_record(svc: Services, token_digest: str) -> TokenRecord | None:
    """The token as stored, or as read a few seconds ago in this process (see
    :mod:`aftersales.services.token_cache`); only tokens that pass are kept."""
    cache = svc.tokens
    if cache is not None and (kept := cache.get(token_digest)) is not None:
        return kept
    generation = cache.generation if cache is not None else 0
    with svc.uow() as uow:
        record = uow.accounts.token_by_digest(token_digest)
    usable = record is not None and record.revoked_at is None and record.account.active
    if cache is not None and record is not None and usable:
        cache.put(token_digest, record, generation)
    return record


def _forget_tokens_on_commit(svc: Services, uow: UnitOfWork) -> None:
    """A token changed: once that is committed, this process checks every token afresh."""
    cache = svc.tokens
    if cache is not None:
        uow.on_commit(cache.clear)


def list_tokens(
    svc: Services, *, role: Role, caller_id: str, account_id: str | None = None
) -> list[TokenRecord]:
    """Tokens, newest first: the caller's own, or ``account_id``'s, or with ``"*"`` everyone's
    (another account's only for a role the access table lets manage any token)."""
    access.require(role, Action.MANAGE_OWN_TOKENS)
    wanted = account_id or caller_id
    if wanted != caller_id:
        access.require(role, Action.MANAGE_ANY_TOKEN)
    with svc.uow() as uow:
        return list(uow.accounts.tokens(None if wanted == "*" else wanted))


def find_token(svc: Services, token_id: str) -> TokenRecord | None:
    with svc.uow() as uow:
        return uow.accounts.token(token_id)


def revoke_token_of(svc: Services, token_id: str, *, role: Role, caller_id: str) -> TokenRecord:
    """Revoke one of the caller's tokens (any account's, for operations); the token as it
    now is. Another account's token is not found, as one that does not exist; a token
    revoked before stays revoked at its first instant."""
    access.require(role, Action.MANAGE_OWN_TOKENS)
    any_token = access.allowed(role, Action.MANAGE_ANY_TOKEN)
    with svc.uow() as uow:
        found = uow.accounts.token(token_id)
        if found is None or (not any_token and found.account.id != caller_id):
            raise NotFound("API token", token_id)
        uow.accounts.revoke_token(token_id, svc.clock.now())
        _forget_tokens_on_commit(svc, uow)
        revoked = uow.accounts.token(token_id)
        uow.commit()
    assert revoked is not None
    return revoked


def revoke_api_token(svc: Services, token_id: str) -> bool:
    """Revoke any account's token; False when there is none by that id or it was revoked."""
    with svc.uow() as uow:
        revoked = uow.accounts.revoke_token(token_id, svc.clock.now())
        _forget_tokens_on_commit(svc, uow)
        uow.commit()
    return revoked
