"""`/v1/responses` (OpenAI) and `/openai/v1/responses` (Azure): the Responses API with the
`image_generation` tool.

The request's text model only passes the turn on: the image is drawn from the last user
message's text by the same placeholder renderer as the Image API, an edit (`action: edit`, or any
`input_image` part) starting from the first image of that message. On Azure the image deployment
comes from the `x-ms-oai-image-generation-deployment` header, only gpt-image-1-series models back
the tool, and neither streaming nor file-id inputs are served (Azure's responses how-to). Quota,
faults, the content filter and per-model validation are those of the Image API.
"""

from __future__ import annotations

import base64
import binascii
import math
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from assetgen import catalog
from assetgen.catalog import ModelSpec
from assetgen.emulator import errors, images, incoming, streaming, uploads
from assetgen.emulator.app import EmulatorState, Trace, _admit, _ids, answer
from assetgen.emulator.errors import Mode
from assetgen.emulator.validate import ImageCall, validate
from assetgen.recipe.model import Op

IMAGE_DEPLOYMENT_HEADER = "x-ms-oai-image-generation-deployment"
DEFAULT_TOOL_MODEL = "gpt-image-1"
ANSWER = "Here is the image."
ANSWER_TOKENS = 6
TOOL_FIELDS = ("size", "quality", "background", "output_format", "output_compression", "moderation",
               "input_fidelity", "partial_images")


@dataclass(frozen=True)
class Turn:
    """What a request asks the image tool for."""

    text_model: str
    prompt: str                    # the last user message's text
    words: int                     # every text of the request, for the text model's usage
    turns: int                     # user messages: the earlier turns replayed, and this one
    tool: dict[str, Any]
    images: tuple[uploads.Upload, ...]
    mask: uploads.Upload | None
    stream: bool


async def responses_endpoint(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    mode = Mode.OPENAI if request.url.path.startswith("/v1/") else Mode.AZURE
    trace = Trace(Op.GENERATE)      # an edit once the request shows an input image
    return await answer(request, state, trace, _pipeline(request, state, mode, trace))


async def _pipeline(request: Request, state: EmulatorState, mode: Mode, trace: Trace) -> Response:
    incoming.authenticate(request, state.config.api_key, mode)
    body, _ = await incoming.read_body(request, Op.GENERATE)
    turn = _read(body, mode)
    trace.op = Op.EDIT if turn.images or turn.tool.get("action") == "edit" else Op.GENERATE
    tool = {k: v for k, v in turn.tool.items() if k != "input_image_mask"}
    trace.fields = {"model": turn.text_model, "prompt": turn.prompt, "tool": tool,
                    "input_images": len(turn.images), "mask": turn.mask is not None, "stream": turn.stream,
                    "turns": turn.turns}
    spec = _image_model(request, state, mode, turn, trace)
    trace.headers = _admit(state, mode, trace, None)
    call = validate(trace.op, spec, _fields(turn, trace.op, spec), mode)
    inputs = None
    if trace.op is Op.EDIT:
        if not turn.images:
            raise errors.openai_error(400, "The image tool's action 'edit' needs an input_image.",
                                      param="tools", code="invalid_value")
        inputs = uploads.check_inputs(uploads.EditForm({}, turn.images, turn.mask), spec, mode)
    block = state.config.block_word
    if block and block.lower() in " ".join([turn.prompt, str(body.get("instructions") or "")]).lower():
        raise errors.content_filtered(mode)
    size = images.output_size(call, spec, inputs)
    rendered = await anyio.to_thread.run_sync(images.render, call, size, inputs)
    served = _answer(body, turn, call, spec, size, rendered, len(turn.images))
    headers = {**_ids(), **trace.headers}
    delay = state.config.latency * images.output_tokens(call, spec, size) / 1000
    if turn.stream:
        frames = _frames(served, rendered[0].partials, delay)
        return StreamingResponse(frames, media_type=streaming.MEDIA_TYPE, headers=headers)
    if delay:
        await anyio.sleep(delay)
    return JSONResponse(served, headers=headers)


def _read(body: dict[str, Any], mode: Mode) -> Turn:
    text_model = body.get("model")
    if not isinstance(text_model, str) or not text_model:
        raise errors.missing_parameter("model")
    tools = body.get("tools")
    found = [t for t in tools if isinstance(t, dict) and t.get("type") == "image_generation"] \
        if isinstance(tools, list) else []
    if len(found) != 1:
        raise errors.openai_error(400, "This emulator answers only requests with one image_generation tool.",
                                  param="tools", code="invalid_value")
    stream = body.get("stream") is True
    if stream and mode is Mode.AZURE:
        raise errors.openai_error(400, "Streaming is not supported for the image_generation tool.",
                                  param="stream", code="unsupported_value")
    messages = _messages(body.get("input"))
    if not messages or not messages[-1][0]:
        raise errors.openai_error(400, "The last input message has no text.", param="input",
                                  code="invalid_value")
    prompt, parts = messages[-1]
    uploaded = tuple(_upload(url, i, mode) for i, url in enumerate(parts))
    tool = found[0]
    mask = tool.get("input_image_mask")
    mask_upload = None
    if isinstance(mask, dict) and isinstance(mask.get("image_url"), str):
        mask_upload = _upload(mask["image_url"], 0, mode, "mask")
    words = sum(len(text.split()) for text, _ in messages) + len(str(body.get("instructions") or "").split())
    return Turn(text_model, prompt, words, len(messages), tool, uploaded, mask_upload, stream)


def _messages(value: Any) -> list[tuple[str, list[Any]]]:
    """(text, input_image parts) of each user message; a plain string is one message."""
    if isinstance(value, str):
        return [(value, [])]
    if not isinstance(value, list):
        raise errors.missing_parameter("input")
    out: list[tuple[str, list[Any]]] = []
    for item in value:
        if not isinstance(item, dict) or item.get("role", "user") != "user":
            continue
        content = item.get("content")
        if isinstance(content, str):
            out.append((content, []))
            continue
        texts, parts = [], []
        for part in content if isinstance(content, list) else ():
            if not isinstance(part, dict):
                continue
            if part.get("type") == "input_text":
                texts.append(str(part.get("text") or ""))
            elif part.get("type") == "input_image":
                parts.append(part)
        out.append((" ".join(t for t in texts if t), parts))
    return out


def _upload(part: Any, index: int, mode: Mode, what: str = "input_image") -> uploads.Upload:
    url = part.get("image_url") if isinstance(part, dict) else part
    if isinstance(part, dict) and part.get("file_id"):
        if mode is Mode.AZURE:
            raise errors.openai_error(400, "Images can't be referenced by file id here.", param="input",
                                      code="unsupported_value")
        raise errors.openai_error(400, "This emulator serves no files: send images as data URLs.",
                                  param="input", code="invalid_value")
    head, sep, data = str(url or "").partition(",")
    if not sep or not head.startswith("data:image/") or not head.endswith(";base64"):
        raise errors.openai_error(400, f"Invalid {what}: expected a base64 data URL of an image.",
                                  param="input", code="invalid_image_url")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise errors.openai_error(400, f"Invalid {what}: the data URL is not valid base64.",
                                  param="input", code="invalid_image_url") from None
    content_type = head[5:-7]
    ext = content_type.rsplit("/", 1)[-1]
    return uploads.Upload(f"{what}-{index}.{ext}", content_type, raw)


def _image_model(request: Request, state: EmulatorState, mode: Mode, turn: Turn, trace: Trace) -> ModelSpec:
    backing = catalog.responses_tool().image_models[mode.catalog_key]
    if mode is Mode.AZURE:
        deployment = request.headers.get(IMAGE_DEPLOYMENT_HEADER)
        if not deployment:
            raise errors.openai_error(400, f"The image_generation tool needs the {IMAGE_DEPLOYMENT_HEADER} "
                                      "header naming an image deployment.", code="missing_header")
        model = state.deployments.get(deployment)
        if model is None:
            raise errors.deployment_not_found()
        trace.deployment = deployment
    else:
        model = str(turn.tool.get("model") or DEFAULT_TOOL_MODEL)
        trace.deployment = model
    if model not in backing:
        raise errors.invalid_value("tools[0].model", model, backing)
    spec = catalog.get(model)
    assert spec is not None, model
    trace.model = spec.name
    return spec


def _fields(turn: Turn, op: Op, spec: ModelSpec) -> dict[str, Any]:
    """The tool's fields as an Image API request of `op`, for the same validation."""
    accepted = spec.params_for(op.value)
    fields: dict[str, Any] = {"model": spec.name, "prompt": turn.prompt}
    fields.update((k, v) for k, v in turn.tool.items() if k in TOOL_FIELDS and k in accepted)
    if turn.stream and "stream" in accepted:
        fields["stream"] = True
    return fields


def _answer(body: dict[str, Any], turn: Turn, call: ImageCall, spec: ModelSpec, size: str,
            rendered: list[images.Rendered], input_images: int) -> dict[str, Any]:
    item = {"type": "image_generation_call", "id": f"ig_{uuid.uuid4().hex}", "status": "completed",
            "action": "edit" if call.op is Op.EDIT else "generate", "background": call.background,
            "output_format": call.output_format, "quality": call.quality, "size": size,
            "revised_prompt": call.prompt, "result": base64.b64encode(rendered[0].data).decode("ascii")}
    message = {"type": "message", "id": f"msg_{uuid.uuid4().hex}", "status": "completed", "role": "assistant",
               "content": [{"type": "output_text", "text": ANSWER, "annotations": []}]}
    text_in = max(1, math.ceil(turn.words * 4 / 3)) + spec.image_input_tokens(input_images, "low")
    image_gen = images.usage(call, spec, size, input_images)
    return {
        "id": f"resp_{uuid.uuid4().hex}", "object": "response", "created_at": int(time.time()),
        "status": "completed", "model": turn.text_model, "output": [item, message],
        "instructions": body.get("instructions"), "parallel_tool_calls": True,
        "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools"), "error": None,
        "incomplete_details": None,
        "usage": {"input_tokens": text_in, "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens": ANSWER_TOKENS, "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": text_in + ANSWER_TOKENS},
        "tool_usage": {"image_gen": image_gen, "web_search": {"num_requests": 0}},
    }


async def _frames(served: dict[str, Any], partials: tuple[bytes, ...], delay: float) -> AsyncIterator[bytes]:
    payloads = list(_events(served, partials))
    pause = delay / max(1, len(payloads))
    for payload in payloads:
        if pause:
            await anyio.sleep(pause)
        yield streaming.frame(payload)


def _events(served: dict[str, Any], partials: tuple[bytes, ...]) -> Iterator[dict[str, Any]]:
    """The event sequence of a streamed turn, each with its `sequence_number`."""
    item = served["output"][0]
    started = {**served, "status": "in_progress", "output": [], "usage": None, "tool_usage": None}
    call_ref = {"item_id": item["id"], "output_index": 0}
    shown = {k: item[k] for k in ("background", "output_format", "quality", "size")}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
        {"type": "response.output_item.added", "output_index": 0,
         "item": {"type": item["type"], "id": item["id"], "status": "in_progress"}},
        {"type": "response.image_generation_call.in_progress", **call_ref},
        {"type": "response.image_generation_call.generating", **call_ref},
    ]
    events += [{"type": "response.image_generation_call.partial_image", **call_ref, **shown,
                "partial_image_index": i, "partial_image_b64": base64.b64encode(p).decode("ascii")}
               for i, p in enumerate(partials)]
    events += [
        {"type": "response.image_generation_call.completed", **call_ref},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": served},
    ]
    for number, event in enumerate(events):
        yield {**event, "sequence_number": number}
