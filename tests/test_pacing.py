"""Pacer arithmetic on a fake clock, and the retry policy's bounds."""

from __future__ import annotations

import asyncio
import random

import pytest

from assetgen.emulator.quota import Quota
from assetgen.run.pacing import CLIMB, MARGIN, MIN_RPM, Pacer, Pacers
from assetgen.run.retry import RetryPolicy


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_slots_are_spaced_evenly_at_the_quota() -> None:
    t = FakeTime()
    pacer = Pacer(600, clock=t.clock, sleep=t.sleep)
    delays = [pacer.reserve() for _ in range(4)]
    step = 0.1 * (1 + MARGIN)
    assert delays == pytest.approx([0.0, step, 2 * step, 3 * step])


def test_an_idle_pacer_gives_the_next_slot_at_once() -> None:
    t = FakeTime()
    pacer = Pacer(60, clock=t.clock, sleep=t.sleep)
    assert pacer.reserve() == 0.0
    t.now += 5.0
    assert pacer.reserve() == 0.0


def test_acquire_sleeps_until_its_slot() -> None:
    t = FakeTime()
    pacer = Pacer(6, clock=t.clock, sleep=t.sleep)

    async def go() -> None:
        for _ in range(3):
            await pacer.acquire()

    asyncio.run(go())
    assert t.slept == pytest.approx([10 * (1 + MARGIN), 10 * (1 + MARGIN)])


def test_a_short_rate_limit_holds_every_later_slot_without_slowing() -> None:
    t = FakeTime()
    pacer = Pacer(60, clock=t.clock, sleep=t.sleep)
    pacer.reserve()
    pacer.on_rate_limited(0.5)
    assert pacer.reserve() == pytest.approx(1 + MARGIN)  # the next slot was later than the hold
    pacer.on_rate_limited(1.5)
    assert (pacer.rpm, pacer.throttled) == (60.0, 2)  # jitter at a window's edge: same pace


def test_a_long_rate_limit_slows_the_pace() -> None:
    t = FakeTime()
    pacer = Pacer(60, clock=t.clock, sleep=t.sleep)
    pacer.on_rate_limited(5.0)
    assert pacer.reserve() == pytest.approx(5.0)
    assert pacer.rpm == pytest.approx(57.0)


def test_the_third_rate_limit_within_a_minute_slows_the_pace() -> None:
    t = FakeTime()
    pacer = Pacer(60, clock=t.clock, sleep=t.sleep)
    for _ in range(2):
        pacer.on_rate_limited(0.1)
        t.now += 20
    assert pacer.rpm == 60.0
    pacer.on_rate_limited(0.1)
    assert pacer.rpm == pytest.approx(57.0)
    t.now += 61
    pacer.on_rate_limited(0.1)
    assert pacer.rpm == pytest.approx(57.0)


def test_rare_short_rate_limits_at_a_high_rate_do_not_slow_the_pace() -> None:
    t = FakeTime()
    pacer = Pacer(600, clock=t.clock, sleep=t.sleep)

    async def send(n: int) -> None:
        for _ in range(n):
            await pacer.acquire()

    for _ in range(3):      # 3 jitter 429s among 300 requests in 30 s: 1 %
        asyncio.run(send(100))
        pacer.on_rate_limited(0.01)
    assert (pacer.rpm, pacer.throttled) == (600.0, 3)
    pacer = Pacer(600, clock=t.clock, sleep=t.sleep)
    asyncio.run(send(50))
    for _ in range(3):      # 3 among 50: 6 %, the quota is lower than configured
        pacer.on_rate_limited(0.01)
    assert pacer.rpm < 600


def test_the_rate_never_falls_below_the_minimum() -> None:
    pacer = Pacer(100, clock=FakeTime().clock)
    for _ in range(500):
        pacer.on_rate_limited(10.0)
    assert pacer.rpm == MIN_RPM


class BusyTime(FakeTime):
    """A busy event loop: every sleep ends up to `late` seconds after it was due."""

    def __init__(self, late: float, seed: int = 7) -> None:
        super().__init__()
        self.late = late
        self.rng = random.Random(seed)

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds + self.rng.uniform(0, self.late))


def _serve(real_rpm: int, configured_rpm: int, calls: int, late: float = 0.0,
           jitter: float = 0.0) -> tuple[Pacer, float, int]:
    """`calls` requests, one after another on a fake clock, paced by a pacer configured at
    `configured_rpm` against the emulator's quota at `real_rpm` (1 s, 10 s and 60 s windows), with
    no limit header (Azure): (the pacer, seconds taken, 429s). `late`: each sleep ends up to that
    many seconds late; `jitter`: each request reaches the service up to that many seconds after
    it left."""
    t = BusyTime(late)
    start = t.now
    arrival = random.Random(11)
    quota = Quota(real_rpm, clock=lambda: t.now + arrival.uniform(0, jitter))
    pacer = Pacer(configured_rpm, clock=t.clock, sleep=t.sleep)

    async def go() -> int:
        refused = 0
        done = 0
        while done < calls:
            sent = await pacer.acquire()
            decision = quota.check("img")
            if decision.allowed:
                pacer.observe(decision.headers())
                done += 1
            else:
                refused += 1
                pacer.on_rate_limited(decision.retry_after, sent)
        return refused

    refused = asyncio.run(go())
    return pacer, t.now - start, refused


@pytest.mark.parametrize(("real", "calls"), [(9, 16), (60, 16), (600, 120), (600, 40)])
def test_a_quota_four_times_lower_than_configured_is_learned_in_a_few_429s(real: int, calls: int) -> None:
    pacer, took, refused = _serve(real, 4 * real, calls)
    assert refused <= 3
    assert took <= 1.15 * calls * 60 / real
    assert pacer.rpm <= real


def test_the_right_quota_draws_no_429_and_keeps_the_ideal_pace() -> None:
    pacer, took, refused = _serve(600, 600, 120)
    assert refused == 0
    assert took <= 1.03 * 12.0
    assert pacer.rpm == 600


@pytest.mark.parametrize(("late", "bound"), [(0.005, 1.03), (0.02, 1.03), (0.05, 1.05)])
def test_a_busy_client_woken_late_does_not_add_up_its_lateness(late: float, bound: float) -> None:
    # 120 calls at 600 RPM where every wake-up is up to `late` seconds late (a build busy decoding
    # and writing images): a late slot delays its own request and the one a window later, not every
    # later one (which took 12.4, 13.3 and 15.0 s)
    pacer, took, refused = _serve(600, 600, 120, late=late)
    assert refused == 0
    assert took <= bound * 12.0
    assert pacer.rpm == 600


def test_arrival_jitter_widens_the_windows_after_a_429_or_two() -> None:
    # requests reach the service up to 30 ms after they left: 10 requests spaced for 1.01 s can
    # arrive within 1 s; each short 429 keeps the windows 1 % wider
    pacer, took, refused = _serve(600, 600, 120, jitter=0.03)
    assert 1 <= refused <= 3
    assert took <= 1.06 * 12.0
    assert pacer.rpm == 600 and pacer.margin > MARGIN


def test_after_a_quiet_minute_the_rate_climbs_back_carefully() -> None:
    t = FakeTime()
    pacer = Pacer(60, clock=t.clock, sleep=t.sleep)

    async def send(count: int) -> None:
        for _ in range(count):
            await pacer.acquire()
            pacer.observe({})

    asyncio.run(send(3))
    pacer.on_rate_limited(10.0)             # 3 sent, then refused for 10 s: 3 in ~12 s
    learned = pacer.rpm
    assert learned < 20
    asyncio.run(send(int(learned) + 2))     # a quiet minute of requests at the learned rate
    assert pacer.rpm == pytest.approx(learned * (1 + CLIMB))
    for _ in range(40):
        asyncio.run(send(int(pacer.rpm) + 1))
    assert pacer.rpm == 60.0                # never past the configured quota


def test_waiters_woken_late_together_still_leave_one_interval_apart() -> None:
    t = FakeTime()
    gate = asyncio.Event()

    async def late_sleep(seconds: float) -> None:
        if not gate.is_set():
            await gate.wait()               # a busy loop: every sleeper wakes at once, late
        else:
            await t.sleep(seconds)

    pacer = Pacer(60, clock=t.clock, sleep=late_sleep)
    sent: list[float] = []

    async def one() -> None:
        await pacer.acquire()
        sent.append(t.now)

    async def go() -> None:
        tasks = [asyncio.ensure_future(one()) for _ in range(4)]
        await asyncio.sleep(0)              # the first leaves at once, three sleep to their slots
        t.now += 30
        gate.set()
        await asyncio.gather(*tasks)

    asyncio.run(go())
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    assert len(sent) == 4 and all(g >= 1.0 - 1e-9 for g in gaps), sent


def test_a_waiter_that_wakes_inside_a_hold_waits_again() -> None:
    t = FakeTime()
    gate = asyncio.Event()

    async def gated_sleep(seconds: float) -> None:
        await gate.wait()
        await t.sleep(seconds)

    pacer = Pacer(60, clock=t.clock, sleep=gated_sleep)
    pacer.reserve()                       # slot at 100
    woke: list[float] = []

    async def waiter() -> None:
        await pacer.acquire()             # slot at 101.02, but a 429 arrives meanwhile
        woke.append(t.now)

    async def go() -> None:
        task = asyncio.ensure_future(waiter())
        await asyncio.sleep(0)
        pacer.on_rate_limited(30.0)       # hold until 130
        gate.set()
        await task

    asyncio.run(go())
    assert woke == [pytest.approx(130.0)]


def test_remaining_zero_leaves_one_interval() -> None:
    t = FakeTime()
    pacer = Pacer(60, clock=t.clock, sleep=t.sleep)
    pacer.reserve()
    t.now += 10
    pacer.observe({"x-ratelimit-remaining-requests": "0"})
    assert pacer.reserve() == pytest.approx(1 + MARGIN)
    pacer.observe({"x-ratelimit-remaining-requests": "nonsense"})


def test_pacers_are_per_deployment() -> None:
    pacers = Pacers()
    assert pacers.get("a", 60) is pacers.get("a", 10)
    assert pacers.get("b", 10).rpm == 10


def test_pacer_needs_a_positive_rate() -> None:
    with pytest.raises(ValueError, match="rpm must be positive, got 0"):
        Pacer(0)


def test_backoff_is_full_jitter_capped() -> None:
    policy = RetryPolicy(base=1.0, cap=8.0)
    rng = random.Random(1)
    draws = [policy.backoff(k, rng) for k in range(1, 10) for _ in range(20)]
    assert all(0.0 <= d <= 8.0 for d in draws)
    assert max(policy.backoff(1, rng) for _ in range(50)) <= 1.0
    assert max(draws) > 4.0


def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.gives_up(k) for k in (1, 2, 3)] == [False, False, True]
    assert policy.rate_wait(None) == policy.default_rate_wait
    assert policy.rate_wait(0.5) == 0.5


def test_a_lower_quota_in_the_limit_header_becomes_the_rate() -> None:
    pacer = Pacer(120, clock=FakeTime().clock)
    pacer.observe({"x-ratelimit-limit-requests": "30", "x-ratelimit-remaining-requests": "5"})
    assert pacer.rpm == 30.0
    pacer.observe({"x-ratelimit-limit-requests": "600"})     # never above what the project says
    assert pacer.rpm == 30.0
    pacer.observe({"x-ratelimit-limit-requests": "many"})
    assert pacer.rpm == 30.0
