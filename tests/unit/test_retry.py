"""RetryPolicy: growing delays with a cap, jitter from a key, and giving up."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from aftersales.adapters.webhooks import WEBHOOK_RETRY, retry_delay
from aftersales.domain.retry import RetryPolicy
from aftersales.services.deadlines import POSTPONE_RETRY


def seconds(policy: RetryPolicy, attempts: int, key: str = "k") -> float:
    return policy.delay(attempts, key).total_seconds()


def test_the_delay_grows_by_the_factor_until_the_cap() -> None:
    policy = RetryPolicy(base_s=5, factor=3, cap_s=100)
    assert [seconds(policy, n) for n in range(1, 7)] == [5, 15, 45, 100, 100, 100]


def test_the_first_failure_waits_the_base_delay_and_zero_counts_as_the_first() -> None:
    policy = RetryPolicy(base_s=7)
    assert seconds(policy, 1) == seconds(policy, 0) == seconds(policy, -3) == 7


def test_a_factor_of_one_waits_the_same_every_time() -> None:
    policy = RetryPolicy(base_s=2, factor=1, cap_s=10)
    assert {seconds(policy, n) for n in range(1, 50)} == {2}


def test_a_huge_attempt_count_is_simply_the_cap() -> None:
    policy = RetryPolicy(base_s=30, factor=2, cap_s=3600)
    assert seconds(policy, 10**6) == 3600


def test_without_jitter_the_key_makes_no_difference() -> None:
    policy = RetryPolicy(base_s=10)
    assert {seconds(policy, 3, f"key-{i}") for i in range(20)} == {40}


def test_jitter_is_the_same_for_the_same_key_and_attempt() -> None:
    policy = RetryPolicy(base_s=10, jitter=0.5)
    assert [policy.delay(n, "17:we_abc") for n in range(1, 10)] == [
        RetryPolicy(base_s=10, jitter=0.5).delay(n, "17:we_abc") for n in range(1, 10)
    ]


def test_jitter_adds_at_most_its_share_of_the_delay() -> None:
    policy = RetryPolicy(base_s=10, factor=2, cap_s=3600, jitter=0.2)
    for n in range(1, 15):
        base = policy.backoff_s(n)
        for i in range(50):
            assert base <= seconds(policy, n, f"{i}:we_x") < base * 1.2


def test_jitter_spreads_different_keys_and_different_attempts() -> None:
    policy = RetryPolicy(base_s=10, jitter=0.2)
    assert len({policy.delay(1, f"{i}:we_abc") for i in range(20)}) > 10
    shares = {policy.delay(n, "one-key") - timedelta(seconds=policy.backoff_s(n)) for n in (1, 2)}
    assert len(shares) == 2  # the attempt number is hashed too


def test_jitter_is_whole_milliseconds() -> None:
    policy = RetryPolicy(base_s=10, jitter=1.0)
    for i in range(20):
        assert policy.delay(1, str(i)).microseconds % 1000 == 0


def test_gives_up_once_max_attempts_have_failed() -> None:
    policy = RetryPolicy(base_s=1, max_attempts=3)
    assert [policy.gives_up(n) for n in (0, 1, 2, 3, 4)] == [False, False, False, True, True]


def test_without_max_attempts_it_never_gives_up() -> None:
    assert not RetryPolicy(base_s=1).gives_up(10**9)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"base_s": 0}, "base delay"),
        ({"base_s": -1}, "base delay"),
        ({"base_s": 1, "factor": 0.5}, "factor"),
        ({"base_s": 10, "cap_s": 5}, "cap"),
        ({"base_s": 1, "jitter": -0.1}, "jitter"),
        ({"base_s": 1, "jitter": 1.5}, "jitter"),
        ({"base_s": 1, "max_attempts": 0}, "max_attempts"),
    ],
)
def test_nonsense_settings_are_refused(fields: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**fields)  # type: ignore[arg-type]


def test_webhook_deliveries_wait_10s_doubling_to_an_hour_plus_up_to_a_fifth() -> None:
    """The schedule webhooks have always had, jitter included, to the millisecond."""
    for key in ("17:we_abc", "1:we_0", "999999:we_ffffffffffffffff"):
        for n in range(1, 20):
            base = min(3600, 10 * 2 ** (n - 1))
            digest = hashlib.sha256(f"{key}#{n}".encode()).digest()
            share = int.from_bytes(digest[:8], "big") / 2**64
            expected = timedelta(seconds=base, milliseconds=int(base * 0.2 * share * 1000))
            assert WEBHOOK_RETRY.delay(n, key) == retry_delay(n, key) == expected
    assert WEBHOOK_RETRY.max_attempts is None  # how many attempts is a setting


def test_a_failed_deadline_waits_30s_doubling_to_an_hour_without_jitter() -> None:
    """``_postpone``'s schedule: the n-th postponement waits min(30 s × 2^(n−1), 1 h)."""
    for earlier_failures in range(25):
        expected = min(30.0 * 2**earlier_failures, 3600.0)
        for case_id in ("C-1", "C-2"):
            delay = POSTPONE_RETRY.delay(earlier_failures + 1, case_id)
            assert delay == timedelta(seconds=expected)
    assert not POSTPONE_RETRY.gives_up(10**6)
