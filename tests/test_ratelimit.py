"""The per-user token bucket, driven by a fake clock."""

from __future__ import annotations

import pytest

from bot.telegram import limits as ratelimit
from bot.telegram.limits import Decision, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_one_notice_then_silence():
    limiter = RateLimiter(10, 60, clock=Clock())
    assert [limiter.take(1) for _ in range(10)] == [Decision.ALLOWED] * 10
    assert limiter.take(1) is Decision.LIMITED
    assert limiter.take(1) is Decision.LIMITED_QUIET
    assert limiter.take(1) is Decision.LIMITED_QUIET


def test_tokens_come_back_at_the_configured_rate():
    clock = Clock()
    limiter = RateLimiter(10, 60, clock=clock)  # one token every 6 s
    for _ in range(10):
        limiter.take(1)
    assert limiter.take(1) is Decision.LIMITED
    clock.now += 5.9
    assert limiter.take(1) is Decision.LIMITED_QUIET
    clock.now += 0.2
    assert limiter.take(1) is Decision.ALLOWED
    assert limiter.take(1) is Decision.LIMITED, "allowed again, so a new flood is told again"


def test_idle_users_refill_only_up_to_capacity():
    clock = Clock()
    limiter = RateLimiter(3, 3, clock=clock)
    clock.now += 3600
    assert [limiter.take(1) for _ in range(4)] == [Decision.ALLOWED] * 3 + [Decision.LIMITED]


def test_users_have_their_own_buckets():
    limiter = RateLimiter(1, 60, clock=Clock())
    assert limiter.take(1) is Decision.ALLOWED
    assert limiter.take(1) is Decision.LIMITED
    assert limiter.take(2) is Decision.ALLOWED


def test_refilled_buckets_are_forgotten(monkeypatch):
    monkeypatch.setattr(ratelimit, "_PRUNE_AT", 5)
    clock = Clock()
    limiter = RateLimiter(2, 10, clock=clock)
    for user in range(5):
        limiter.take(user)
    clock.now += 11  # every bucket is full again
    limiter.take(99)
    assert list(limiter._buckets) == [99]


@pytest.mark.parametrize(("capacity", "seconds"), [(0, 60), (10, 0)])
def test_nonsense_limits_are_refused(capacity, seconds):
    with pytest.raises(ValueError):
        RateLimiter(capacity, seconds)
