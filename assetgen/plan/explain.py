"""Why an action is stale: reasons as data, worked out by comparing with the lock file's entry."""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from typing import Any

from msgspec import Struct

from assetgen.lockfile import LockAsset, LockOutput, LockStep
from assetgen.plan import keys


class Why(enum.Enum):
    NEW = "new"
    PARAM = "parameter changed"
    PROMPT = "prompt changed"
    INPUT = "input file changed"
    UPSTREAM = "upstream asset changed"
    PICK = "pick changed"           # another candidate of the same call: no call for the candidates
    PROVIDER = "provider changed"
    OUTPUT_MISSING = "output missing"
    OUTPUT_CHANGED = "output changed on disk"
    KEPT = "output kept"            # a rendition that would replace a file changed by hand or adopted
    ENCODER = "encoder changed"
    NOT_CACHED = "image not in cache"
    LOCKED_MISSING = "locked image missing"
    FORCED = "forced"
    REFUSED = "refused by content filter"     # remembered: not sent again (subject: the asset to --force)


class Reason(Struct, frozen=True):
    why: Why
    subject: str = ""              # the parameter, file, asset or output concerned
    old: Any = None
    new: Any = None

    def text(self) -> str:
        w = self.why
        if w is Why.PARAM:
            return f"parameter {self.subject} changed ({_show(self.old)} -> {_show(self.new)})"
        if w is Why.PROVIDER:
            return f"provider changed ({self.old} -> {self.new})"
        if w is Why.INPUT:
            return f"input file {self.subject} changed"
        if w is Why.UPSTREAM:
            return f"upstream asset {self.subject} changed"
        if w is Why.PICK:
            of = f" of {self.subject}" if self.subject else ""
            return f"pick{of} changed ({self.old} -> {self.new})"
        if w is Why.OUTPUT_MISSING:
            return f"output {self.subject} missing (restored from {self.new or 'cache'})"
        if w is Why.OUTPUT_CHANGED:
            return (f"output {self.subject} changed since assetgen wrote it (build keeps it; "
                    f"--overwrite restores it from {self.new or 'cache'})")
        if w is Why.KEPT:
            state = {"adopted": "is adopted", "unknown": "was not written by assetgen"}.get(
                str(self.old), "changed since assetgen wrote it")
            return f"output {self.subject} {state} (build keeps it; --overwrite replaces it)"
        if w is Why.ENCODER:
            return f"encoder changed (now {self.new})"
        if w is Why.NOT_CACHED:
            return f"image not in cache (needed by {self.subject}; the local provider draws it again)"
        if w is Why.LOCKED_MISSING:
            held = self.new or "no lossless output holds it"
            image = str(self.old)[:12]
            return f"locked image sha256:{image} of {self.subject} is not in the cache and {held}"
        if w is Why.REFUSED:
            return f"refused by content filter ({day(self.old)}); --force {self.subject} resends it"
        return w.value


def day(when: Any) -> str:
    """A time as the local date, YYYY-MM-DD."""
    return time.strftime("%Y-%m-%d", time.localtime(float(when)))


def _show(value: Any) -> str:
    return "unset" if value is None else str(value)


Candidates = Mapping[str, tuple[str, ...]]   # an input's asset -> the results of the call it came from


def call_reasons(current: LockStep, old: LockStep | None, asset: str = "",
                 candidates: Candidates | None = None) -> list[Reason]:
    """What changed between the lock's step (of `asset`) and the current request. `candidates`
    holds, for an input that is an asset's image, every candidate of the locked call that made it:
    an input that moved between two of them is a changed pick."""
    if old is None:
        return [Reason(Why.NEW)]
    found: list[Reason] = []
    if old.provider != current.provider:
        found.append(Reason(Why.PROVIDER, old=old.provider, new=current.provider))
    if old.op != current.op:
        found.append(Reason(Why.PARAM, "op", old.op, current.op))
    if old.model != current.model:
        found.append(Reason(Why.PARAM, "model", old.model, current.model))
    was, now = keys.image_params(old.params), keys.image_params(current.params)
    for name in sorted(set(was) | set(now)):
        if was.get(name) != now.get(name):
            found.append(Reason(Why.PARAM, name, was.get(name), now.get(name)))
    if old.prompt != current.prompt:
        found.append(Reason(Why.PROMPT))
    found += _input_reasons(current, old, asset, candidates or {})
    return found or [Reason(Why.NEW)]


def picked(asset: str, results: tuple[str, ...], old: str | None, new: str, own: bool) -> Reason | None:
    """`pick changed (2 -> 0)` when `old` and `new` are both candidates of one call."""
    if old is None or old == new or old not in results or new not in results:
        return None
    return Reason(Why.PICK, "" if own else asset, results.index(old), results.index(new))


def _input_reasons(current: LockStep, old: LockStep, asset: str, candidates: Candidates) -> list[Reason]:
    found = []
    before = {(i.role, i.file, i.asset): i.sha256 for i in old.inputs}
    for i in current.inputs:
        was = before.get((i.role, i.file, i.asset))
        if was == i.sha256:
            continue
        if i.asset is not None:
            found.append(picked(i.asset, candidates.get(i.asset, ()), was, i.sha256, i.asset == asset)
                         or Reason(Why.UPSTREAM, i.asset))
        else:
            found.append(Reason(Why.INPUT, i.file or "?"))
    if not found and len(before) != len(current.inputs):
        found.append(Reason(Why.PARAM, "inputs", len(before), len(current.inputs)))
    return found


def render_reasons(current: LockOutput, old: LockOutput | None, exists: bool, asset: str,
                   encoder: str, candidates: tuple[str, ...] = ()) -> list[Reason]:
    """What changed between the lock's output and the current rendition; with the same settings
    and source, a different key means another encoder (a Pillow upgrade) made the locked file.
    `candidates`: every result of the locked call the output renders from."""
    if old is None:
        return [Reason(Why.NEW)]
    names = ("format", "quality", "resize", "fit")
    found = [Reason(Why.PARAM, name, getattr(old, name), getattr(current, name))
             for name in names if getattr(old, name) != getattr(current, name)]
    if old.source != current.source:
        found.append(picked(asset, candidates, old.source, current.source, True)
                     or Reason(Why.UPSTREAM, asset))
    if found:
        return found
    if exists and current.key and old.key != current.key:
        return [Reason(Why.ENCODER, current.path, new=encoder)]
    return [Reason(Why.OUTPUT_CHANGED if exists else Why.OUTPUT_MISSING, current.path)]


def step_of(entry: LockAsset | None, index: int) -> LockStep | None:
    if entry is None or index >= len(entry.steps):
        return None
    return entry.steps[index]


def output_of(entry: LockAsset | None, path: str) -> LockOutput | None:
    if entry is None:
        return None
    return next((o for o in entry.outputs if o.path == path), None)
