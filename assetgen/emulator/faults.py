"""Injected faults: a seeded random choice of 500, 503 or a dropped connection."""

from __future__ import annotations

import enum
import random
import threading


class Fault(enum.Enum):
    SERVER_ERROR = "500"
    UNAVAILABLE = "503"
    DROP = "drop"


class FaultInjector:
    """Draws one decision per image request, in arrival order: same seed, same sequence."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self) -> Fault | None:
        if self.rate <= 0:
            return None
        with self._lock:
            if self._rng.random() >= self.rate:
                return None
            return self._rng.choice(list(Fault))
