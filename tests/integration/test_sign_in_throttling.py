"""Sign-in throttling: per account name and per client address, kept in the database.

Password guessing used to be free: 30 wrong passwords, then the right one
signed in at once. Now the fifth failure under an account blocks it for a few
seconds, each failure after that for twice as long (to a cap), and a blocked
account refuses even the right password, without hashing it. The counts are
rows, so two processes on one database see the same ones.

Most tests here swap in a cheap argon2 hasher: what is tested is the counting,
not the hash (``test_sign_in_http.py`` keeps the real one where its cost matters).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select

from aftersales.adapters.db import schema as s
from aftersales.domain.lifecycle import Role
from aftersales.errors import Throttled
from aftersales.services import accounts, sign_in
from aftersales.services.time import FixedClock
from aftersales.testing import services_on

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
RIGHT, WRONG = "correct horse", "wrong horse"


class CountingHasher(PasswordHasher):
    """A cheap argon2id hasher that counts how often a password was checked or hashed."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=64, parallelism=1)
        self.calls = 0

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.calls += 1
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.calls += 1
        return super().verify(hash, password)

    def check_needs_rehash(self, hash: str | bytes) -> bool:
        return False


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    cheap = CountingHasher()
    monkeypatch.setattr(accounts, "_hasher", cheap)
    return cheap


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


def _account(engine: Engine, clock: FixedClock, username: str = "hz-install-01") -> None:
    accounts.create_account(
        services_on(engine, clock),
        username=username,
        password=RIGHT,
        role=Role.PROVIDER,
        party=username,
    )


def _try(
    engine: Engine, clock: FixedClock, password: str, username: str = "hz-install-01", **kw: str
) -> accounts.Session | None:
    return accounts.sign_in(services_on(engine, clock), username, password, kw.get("address"))


def test_the_right_password_is_refused_after_five_wrong_ones_until_the_block_ends(
    engine: Engine, clock: FixedClock, hasher: CountingHasher
) -> None:
    _account(engine, clock)
    for _ in range(4):
        assert _try(engine, clock, WRONG) is None
    assert _try(engine, clock, WRONG) is None  # the fifth: blocks for 5 s
    with pytest.raises(Throttled) as refused:
        _try(engine, clock, RIGHT)
    assert refused.value.retry_after_s == 5
    assert "try again in 5 s" in str(refused.value)
    clock.advance(seconds=5)
    assert _try(engine, clock, RIGHT) is not None


def test_each_failure_past_the_fifth_doubles_the_block_up_to_fifteen_minutes() -> None:
    at = NOW
    waits = [sign_in.blocked_until(n, at, 5) for n in range(1, 15)]
    assert waits[:4] == [None] * 4
    seconds = [(w - at).total_seconds() for w in waits[4:] if w is not None]
    assert seconds == [5, 10, 20, 40, 80, 160, 320, 640, 900, 900]


def test_a_blocked_attempt_hashes_nothing(
    engine: Engine, clock: FixedClock, hasher: CountingHasher
) -> None:
    _account(engine, clock)
    for _ in range(5):
        _try(engine, clock, WRONG)
    before = hasher.calls
    for _ in range(3):
        with pytest.raises(Throttled):
            _try(engine, clock, RIGHT)
    assert hasher.calls == before


def test_a_success_clears_the_accounts_count(
    engine: Engine, clock: FixedClock, hasher: CountingHasher
) -> None:
    _account(engine, clock)
    for _ in range(4):
        _try(engine, clock, WRONG)
    assert _try(engine, clock, RIGHT) is not None
    for _ in range(4):
        assert _try(engine, clock, WRONG) is None
    assert _try(engine, clock, RIGHT) is not None  # four more are not five in a row


def test_failures_are_forgotten_an_hour_after_the_last(
    engine: Engine, clock: FixedClock, hasher: CountingHasher
) -> None:
    _account(engine, clock)
    for _ in range(4):
        _try(engine, clock, WRONG)
    clock.advance(hours=1, seconds=1)
    _try(engine, clock, WRONG)  # counts as the first again
    assert _try(engine, clock, RIGHT) is not None


def test_an_unknown_account_is_throttled_like_a_known_one(
    engine: Engine, clock: FixedClock, hasher: CountingHasher
) -> None:
    """Otherwise the block itself would tell a guesser which accounts exist."""
    for _ in range(5):
        assert _try(engine, clock, WRONG, username="nobody") is None
    with pytest.raises(Throttled):
        _try(engine, clock, WRONG, username="nobody")


def test_many_accounts_guessed_from_one_address_block_that_address_only(
    engine: Engine, clock: FixedClock, hasher: CountingHasher
) -> None:
    _account(engine, clock)
    for n in range(sign_in.ADDRESS_BLOCKS_AT):  # one guess at each of many accounts
        assert _try(engine, clock, WRONG, username=f"guess-{n}", address="203.0.113.9") is None
    with pytest.raises(Throttled):
        _try(engine, clock, RIGHT, address="203.0.113.9")
    assert _try(engine, clock, RIGHT, address="198.51.100.7") is not None


def test_a_success_does_not_clear_its_addresss_count(
    engine: Engine, clock: FixedClock, hasher: CountingHasher
) -> None:
    """One account a guesser owns must not reset their guessing at everyone else's."""
    _account(engine, clock)
    for n in range(sign_in.ADDRESS_BLOCKS_AT - 1):
        _try(engine, clock, WRONG, username=f"guess-{n}", address="203.0.113.9")
    assert _try(engine, clock, RIGHT, address="203.0.113.9") is not None
    _try(engine, clock, WRONG, username="guess-last", address="203.0.113.9")
    with pytest.raises(Throttled):
        _try(engine, clock, RIGHT, address="203.0.113.9")


def test_racing_failures_each_count(
    engine: Engine, clock: FixedClock, hasher: CountingHasher
) -> None:
    _account(engine, clock)
    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(lambda _: _try(engine, clock, WRONG), range(5)))
    assert results == [None] * 5
    with engine.connect() as conn:
        counted = conn.execute(
            select(s.sign_in_failures.c.failures).where(
                s.sign_in_failures.c.key == "account:hz-install-01"
            )
        ).scalar_one()
    assert counted == 5
    with pytest.raises(Throttled):
        _try(engine, clock, RIGHT)


@pytest.mark.parametrize("username", ["bu\x00yer", "bu yer", "\u202ebuyer", ""])
def test_text_no_username_can_be_signs_nobody_in_and_stores_no_key_for_it(
    engine: Engine, clock: FixedClock, hasher: CountingHasher, username: str
) -> None:
    """A NUL byte in a sign-in used to be a 500 on PostgreSQL; now it is a failed sign-in
    counted under the address only."""
    assert _try(engine, clock, RIGHT, username=username, address="203.0.113.9") is None
    with engine.connect() as conn:
        keys = conn.execute(select(s.sign_in_failures.c.key)).scalars().all()
    assert keys == ["address:203.0.113.9"]
    assert hasher.calls == 1  # hashed all the same: no hint from the time it takes


def test_a_blocked_account_is_heard_again_after_the_block_not_sooner(
    engine: Engine, clock: FixedClock, hasher: CountingHasher
) -> None:
    _account(engine, clock)
    for _ in range(5):
        _try(engine, clock, WRONG)
    clock.advance(seconds=5)
    assert _try(engine, clock, WRONG) is None  # the sixth: blocks for 10 s
    clock.advance(seconds=9)
    with pytest.raises(Throttled) as refused:
        _try(engine, clock, RIGHT)
    assert refused.value.retry_after_s == 1
    clock.advance(seconds=1)
    assert _try(engine, clock, RIGHT) is not None


def test_counts_forgotten_an_hour_ago_are_deleted_at_the_next_success(
    engine: Engine, clock: FixedClock, hasher: CountingHasher
) -> None:
    """Guessed names would otherwise leave a row each, for ever."""
    _account(engine, clock)
    for n in range(3):
        _try(engine, clock, WRONG, username=f"guess-{n}", address="203.0.113.9")
    clock.advance(minutes=30)
    _try(engine, clock, WRONG, username="guess-late")
    clock.advance(minutes=31)
    assert _try(engine, clock, RIGHT) is not None
    with engine.connect() as conn:
        keys = conn.execute(select(s.sign_in_failures.c.key)).scalars().all()
    assert keys == ["account:guess-late"]
