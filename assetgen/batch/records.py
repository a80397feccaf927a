"""What was submitted, under `.assetgen/batches/<id>.json`: one record per submitted input file.

A record is written (atomically) *before* its file is uploaded and its batch created, in state
`submitting`, naming every call (by cache key) it carries; it becomes `submitted` with the batch
id once the service has answered. Its calls are pending until the record is collected and removed.
A `submitting` record left by a crash is reconciled against the service's list of batches (the
batch carries the record's id in its metadata) before anything else is submitted, so no call is
ever submitted twice. Records are untrusted input: a file whose name, keys or fields are not what
assetgen writes is ignored (its calls are not pending). A record lost or damaged is found again on
the service before any call is paid for (`run.BatchRun.adopt`): the batches it lists that carry an
assetgen id no record has and were not collected here (`collected`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from msgspec import Struct, field
from msgspec.structs import replace

from assetgen.atomic import write_atomic
from assetgen.cache import STATE_DIR, Claim

FOLDER = "batches"
COLLECTED = "collected"                 # ids of the batches collected (JSON; not a record)
USED = "submitted"                      # a mark: batches were submitted from here (records may be lost)
MARKER = "assetgen_submission"          # the metadata key that carries a record's id
NAME = re.compile(r"^[0-9a-f]{32}$")
KEY = re.compile(r"^[0-9a-f]{64}$")
SUBMITTING = "submitting"
SUBMITTED = "submitted"


class Call(Struct, frozen=True):
    op: str                     # generate | edit
    model: str
    assets: tuple[str, ...]
    est_cost: float = 0.0


class Record(Struct, frozen=True):
    id: str
    state: str
    endpoint: str
    created: float
    calls: dict[str, Call]                  # cache key (the line's custom_id) -> call
    batch_id: str | None = None
    input_file_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "id": self.id, "state": self.state, "endpoint": self.endpoint,
                "created": self.created, "batch_id": self.batch_id, "input_file_id": self.input_file_id,
                "calls": {k: {"op": c.op, "model": c.model, "assets": list(c.assets), "est_cost": c.est_cost}
                          for k, c in sorted(self.calls.items())}}

    @property
    def label(self) -> str:
        return self.batch_id or f"submission {self.id}"


class Records(Struct):
    root: Path                              # the project root
    cache: dict[str, Record] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.root / STATE_DIR / FOLDER

    def lock(self) -> Claim:
        """Held while a build reconciles, collects and submits: two builds never submit one call twice."""
        return Claim(self.folder / ".lock")

    def new(self, endpoint: str, calls: dict[str, Call]) -> Record:
        import uuid  # with `platform`: only for a batch sent

        return Record(uuid.uuid4().hex, SUBMITTING, endpoint, round(time.time(), 3), dict(calls))

    def submitted(self, record: Record, batch_id: str, input_file_id: str) -> Record:
        return self.write(replace(record, state=SUBMITTED, batch_id=batch_id, input_file_id=input_file_id))

    def remove(self, record: Record) -> None:
        (self.folder / f"{record.id}.json").unlink(missing_ok=True)

    def all(self) -> list[Record]:
        return sorted(self._read_all(), key=lambda r: (r.created, r.id))

    def pending(self) -> dict[str, Record]:
        """Cache key -> the record whose batch carries it."""
        return {key: r for r in self.all() for key in r.calls}

    def used(self) -> bool:
        """Whether builds of this project have submitted batches here (its mark is there, even with
        every record lost)."""
        return (self.folder / USED).is_file() or any(self._read_all())

    def write(self, record: Record) -> Record:
        if not (self.folder / USED).is_file():
            write_atomic(self.folder / USED, b"")
        write_atomic(self.folder / f"{record.id}.json",
                     json.dumps(record.to_json(), sort_keys=True, indent=1).encode("utf-8"))
        return record

    def collected(self) -> set[str]:
        """The ids of the batches collected here (best effort: lost, they are looked at again)."""
        try:
            data = json.loads((self.folder / COLLECTED).read_bytes())
        except (OSError, ValueError, RecursionError):
            return set()
        return {b for b in data if isinstance(b, str)} if isinstance(data, list) else set()

    def note_collected(self, batch_id: str) -> None:
        """Remember a batch collected, so a lost record's batches are told from it (the last 1,000)."""
        ids = [b for b in sorted(self.collected()) if b != batch_id][-999:] + [batch_id]
        try:
            write_atomic(self.folder / COLLECTED, json.dumps(ids).encode("utf-8"), durable=False)
        except OSError:
            return

    def _read_all(self) -> Iterator[Record]:
        if not self.folder.is_dir():
            return
        for path in self.folder.glob("*.json"):
            if NAME.match(path.stem):
                record = _parse(path)
                if record is not None:
                    yield record


def _parse(path: Path) -> Record | None:
    try:
        data = json.loads(path.read_bytes())
        calls = {}
        for key, c in data["calls"].items():
            if not KEY.match(key):
                return None
            calls[key] = Call(str(c["op"]), str(c["model"]), tuple(str(a) for a in c["assets"]),
                              float(c.get("est_cost", 0.0)))
        state = data["state"]
        batch_id = data.get("batch_id")
        if state not in (SUBMITTING, SUBMITTED) or data["id"] != path.stem or (
                state == SUBMITTED and not isinstance(batch_id, str)):
            return None
        return Record(data["id"], state, str(data["endpoint"]), float(data["created"]), calls,
                      batch_id, data.get("input_file_id"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
