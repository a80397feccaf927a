"""Pacing per deployment: requests spaced evenly at its quota, never in bursts.

Azure enforces a deployment's RPM over short windows (1 s or 10 s), so a quota of R requests per
minute is only safe as one request every 60/R seconds. A `Pacer` hands out those slots, one per
HTTP attempt (retries included). A 429 pushes every later slot past its `retry-after` and lowers
the rate a little; `x-ratelimit-remaining-requests: 0` delays the next slot by one interval; an
`x-ratelimit-limit-requests` below the configured quota (OpenAI sends it) becomes the rate.
The clock and the sleep are injectable so the arithmetic is tested without waiting.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

MARGIN = 0.015         # spacing is this much wider than 60/RPM: arrival jitter never makes a burst
SLOWDOWN = 0.95        # a 429 soon after another multiplies the rate by this ...
FLOOR = 0.5            # ... down to this fraction of the configured rate
WARMUP = 0.05          # seconds of extra space after a pacer's first request: it opens a connection
                       # and so reaches the server later than the ones after it
RECUR = 60.0           # seconds: the third 429 within this time lowers the rate
RECUR_COUNT = 3


class Pacer:
    """Slots for one deployment: `await acquire()` before every request."""

    def __init__(self, rpm: float, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        if rpm <= 0:
            raise ValueError(f"rpm must be positive, got {rpm}")
        self.configured_rpm = float(rpm)
        self.rpm = float(rpm)
        self.throttled = 0                 # 429 answers seen
        self._clock = clock
        self._sleep = sleep
        self._next = -math.inf             # the earliest free slot
        self._hold_until = -math.inf       # no request before this (after a 429)
        self._recent_429: deque[float] = deque(maxlen=RECUR_COUNT)
        self._epoch = 0                    # changes when the rate is learned: waiters reserve again

    @property
    def interval(self) -> float:
        return 60.0 / self.rpm * (1 + MARGIN)

    def reserve(self) -> float:
        """Take the next slot; return how long to wait for it (0 when it is now)."""
        now = self._clock()
        first = self._next == -math.inf
        slot = max(now, self._next, self._hold_until)
        self._next = slot + self.interval + (WARMUP if first else 0.0)
        return slot - now

    async def acquire(self) -> None:
        """Wait for a slot. A 429 seen while waiting moves this request behind the hold."""
        while True:
            epoch = self._epoch
            delay = self.reserve()
            if delay > 0:
                await self._sleep(delay)
            if self._clock() >= self._hold_until and self._epoch == epoch:
                return

    def on_rate_limited(self, wait: float) -> None:
        """A 429: no request for `wait` seconds. A short wait is jitter at a window's edge; a long
        one, or 429s that keep coming, mean the quota is lower than configured: slow down."""
        self.throttled += 1
        now = self._clock()
        self._hold_until = max(self._hold_until, now + wait)
        self._next = max(self._next, self._hold_until)
        self._recent_429.append(now)
        recurring = len(self._recent_429) == RECUR_COUNT and now - self._recent_429[0] < RECUR
        if wait > 2 * self.interval or recurring:
            self.rpm = max(self.rpm * SLOWDOWN, self.configured_rpm * FLOOR)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read `x-ratelimit-limit-requests` (OpenAI's requests per minute): a quota lower than the
        configured one is the real one, so pace to it from now on. Read
        `x-ratelimit-remaining-requests`: at 0, leave one interval free."""
        limit = _int(headers.get("x-ratelimit-limit-requests"))
        if limit is not None and 0 < limit < self.rpm:
            self.rpm = float(limit)
            self._epoch += 1        # slots handed out at the old rate are taken again at this one
            self._next = self._clock() + self.interval
        remaining = _int(headers.get("x-ratelimit-remaining-requests"))
        if remaining is not None and remaining <= 0:
            self._next = max(self._next, self._clock() + self.interval)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class Pacers:
    """One `Pacer` per deployment, created on first use."""

    def __init__(self, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._pacers: dict[str, Pacer] = {}

    def get(self, deployment: str, rpm: float) -> Pacer:
        """The pacer of `deployment`; `rpm` sets its rate when it is first used."""
        pacer = self._pacers.get(deployment)
        if pacer is None:
            pacer = Pacer(rpm, clock=self._clock, sleep=self._sleep)
            self._pacers[deployment] = pacer
        return pacer

    def throttled(self) -> int:
        return sum(p.throttled for p in self._pacers.values())
