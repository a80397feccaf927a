"""Pacing per deployment: requests spaced evenly at its quota, never in bursts.

Azure enforces a deployment's RPM over short windows (1 s or 10 s), so a quota of R requests per
minute is only safe as one request every 60/R seconds. A `Pacer` hands out those slots, one per
HTTP attempt (retries included), on an even grid. A request is sent only when it keeps every
window of the quota: at most R/60 requests in any 1 s (at least one), R/6 in any 10 s and R in any
60 s, each window counted over the times requests actually left, a little wider than the window
(arrival jitter never makes a burst). A slot reached late (a busy event loop wakes its waiter
late) delays that request only: the next ones keep their slots, at least half an interval apart,
as long as the windows allow; so the lateness of a busy client is not added up over a run.

The configured quota may be wrong. An `x-ratelimit-limit-requests` below it (OpenAI sends one)
becomes the rate. Without that header (Azure), the pacer learns the rate the service admits from
its 429s (additive increase, multiplicative decrease): a 429 whose `retry-after` is longer than a
couple of intervals means the quota is lower, and the rate drops to what was actually admitted:
the requests sent in the last minute that were not refused, over the time from the first of them
to the moment the service will take the next one (with a limit of L requests per window W, that is
L/W). So a rate 4x too high costs a 429 or two per window length, not one per request. Short
429s that recur (three within a minute) slow it too, unless they are under 2 % of the requests of
that minute: at hundreds of RPM that is arrival jitter at a window's edge, and slowing down for it
would cost more than the 429s do. After a
quiet minute (no 429) the rate climbs back by 5 %, never above the configured quota. A short
`retry-after` is jitter at a window's edge: every later slot waits for it, the rate stays, and
the windows are kept 1 % wider (up to 5 %; a quiet minute narrows them by 1 % again).
`x-ratelimit-remaining-requests: 0` delays the next slot by one interval, unless the pacer's own
requests fill the window (the windows keep the next one back already).
The clock and the sleep are injectable so the arithmetic is tested without waiting.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

MARGIN = 0.01          # windows are this much wider than the quota's: arrival jitter never makes a burst
MAX_MARGIN = 0.05      # ... widened by MARGIN at each short 429 (more jitter than that), up to this
WINDOWS = (1.0, 10.0, 60.0)     # seconds: the quota holds in every window of these lengths
CATCH_UP = 0.5         # a request reached late is followed no sooner than this share of an interval
SLOWDOWN = 0.95        # a long or recurring 429 multiplies the rate by at most this
MIN_RPM = 0.1          # the slowest pace a pacer falls to
SPAN = 60.0            # seconds of sent requests the admitted rate is measured over (Azure's
                       # longest window)
QUIET = 60.0           # seconds without a 429 before the rate climbs ...
CLIMB = 0.05           # ... by this fraction of itself, up to the configured quota
RECUR = 60.0           # seconds: the third 429 within this time lowers the rate ...
RECUR_COUNT = 3
RECUR_SHARE = 0.02     # ... when the 429s of that time are at least this share of its requests


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
        self._sent: deque[float] = deque()      # when each request of the last SPAN left
        self._counted: deque[Sent] = deque()    # ... those the service counts (not refused)
        self._refused: deque[float] = deque()   # when each 429 of the last SPAN came
        self._last_sent = -math.inf
        self._calm_since = clock()         # the last 429 or climb
        self._told = False                 # the service named its quota: nothing to learn
        self.margin = MARGIN               # how much wider than the quota's the windows are kept
        self._narrow_since = clock()       # the last 429 or narrowing of the margin

    @property
    def interval(self) -> float:
        return 60.0 / self.rpm * (1 + self.margin)

    def _windows(self) -> list[tuple[float, int]]:
        """(seconds, requests) the rate allows in each window: at least one."""
        return [(span, max(1, math.ceil(self.rpm * span / 60.0 - 1e-9))) for span in WINDOWS]

    def _earliest_send(self) -> float:
        """When the next request keeps every window (and half an interval after the last)."""
        earliest = self._last_sent + 60.0 / self.rpm * CATCH_UP
        for span, allowed in self._windows():
            if (nth := self._nth_latest(allowed)) is not None:
                earliest = max(earliest, nth + span * (1 + self.margin))
        return earliest

    def _nth_latest(self, n: int) -> float | None:
        """When the n-th latest counted request left (None when fewer left): requests can leave in
        another order than they took their slots."""
        counted = self._counted
        if len(counted) < n:
            return None
        return heapq.nlargest(n, (s.at for s in counted))[-1]

    def free_at(self) -> float:
        """When the next slot is free, on this pacer's clock (nothing is reserved)."""
        return max(self._clock(), self._next, self._hold_until)

    def reserve(self) -> float:
        """Take the next slot; return how long to wait for it (0 when it is now)."""
        now = self._clock()
        slot = max(now, self._next, self._hold_until)
        self._next = slot + self.interval
        return slot - now

    async def acquire(self) -> Sent:
        """Wait for a slot. A 429 seen while waiting moves this request behind the hold, and a slot
        reached late, right after other requests left, waits until every window has room. Returns
        the request's record: `left` moves it to when the request went out (after connecting),
        `on_rate_limited` takes it back from the windows when it is refused."""
        while True:
            epoch = self._epoch
            delay = self.reserve()
            if delay > 0:
                await self._sleep(delay)
            while (gap := self._earliest_send() - self._clock()) > 0 and self._epoch == epoch:
                await self._sleep(gap)
            now = self._clock()
            if now >= self._hold_until and self._epoch == epoch:
                return self._sent_at(now)

    def _sent_at(self, now: float) -> Sent:
        self._last_sent = now
        self._next = max(self._next, now + 60.0 / self.rpm * CATCH_UP)
        self._sent.append(now)
        _trim(self._sent, now - 2 * SPAN)
        sent = Sent(now)
        self._counted.append(sent)
        while self._counted and self._counted[0].at < now - WINDOWS[-1] * (1 + MAX_MARGIN) - 1.0:
            self._counted.popleft()
        return sent

    def left(self, sent: Sent) -> None:
        """The request of `sent` went out just now: the windows count it from here (opening a
        connection, or a busy event loop, can take a while after the slot)."""
        sent.at = max(sent.at, self._clock())
        self._last_sent = max(self._last_sent, sent.at)

    def on_rate_limited(self, wait: float, sent: Sent | None = None) -> None:
        """A 429 for the request that left at `sent`: no request for `wait` seconds. A short wait
        is jitter at a window's edge; a long one, or 429s that keep coming, mean the quota is lower
        than configured: slow down."""
        self.throttled += 1
        if sent is not None and any(s is sent for s in self._counted):
            self._counted.remove(sent)      # the service does not count a request it refused
        now = self._clock()
        self._hold_until = max(self._hold_until, now + wait)
        self._next = max(self._next, self._hold_until)
        self._recent_429.append(now)
        self._refused.append(now)
        _trim(self._refused, now - 2 * SPAN)
        self._calm_since = self._narrow_since = now
        recurring = (len(self._recent_429) == RECUR_COUNT and now - self._recent_429[0] < RECUR
                     and self._share_refused(now) >= RECUR_SHARE)
        if wait <= 2 * self.interval:     # arrivals closer than they left: keep them further apart
            self.margin = min(MAX_MARGIN, self.margin + MARGIN)
        if wait > 2 * self.interval or recurring:
            admitted = self._admitted_rate(now, now + wait)
            slower = self.rpm * SLOWDOWN if admitted is None else min(self.rpm * SLOWDOWN, admitted)
            self.rpm = max(slower, MIN_RPM)
            self._epoch += 1        # slots handed out at the old rate are taken again at this one
            self._next = self._hold_until

    def _share_refused(self, now: float) -> float:
        """429s over requests sent, in the last RECUR seconds (1 when none were sent)."""
        sent = sum(1 for t in self._sent if t > now - RECUR)
        refused = sum(1 for t in self._refused if t > now - RECUR)
        return refused / sent if sent else 1.0

    def _admitted_rate(self, now: float, until: float) -> float | None:
        """Requests per minute the service let through: those sent in the SPAN before it takes
        the next one, less the refused, over the time from the first of them until then."""
        start = until - SPAN
        sent = [t for t in self._sent if t >= start]
        admitted = len(sent) - sum(1 for t in self._refused if t >= start)
        if not sent or admitted < 1:
            return None
        return admitted * 60.0 / max(until - sent[0], 1e-3)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read `x-ratelimit-limit-requests` (OpenAI's requests per minute): a quota lower than the
        configured one is the real one, so pace to it from now on. Read
        `x-ratelimit-remaining-requests`: at 0, leave one interval free."""
        limit = _int(headers.get("x-ratelimit-limit-requests"))
        if limit is not None and limit > 0:
            self._told = True
        if limit is not None and 0 < limit < self.rpm:
            self.rpm = float(limit)
            self._epoch += 1        # slots handed out at the old rate are taken again at this one
            self._next = self._clock() + self.interval
        self._climb()
        remaining = _int(headers.get("x-ratelimit-remaining-requests"))
        if remaining is not None and remaining <= 0 and not self._ours_fill_a_window():
            self._next = max(self._next, self._clock() + self.interval)

    def _ours_fill_a_window(self) -> bool:
        """Whether this pacer's own requests fill a window of the quota up to the last one: then
        a remaining count of 0 is theirs, and the windows already keep the next one back. When
        they do not, someone else uses the quota too: the next slot leaves an interval."""
        for span, allowed in self._windows():
            if (nth := self._nth_latest(allowed)) is not None and nth > self._last_sent - span:
                return True
        return False


    def _climb(self) -> None:
        """After a quiet SPAN with requests in it, try a little faster (never past the quota the
        project or the service gave), and keep the windows a little less wide."""
        now = self._clock()
        if self.margin > MARGIN and now - self._narrow_since >= QUIET:
            self.margin = max(MARGIN, self.margin - MARGIN)
            self._narrow_since = now
        if self._told or self.rpm >= self.configured_rpm:
            return
        if now - self._calm_since >= QUIET and self._sent and self._sent[-1] > self._calm_since:
            self.rpm = min(self.configured_rpm, self.rpm * (1 + CLIMB))
            self._calm_since = now


class Sent:
    """When one request left, as the quota's windows count it."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


def _trim(times: deque[float], before: float) -> None:
    while times and times[0] < before:
        times.popleft()


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
