"""The emulator's ASGI app: routes and the request pipeline.

Pipeline for an image request: api-version (deployment path) -> key -> body -> deployment ->
quota -> injected fault -> per-model validation -> edit inputs -> content filter -> render (in a
thread) -> simulated latency -> JSON or SSE response. Every image request is recorded.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from assetgen import catalog
from assetgen.catalog import ModelSpec
from assetgen.emulator import batches, errors, images, incoming, responses, uploads
from assetgen.emulator.config import EmulatorConfig
from assetgen.emulator.errors import ApiError, Mode
from assetgen.emulator.faults import Fault, FaultInjector
from assetgen.emulator.quota import Quota
from assetgen.emulator.records import RequestLog, RequestRecord
from assetgen.emulator.validate import ImageCall, validate
from assetgen.recipe.model import Op

OPERATIONS = {"generations": Op.GENERATE, "edits": Op.EDIT}
V1_API_VERSION = "preview"      # image operations on Azure's v1 path exist only in its preview flavour
AZURE_OPERATION_IDS = {Op.GENERATE: "ImageGenerations_Create", Op.EDIT: "ImageGenerations_Edit"}


class EmulatorState:
    """Runtime state shared by all requests of one app."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.deployments = config.deployment_map()
        self.quota = Quota(config.rpm) if config.rpm else None
        self.faults = FaultInjector(config.fault_rate, config.seed)
        self.log = RequestLog(config.log)
        self.files = responses.FileStore()
        self.batch_store = batches.BatchStore(config.batch_delay, config.batch_hold)
        self.served = itertools.count(1)    # image requests rendered: `--vary` draws the number in


@dataclass
class Trace:
    """What the pipeline learnt about a request, for its record."""

    op: Op
    deployment: str | None = None
    model: str | None = None
    fault: Fault | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)   # rate-limit headers once admitted


class DroppedConnection(Exception):
    """Raised inside the pipeline to close the connection without a response."""


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    from assetgen.emulator.conversation import responses_endpoint

    state = EmulatorState(config or EmulatorConfig())
    app = Starlette(
        routes=[
            Route("/openai/v1/responses", responses_endpoint, methods=["POST"]),
            Route("/v1/responses", responses_endpoint, methods=["POST"]),
            Route("/openai/deployments/{deployment}/images/{operation}", images_endpoint, methods=["POST"]),
            Route("/openai/v1/images/{operation}", images_endpoint, methods=["POST"]),
            Route("/v1/images/{operation}", images_endpoint, methods=["POST"]),
            Route("/_emulator/stats", stats_endpoint, methods=["GET"]),
            Route("/_emulator/files/{name}", file_endpoint, methods=["GET"]),
            *batches.routes(),
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.emulator = state
    return app


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        error = errors.resource_not_found()
        return JSONResponse(error.body, error.status)
    return JSONResponse({"error": {"code": str(status), "message": str(getattr(exc, "detail", ""))}}, status)


async def stats_endpoint(request: Request) -> Response:
    return JSONResponse(request.app.state.emulator.log.stats())


async def file_endpoint(request: Request) -> Response:
    name = request.path_params["name"]
    data = request.app.state.emulator.files.get(name)
    if data is None:
        error = errors.resource_not_found()
        return JSONResponse(error.body, error.status)
    media = "image/jpeg" if name.endswith(".jpeg") else f"image/{name.rsplit('.', 1)[-1]}"
    return Response(data, media_type=media)


async def images_endpoint(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    op = OPERATIONS.get(request.path_params["operation"])
    if op is None:
        error = errors.resource_not_found()
        return JSONResponse(error.body, error.status)
    mode = Mode.OPENAI if request.url.path.startswith("/v1/") else Mode.AZURE
    trace = Trace(op)
    return await answer(request, state, trace, _pipeline(request, state, mode, trace))


async def answer(request: Request, state: EmulatorState, trace: Trace,
                 pipeline: Coroutine[Any, Any, Response]) -> Response:
    """Run an image request's pipeline: its response, the error it raised, or a dropped
    connection; then record the request with what the pipeline learnt (`trace`)."""
    error_code = None
    response: Response | None = None
    try:
        response = await pipeline
        status = response.status_code
    except ApiError as exc:
        response = JSONResponse(exc.body, exc.status, headers={**_ids(), **trace.headers, **exc.headers})
        status, error_code = exc.status, exc.code
    except DroppedConnection:
        status = 0
    state.log.add(RequestRecord(
        time=time.time(), method=request.method, path=request.url.path, status=status, op=trace.op.value,
        deployment=trace.deployment, model=trace.model, fault=trace.fault.value if trace.fault else None,
        error_code=error_code, fields=trace.fields))
    return response if response is not None else await _drop(request)


def _ids() -> dict[str, str]:
    request_id = str(uuid.uuid4())
    return {"x-request-id": request_id, "apim-request-id": request_id, "x-ms-region": "emulator"}


async def _pipeline(request: Request, state: EmulatorState, mode: Mode, trace: Trace) -> Response:
    api_version = request.query_params.get("api-version")
    path_deployment = request.path_params.get("deployment")
    if path_deployment is not None and not api_version:
        raise errors.missing_api_version()
    v1 = mode is Mode.AZURE and path_deployment is None
    if v1 and api_version != V1_API_VERSION:
        raise errors.v1_needs_preview(api_version)
    incoming.authenticate(request, state.config.api_key, mode)
    fields, form = await incoming.read_body(request, trace.op)
    trace.fields = {**fields, **(incoming.describe_files(form) if form else {})}
    spec = _resolve(state, mode, path_deployment, fields, trace)
    trace.headers = _admit(state, mode, trace, api_version)
    headers = {**_ids(), **trace.headers}
    call = validate(trace.op, spec, fields, mode, form=form is not None)
    inputs = uploads.check_inputs(form, spec, mode) if form is not None else None
    if state.config.block_word and state.config.block_word.lower() in call.prompt.lower():
        raise errors.content_filtered(mode, state.config.filter_code, v1=v1, created=int(time.time()))
    return await _serve(request, state, mode, spec, call, inputs, headers)


def _resolve(state: EmulatorState, mode: Mode, path_deployment: str | None, fields: dict[str, Any],
             trace: Trace) -> ModelSpec:
    name = path_deployment if path_deployment is not None else fields.get("model")
    if not isinstance(name, str) or not name:
        raise errors.missing_parameter("model")
    trace.deployment = name
    if mode is Mode.OPENAI:
        spec = catalog.get(name)
        if spec is None:
            raise errors.invalid_value("model", name, sorted(catalog.models()))
    else:
        model = state.deployments.get(name)
        if model is None:
            raise errors.deployment_not_found()
        spec = catalog.get(model)
        assert spec is not None, model  # EmulatorConfig checks every deployment's model
    trace.model = spec.name
    return spec


def _admit(state: EmulatorState, mode: Mode, trace: Trace, api_version: str | None) -> dict[str, str]:
    """Quota, then an injected fault. Returns the rate-limit headers of an admitted request."""
    headers: dict[str, str] = {}
    if state.quota is not None:
        decision = state.quota.check(trace.deployment or "")
        headers = decision.headers(limit=mode is Mode.OPENAI)
        if not decision.allowed:
            raise errors.rate_limited(mode, AZURE_OPERATION_IDS[trace.op], api_version,
                                      int(headers["retry-after"]), headers)
    trace.fault = state.faults.draw()
    if trace.fault is Fault.DROP:
        raise DroppedConnection()
    if trace.fault is not None:
        raise errors.server_error(mode, int(trace.fault.value))
    return headers


async def _serve(request: Request, state: EmulatorState, mode: Mode, spec: ModelSpec, call: ImageCall,
                 inputs: uploads.EditInputs | None, headers: dict[str, str]) -> Response:
    started = time.monotonic()
    size = images.output_size(call, spec, inputs)
    tag = f" · request {next(state.served)}" if state.config.vary else ""
    rendered = await anyio.to_thread.run_sync(images.render, call, size, inputs, tag)
    count = len(inputs.images) if inputs else 0
    usage = images.usage(call, spec, size, count) if spec.reports_usage else None
    delay = state.config.latency * images.output_tokens(call, spec, size) / 1000
    served = responses.Served(call, mode, size, int(time.time()), rendered, usage, delay, headers,
                              cut=state.config.cut_streams)
    if call.stream:
        return responses.stream_response(served)
    if (left := delay - (time.monotonic() - started)) > 0:     # the latency is the whole answer's,
        await asyncio.sleep(left)                              # drawing the placeholder included
    return responses.json_response(served, state.files, str(request.base_url))


async def _drop(request: Request) -> Response:
    """Close the client's connection without an answer (uvicorn: abort the transport)."""
    transport = getattr(getattr(request.receive, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("injected fault: dropped connection")
    transport.abort()
    for _ in range(3):           # let uvicorn see the connection lost before we return
        await asyncio.sleep(0)
    return Response(status_code=500)
