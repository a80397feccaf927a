"""The Responses API wire format for `api: responses` steps: one turn of a conversation that the
`image_generation` tool answers with an image.

Pure functions, like `http.py`. A turn is sent statelessly, never with `previous_response_id`
(response ids are server state: they expire and differ per machine): `input` replays the earlier
turns' text as user messages, then the turn's own text with the working image (the previous
turn's cached result, or the step's `image:`) and any reference images as `input_image` parts
(data URLs), so a cached chain continues on any machine and on Azure, where this is the only form.
Wire facts: OpenAI's ImageGenTool spec and SDK; Azure's responses how-to (shared reference
apis-and-peers-2026.md section 2).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from msgspec import Struct, field

from assetgen import catalog
from assetgen.providers.base import ImageRequest, InputImage
from assetgen.providers.http import ApiFailure, ErrorKind, Images, classify_stream_error, decode_b64
from assetgen.recipe.model import Op

AZURE_IMAGE_DEPLOYMENT_HEADER = "x-ms-oai-image-generation-deployment"
CALL_TYPE = "image_generation_call"
EVENT_PREFIX = "response.image_generation_call."
START_OF_ANSWER = 120     # characters of a text answer quoted when no image came back


def is_turn(request: ImageRequest) -> bool:
    return request.params.get("api") == catalog.RESPONSES


def data_url(image: InputImage) -> str:
    return f"data:{image.content_type};base64,{base64.b64encode(image.data).decode('ascii')}"


def body(request: ImageRequest, text_model: str, image_model: str | None,
         partial_images: int | None) -> dict[str, Any]:
    """The `/responses` body of one turn. `image_model` is the tool's `model` (None on Azure, where
    a header names the image deployment); `text_model` is the body's `model`."""
    params = request.params
    tool: dict[str, Any] = {"type": "image_generation"}
    if image_model is not None:
        tool["model"] = image_model
    tool.update((k, v) for k, v in sorted(params.items())
                if k in catalog.responses_tool().tool_params and v is not None)
    tool["action"] = "edit" if request.op is Op.EDIT else "generate"
    if request.mask is not None:
        tool["input_image_mask"] = {"image_url": data_url(request.mask)}
    if partial_images is not None:
        tool["partial_images"] = partial_images
    turn: list[dict[str, Any]] = [{"type": "input_text", "text": request.prompt}]
    turn += [{"type": "input_image", "image_url": data_url(img)} for img in request.images]
    messages = [_user([{"type": "input_text", "text": text}]) for text in request.history]
    out: dict[str, Any] = {"model": text_model, "input": [*messages, _user(turn)], "tools": [tool],
                           "tool_choice": {"type": "image_generation"}}
    if params.get("instructions"):
        out["instructions"] = params["instructions"]
    if params.get("user"):
        out["user"] = params["user"]
    if partial_images is not None:
        out["stream"] = True
    return out


def _user(content: list[dict[str, Any]]) -> dict[str, Any]:
    return {"role": "user", "content": content}


def parse(payload: Any) -> Images | ApiFailure:
    """A response object -> its images, or why it has none (a failed tool call, a text answer)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("output"), list):
        raise ValueError("the answer has no 'output' list")
    if isinstance(payload.get("error"), dict):
        return classify_stream_error(payload["error"])
    images: list[bytes] = []
    text: list[str] = []
    revised = None
    for item in payload["output"]:
        if not isinstance(item, dict):
            continue
        if item.get("type") == CALL_TYPE:
            if isinstance(item.get("error"), dict):
                return classify_stream_error(item["error"])
            if item.get("result"):
                images.append(decode_b64(str(item["result"])))
            revised = revised or item.get("revised_prompt")
        elif item.get("type") == "message":
            text += [str(c.get("text", "")) for c in item.get("content") or () if isinstance(c, dict)]
    if not images:
        said = " ".join(t for t in text if t).strip()
        quoted = f": {said[:START_OF_ANSWER]!r}" if said else ""
        return ApiFailure(ErrorKind.INVALID, 200, f"the text model answered without an image{quoted}")
    return Images(tuple(images), (), usage(payload), revised)


def usage(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Both models' usage: the text model's `usage`, and the image tool's under `image_gen`."""
    out: dict[str, Any] = {}
    if isinstance(payload.get("usage"), dict):
        out["text"] = payload["usage"]
    tool_usage = payload.get("tool_usage")
    if isinstance(tool_usage, dict) and isinstance(tool_usage.get("image_gen"), dict):
        out["image_gen"] = tool_usage["image_gen"]
    return out


class StreamState(Struct):
    partials: list[tuple[int, bytes]] = field(default_factory=list)   # (index, image) in arrival order
    final: Images | ApiFailure | None = None


def on_event(obj: Mapping[str, Any], state: StreamState) -> None:
    """One streamed event: partial images as they come; the final response on `response.completed`
    (or `response.failed` / `error`)."""
    kind = str(obj.get("type", ""))
    if kind == f"{EVENT_PREFIX}partial_image" and obj.get("partial_image_b64"):
        index = int(obj.get("partial_image_index", 0))
        state.partials.append((index, decode_b64(str(obj["partial_image_b64"]))))
    elif kind in ("response.completed", "response.failed", "response.incomplete") and isinstance(
            obj.get("response"), dict):
        state.final = parse(obj["response"])
    elif kind == "error":
        error = obj.get("error")
        state.final = classify_stream_error(error if isinstance(error, dict) else obj)
