"""OpenAI's Files and Batch APIs for image calls: `/v1/files` and `/v1/batches`.

A batch's input file is JSONL, one `{"custom_id", "method": "POST", "url", "body"}` per line, all with
the batch's `endpoint` (`/v1/images/generations` or `/v1/images/edits`). Edits are JSON bodies whose
`images` (and `mask`) are `{"image_url": "data:image/png;base64,..."}` or `{"file_id": "file-..."}`.
Every line is validated and rendered exactly like a synchronous call on `/v1/`. The batch stays
`in_progress` for `batch_delay` seconds after its creation (the work itself runs at once in a
thread); then it is `completed` with an output file (successful lines, `response.status_code` 200)
and an error file (the others, with the status and error body a synchronous call would have had).
Output lines come in an order of their own (shuffled): clients match them by `custom_id`.
Injected faults (`--fault-rate`) fail single lines with 500; the content filter's word fails a line
with 400. A cancelled batch (before it completes) returns no results. Objects follow OpenAI's
`Batch` and `FileObject` schemas closely enough for the official client's models.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from assetgen import catalog
from assetgen.emulator import errors, images, incoming, responses, uploads
from assetgen.emulator.errors import ApiError, Mode
from assetgen.emulator.faults import Fault
from assetgen.emulator.validate import validate
from assetgen.recipe.model import Op

ENDPOINTS = {"/v1/images/generations": Op.GENERATE, "/v1/images/edits": Op.EDIT}
OTHER_ENDPOINTS = ("/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions",
                   "/v1/moderations", "/v1/videos")
PURPOSES = ("batch", "vision", "user_data", "assistants", "fine-tune", "evals")
MAX_LINES = 50_000
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_METADATA = 16
FINAL = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass
class StoredFile:
    meta: dict[str, Any]
    data: bytes


@dataclass
class Batch:
    obj: dict[str, Any]                       # the Batch object as served
    lines: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


class BatchStore:
    """Files and batches of one emulator, in memory."""

    def __init__(self, delay: float, hold: float = 0.0) -> None:
        self.delay = delay
        self.hold_upload = hold     # tests: answer an upload this late (the file is stored at once)
        self.hold_create = hold     # tests: answer a batch create this late (the batch exists at once)
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, Batch] = {}
        self.order: list[str] = []            # batch ids, oldest first
        self.lock = threading.Lock()

    def add_file(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        file_id = f"file-{uuid.uuid4().hex[:24]}"
        meta = {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                "filename": filename, "purpose": purpose, "status": "processed", "expires_at": None,
                "status_details": None}
        with self.lock:
            self.files[file_id] = StoredFile(meta, data)
        return meta

    def file(self, file_id: str) -> StoredFile:
        with self.lock:
            found = self.files.get(file_id)
        if found is None:
            raise _not_found(f"No such File object: {file_id}", "file_id")
        return found

    def batch(self, batch_id: str) -> Batch:
        with self.lock:
            found = self.batches.get(batch_id)
        if found is None:
            raise _not_found(f"No batch found with id '{batch_id}'.", "batch_id")
        return found

    def submitted_custom_ids(self) -> list[str]:
        """Every custom_id of every batch created so far (a call in two batches shows twice)."""
        with self.lock:
            batches = [self.batches[b] for b in self.order]
        return [str(line.get("custom_id")) for b in batches for line in b.lines]


def routes() -> list[Route]:
    return [
        Route("/v1/files", create_file, methods=["POST"]),
        Route("/v1/files", list_files, methods=["GET"]),
        Route("/v1/files/{file_id}", retrieve_file, methods=["GET"]),
        Route("/v1/files/{file_id}", delete_file, methods=["DELETE"]),
        Route("/v1/files/{file_id}/content", file_content, methods=["GET"]),
        Route("/v1/batches", create_batch, methods=["POST"]),
        Route("/v1/batches", list_batches, methods=["GET"]),
        Route("/v1/batches/{batch_id}", retrieve_batch, methods=["GET"]),
        Route("/v1/batches/{batch_id}/cancel", cancel_batch, methods=["POST"]),
    ]


def _not_found(message: str, param: str) -> ApiError:
    return errors.openai_error(404, message, param=param, code=None)


def _state(request: Request) -> Any:
    return request.app.state.emulator


def _store(request: Request) -> BatchStore:
    store: BatchStore = _state(request).batch_store
    return store


async def _guard(request: Request, handler: Any) -> Response:
    """Key check, then the handler; an ApiError becomes its JSON answer."""
    try:
        incoming.authenticate(request, _state(request).config.api_key, Mode.OPENAI)
        result = await handler()
    except ApiError as exc:
        return JSONResponse(exc.body, exc.status, headers=exc.headers)
    return result if isinstance(result, Response) else JSONResponse(result)


# ---------------------------------------------------------------- files


async def create_file(request: Request) -> Response:
    async def handle() -> dict[str, Any]:
        async with request.form(max_files=1, max_part_size=1024 * 1024) as form:
            upload = form.get("file")
            purpose = form.get("purpose")
            if not isinstance(upload, UploadFile):
                raise errors.missing_parameter("file")
            if not isinstance(purpose, str) or not purpose:
                raise errors.missing_parameter("purpose")
            if purpose not in PURPOSES:
                raise errors.invalid_value("purpose", purpose, PURPOSES)
            data = await upload.read()
            if purpose == "batch" and len(data) > MAX_FILE_BYTES:
                raise errors.openai_error(400, f"File is too large: {len(data)} bytes; a batch input file "
                                          f"may have at most {MAX_FILE_BYTES} bytes.", param="file",
                                          code="file_too_large")
            meta = _store(request).add_file(data, upload.filename or "upload", purpose)
        if _store(request).hold_upload:
            await asyncio.sleep(_store(request).hold_upload)
        return meta
    return await _guard(request, handle)


async def list_files(request: Request) -> Response:
    async def handle() -> dict[str, Any]:
        store = _store(request)
        purpose = request.query_params.get("purpose")
        with store.lock:
            metas = [f.meta for f in store.files.values() if purpose in (None, f.meta["purpose"])]
        metas.reverse()
        return {"object": "list", "data": metas, "has_more": False,
                "first_id": metas[0]["id"] if metas else None, "last_id": metas[-1]["id"] if metas else None}
    return await _guard(request, handle)


async def retrieve_file(request: Request) -> Response:
    async def handle() -> dict[str, Any]:
        return _store(request).file(request.path_params["file_id"]).meta
    return await _guard(request, handle)


async def delete_file(request: Request) -> Response:
    async def handle() -> dict[str, Any]:
        store = _store(request)
        file_id = request.path_params["file_id"]
        store.file(file_id)
        with store.lock:
            store.files.pop(file_id, None)
        return {"id": file_id, "object": "file", "deleted": True}
    return await _guard(request, handle)


async def file_content(request: Request) -> Response:
    async def handle() -> Response:
        found = _store(request).file(request.path_params["file_id"])
        return Response(found.data, media_type="application/octet-stream")
    return await _guard(request, handle)


# ---------------------------------------------------------------- batches


async def create_batch(request: Request) -> Response:
    async def handle() -> dict[str, Any]:
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise errors.openai_error(400, "We could not parse the JSON body of your request.")
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not body.get(name):
                raise errors.missing_parameter(name)
        endpoint = body["endpoint"]
        if endpoint not in ENDPOINTS and endpoint not in OTHER_ENDPOINTS:
            raise errors.invalid_value("endpoint", endpoint, [*ENDPOINTS, *OTHER_ENDPOINTS])
        if endpoint not in ENDPOINTS:
            raise errors.openai_error(400, f"The emulator serves image batches only, not {endpoint}.",
                                      param="endpoint", code="unsupported_endpoint")
        if body["completion_window"] != "24h":
            raise errors.invalid_value("completion_window", body["completion_window"], ["24h"])
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict) or len(metadata) > MAX_METADATA:
            raise errors.openai_error(400, "Invalid 'metadata': at most 16 string pairs.", param="metadata",
                                      code="invalid_value")
        store = _store(request)
        source = store.file(str(body["input_file_id"]))
        if source.meta["purpose"] != "batch":
            purpose = source.meta["purpose"]
            raise errors.openai_error(400, f"File {source.meta['id']} has purpose '{purpose}'; a batch input "
                                      "file needs purpose 'batch'.", param="input_file_id",
                                      code="invalid_value")
        now = int(time.time())
        batch_id = f"batch_{uuid.uuid4().hex[:24]}"
        obj: dict[str, Any] = {
            "id": batch_id, "object": "batch", "endpoint": endpoint, "errors": None,
            "input_file_id": source.meta["id"], "completion_window": "24h", "status": "validating",
            "output_file_id": None, "error_file_id": None, "created_at": now, "in_progress_at": None,
            "expires_at": now + 24 * 3600, "finalizing_at": None, "completed_at": None, "failed_at": None,
            "expired_at": None, "cancelling_at": None, "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": {str(k): str(v) for k, v in metadata.items()},
        }
        batch = Batch(obj)
        problems = _read_lines(source.data, endpoint, batch)
        answer = dict(obj)
        if problems:
            obj.update(status="failed", failed_at=now, errors={"object": "list", "data": problems})
        else:
            obj.update(status="in_progress", in_progress_at=now)
            obj["request_counts"]["total"] = len(batch.lines)
            batch.task = asyncio.ensure_future(_run(_state(request), store, batch))
        with store.lock:
            store.batches[batch_id] = batch
            store.order.append(batch_id)
        if store.hold_create:
            await asyncio.sleep(store.hold_create)
        return answer
    return await _guard(request, handle)


def _read_lines(data: bytes, endpoint: str, batch: Batch) -> list[dict[str, Any]]:
    """Parse the input file into `batch.lines`; the validation errors of a batch that fails at once."""
    problems: list[dict[str, Any]] = []
    seen: set[str] = set()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [{"code": "invalid_json_line", "message": "The input file is not UTF-8.", "line": None}]
    rows = [line for line in text.splitlines() if line.strip()]
    if not rows:
        return [{"code": "empty_file", "message": "The input file has no requests.", "line": None}]
    if len(rows) > MAX_LINES:
        return [{"code": "too_many_requests", "message": f"The input file has {len(rows)} requests; "
                 f"at most {MAX_LINES} are allowed.", "line": None}]
    for number, row in enumerate(rows, 1):
        try:
            line = json.loads(row)
        except json.JSONDecodeError:
            problems.append({"code": "invalid_json_line", "message": "This line is not valid JSON.",
                             "line": number})
            continue
        if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str) \
                or not isinstance(line.get("body"), dict):
            problems.append({"code": "invalid_request", "message": "Each line needs a custom_id and a body.",
                             "line": number})
            continue
        if line.get("method") != "POST" or line.get("url") != endpoint:
            problems.append({"code": "mismatched_endpoint", "message": f"The line's url must be {endpoint} "
                             "with method POST, as the batch's endpoint.", "line": number})
            continue
        if line["custom_id"] in seen:
            problems.append({"code": "duplicate_custom_id", "message": "The custom_id "
                             f"'{line['custom_id']}' is used more than once.", "line": number})
            continue
        seen.add(line["custom_id"])
        batch.lines.append(line)
    return problems


async def _run(state: Any, store: BatchStore, batch: Batch) -> None:
    """Answer every line now (in a thread), publish the result when the delay has passed."""
    started = time.monotonic()
    done = await anyio.to_thread.run_sync(_answer_lines, state, store, batch)
    wait = store.delay - (time.monotonic() - started)
    if wait > 0:
        await asyncio.sleep(wait)
    with store.lock:
        if batch.obj["status"] != "in_progress":
            return
    ok = [line for status, line in done if status == 200]
    bad = [line for status, line in done if status != 200]
    random.Random(batch.obj["id"]).shuffle(ok)
    now = int(time.time())
    output = store.add_file(_jsonl(ok), f"{batch.obj['id']}_output.jsonl", "batch_output") if ok else None
    failed = store.add_file(_jsonl(bad), f"{batch.obj['id']}_error.jsonl", "batch_output") if bad else None
    with store.lock:
        if batch.obj["status"] != "in_progress":
            return
        batch.obj.update(status="completed", finalizing_at=now, completed_at=now,
                         output_file_id=output["id"] if output else None,
                         error_file_id=failed["id"] if failed else None)
        batch.obj["request_counts"].update(completed=len(ok), failed=len(bad))


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines).encode("utf-8")


def _answer_lines(state: Any, store: BatchStore, batch: Batch) -> list[tuple[int, dict[str, Any]]]:
    op = ENDPOINTS[batch.obj["endpoint"]]
    out = []
    for line in batch.lines:
        request_id = uuid.uuid4().hex
        try:
            status, body = 200, _answer(state, store, op, line["body"])
        except ApiError as exc:
            status, body = exc.status, exc.body
        out.append((status, {"id": f"batch_req_{uuid.uuid4().hex[:24]}", "custom_id": line["custom_id"],
                             "response": {"status_code": status, "request_id": request_id, "body": body},
                             "error": None}))
    return out


def _answer(state: Any, store: BatchStore, op: Op, body: dict[str, Any]) -> dict[str, Any]:
    """One line, as the synchronous /v1/ call would answer it."""
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise errors.missing_parameter("model")
    spec = catalog.get(name)
    if spec is None:
        raise errors.invalid_value("model", name, sorted(catalog.models()))
    fault = state.faults.draw()
    if fault is not None and fault is not Fault.DROP:
        raise errors.server_error(Mode.OPENAI, int(fault.value))
    if fault is Fault.DROP:
        raise errors.server_error(Mode.OPENAI, 500)
    fields = dict(body)
    inputs = None
    if op is Op.EDIT:
        refs = fields.pop("images", None)
        mask_ref = fields.pop("mask", None)
        fields.pop("moderation", None)       # the JSON form of an edit takes it
        if not isinstance(refs, list) or not refs:
            raise errors.missing_parameter("images")
        form = uploads.EditForm(
            {}, tuple(_image_ref(store, ref, "images") for ref in refs),
            _image_ref(store, mask_ref, "mask") if mask_ref is not None else None)
    call = validate(op, spec, fields, Mode.OPENAI)
    if op is Op.EDIT:
        inputs = uploads.check_inputs(form, spec, Mode.OPENAI)
    word = state.config.block_word
    if word and word.lower() in call.prompt.lower():
        raise errors.content_filtered(Mode.OPENAI)
    size = images.output_size(call, spec, inputs)
    rendered = images.render(call, size, inputs)
    count = len(inputs.images) if inputs else 0
    usage = images.usage(call, spec, size, count) if spec.reports_usage else None
    served = responses.Served(call, Mode.OPENAI, size, int(time.time()), rendered, usage, 0.0, {})
    return responses.json_body(served, state.files, "http://emulator.invalid")


def _image_ref(store: BatchStore, ref: Any, param: str) -> uploads.Upload:
    """`{"image_url": "data:..."}` or `{"file_id": "file-..."}` -> the bytes, as an upload."""
    if not isinstance(ref, dict) or len(ref) != 1 or not ({"image_url", "file_id"} & set(ref)):
        raise errors.openai_error(400, f"Invalid '{param}': each item needs exactly one of image_url or "
                                  "file_id.", param=param, code="invalid_value")
    if "file_id" in ref:
        try:
            found = store.file(str(ref["file_id"]))
        except ApiError:
            raise errors.openai_error(400, f"Invalid '{param}': no file {ref['file_id']}.", param=param,
                                      code="invalid_file_id") from None
        data = found.data
        return uploads.Upload(found.meta["filename"], _sniff(data), data)
    url = str(ref["image_url"])
    head, sep, payload = url.partition(",")
    if not (url.startswith("data:") and sep and head.endswith(";base64")):
        raise errors.openai_error(400, f"Invalid '{param}': the emulator is offline and takes only base64 "
                                  "data URLs or file ids.", param=param, code="invalid_image_url")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise errors.openai_error(400, f"Invalid '{param}': the data URL is not valid base64.", param=param,
                                  code="invalid_image_url") from None
    mime = head[5:].split(";")[0]
    return uploads.Upload(f"{param}.{mime.rsplit('/', 1)[-1]}", mime, data)


def _sniff(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data.startswith(b"RIFF"):
        return "image/webp"
    return "application/octet-stream"


async def list_batches(request: Request) -> Response:
    async def handle() -> dict[str, Any]:
        store = _store(request)
        try:
            limit = max(1, min(100, int(request.query_params.get("limit", "20"))))
        except ValueError:
            raise errors.invalid_type("limit", "an integer", "a string") from None
        after = request.query_params.get("after")
        with store.lock:
            ids = list(reversed(store.order))            # newest first
            if after is not None:
                ids = ids[ids.index(after) + 1:] if after in ids else []
            page = [dict(store.batches[i].obj) for i in ids[:limit]]
            more = len(ids) > limit
        return {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None, "has_more": more}
    return await _guard(request, handle)


async def retrieve_batch(request: Request) -> Response:
    async def handle() -> dict[str, Any]:
        batch = _store(request).batch(request.path_params["batch_id"])
        with _store(request).lock:
            return dict(batch.obj)
    return await _guard(request, handle)


async def cancel_batch(request: Request) -> Response:
    async def handle() -> dict[str, Any]:
        store = _store(request)
        batch = store.batch(request.path_params["batch_id"])
        with store.lock:
            status = batch.obj["status"]
            if status in FINAL and status != "cancelled":
                raise errors.openai_error(409, f"Cannot cancel a batch with status '{status}'.",
                                          code="batch_not_cancellable")
            now = int(time.time())
            if status != "cancelled":
                batch.obj.update(status="cancelled", cancelling_at=now, cancelled_at=now)
            return dict(batch.obj)
    return await _guard(request, handle)
