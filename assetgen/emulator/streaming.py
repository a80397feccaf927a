"""Server-sent events for `stream: true` (reference section 5).

For each candidate: `partial_images` partial events (`partial_image_index` from 0), then one
`*.completed` event with the final image and `usage`. With n > 1 each candidate's completed event
carries that candidate's share of the output tokens; the input tokens are on the first one, so the
sum over events equals the usage of the same request without streaming. No `[DONE]` line is sent.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

from assetgen.emulator.images import Rendered
from assetgen.emulator.validate import ImageCall
from assetgen.recipe.model import Op

MEDIA_TYPE = "text/event-stream"


def frame(payload: dict[str, Any]) -> bytes:
    data = json.dumps(payload, separators=(",", ":"))
    return f"event: {payload['type']}\ndata: {data}\n\n".encode()


def prefix(op: Op) -> str:
    return "image_edit" if op is Op.EDIT else "image_generation"


def events(call: ImageCall, size: str, created: int, rendered: list[Rendered],
           usage: dict[str, Any]) -> Iterator[dict[str, Any]]:
    common = {"created_at": created, "size": size, "quality": call.quality,
              "background": call.background, "output_format": call.output_format}
    for i, candidate in enumerate(rendered):
        for index, partial in enumerate(candidate.partials):
            yield {"type": f"{prefix(call.op)}.partial_image", "b64_json": _b64(partial),
                   "partial_image_index": index, **common}
        yield {"type": f"{prefix(call.op)}.completed", "b64_json": _b64(candidate.data), **common,
               "usage": share(usage, i, len(rendered))}


def share(usage: dict[str, Any], index: int, count: int) -> dict[str, Any]:
    """Candidate `index`'s part of a call's usage."""
    if count == 1:
        return usage
    out = usage["output_tokens"] // count
    inputs = usage["input_tokens"] if index == 0 else 0
    details = usage["input_tokens_details"] if index == 0 else {"text_tokens": 0, "image_tokens": 0}
    return {"total_tokens": inputs + out, "input_tokens": inputs, "output_tokens": out,
            "input_tokens_details": details, "output_tokens_details": {"image_tokens": out, "text_tokens": 0}}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
