"""The HTTP image provider both services share: send, pace, retry, stream, download.

`AzureProvider` and `OpenAIProvider` only say where a request goes (`target`) and how to word a
404. Everything else is here: one httpx client, one pacer per deployment (a slot before every
attempt), the retry policy, SSE streaming with partial images, and URL downloads for dall-e-3.
A call returns exactly once: a success is never sent again. After `stop()` (first Ctrl-C) or refused
credentials no request is sent: a call waiting for a slot or a backoff ends at once with NotSent,
and so does one whose request on the wire was answered 429 or 5xx (it was not paid for). A
deployment answered `DeploymentNotFound` gets no further request: its other calls fail the same way.
A request that cannot connect is the endpoint's failure, not the call's (`endpoints.py`): the
endpoint is probed a few times by one call at a time, and once it is given up every call to it
fails at once with one message naming its host and port.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import json
import random
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from msgspec import Struct, field

from assetgen import catalog
from assetgen.errors import UserError
from assetgen.providers import conversation, http
from assetgen.providers.auth import Auth, describe_failure, redact
from assetgen.providers.base import ImageRequest, ImageResult, NotSent, ProviderError
from assetgen.providers.endpoints import Endpoint, EndpointDown, Endpoints, why
from assetgen.providers.http import ApiFailure, ErrorKind, Images
from assetgen.recipe.model import Op
from assetgen.run.pacing import Pacer, Pacers, Sent, Sleep
from assetgen.run.retry import RetryPolicy

CONNECT_TIMEOUT = 5.0                            # seconds: a reachable service connects in well under one
TIMEOUT = httpx.Timeout(600.0, connect=CONNECT_TIMEOUT)    # images take minutes
LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=32, keepalive_expiry=4.0)
COOL_DOWN = 15.0     # seconds a deployment that failed (5xx, no connection) is passed over while others serve
DEPLOYMENT_NOT_FOUND = "DeploymentNotFound"      # Azure's 404 code: the whole deployment is missing


class Target(Struct, frozen=True):
    """Where one request goes."""

    url: str
    deployment: str                  # the pacing key, named in messages
    body_model: str | None           # the body's `model` field (`api: responses`: the text model)
    rpm: float
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    tool_model: str | None = None    # `api: responses`: the image tool's `model` field
    can_stream: bool = True          # False where the service does not stream this kind of call


class Phase(enum.Enum):
    """What a call is doing, for the live display."""

    QUOTA = "waiting for a quota slot"
    RETRY = "waiting to retry"
    ENDPOINT = "waiting for an endpoint"
    CONNECTING = "connecting"
    WAITING = "waiting for the image"


class _Count(Struct, eq=False):
    requests: int = 0
    phase: Phase = Phase.QUOTA
    until: float | None = None       # when the wait ends (monotonic), when known


class _Failed(Exception):
    """An attempt that did not produce images."""

    def __init__(self, failure: ApiFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class _NoConnection(Exception):
    """An attempt that could not connect: nothing reached the service."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Stream(Struct):
    finals: list[bytes] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)


class RemoteProvider:
    kind = "remote"
    service = "the image API"

    def __init__(self, auth: Auth, *, policy: RetryPolicy | None = None,
                 client: httpx.AsyncClient | None = None, rng: random.Random | None = None,
                 sleep: Sleep = asyncio.sleep, share: float = 1.0) -> None:
        self.auth = auth
        self.share = share               # the fraction of each quota to pace at (1/N for a shard)
        self.policy = policy or RetryPolicy()
        self.pacers = Pacers(sleep=sleep)
        self._client = client or httpx.AsyncClient(timeout=TIMEOUT, limits=LIMITS)
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._stopped = False                # stop() or refused credentials: no request is sent after it
        self._waiting: dict[asyncio.Task[Any], Target] = {}   # slot and backoff waits -> their target
        self._missing: dict[str, str] = {}   # deployment -> why: answered DeploymentNotFound
        self.endpoints = Endpoints(self.policy, self._rng)
        self._cool: dict[str, float] = {}    # deployment -> passed over until (after a failure)
        self._picked: dict[str, int] = {}    # deployment -> calls waiting for one of its slots
        self._calls: set[_Count] = set()     # the calls under way, for `activity()`
        self.source = ""                     # where the URL came from (--endpoint, ...), for messages

    # -- what the services differ in

    def target(self, request: ImageRequest) -> Target:
        raise NotImplementedError

    def targets(self, request: ImageRequest) -> list[Target]:
        """Every deployment that may serve `request` (several may share a model's calls)."""
        return [self.target(request)]

    def not_found(self, failure: ApiFailure, request: ImageRequest, target: Target) -> str:
        return f"{self.service} answered 404 for {target.url}: {failure.message}"

    # -- the Provider protocol

    async def run(self, request: ImageRequest) -> ImageResult:
        targets = self.targets(request)
        count = _Count()
        self._calls.add(count)
        try:
            images, target = await self._call(request, targets, count)
            data = list(images.b64)
            for url in images.urls:
                data.append(await self._download(url, count))
        finally:
            self._calls.discard(count)
        return ImageResult(tuple(data), dict(images.usage), count.requests, images.revised_prompt,
                           target.deployment)

    def activity(self) -> str:
        """What the calls under way are doing, e.g. `2 waiting for the image, 1 waiting for a quota
        slot, 1 waiting to retry (in 3 s), cannot connect to 127.0.0.1:9 (connection refused):
        attempt 2 of 4 in 1 s`."""
        counts: dict[Phase, int] = {}
        soonest: dict[Phase, float] = {}
        for call in list(self._calls):
            counts[call.phase] = counts.get(call.phase, 0) + 1
            if call.until is not None:
                soonest[call.phase] = min(soonest.get(call.phase, call.until), call.until)
        now = time.monotonic()
        parts = []
        for phase, n in counts.items():
            if phase is not Phase.ENDPOINT:
                when = f" (in {max(0.0, soonest[phase] - now):.0f} s)" if phase in soonest else ""
                parts.append(f"{n} {phase.value}{when}")
        for endpoint in self.endpoints.all():
            if endpoint.failing:
                retry = f"attempt {endpoint.failures + 1} of {self.policy.connect_attempts}"
                when = "now" if endpoint.probing else f"in {endpoint.retry_in():.0f} s"
                parts.append(f"cannot connect to {endpoint.name} ({endpoint.reason}): {retry} {when}")
        return ", ".join(parts)

    def stop(self) -> None:
        self._stopped = True
        for task in self._waiting:
            task.cancel()

    async def aclose(self) -> None:
        await self._client.aclose()
        await self.auth.aclose()

    # -- one call, with pacing and retries

    async def _call(self, request: ImageRequest, targets: list[Target],
                    count: _Count) -> tuple[Images, Target]:
        """One call, on whichever of the model's deployments has the earliest free slot; a 429, a
        failure or an endpoint that cannot be reached on one moves the next attempt to the others."""
        transient = limited = 0
        slot = False            # a quota slot is held (an attempt that could not connect keeps it)
        sent: Sent | None = None    # the slot taken
        target = targets[0]
        while True:
            if not slot:
                target = self._pick(targets)
                count.phase, count.until = Phase.QUOTA, None
                try:
                    sent = await self._take_slot(target, count)
                except ProviderError:
                    if self._usable(targets):
                        continue    # that deployment turned out not to exist, or its endpoint is given up
                    raise
            pacer = self.pacers.get(target.deployment, target.rpm * self.share)
            endpoint = self.endpoints.get(target.url)
            count.phase = Phase.ENDPOINT
            try:
                probe, waited = await self._wait(endpoint.enter(), target, count)
            except ProviderError:
                if self._usable(targets):
                    slot = False
                    continue
                raise
            if waited and not probe:    # the endpoint is back: the slot taken before is stale
                slot = False
                continue
            slot = True
            try:
                images = await self._attempt(request, target, pacer, count, sent)
            except (NotSent, ProviderError):    # stopping, or no credentials: another call may probe
                endpoint.abandon(probe)
                raise
            except _NoConnection as failed:
                endpoint.connect_failed(probe, failed.reason)
                others = [t for t in self._usable(targets) if t.url != target.url]
                if others:      # another endpoint serves while this one is retried by others' probes
                    self._cool[target.deployment] = asyncio.get_running_loop().time() + COOL_DOWN
                    slot = False
                    continue
                if endpoint.down is not None:
                    raise self._unreachable(endpoint, target, count) from None
                continue
            except _Failed as failed:
                endpoint.answered(probe)
                failure = failed.failure
            else:
                endpoint.answered(probe)
                return images, target
            slot = False
            if self._stopped and failure.kind in _RETRYABLE:
                raise NotSent(count.requests)
            if failure.kind is ErrorKind.RATE_LIMITED:
                limited += 1
                wait = self.policy.rate_wait(failure.retry_after)
                if self.policy.waits_too_long(wait) and len(self._usable(targets)) < 2:
                    raise self._too_long(failure, target, count, wait)
                if limited > self.policy.max_rate_limited:
                    raise self._error(failure, request, target, count, limited)
                pacer.on_rate_limited(wait, sent)
            elif failure.kind is ErrorKind.TRANSIENT:
                transient += 1
                if self.policy.gives_up(transient):
                    raise self._error(failure, request, target, count, transient)
                self._cool[target.deployment] = asyncio.get_running_loop().time() + COOL_DOWN
                if len(self._usable(targets)) < 2:      # no other deployment: back off
                    wait = self.policy.backoff(transient, self._rng)
                    count.phase, count.until = Phase.RETRY, time.monotonic() + wait
                    await self._wait(self._sleep(wait), target, count)
            else:
                error = self._error(failure, request, target, count, 1)
                if target.deployment in self._missing and self._usable(targets):
                    continue    # a deployment that does not exist: the others serve
                raise error

    async def _take_slot(self, target: Target, count: _Count) -> Sent:
        pacer = self.pacers.get(target.deployment, target.rpm * self.share)
        self._picked[target.deployment] = self._picked.get(target.deployment, 0) + 1
        try:
            return await self._wait(pacer.acquire(), target, count)
        finally:
            self._picked[target.deployment] -= 1

    def _usable(self, targets: list[Target]) -> list[Target]:
        return [t for t in targets if not self._dead(t)]

    def _pick(self, targets: list[Target]) -> Target:
        """The deployment whose next slot is free first, counting the calls already waiting for its
        slots and passing over one that failed lately while another is well."""
        usable = self._usable(targets) or targets[:1]
        if len(usable) == 1:
            return usable[0]
        now = asyncio.get_running_loop().time()

        def when(target: Target) -> tuple[float, float]:
            pacer = self.pacers.get(target.deployment, target.rpm * self.share)
            cooling = self._cool.get(target.deployment, 0.0) - now
            free = pacer.free_at() + self._picked.get(target.deployment, 0) * pacer.interval
            return (max(cooling, 0.0), free)

        return min(usable, key=when)

    def _check_missing(self, target: Target, count: _Count) -> None:
        """A deployment the service said does not exist, or an endpoint given up, gets no more
        requests in this build."""
        message = self._missing.get(target.deployment)
        if message is not None:
            raise ProviderError(message, status=404, requests=count.requests)
        endpoint = self.endpoints.get(target.url)
        if endpoint.down is not None:
            raise self._unreachable(endpoint, target, count)

    def _dead(self, target: Target) -> bool:
        return target.deployment in self._missing or self.endpoints.get(target.url).down is not None

    async def _wait(self, waiting: Awaitable[_T], target: Target, count: _Count) -> _T:
        """Wait for a slot, a backoff or an endpoint; a stop() before or meanwhile ends the call
        unsent, and so does its deployment turning out not to exist or its endpoint being given up
        (with that failure)."""
        task = asyncio.ensure_future(waiting)
        self._waiting[task] = target
        if self._stopped or self._dead(target):
            task.cancel()
        try:
            await asyncio.wait({task})
        finally:
            self._waiting.pop(task, None)
            task.cancel()
        if task.cancelled():
            self._check_missing(target, count)
            raise NotSent(count.requests)
        try:
            return task.result()
        except EndpointDown:
            raise self._unreachable(self.endpoints.get(target.url), target, count) from None

    def _cancel_waits(self) -> None:
        """Wake the waits whose deployment or endpoint is dead: they fail at once."""
        for task, target in list(self._waiting.items()):
            if self._dead(target):
                task.cancel()

    async def _attempt(self, request: ImageRequest, target: Target, pacer: Pacer, count: _Count,
                       sent: Sent | None) -> Images:
        headers = {**await self._auth_headers(count), **dict(target.headers)}
        if self._stopped:
            raise NotSent(count.requests)
        kwargs = self._body(request, target)
        kwargs["extensions"] = {"trace": _tracer(count, pacer, sent)}
        count.requests += 1
        count.phase, count.until = Phase.CONNECTING, None
        try:
            if streams(request, target) is not None:
                return await self._stream(request, target, pacer, headers, kwargs)
            response = await self._client.post(target.url, params=dict(target.query), headers=headers,
                                               **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise _NoConnection(why(exc, CONNECT_TIMEOUT)) from None
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise _Failed(ApiFailure(ErrorKind.TRANSIENT, None, _describe(exc))) from None
        except ValueError as exc:   # a stream that carried something unreadable
            raise _Failed(ApiFailure(ErrorKind.TRANSIENT, 200, f"unreadable answer: {exc}")) from None
        pacer.observe(response.headers)
        if response.status_code != 200:
            raise _Failed(http.classify(response.status_code, response.headers, response.content))
        return _parse(response.content, request)

    def _body(self, request: ImageRequest, target: Target) -> dict[str, Any]:
        partial_images = streams(request, target)
        if conversation.is_turn(request):
            text_model = str(target.body_model)
            return {"json": conversation.body(request, text_model, target.tool_model, partial_images)}
        if request.op is Op.GENERATE:
            return {"json": http.json_body(target.body_model, request.prompt, request.params, partial_images)}
        return {"data": http.multipart_fields(target.body_model, request.prompt, request.params,
                                              partial_images),
                "files": http.multipart_files(request.images, request.mask)}

    async def _auth_headers(self, count: _Count) -> dict[str, str]:
        try:
            return await self.auth.headers()
        except Exception as exc:  # noqa: BLE001 - any credential failure stops the build, in words
            message = redact(describe_failure(self.auth, exc), self.auth.secrets())
            self.stop()
            raise ProviderError(message, fatal=True, requests=count.requests) from None

    # -- streaming

    async def _stream(self, request: ImageRequest, target: Target, pacer: Pacer, headers: dict[str, str],
                      kwargs: dict[str, Any]) -> Images:
        async with self._client.stream("POST", target.url, params=dict(target.query), headers=headers,
                                       **kwargs) as response:
            pacer.observe(response.headers)
            if response.status_code != 200:
                body = await response.aread()
                raise _Failed(http.classify(response.status_code, response.headers, body))
            if "text/event-stream" not in response.headers.get("content-type", ""):
                return _parse(await response.aread(), request)
            if conversation.is_turn(request):
                return await _turn_stream(response, request)
            state = _Stream()
            parser = http.SseParser()
            try:
                async for line in response.aiter_lines():
                    for obj in parser.feed(line):
                        await _on_event(obj, request, state)
                for obj in parser.close():
                    await _on_event(obj, request, state)
            except (httpx.TimeoutException, httpx.TransportError):
                # the connection broke after the images arrived (the last chunk lost): they are
                # paid for, and kept; only a stream cut short of them is tried again
                if len(state.finals) < int(request.params.get("n", 1) or 1):
                    raise
        if not state.finals:
            raise _Failed(ApiFailure(ErrorKind.TRANSIENT, None, "the stream ended without a completed image"))
        return Images(tuple(state.finals), (), state.usage)

    # -- dall-e-3 URL results

    async def _download(self, url: str, count: _Count) -> bytes:
        failures = 0
        while True:
            count.requests += 1
            try:
                response = await self._client.get(url)
                if response.status_code == 200:
                    return response.content
                failure = http.classify(response.status_code, response.headers, response.content)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                failure = ApiFailure(ErrorKind.TRANSIENT, None, _describe(exc))
            failures += 1
            if failure.kind not in _RETRYABLE or self.policy.gives_up(failures):
                raise ProviderError(f"could not download the generated image (HTTP {failure.status}): "
                                    f"{failure.message}", status=failure.status, requests=count.requests)
            await self._sleep(self.policy.backoff(failures, self._rng))

    # -- messages

    def _error(self, failure: ApiFailure, request: ImageRequest, target: Target, count: _Count,
               attempts: int) -> ProviderError:
        message = redact(self._message(failure, request, target, attempts), self.auth.secrets())
        if failure.kind is ErrorKind.CREDENTIALS:
            self.stop()
        if failure.kind is ErrorKind.NOT_FOUND and failure.code == DEPLOYMENT_NOT_FOUND:
            self._missing.setdefault(target.deployment, message)
            self._cancel_waits()
        filtered = failure.kind is ErrorKind.FILTERED
        return ProviderError(message, status=failure.status, retryable=failure.kind in _RETRYABLE,
                             fatal=failure.kind is ErrorKind.CREDENTIALS, requests=count.requests,
                             detail=prompt_start(request.prompt) if filtered else "",
                             about_recipe=filtered or failure.kind is ErrorKind.INVALID, filtered=filtered)

    def _unreachable(self, endpoint: Endpoint, target: Target, count: _Count) -> ProviderError:
        """The one message of every call to an endpoint given up."""
        self._cancel_waits()
        source = f" ({self.source})" if self.source else ""
        message = (f"cannot connect to {endpoint.name}, the {self.service} endpoint {_origin(target.url)}"
                   f"{source}: {endpoint.down}")
        return ProviderError(message, retryable=True, requests=count.requests)

    def _too_long(self, failure: ApiFailure, target: Target, count: _Count, wait: float) -> ProviderError:
        message = (f"deployment '{target.deployment}' is rate limited and asks to wait {wait:.1f} s, "
                   f"longer than this build waits ({self.policy.max_rate_wait:.0f} s); try again later")
        return ProviderError(message, status=failure.status, retryable=True, requests=count.requests)

    def _message(self, failure: ApiFailure, request: ImageRequest, target: Target, attempts: int) -> str:
        said = f": {failure.message}" if failure.message else ""
        code = failure.code or (str(failure.status) if failure.status else "error")
        kind = failure.kind
        if kind is ErrorKind.FILTERED:
            what = "the prompt" if request.op is Op.GENERATE else "the prompt or an input image"
            flagged = f": {', '.join(failure.categories)}" if failure.categories else ""
            return f"the {self.service} safety system refused {what} ({code}{flagged})"
        if kind is ErrorKind.INVALID and failure.param:
            return f"{self.service} rejected parameter '{failure.param}' ({code}){said}"
        if kind is ErrorKind.INVALID:
            return f"{self.service} rejected the request ({code}){said}"
        if kind is ErrorKind.CREDENTIALS:
            detail = said if failure.status == 403 else ""
            return (f"{self.service} refused the credentials (HTTP {failure.status}){detail}; "
                    f"check {self.auth.describe()}")
        if kind is ErrorKind.NOT_FOUND:
            return self.not_found(failure, request, target)
        if kind is ErrorKind.RATE_LIMITED:
            return (f"deployment '{target.deployment}' is still rate limited after {attempts} "
                    f"answers 429{said}")
        if kind is ErrorKind.TRANSIENT:
            status = f"HTTP {failure.status}" if failure.status else "no answer"
            return f"{self.service} failed {attempts} times (last: {status}{said})"
        return f"{self.service} answered HTTP {failure.status} ({code}){said}"


_RETRYABLE = frozenset({ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED})
_T = TypeVar("_T")


def check_url(url: str, provider: str, what: str, source: str, example: str) -> str:
    """A configured service URL, or a UserError: a URL without http(s):// would fail every request."""
    try:
        parts = urllib.parse.urlsplit(url)
        valid = parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:          # e.g. "http://[bad", a port out of range
        valid = False
    if not valid:
        raise UserError(f"{provider} provider: the {what} {_without_secrets(url)!r} ({source}) is not an "
                        f"http(s) URL; expected e.g. {example}")
    if "@" in parts.netloc or parts.query or parts.fragment:    # a secret would be printed with the URL
        raise UserError(f"{provider} provider: the {what} {_without_secrets(url)!r} ({source}) has a user "
                        "name, password, query or fragment in it; credentials go in the environment "
                        f"(README: Providers), never in the URL; expected e.g. {example}")
    return url


def _without_secrets(url: str) -> str:
    """`url` as it may be shown: what is before an `@` of its host part, and any query, as `***`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url if "@" not in url else "***@" + url.rsplit("@", 1)[1]
    host, slash, path = rest.partition("/")
    if "@" in host:
        host = "***@" + host.rsplit("@", 1)[1]
    path, q, _ = path.partition("?")
    path, h, _ = path.partition("#")
    return f"{scheme}://{host}{slash}{path}{'?***' if q else ''}{'#***' if h else ''}"


def streams(request: ImageRequest, target: Target) -> int | None:
    """`partial_images` to stream with, or None: previews are asked only of models that can stream
    (dall-e-3 cannot; a model the catalog does not know is asked as the build says), and only where
    the service streams the call (Azure's Responses image tool does not)."""
    if not target.can_stream:
        return None
    spec = catalog.get(request.model)
    if spec is not None and "stream" not in spec.params_for(request.op.value):
        return None
    return request.partial_images


def _parse(body: bytes, request: ImageRequest) -> Images:
    try:
        payload = json.loads(body)
        parsed = conversation.parse(payload) if conversation.is_turn(request) else http.parse_images(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Failed(ApiFailure(ErrorKind.TRANSIENT, 200, f"unreadable answer: {exc}")) from None
    if isinstance(parsed, ApiFailure):
        raise _Failed(parsed)
    return parsed


async def _turn_stream(response: httpx.Response, request: ImageRequest) -> Images:
    """A streamed Responses API turn: partial images as they come, the images of `response.completed`."""
    state = conversation.StreamState()
    parser = http.SseParser()
    seen = 0
    async for line in response.aiter_lines():
        for obj in [*parser.feed(line)]:
            conversation.on_event(obj, state)
            for index, data in state.partials[seen:]:
                await _preview(request, index, data)
            seen = len(state.partials)
    for obj in parser.close():
        conversation.on_event(obj, state)
    if state.final is None:
        raise _Failed(ApiFailure(ErrorKind.TRANSIENT, None, "the stream ended without a completed response"))
    if isinstance(state.final, ApiFailure):
        raise _Failed(state.final)
    return state.final


async def _preview(request: ImageRequest, index: int, data: bytes) -> None:
    if request.on_partial is not None:
        result = request.on_partial(index, data)
        if inspect.isawaitable(result):
            await result


async def _on_event(obj: dict[str, Any], request: ImageRequest, state: _Stream) -> None:
    if isinstance(obj.get("error"), dict):
        raise _Failed(http.classify_stream_error(obj["error"]))
    event = http.stream_event(obj)
    if event.is_partial and obj.get("b64_json"):
        await _preview(request, int(obj.get("partial_image_index", 0)), http.decode_b64(obj["b64_json"]))
    elif event.is_completed and obj.get("b64_json"):
        state.finals.append(http.decode_b64(obj["b64_json"]))
        if isinstance(obj.get("usage"), dict):
            state.usage = add_usage(state.usage, obj["usage"])


def add_usage(total: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Usage of a call streamed as several completed events (n > 1): each carries its candidate's
    share, so counts add up (nested details too); anything that is not a count keeps its first value."""
    merged = dict(total)
    for name, value in more.items():
        have = merged.get(name)
        if name not in merged:
            merged[name] = value
        elif isinstance(have, dict) and isinstance(value, dict):
            merged[name] = add_usage(have, value)
        elif isinstance(have, int | float) and isinstance(value, int | float) and not isinstance(value, bool):
            merged[name] = have + value
    return merged


PROMPT_START = 72      # characters of a refused prompt quoted in its message


def prompt_start(prompt: str) -> str:
    """The start of a prompt, on one line, quoted."""
    text = " ".join(prompt.split())
    return f'"{text[:PROMPT_START - 1].rstrip()}…"' if len(text) > PROMPT_START else f'"{text}"'


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _tracer(count: _Count, pacer: Pacer,
            sent: Sent | None) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    """An httpx trace hook: once the request's headers go out, the call waits for its image; once
    its body is out, the quota's windows count it from then."""
    async def trace(name: str, info: dict[str, Any]) -> None:
        if name.endswith("send_request_headers.started"):
            count.phase = Phase.WAITING
        elif name.endswith("send_request_body.complete") and sent is not None:
            pacer.left(sent)

    return trace


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
