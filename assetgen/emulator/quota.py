"""Per-deployment request quota, enforced over short windows as Azure does (reference section 8.1).

A deployment with `rpm` requests per minute accepts at most ceil(rpm/60) requests in any 1 s
window, ceil(rpm/6) in any 10 s window and rpm in any 60 s window. A refused request is not counted.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = (1.0, 10.0, 60.0)


@dataclass(frozen=True)
class QuotaDecision:
    allowed: bool
    limit: int
    remaining: int          # requests left in the tightest window after this one
    retry_after: float      # seconds until a refused request would be accepted; 0 when allowed

    def headers(self, limit: bool = False) -> dict[str, str]:
        """The rate-limit headers; `limit` adds OpenAI's `x-ratelimit-limit-requests`, which Azure
        does not send (reference §8)."""
        headers = {"x-ratelimit-remaining-requests": str(self.remaining)}
        if limit:
            headers["x-ratelimit-limit-requests"] = str(self.limit)
        if not self.allowed:
            headers["retry-after"] = str(max(1, math.ceil(self.retry_after)))
            headers["retry-after-ms"] = str(max(1, math.ceil(self.retry_after * 1000)))
        return headers


def window_limits(rpm: int) -> tuple[tuple[float, int], ...]:
    return ((1.0, math.ceil(rpm / 60)), (10.0, math.ceil(rpm / 6)), (60.0, rpm))


class Quota:
    """Sliding-window request counters, one per deployment. Thread-safe."""

    def __init__(self, rpm: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rpm = rpm
        self._limits = window_limits(rpm)
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, deployment: str) -> QuotaDecision:
        """Count one request for `deployment` if the quota allows it."""
        with self._lock:
            now = self._clock()
            seen = self._seen.setdefault(deployment, deque())
            while seen and seen[0] <= now - WINDOW_SECONDS[-1]:
                seen.popleft()
            waits = [self._wait(seen, now, span, limit) for span, limit in self._limits]
            retry_after = max(waits)
            if retry_after > 0:
                return QuotaDecision(False, self.rpm, 0, retry_after)
            seen.append(now)
            remaining = min(limit - self._count(seen, now, span) for span, limit in self._limits)
            return QuotaDecision(True, self.rpm, remaining, 0.0)

    @staticmethod
    def _count(seen: deque[float], now: float, span: float) -> int:
        return sum(1 for t in seen if t > now - span)

    def _wait(self, seen: deque[float], now: float, span: float, limit: int) -> float:
        inside = [t for t in seen if t > now - span]
        if len(inside) < limit:
            return 0.0
        # the request that must leave the window before one more fits
        return inside[len(inside) - limit] + span - now
