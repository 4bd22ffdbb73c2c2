"""Per-user limits: a token bucket (a burst of `capacity`, then one every
`per_seconds / capacity`) and a cap on questions in flight.

A flooding user is told once that they are too fast and then ignored until a token is
back, so a flood never turns into a flood of replies.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# Forget users whose bucket has refilled once this many are tracked, to bound memory.
_PRUNE_AT = 10_000


class Decision(enum.Enum):
    ALLOWED = "allowed"
    LIMITED = "limited"  # first refusal since the last allowed question: tell the user
    LIMITED_QUIET = "limited_quiet"  # already told: stay silent


@dataclass
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


class RateLimiter:
    """Token buckets keyed by user id; `clock` is injectable so tests need not sleep."""

    def __init__(
        self, capacity: int, per_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if capacity <= 0 or per_seconds <= 0:
            raise ValueError("capacity and per_seconds must be positive")
        self.capacity = capacity
        self.rate = capacity / per_seconds  # tokens per second
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: int) -> Decision:
        """Spend one token for `key` if there is one."""
        with self._lock:
            now = self._clock()
            if len(self._buckets) >= _PRUNE_AT:
                self._prune(now)
            bucket = self._buckets.setdefault(key, _Bucket(float(self.capacity), now))
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                bucket.warned = False
                return Decision.ALLOWED
            if bucket.warned:
                return Decision.LIMITED_QUIET
            bucket.warned = True
            return Decision.LIMITED

    def _prune(self, now: float) -> None:
        full = self.capacity / self.rate  # seconds for an empty bucket to refill
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.updated < full}


class InFlight:
    """Questions being answered per user, at most `cap` at once: a user cannot occupy the
    answer threads that everybody shares. Used from the event loop only."""

    def __init__(self, cap: int) -> None:
        self.cap = max(1, cap)
        self._counts: dict[int, int] = {}

    def enter(self, key: int) -> bool:
        """Take a slot for `key`; False when all of its slots are taken."""
        count = self._counts.get(key, 0)
        if count >= self.cap:
            return False
        self._counts[key] = count + 1
        return True

    def leave(self, key: int) -> None:
        count = self._counts.pop(key, 0) - 1
        if count > 0:
            self._counts[key] = count
