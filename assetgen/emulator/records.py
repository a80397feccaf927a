"""The request log: in-memory records, optional JSON lines file, and the stats summary."""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    """One request as the emulator saw it. `fields` never holds image bytes or keys."""

    time: float
    method: str
    path: str
    status: int                      # 0 for a dropped connection
    op: str | None = None            # "generate" | "edit" | None for other paths
    deployment: str | None = None
    model: str | None = None
    fault: str | None = None         # "500" | "503" | "drop"
    error_code: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)


class RequestLog:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self.records.append(record)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(record.to_json() + "\n")

    def stats(self) -> dict[str, Any]:
        with self._lock:
            records = list(self.records)
        image_records = [r for r in records if r.op is not None]
        ok = [r for r in image_records if r.status == 200]
        return {
            "requests": len(image_records),
            "by_status": dict(sorted(Counter(str(r.status) for r in image_records).items())),
            "by_deployment": dict(sorted(Counter(r.deployment or "" for r in image_records).items())),
            "throttled": sum(1 for r in image_records if r.status == 429),
            "faults": sum(1 for r in image_records if r.fault is not None),
            "generations": sum(1 for r in ok if r.op == "generate"),
            "edits": sum(1 for r in ok if r.op == "edit"),
        }
