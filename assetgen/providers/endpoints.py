"""The health of each endpoint (scheme, host, port) a provider sends to, shared by all its calls.

A request that cannot connect (refused, no such host, TLS or connect timeout) never reached the
service: it cost nothing and used no quota, and every other call to that endpoint would fail the
same way. So the first such failure turns the endpoint into a gate: one call at a time probes it
after a backoff (no quota slot needed), the others wait; an answer of any kind opens the gate
again. After `RetryPolicy.connect_attempts` failed probes, or once the next one would come more
than `connect_budget` seconds after the first failure, the endpoint is down for the rest of the
build and every call to it fails at once with one message naming its host and port.
"""

from __future__ import annotations

import asyncio
import random
import time
import urllib.parse
from collections.abc import Callable

import httpx
from msgspec import Struct, field

from assetgen.run.retry import RetryPolicy

Clock = Callable[[], float]


class EndpointDown(Exception):
    """The endpoint did not accept a connection after the build's attempts; `str()` says why."""


def address(url: str) -> str:
    """`host:port` of a URL, with the scheme's default port when it names none."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    host = parts.hostname or ""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def why(exc: httpx.TransportError, connect_timeout: float | None) -> str:
    """A connection failure in words."""
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection within {connect_timeout:g} s" if connect_timeout else "connection timed out"
    text = str(exc).strip()
    low = text.lower()
    if "name or service not known" in low or "nodename nor servname" in low or "getaddrinfo" in low \
            or "no address associated" in low or "temporary failure in name resolution" in low:
        return f"host name not found ({text})"
    if "all connection attempts failed" in low or "connection refused" in low:
        return "connection refused"
    if "certificate" in low or "ssl" in low:
        return f"TLS failed ({text})"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Endpoint(Struct):
    name: str                        # host:port
    policy: RetryPolicy
    rng: random.Random
    clock: Clock
    failures: int = 0                # failed probes in a row (0: healthy)
    first_failure: float = 0.0
    retry_at: float = 0.0
    probing: bool = False
    reason: str = ""                 # the last connection failure, in words
    down: str | None = None          # set once: why the endpoint gets no more requests
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def failing(self) -> bool:
        return self.failures > 0 and self.down is None

    def retry_in(self) -> float:
        return max(0.0, self.retry_at - self.clock())

    async def enter(self) -> tuple[bool, bool]:
        """Wait until a request may go. (probe, waited): `probe` when this request tests a failing
        endpoint; `waited` when it had to wait (its quota slot is stale). Raises EndpointDown."""
        waited = False
        while True:
            if self.down is not None:
                raise EndpointDown(self.down)
            if self.failures == 0:
                return False, waited
            delay = self.retry_in()
            if not self.probing and delay <= 0:
                self.probing = True
                return True, waited
            waited = True
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), timeout=None if self.probing else delay)
            except TimeoutError:
                pass

    def answered(self, probe: bool) -> None:
        """The service answered (whatever it said): the endpoint is reachable."""
        if probe or self.failures:
            self.failures, self.probing = 0, False
            self._notify()

    def abandon(self, probe: bool) -> None:
        """A request that was not sent after all (the build is stopping): another may probe."""
        if probe:
            self.probing = False
            self._notify()

    def connect_failed(self, probe: bool, reason: str) -> None:
        """A request could not connect. A request sent before the failure that made the endpoint
        failing does not count again: attempts in flight together are one attempt."""
        if not probe and self.failures:
            return
        now = self.clock()
        self.reason = reason
        self.probing = False
        if self.failures == 0:
            self.first_failure = now
        self.failures += 1
        backoff = self.policy.connect_backoff(self.failures, self.rng)
        spent = now - self.first_failure
        if self.failures >= self.policy.connect_attempts or spent + backoff > self.policy.connect_budget:
            attempts = f"{self.failures} attempts" if self.failures > 1 else "1 attempt"
            self.down = f"{reason}; gave up after {attempts} in {spent:.1f} s"
        else:
            self.retry_at = now + backoff
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


class Endpoints:
    """One `Endpoint` per host:port, made on first use."""

    def __init__(self, policy: RetryPolicy, rng: random.Random, clock: Clock = time.monotonic) -> None:
        self._policy = policy
        self._rng = rng
        self._clock = clock
        self._by_name: dict[str, Endpoint] = {}

    def get(self, url: str) -> Endpoint:
        name = address(url)
        found = self._by_name.get(name)
        if found is None:
            found = Endpoint(name, self._policy, self._rng, self._clock)
            self._by_name[name] = found
        return found

    def all(self) -> list[Endpoint]:
        return list(self._by_name.values())
