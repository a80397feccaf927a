"""Response bodies for a served image call: JSON (b64_json or url) and the SSE stream."""

from __future__ import annotations

import asyncio
import base64
import collections
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from assetgen.emulator import streaming
from assetgen.emulator.errors import Mode
from assetgen.emulator.images import Rendered
from assetgen.emulator.validate import ImageCall

FILES_KEPT = 512
_SAFE = {"filtered": False, "severity": "safe"}
# Azure adds filter verdicts to every data item (reference section 4.2)
CONTENT_FILTER_RESULTS = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
PROMPT_FILTER_RESULTS = {**CONTENT_FILTER_RESULTS, "profanity": {"detected": False, "filtered": False},
                         "jailbreak": {"detected": False, "filtered": False}}


class FileStore:
    """dall-e-3 URL results: served by the emulator under /_emulator/files/<id>.png."""

    def __init__(self) -> None:
        self._files: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._lock = threading.Lock()

    def put(self, data: bytes, fmt: str) -> str:
        name = f"{uuid.uuid4().hex}.{fmt}"
        with self._lock:
            self._files[name] = data
            while len(self._files) > FILES_KEPT:
                self._files.popitem(last=False)
        return name

    def get(self, name: str) -> bytes | None:
        with self._lock:
            return self._files.get(name)


@dataclass(frozen=True)
class Served:
    """Everything needed to answer one successful image call."""

    call: ImageCall
    mode: Mode
    size: str
    created: int
    rendered: list[Rendered]
    usage: dict[str, Any] | None     # None for models that report no usage (dall-e-3)
    delay: float                     # seconds of simulated generation time
    headers: dict[str, str]
    cut: bool = False                # the connection is cut after the last event, its last chunk unsent


def json_response(served: Served, files: FileStore, base_url: str) -> Response:
    return JSONResponse(json_body(served, files, base_url), headers=served.headers)


def json_body(served: Served, files: FileStore, base_url: str) -> dict[str, Any]:
    """The answer's JSON: `data` (b64_json or url items), echo fields on /v1/, `usage`."""
    call = served.call
    data: list[dict[str, Any]] = []
    for candidate in served.rendered:
        if call.response_format == "url":
            name = files.put(candidate.data, call.output_format)
            item: dict[str, Any] = {"url": f"{base_url.rstrip('/')}/_emulator/files/{name}"}
        else:
            item = {"b64_json": base64.b64encode(candidate.data).decode("ascii")}
        if served.usage is None:
            item["revised_prompt"] = call.prompt
        if served.mode is Mode.AZURE:
            item.update(content_filter_results=CONTENT_FILTER_RESULTS,
                        prompt_filter_results=PROMPT_FILTER_RESULTS)
        data.append(item)
    body: dict[str, Any] = {"created": served.created, "data": data}
    if served.mode is Mode.OPENAI and served.usage is not None:
        body.update(background=call.background, output_format=call.output_format, size=served.size,
                    quality=call.quality)
    if served.usage is not None:
        body["usage"] = served.usage
    return body


def stream_response(served: Served) -> Response:
    return StreamingResponse(_frames(served), media_type=streaming.MEDIA_TYPE, headers=served.headers)


async def _frames(served: Served) -> AsyncIterator[bytes]:
    usage = served.usage or {}
    payloads = list(streaming.events(served.call, served.size, served.created, served.rendered, usage))
    pause = served.delay / max(1, len(payloads))
    for payload in payloads:
        if pause:
            await asyncio.sleep(pause)
        yield streaming.frame(payload)
    if served.cut:      # the server aborts the connection: the client never sees the stream end
        raise ConnectionAbortedError("cut after the last event (--cut-streams)")
