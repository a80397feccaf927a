"""`assetgen.lock`: for each asset, its resolved requests, their keys and results, and the hash of
every output file. Committed, so a fresh clone builds with zero calls and a pull request diff shows
which prompts changed. The text is stable: JSON, sorted keys, two-space indent, one entry per asset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assetgen.atomic import write_atomic
from assetgen.errors import Location, UserError

LOCK_FILE = "assetgen.lock"
LOCK_VERSION = 1


@dataclass(frozen=True)
class LockInput:
    role: str                 # image | mask | images
    sha256: str
    file: str | None = None
    asset: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "sha256": self.sha256}
        if self.file is not None:
            out["file"] = self.file
        if self.asset is not None:
            out["asset"] = self.asset
        return out


@dataclass(frozen=True)
class LockStep:
    op: str
    provider: str
    model: str
    prompt: str
    params: tuple[tuple[str, Any], ...]
    inputs: tuple[LockInput, ...]
    key: str
    results: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "provider": self.provider, "model": self.model, "prompt": self.prompt,
                "params": dict(self.params), "inputs": [i.to_json() for i in self.inputs],
                "key": self.key, "results": list(self.results)}


@dataclass(frozen=True)
class LockOutput:
    path: str
    format: str
    quality: int | None
    resize: str | None
    fit: str | None
    source: str            # sha256 of the image it renders
    key: str
    sha256: str
    adopted: bool = False  # the file's bytes were adopted as they are (`build --adopt`), not rendered

    def to_json(self) -> dict[str, Any]:
        out = {"format": self.format, "quality": self.quality, "resize": self.resize, "fit": self.fit,
               "source": self.source, "key": self.key, "sha256": self.sha256}
        if self.adopted:
            out["adopted"] = True
        return out


@dataclass(frozen=True)
class LockAsset:
    name: str
    recipe: str
    steps: tuple[LockStep, ...]
    outputs: tuple[LockOutput, ...]

    def to_json(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "steps": [s.to_json() for s in self.steps],
                "outputs": {o.path: o.to_json() for o in self.outputs}}


@dataclass(frozen=True)
class Lock:
    assets: dict[str, LockAsset]

    def step_results(self) -> dict[str, tuple[str, ...]]:
        return {s.key: s.results for a in self.assets.values() for s in a.steps}

    def written(self) -> dict[str, LockOutput]:
        """Output path -> what the lock says assetgen last left there."""
        return {o.path: o for a in self.assets.values() for o in a.outputs}

    def output_shas(self) -> dict[tuple[str, str], str]:
        """(output path, render key) -> sha256 of the file the lock expects."""
        return {(o.path, o.key): o.sha256 for a in self.assets.values() for o in a.outputs}

    def text(self) -> str:
        body = {"version": LOCK_VERSION, "assets": {n: a.to_json() for n, a in sorted(self.assets.items())}}
        return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


EMPTY = Lock({})


def read(root: Path) -> Lock:
    try:
        text = (root / LOCK_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return EMPTY
    try:
        data = json.loads(text)
        if data.get("version") != LOCK_VERSION:
            raise ValueError(f"unsupported lock version {data.get('version')!r}")
        return Lock({name: _asset(name, raw) for name, raw in data["assets"].items()})
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(f"{Location(LOCK_FILE)}: error: cannot read the lock file: {exc}") from None


def would_change(root: Path, lock: Lock) -> bool:
    """Whether `write` would write the lock file."""
    try:
        return (root / LOCK_FILE).read_text(encoding="utf-8") != lock.text()
    except (OSError, UnicodeDecodeError):
        return True


def write(root: Path, lock: Lock) -> bool:
    """Write the lock file when its text changed; True when it was written."""
    text = lock.text()
    path = root / LOCK_FILE
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    write_atomic(path, text.encode("utf-8"))
    return True


def _asset(name: str, raw: dict[str, Any]) -> LockAsset:
    steps = tuple(
        LockStep(op=s["op"], provider=s["provider"], model=s["model"], prompt=s["prompt"],
                 params=tuple(sorted(s["params"].items())),
                 inputs=tuple(LockInput(i["role"], i["sha256"], i.get("file"), i.get("asset"))
                              for i in s["inputs"]),
                 key=s["key"], results=tuple(s["results"]))
        for s in raw["steps"])
    outputs = tuple(
        LockOutput(path=p, format=o["format"], quality=o.get("quality"), resize=o.get("resize"),
                   fit=o.get("fit"), source=o["source"], key=o["key"], sha256=o["sha256"],
                   adopted=o.get("adopted") is True)
        for p, o in sorted(raw["outputs"].items()))
    return LockAsset(name, raw["recipe"], steps, outputs)
