"""`assetgen show VARIANT` as text: each step's rendered prompt and request parameters, the
candidates and the outputs, from the plan alone (nothing is called)."""

from __future__ import annotations

import difflib
import fnmatch
import json
from collections.abc import Sequence

from assetgen.errors import UserError
from assetgen.review.model import VariantView


def select(names: Sequence[tuple[str, str]], pattern: str) -> list[str]:
    """Variant names matching `pattern` (a variant name, an asset key or a glob of either)."""
    found = [n for n, key in names if fnmatch.fnmatchcase(n, pattern) or fnmatch.fnmatchcase(key, pattern)]
    if found:
        return found
    known = sorted({n for n, _ in names} | {k for _, k in names})
    close = difflib.get_close_matches(pattern, known, n=3, cutoff=0.8)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UserError(f"'{pattern}' names no variant or asset{hint}")


def _value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def text(view: VariantView) -> str:
    lines = [f"{view.name}  (asset {view.asset} in {view.recipe}): {view.status}"]
    if view.values:
        lines.append("  matrix: " + ", ".join(f"{k}={_value(v)}" for k, v in view.values))
    for step in view.steps:
        cost = f", ${step.cost_usd:.3f}" if step.cost_usd else ""
        lines.append(f"  step {step.index + 1}: {step.op} ({step.status}{cost})")
        lines.append(f"    prompt: {step.prompt}")
        lines.append("    params: " + ", ".join(f"{k}={_value(v)}" for k, v in step.params))
        for source in step.inputs:
            lines.append(f"    input:  {source}")
        for reason in step.reasons:
            lines.append(f"    why:    {reason}")
        if step.pick is not None:
            lines.append(f"    pick:   {step.pick}")
    for k, image in enumerate(view.candidates):
        mark = "  (picked)" if view.n > 1 and k == view.pick else ""
        shown = f"sha256:{image[:12]}" if image else "not made yet"
        lines.append(f"  candidate {k}: {shown}{mark}")
    for out in view.outputs:
        extra = f", {out.resize}" if out.resize else ""
        why = f"  ({'; '.join(out.reasons)})" if out.reasons else ""
        lines.append(f"  output {out.path} ({out.format}{extra}, candidate {out.index}): {out.status}{why}")
    return "\n".join(lines) + "\n"
