"""The image API wire format shared by the azure and openai providers.

Pure functions and small values: request bodies (JSON and multipart), response and SSE parsing,
and the classification of an error answer into what the caller should do about it. No I/O here;
`remote.py` sends what these build. Wire facts: `reference/image-api.md` sections 2-6.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import enum
import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from msgspec import Struct, field

from assetgen.catalog import CONVERSATION_PARAMS
from assetgen.providers.base import InputImage

# Error codes that mean the safety system refused the prompt or an image (reference section 6).
FILTER_CODES = frozenset({"content_policy_violation", "contentFilter", "moderation_blocked"})
FILTER_INNER_CODES = frozenset({"ResponsibleAIPolicyViolation"})
TRANSIENT_STATUSES = frozenset({408, 409})


class ErrorKind(enum.Enum):
    FILTERED = "filtered"          # the safety system refused: never retried
    INVALID = "invalid"            # a 400 about the request: never retried
    CREDENTIALS = "credentials"    # 401/403: stops the build
    NOT_FOUND = "not_found"        # 404 (DeploymentNotFound, wrong path or api-version)
    RATE_LIMITED = "rate_limited"  # 429: wait as told, then retry
    TRANSIENT = "transient"        # 408, 409, 5xx, dropped connections, timeouts: back off and retry
    OTHER = "other"                # any other status: not retried


class ApiFailure(Struct, frozen=True):
    """What an error answer says, parsed once."""

    kind: ErrorKind
    status: int | None
    message: str                   # the service's own message (may be empty)
    code: str | None = None
    param: str | None = None
    retry_after: float | None = None   # seconds, from retry-after-ms / retry-after
    categories: tuple[str, ...] = ()   # FILTERED: what the safety system flagged (violence, ...)


class Images(Struct, frozen=True):
    """The useful part of a successful answer."""

    b64: tuple[bytes, ...] = ()
    urls: tuple[str, ...] = ()
    usage: dict[str, Any] = field(default_factory=dict)
    revised_prompt: str | None = None


# ---------------------------------------------------------------- requests


def wire_value(value: Any) -> str:
    """A parameter as multipart text: booleans as true/false, numbers in decimal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def json_body(model: str | None, prompt: str, params: Mapping[str, Any],
              partial_images: int | None = None) -> dict[str, Any]:
    """A generations body with only what the recipe set (never a null)."""
    body: dict[str, Any] = {}
    if model is not None:
        body["model"] = model
    body["prompt"] = prompt
    body.update((k, v) for k, v in sorted(params.items())
                if v is not None and k not in ("model", "prompt") and k not in CONVERSATION_PARAMS)
    if partial_images is not None:
        body["stream"] = True
        body["partial_images"] = partial_images
    return body


def multipart_fields(model: str | None, prompt: str, params: Mapping[str, Any],
                     partial_images: int | None = None) -> dict[str, str]:
    """The text parts of an edit, in the order they are sent (before any file part)."""
    return {k: wire_value(v) for k, v in json_body(model, prompt, params, partial_images).items()}


FilePart = tuple[str, tuple[str, bytes, str]]


def multipart_files(images: Iterable[InputImage], mask: InputImage | None) -> list[FilePart]:
    """`image[]` parts (filename + image content type), then `mask`, as httpx `files=`."""
    parts: list[FilePart] = [("image[]", (img.filename, img.data, img.content_type)) for img in images]
    if mask is not None:
        parts.append(("mask", (mask.filename, mask.data, mask.content_type)))
    return parts


# ---------------------------------------------------------------- responses


def decode_b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"the answer carried an image that is not valid base64: {exc}") from None


def parse_images(payload: Any) -> Images:
    """`{"data": [{"b64_json"|"url", "revised_prompt"}], "usage": {...}}` -> Images."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise ValueError("the answer has no 'data' list")
    b64: list[bytes] = []
    urls: list[str] = []
    revised = None
    for item in payload["data"]:
        if not isinstance(item, dict):
            continue
        if item.get("b64_json"):
            b64.append(decode_b64(item["b64_json"]))
        elif item.get("url"):
            urls.append(str(item["url"]))
        revised = revised or item.get("revised_prompt")
    if not b64 and not urls:
        raise ValueError("the answer carried no image")
    usage = payload.get("usage")
    return Images(tuple(b64), tuple(urls), usage if isinstance(usage, dict) else {}, revised)


# ---------------------------------------------------------------- streaming


class StreamEvent(Struct, frozen=True):
    type: str
    data: dict[str, Any]

    @property
    def is_partial(self) -> bool:
        return self.type.endswith(".partial_image")

    @property
    def is_completed(self) -> bool:
        return self.type.endswith(".completed")


class SseParser:
    """Turns SSE lines into events. The `event:` line is ignored: `data.type` names the event
    (as the official client does); a `[DONE]` ends the stream."""

    def __init__(self) -> None:
        self._data: list[str] = []
        self.done = False

    def feed(self, line: str) -> Iterator[dict[str, Any]]:
        line = line.rstrip("\r\n")
        if self.done:
            return
        if line == "":
            yield from self._dispatch()
        elif line.startswith("data:"):
            self._data.append(line[5:].removeprefix(" "))

    def close(self) -> Iterator[dict[str, Any]]:
        yield from self._dispatch()

    def _dispatch(self) -> Iterator[dict[str, Any]]:
        text, self._data = "\n".join(self._data), []
        if not text:
            return
        if text.strip() == "[DONE]":
            self.done = True
            return
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(f"the stream carried data that is not JSON: {text[:80]!r}") from None
        if isinstance(obj, dict):
            yield obj


def stream_event(obj: dict[str, Any]) -> StreamEvent:
    return StreamEvent(str(obj.get("type", "")), obj)


# ---------------------------------------------------------------- errors


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait: `retry-after-ms` first, then `retry-after` (seconds or an HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_object(payload: Any) -> dict[str, Any]:
    """The `error` object of an error body (OpenAI or Azure shape); {} when there is none."""
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        return payload["error"]
    return {}


def is_filtered(error: Mapping[str, Any]) -> bool:
    inner = error.get("inner_error") or error.get("innererror") or {}
    inner_code = inner.get("code") if isinstance(inner, dict) else None
    return error.get("code") in FILTER_CODES or inner_code in FILTER_INNER_CODES


def filter_categories(error: Mapping[str, Any]) -> tuple[str, ...]:
    """What the safety system flagged: the filtered or detected entries of `content_filter_results`
    (Azure), else the `safety_violations=[...]` list of a moderation message."""
    inner = error.get("inner_error") or error.get("innererror") or {}
    results = inner.get("content_filter_results") if isinstance(inner, dict) else None
    found: list[str] = []
    if isinstance(results, dict):
        for name, result in sorted(results.items()):
            if isinstance(result, dict) and True in (result.get("filtered"), result.get("detected")):
                found.append(str(name))
    if not found:
        match = re.search(r"safety_violations=\[([^\]]*)\]", str(error.get("message") or ""))
        if match:
            found = [v.strip(" '\"") for v in match.group(1).split(",") if v.strip(" '\"")]
    return tuple(found)


def classify(status: int, headers: Mapping[str, str], body: bytes) -> ApiFailure:
    """An HTTP error answer -> what it means."""
    try:
        payload = json.loads(body) if body else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        payload = None
    error = error_object(payload)
    message = str(error.get("message") or "").strip()
    if not error and body:
        message = body[:200].decode("utf-8", "replace").strip()
    code = error.get("code")
    param = error.get("param") or None
    code = str(code) if code is not None else None
    return ApiFailure(_kind(status, error), status, message, code, param, retry_after(headers),
                      filter_categories(error))


def classify_stream_error(error: Mapping[str, Any]) -> ApiFailure:
    """An `error` object that arrived inside a stream (HTTP status was 200)."""
    kind = ErrorKind.FILTERED if is_filtered(error) else ErrorKind.INVALID
    code = error.get("code")
    return ApiFailure(kind, None, str(error.get("message") or ""), str(code) if code is not None else None,
                      error.get("param") or None, categories=filter_categories(error))


def _kind(status: int, error: Mapping[str, Any]) -> ErrorKind:
    if status == 429:
        return ErrorKind.RATE_LIMITED
    if status in TRANSIENT_STATUSES or status >= 500:
        return ErrorKind.TRANSIENT
    if status in (401, 403):
        return ErrorKind.CREDENTIALS
    if status == 404:
        return ErrorKind.NOT_FOUND
    if is_filtered(error):
        return ErrorKind.FILTERED
    if status in (400, 422):
        return ErrorKind.INVALID
    return ErrorKind.OTHER
