"""The build's batch phase (SPEC section 12), between planning and executing.

1. Reconcile: a record left `submitting` by a crash or Ctrl-C is looked up in the service's list of
   batches by the id in its metadata; found, it is `submitted`; not found, its calls are free again.
2. Collect: every finished batch's output lines go into the cache under their `custom_id` (the
   call's cache key), then its record is removed; failed lines, and lines an expired or cancelled
   batch never ran, are failures of their assets and free to run again. The plan is resolved again.
3. Submit (`build --batch` only): every call that is ready (its inputs known), not pending, on a
   model whose catalog row allows the Batch API, goes into one JSONL file per (endpoint, model)
   (at most 50,000 lines and 190 MB each): the record first, then the upload, then the batch.
The executor leaves alone every pending or submitted call and everything that needs it; it still
renders what is cached, and (without `--batch`, or for models the Batch API does not take) makes the
other calls synchronously.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec
from msgspec import Struct, field

from assetgen.batch.api import BatchApi, BatchApiError
from assetgen.batch.records import KEY, MARKER, NAME, SUBMITTED, SUBMITTING, Call, Record, Records
from assetgen.errors import UserError
from assetgen.plan import estimate
from assetgen.plan.explain import Why
from assetgen.plan.graph import Action, Plan, Role
from assetgen.plan.status import Status
from assetgen.providers import http
from assetgen.providers.auth import clean_key
from assetgen.recipe.model import Op, ProviderKind
from assetgen.run import images, inputs
from assetgen.run.prepare import Prepared

ENDPOINTS = {Op.GENERATE: "/v1/images/generations", Op.EDIT: "/v1/images/edits"}
MAX_LINES = 50_000
MAX_BYTES = 190 * 1024 * 1024          # the service takes 200 MB per file: room for the last line
DONE = frozenset({"completed", "expired", "cancelled", "failed"})
BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
ADOPT_DAYS = 30                         # how far back a lost record's batch is looked for


class Phase(Struct):
    """What the batch phase did, for the build's report."""

    collected: int = 0                                  # calls whose images came in
    failures: list[tuple[str, str]] = field(default_factory=list)   # (asset, message)
    submitted: list[str] = field(default_factory=list)  # batch ids created by this build
    pending: dict[str, str] = field(default_factory=dict)   # cache key -> batch id (or submission)
    deferred: frozenset[str] = frozenset()              # action ids the executor leaves alone
    requests: int = 0


def has_records(root: Path) -> bool:
    return bool(Records(root).all())


def pending_calls(root: Path) -> dict[str, str]:
    """Cache key -> batch id of every call in a batch not yet collected (no network)."""
    return {key: record.label for key, record in Records(root).pending().items()}


class BatchRun:
    def __init__(self, prep: Prepared, submit: bool, env: Mapping[str, str] | None = None,
                 endpoint: str | None = None) -> None:
        if submit and prep.provider is not ProviderKind.OPENAI:
            raise UserError(f"--batch needs the openai provider, not {prep.provider.value}: OpenAI's Batch "
                            "API takes image calls; Azure's Global Batch lists no image model yet")
        self.submit_mode = submit
        self.root = prep.project.root
        self.records = Records(self.root)
        self.phase = Phase()
        self._lock = self.records.lock()
        self._lock.acquire()
        self.api = _api(prep, os.environ if env is None else env, endpoint)

    def close(self) -> None:
        self.phase.requests = self.api.requests
        self.api.close()
        self._lock.release()

    # -- reconcile and collect

    def collect(self, prep: Prepared) -> Prepared:
        self.adopt(prep)
        records = self.records.all()
        if any(r.state == SUBMITTING for r in records):
            self._reconcile(records)
            records = self.records.all()
        got: set[str] = set()
        for record in records:
            got |= self._collect(record, prep)
        self.phase.collected = len(got)
        if not got:
            return prep
        forced = {aid for aid, st in prep.resolution.states.items()
                  if any(r.why is Why.FORCED for r in st.reasons) and st.key not in got}
        return msgspec.structs.replace(prep, resolution=prep.resolver.resolve(forced))

    def adopt(self, prep: Prepared) -> None:
        """Before a call is paid for: the batches this project submitted that no record names (one
        lost or damaged) and that carry a call the plan would make, found on the service by the
        id in their metadata and their input file's lines, are recorded again, so their calls are
        pending (collected when done) instead of paid for twice. Only batches of the last 30 days
        (the service keeps results that long) and not collected here are looked at."""
        if not self.records.used():
            return
        states = prep.resolution.states
        wanted = {st.key: a for a in prep.plan.actions
                  if a.is_call and (st := states[a.id]).status is Status.RUN and st.key}
        records = self.records.all()
        for record in records:
            for key in record.calls:
                wanted.pop(key, None)
        if not wanted:
            return
        known = {r.id for r in records}
        collected = self.records.collected()
        since = time.time() - ADOPT_DAYS * 86400
        for batch in self.api.batches():
            if float(batch.get("created_at") or 0) < since:
                break
            mark, batch_id = (batch.get("metadata") or {}).get(MARKER), batch.get("id")
            file_id = batch.get("input_file_id")
            if not (isinstance(mark, str) and NAME.match(mark) and mark not in known
                    and isinstance(batch_id, str) and BATCH_ID.match(batch_id) and batch_id not in collected
                    and isinstance(file_id, str) and BATCH_ID.match(file_id)
                    and batch.get("status") not in ("failed", "cancelled")):
                continue
            keys = [str(line["custom_id"]) for line in _jsonl(self.api.content(file_id))
                    if isinstance(line, dict) and KEY.match(str(line.get("custom_id")))]
            if wanted.keys().isdisjoint(keys):
                continue
            calls = {}
            for key in keys:
                action = wanted.get(key)
                spec = action.call if action is not None else None
                calls[key] = Call(action.op.value, spec.model, action.assets) if action and spec else \
                    Call("", "", ())
            self.records.write(Record(mark, SUBMITTED, str(batch.get("endpoint") or ""),
                                      float(batch.get("created_at") or 0), calls, batch_id, file_id))
            known.add(mark)

    def _reconcile(self, records: list[Record]) -> None:
        """Each `submitting` record: adopt the batch that carries its id, or free its calls."""
        waiting = {r.id: r for r in records if r.state == SUBMITTING}
        oldest = min(r.created for r in waiting.values()) - 600
        for batch in self.api.batches():
            mark = (batch.get("metadata") or {}).get(MARKER)
            if mark in waiting and isinstance(batch.get("id"), str):
                record = waiting.pop(mark)
                self.records.submitted(record, batch["id"], str(batch.get("input_file_id") or ""))
            if not waiting or float(batch.get("created_at") or 0) < oldest:
                break
        for record in waiting.values():         # never created: its calls may be submitted again
            self.records.remove(record)

    def _collect(self, record: Record, prep: Prepared) -> set[str]:
        if record.state == SUBMITTING or not BATCH_ID.match(record.batch_id or ""):
            return set()
        try:
            batch = self.api.retrieve(str(record.batch_id))
        except BatchApiError as exc:
            if exc.status == 404:       # the service does not know it: its calls are free again
                self._fail_all(record, f"batch {record.batch_id} is unknown to the service; submitted again")
                self.records.remove(record)
            else:
                self._fail_all(record, f"cannot check batch {record.batch_id}: {exc}")
            return set()
        status = str(batch.get("status"))
        if status not in DONE:
            return set()
        lines: dict[str, dict[str, Any]] = {}
        for name in ("output_file_id", "error_file_id"):
            file_id = batch.get(name)
            if isinstance(file_id, str) and BATCH_ID.match(file_id):
                for line in _jsonl(self.api.content(file_id)):
                    if isinstance(line, dict) and line.get("custom_id") in record.calls:
                        lines[str(line["custom_id"])] = line
        got: set[str] = set()
        for key, call in record.calls.items():
            line = lines.get(key)
            problem = _store(prep, key, call, line) if line is not None else _missing(batch, status)
            if problem is None:
                got.add(key)
            else:
                for asset in call.assets:
                    self.phase.failures.append((asset, f"batch {record.batch_id}: {problem}"))
        self.records.remove(record)
        self.records.note_collected(str(record.batch_id))
        return got

    def _fail_all(self, record: Record, message: str) -> None:
        for call in record.calls.values():
            for asset in call.assets:
                self.phase.failures.append((asset, message))

    # -- submit

    def submit(self, prep: Prepared) -> Phase:
        states = prep.resolution.states
        pending = self.records.pending()
        deferred: set[str] = set()
        ready: dict[str, Action] = {}
        for action in prep.plan.actions:
            st = states[action.id]
            if not action.is_call or st.status is not Status.RUN:
                continue
            if st.key and st.key in pending:
                deferred.add(action.id)
            elif self.submit_mode and st.key and estimate.batchable(action):
                ready.setdefault(st.key, action)
                deferred.add(action.id)
        if ready:
            self._submit(prep, ready)
        self.phase.pending = {key: r.label for key, r in self.records.pending().items()}
        self.phase.deferred = frozenset(_closure(prep.plan, deferred))
        return self.phase

    def _submit(self, prep: Prepared, ready: dict[str, Action]) -> None:
        pricing = dict(prep.project.config.pricing)
        loader = images.Images(prep.store, self.root, prep.resolution.recovered, ())
        groups: dict[tuple[str, str], list[tuple[str, Call, bytes]]] = defaultdict(list)
        for key, action in ready.items():
            spec = action.call
            assert spec is not None
            try:
                line = _line(key, action, prep, loader)
            except inputs.MissingInput as exc:
                for asset in action.assets:
                    self.phase.failures.append((asset, f"not submitted: {exc}"))
                continue
            cost = estimate.cost(action, pricing, batch=True)
            call = Call(action.op.value, spec.model, action.assets, cost)
            groups[(ENDPOINTS[action.call_op], spec.model)].append((key, call, line))
        for (endpoint, _), lines in sorted(groups.items()):
            for chunk in _chunks(lines):
                self._send(endpoint, chunk)

    def _send(self, endpoint: str, chunk: list[tuple[str, Call, bytes]]) -> None:
        record = self.records.write(self.records.new(endpoint, {key: call for key, call, _ in chunk}))
        data = b"".join(line for _, _, line in chunk)
        try:
            file_id = self.api.upload(f"assetgen-{record.id}.jsonl", data)
        except BatchApiError as exc:
            self.records.remove(record)          # no batch without its file
            self._fail_all(record, f"not submitted: {exc}")
            return
        try:
            batch = self.api.create(file_id, endpoint, {MARKER: record.id})
        except BatchApiError as exc:
            if exc.status is not None and exc.status < 500:
                self.records.remove(record)       # refused: nothing was created
                self._fail_all(record, f"not submitted: {exc}")
            else:                                 # it may exist: the next build asks the service
                self._fail_all(record, f"submission unconfirmed ({exc}); the next build checks it")
            return
        self.records.submitted(record, str(batch["id"]), file_id)
        self.phase.submitted.append(str(batch["id"]))


def _api(prep: Prepared, env: Mapping[str, str], endpoint: str | None) -> BatchApi:
    """The Batch API where the openai provider sends its calls (`--endpoint`, providers.openai.base_url,
    $OPENAI_BASE_URL), with $OPENAI_API_KEY."""
    from assetgen.providers.openai import KEY_ENV, resolve_base_url

    key = clean_key(env.get(KEY_ENV), "openai", f"${KEY_ENV}")
    if not key:
        raise UserError(f"openai provider: ${KEY_ENV} is not set (batches need it)")
    base_url, _ = resolve_base_url(prep.project.config, env, endpoint)
    return BatchApi(base_url, key)


def _line(key: str, action: Action, prep: Prepared, loader: images.Images) -> bytes:
    """One JSONL line: the call's body as the synchronous call would send it; an edit as JSON with
    its images as data URLs (working image first, then references; the mask apart)."""
    spec = action.call
    assert spec is not None
    body = http.json_body(spec.model, spec.prompt, dict(spec.params))
    if action.call_op is Op.EDIT:
        results = {aid: st.results for aid, st in prep.resolution.states.items() if st.results is not None}
        refs: list[dict[str, str]] = []
        for source in spec.sources:
            sha = source.file_sha or ""
            if source.action is not None:
                known = results.get(source.action) or ()
                sha = known[source.index] if source.index < len(known) else ""
            img = inputs.load(source, sha, prep.project.root, loader.get)
            encoded = base64.b64encode(img.data).decode("ascii")
            url = {"image_url": f"data:{img.content_type};base64,{encoded}"}
            if source.role is Role.MASK:
                body["mask"] = url
            else:
                refs.append(url)
        body["images"] = refs
    line = {"custom_id": key, "method": "POST", "url": ENDPOINTS[action.call_op], "body": body}
    return (json.dumps(line, separators=(",", ":")) + "\n").encode("utf-8")


def _chunks(lines: list[tuple[str, Call, bytes]]) -> Iterable[list[tuple[str, Call, bytes]]]:
    chunk: list[tuple[str, Call, bytes]] = []
    size = 0
    for item in lines:
        if chunk and (len(chunk) >= MAX_LINES or size + len(item[2]) > MAX_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += len(item[2])
    if chunk:
        yield chunk


def _jsonl(data: bytes) -> Iterable[Any]:
    for row in data.decode("utf-8", "replace").splitlines():
        if row.strip():
            try:
                yield json.loads(row)
            except json.JSONDecodeError:
                continue


def _store(prep: Prepared, key: str, call: Call, line: dict[str, Any]) -> str | None:
    """Put a line's images and usage in the cache under `key`; or say why it has none."""
    if not KEY.match(key):
        return "the service answered for an unknown call"
    response = line.get("response")
    if not isinstance(response, dict):
        error = line.get("error")
        said = error.get("message") if isinstance(error, dict) else None
        return f"failed: {said or 'no response'}; it runs again on the next build"
    status = response.get("status_code")
    body = response.get("body")
    if status != 200:
        failure = http.classify(int(status or 500), {}, json.dumps(body).encode("utf-8"))
        said = f": {failure.message}" if failure.message else ""
        code = failure.code or str(status)
        if failure.kind is http.ErrorKind.FILTERED:
            return (f"filtered by the OpenAI safety system ({code}): the prompt or an input image was "
                    f"refused{said}")
        return f"failed with HTTP {status} ({code}){said}; it runs again on the next build"
    try:
        found = http.parse_images(body)
    except ValueError as exc:
        return f"unreadable answer: {exc}"
    if found.urls:
        return "the answer carried image URLs, which batches are not expected to return"
    shas = tuple(prep.store.put_object(data) for data in found.b64)
    prep.store.put_record(key, call.op, "openai", call.model, shas, dict(found.usage))
    return None


def _missing(batch: dict[str, Any], status: str) -> str:
    if status == "failed":
        errors = (batch.get("errors") or {}).get("data") or []
        why = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict)) or "failed"
        return f"the batch failed validation ({why}); it runs again on the next build"
    if status == "completed":
        return "the batch completed without an answer for this call; it runs again on the next build"
    return f"the batch was {status} before this call ran; it runs again on the next build"


def _closure(plan: Plan, roots: Iterable[str]) -> set[str]:
    """The roots and every action that needs one of them."""
    dependants: dict[str, list[str]] = defaultdict(list)
    for action in plan.actions:
        for dep in action.deps:
            dependants[dep].append(action.id)
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        aid = stack.pop()
        if aid not in seen:
            seen.add(aid)
            stack.extend(dependants[aid])
    return seen


def without(plan: Plan, ids: frozenset[str]) -> Plan:
    """The plan minus `ids` (closed under dependants: nothing left needs a removed action)."""
    if not ids:
        return plan
    return Plan(plan.provider, tuple(a for a in plan.actions if a.id not in ids), plan.assets)
