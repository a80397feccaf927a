"""What differs between the project at a git revision and the working tree, per variant.

Before: the output hashes the lock file at the revision records. After: the hashes of the files
the current recipes write, as they are on disk. A variant is changed when an output's bytes
differ, or when its recipe changed and it is not built yet (its plan is stale): then its outputs
are listed with the files as they are now, and the plan's reasons say why.
"""

from __future__ import annotations

import enum
import json
import re
from typing import Any

from msgspec import Struct

from assetgen.errors import UserError
from assetgen.lockfile import LOCK_FILE
from assetgen.plan.explain import Reason, Why
from assetgen.plan.status import Status
from assetgen.review.gitrev import Revision
from assetgen.run.prepare import Prepared

_SHA = re.compile(r"[0-9a-f]{64}")


class Change(enum.Enum):
    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"


class OutputDiff(Struct, frozen=True):
    path: str
    before: str | None
    after: str | None


class VariantDiff(Struct, frozen=True):
    variant: str
    status: Change
    outputs: tuple[OutputDiff, ...]
    reasons: tuple[str, ...] = ()       # why a variant that is not built yet will change

    def to_json(self) -> dict[str, Any]:
        return {"variant": self.variant, "status": self.status.value,
                "outputs": [{"path": o.path, "before": o.before, "after": o.after} for o in self.outputs]}


class Diff(Struct, frozen=True):
    rev: str
    variants: tuple[VariantDiff, ...]

    def to_json(self) -> dict[str, Any]:
        return {"rev": self.rev, "assets": [v.to_json() for v in self.variants]}


def locked_outputs(text: bytes | None) -> dict[str, dict[str, str | None]]:
    """Variant -> output path -> sha256, from a lock file's bytes (untrusted: malformed entries are
    skipped, a hash that is not 64 lowercase hex counts as unknown); {} when there is none.
    ValueError when it is not a lock file at all (cut short, not JSON, no `assets` object): every
    variant would otherwise show as added."""
    if text is None:
        return {}
    try:
        data = json.loads(text.decode("utf-8"))
        assets = data["assets"]
    except UnicodeDecodeError:
        raise ValueError("it is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"it is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except (KeyError, TypeError):
        raise ValueError("it has no 'assets' object") from None
    except RecursionError:
        raise ValueError("it is nested too deeply") from None
    found: dict[str, dict[str, str | None]] = {}
    if not isinstance(assets, dict):
        raise ValueError("its 'assets' is not an object")
    for name, entry in assets.items():
        outputs = entry.get("outputs") if isinstance(entry, dict) else None
        if not isinstance(outputs, dict):
            continue
        found[str(name)] = {
            str(path): (o.get("sha256") if isinstance(o, dict) and isinstance(o.get("sha256"), str)
                        and _SHA.fullmatch(o["sha256"]) else None)
            for path, o in outputs.items()}
    return found


# why a rendition will be written again because the recipe changed (a pick, an output's
# parameters, a new output), not because of the working tree (a file missing or changed by hand)
RECIPE_RENDITIONS = frozenset({Why.NEW, Why.PARAM, Why.PICK, Why.PROVIDER})


def compare(prep: Prepared, revision: Revision) -> Diff:
    try:
        before = locked_outputs(revision.read(LOCK_FILE))
    except ValueError as exc:
        raise UserError(f"{LOCK_FILE} at {revision.rev}: error: cannot read the lock file there: {exc}; "
                        "nothing to compare with") from None
    states = prep.resolution.states
    by_id = prep.plan.by_id()
    found: list[VariantDiff] = []
    current = set()
    for asset in prep.plan.assets:
        current.add(asset.name)
        old = before.get(asset.name)
        paths = [r.output.path for o in asset.outputs if (r := by_id[o].render) is not None]
        after = {p: prep.files.hash(p) for p in paths}
        stale_ids = [a for a in (*asset.steps, *asset.outputs) if states[a].status is not Status.CACHED]
        reasons = tuple(dict.fromkeys(r.text() for a in stale_ids for r in states[a].reasons
                                      if (by_id[a].is_call or r.why in RECIPE_RENDITIONS)
                                      and not _own_chain(r, asset.name)))
        if old is None:
            found.append(VariantDiff(asset.name, Change.ADDED,
                                     tuple(OutputDiff(p, None, after[p]) for p in paths), reasons))
            continue
        outputs = [OutputDiff(p, old.get(p), after[p]) for p in paths if old.get(p) != after[p]]
        outputs += [OutputDiff(p, sha, None) for p, sha in old.items() if p not in after]
        if not outputs and reasons:
            outputs = [OutputDiff(p, old.get(p), after[p]) for p in paths]
        if outputs:
            found.append(VariantDiff(asset.name, Change.CHANGED, tuple(outputs), reasons))
    for name, old in before.items():
        if name not in current:
            found.append(VariantDiff(name, Change.REMOVED,
                                     tuple(OutputDiff(p, sha, None) for p, sha in sorted(old.items()))))
    found.sort(key=lambda v: v.variant)
    return Diff(revision.rev, tuple(found))


def _own_chain(reason: Reason, variant: str) -> bool:
    """"upstream asset X changed" inside X's own edit chain says nothing new."""
    return reason.why is Why.UPSTREAM and reason.subject == variant


def summary(diff: Diff) -> str:
    counts = {c: sum(1 for v in diff.variants if v.status is c) for c in Change}
    parts = ", ".join(f"{n} {c.value}" for c, n in counts.items() if n)
    noun = "variant differs" if len(diff.variants) == 1 else "variants differ"
    return f"{len(diff.variants)} {noun} from {diff.rev}: {parts}"


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "-"


def text(diff: Diff) -> str:
    if not diff.variants:
        return f"no output differs from {diff.rev}\n"
    lines = []
    for v in diff.variants:
        why = f"  (not built yet: {'; '.join(v.reasons)})" if v.reasons and v.status is not Change.REMOVED \
            and all(o.before == o.after for o in v.outputs) else ""
        lines.append(f"{v.status.value:<8} {v.variant}{why}")
        for o in v.outputs:
            lines.append(f"  {o.path}  {_short(o.before)} -> {_short(o.after)}")
    lines.append(summary(diff))
    return "\n".join(lines) + "\n"
