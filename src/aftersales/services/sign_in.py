"""Signing in with a password, throttled per account name and per client address.

A sign-in is three steps, so that an entry point can run the slow middle one
where it will not hold anything up:

1. :func:`begin` reads the failures counted under the account name and the
   client address, and refuses at once (:class:`~aftersales.errors.Throttled`,
   with the seconds to wait) while either is blocked: no password is hashed and
   even a correct one is refused, so guessing gains nothing by waiting less;
2. :func:`password_matches` checks the password against its argon2 hash (about
   a second of CPU by design), outside any transaction;
3. :func:`finish` opens the session and clears the account's count, or counts
   the failure under both keys.

The counts live in the database behind the ``Accounts`` port, so every HTTP
process (``serve --workers N``) sees the same ones. A failure is counted with
its row locked, so racing failures each count. Attempts already past step 1
when a block begins still finish: at most as many as the hashing threads allow.

The back-off: a key's first few failures are free (a typo, a forgotten caps
lock); the failure that reaches :data:`ACCOUNT_BLOCKS_AT` blocks the key for
:data:`FIRST_BLOCK`, and each one after it for twice as long as the one
before, up to :data:`LONGEST_BLOCK`. An address gets more free
failures than an account, since many people may share one (an office, a mobile
network). A key with no failure for :data:`FORGET_AFTER` starts afresh. A
success clears the account's count but not the address's, so one account an
attacker knows cannot be used to reset guessing at others.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2.exceptions import InvalidHashError, VerificationError

from aftersales.errors import Throttled
from aftersales.services import accounts
from aftersales.services.base import Services
from aftersales.services.records import SignInFailures, StoredAccount

ACCOUNT_BLOCKS_AT = 5  # failures
ADDRESS_BLOCKS_AT = 20
FIRST_BLOCK = timedelta(seconds=5)
LONGEST_BLOCK = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)  # longer than LONGEST_BLOCK: forgetting never lifts a block
_KEY_TEXT = re.compile(r"^[\x21-\x7e]{1,150}$")  # printable ASCII: what a username or address is


@dataclass(frozen=True)
class Attempt:
    """A sign-in let through :func:`begin`: who is asked for, from where, and their hash."""

    account_key: str | None  # None: text no username can be (never looked up)
    address_key: str | None
    stored: StoredAccount | None

    @property
    def keys(self) -> tuple[str, ...]:
        """The failure counters this attempt counts under."""
        return tuple(k for k in (self.account_key, self.address_key) if k is not None)


def blocked_until(failures: int, last_failure_at: datetime, blocks_at: int) -> datetime | None:
    """When a key with ``failures`` failures, the last at ``last_failure_at``, is heard again
    (None: it is not blocked)."""
    if failures < blocks_at:
        return None
    doublings = min(failures - blocks_at, 20)  # 5 s × 2**20 is far past the cap already
    block = min(FIRST_BLOCK * (1 << doublings), LONGEST_BLOCK)
    return last_failure_at + block


def account_key(username: str) -> str | None:
    """The counter of an account name (None for text no username can be)."""
    return f"account:{username}" if _KEY_TEXT.match(username) else None


def address_key(address: str | None) -> str | None:
    return f"address:{address}" if address and _KEY_TEXT.match(address) else None


def begin(svc: Services, username: str, address: str | None) -> Attempt:
    """Let the attempt through, or raise :class:`Throttled` saying how long to wait."""
    username = username.strip()
    by_account, by_address = account_key(username), address_key(address)
    keys = tuple(k for k in (by_account, by_address) if k is not None)
    now = svc.clock.now()
    with svc.uow() as uow:
        counts = uow.accounts.sign_in_failures(keys)
        stored = uow.accounts.by_username(username) if by_account is not None else None
    blocks = [c.blocked_until for c in counts.values() if c.blocked_until and c.blocked_until > now]
    if blocks:
        wait_s = math.ceil((max(blocks) - now).total_seconds())
        raise Throttled(
            f"too many failed sign-ins for this account or from this address; "
            f"try again in {wait_s} s",
            retry_after_s=wait_s,
        )
    return Attempt(by_account, by_address, stored)


def password_matches(attempt: Attempt, password: str) -> bool:
    """Does ``password`` match? CPU only (argon2): run it where it blocks nothing else."""
    if attempt.stored is None:
        accounts.hasher().hash(password)  # the same work either way: no hint an account exists
        return False
    try:
        return accounts.hasher().verify(attempt.stored.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def finish(
    svc: Services, attempt: Attempt, password: str, matched: bool
) -> accounts.Session | None:
    """The new session (the account's count cleared), or None with the failure counted."""
    now = svc.clock.now()
    stored = attempt.stored
    renewed = None  # a hash made with older parameters is renewed, before the transaction
    if (
        matched
        and stored is not None
        and accounts.hasher().check_needs_rehash(stored.password_hash)
    ):
        renewed = accounts.hasher().hash(password)
    with svc.uow() as uow:
        if matched and stored is not None and stored.account.active:
            account = stored.account
            token = secrets.token_urlsafe(32)
            csrf = secrets.token_urlsafe(24)
            session = accounts.Session(account, token, csrf, now + accounts.SESSION_LIFETIME)
            if renewed is not None:
                uow.accounts.set_password_hash(account.id, renewed)
            uow.accounts.drop_sessions_expired(now)
            uow.accounts.add_session(
                accounts.digest(token), account.id, csrf, now, session.expires_at
            )
            if attempt.account_key is not None:
                uow.accounts.clear_sign_in_failures(attempt.account_key)
            # Counts of guessed names would pile up: each success deletes the forgotten ones.
            uow.accounts.forget_sign_in_failures(now - FORGET_AFTER)
            uow.commit()
            return session
        for key in attempt.keys:
            limit = ACCOUNT_BLOCKS_AT if key == attempt.account_key else ADDRESS_BLOCKS_AT
            before = uow.accounts.lock_sign_in_failures(key, now)
            fresh = before.failures == 0 or now - before.last_failure_at > FORGET_AFTER
            failures = 1 if fresh else before.failures + 1
            uow.accounts.set_sign_in_failures(
                key, SignInFailures(failures, now, blocked_until(failures, now, limit))
            )
        uow.commit()
    return None


def sign_in(
    svc: Services, username: str, password: str, address: str | None = None
) -> accounts.Session | None:
    """All three steps in the calling thread (for callers with no event loop to spare)."""
    attempt = begin(svc, username, address)
    return finish(svc, attempt, password, password_matches(attempt, password))
