"""Retry policy for image API calls: which failures are retried, how long to wait, how often.

Transient failures (408, 409, 5xx, dropped connections, timeouts) back off exponentially with
full jitter, capped, a bounded number of times. A request that cannot connect at all is the
endpoint's failure, not the call's: the endpoint is retried a few times, quickly, for all its calls
at once (`providers/endpoints.py`), and then given up. Rate limits (429) wait as long as the service
says (the pacer does the waiting) and have their own, larger bound: under a tight quota they are
expected, and they cost nothing.
"""

from __future__ import annotations

import random

from msgspec import Struct


class RetryPolicy(Struct, frozen=True):
    max_attempts: int = 6          # attempts in all for transient failures (first try included)
    max_rate_limited: int = 30     # 429 answers tolerated for one call
    base: float = 1.0              # seconds; the first backoff is drawn from [0, base]
    cap: float = 30.0              # seconds; no backoff is drawn from a wider range
    default_rate_wait: float = 2.0  # seconds to wait after a 429 that says nothing
    max_rate_wait: float = 300.0    # a 429 asking for a longer wait fails the call instead
    connect_attempts: int = 4       # attempts to connect to an endpoint before it is given up
    connect_base: float = 0.5       # seconds; the first wait after a failed connection is 0.25-0.5 s
    connect_budget: float = 5.0     # seconds after an endpoint's first failed connection: no retry later
                                    # (a refused port fails 4 times in ~3.5 s; a silent host twice, 5 s each)

    def backoff(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after the `failures`-th transient failure (1-based): full jitter."""
        ceiling = min(self.cap, self.base * 2 ** max(0, failures - 1))
        return rng.uniform(0.0, ceiling)

    def connect_backoff(self, failures: int, rng: random.Random) -> float:
        """Seconds before the next attempt to connect after `failures` failed ones: doubling, with
        half of it jittered (never near 0: a refused port answers at once)."""
        ceiling = self.connect_base * 2 ** max(0, failures - 1)
        return ceiling / 2 + rng.uniform(0.0, ceiling / 2)

    def gives_up(self, failures: int) -> bool:
        """True when `failures` transient failures leave no attempt."""
        return failures >= self.max_attempts

    def waits_too_long(self, wait: float) -> bool:
        return wait > self.max_rate_wait

    def rate_wait(self, retry_after: float | None) -> float:
        return self.default_rate_wait if retry_after is None else retry_after
