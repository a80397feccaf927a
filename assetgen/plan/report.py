"""The plan as data for `assetgen plan`: every action, cached or run, with reasons and estimates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assetgen.plan import estimate
from assetgen.plan.graph import Action, Plan
from assetgen.plan.status import UNSENT, Resolution, Status
from assetgen.recipe.model import ProjectConfig

DEFAULT_JOBS = 8


def describe(action: Action) -> str:
    if action.render is not None:
        return action.render.output.path
    return ", ".join(action.assets)


PENDING = "pending"     # in a batch submitted earlier, not yet collected (SPEC section 12)


def plan_json(plan: Plan, resolution: Resolution, pricing: dict[str, Any],
              jobs: int = DEFAULT_JOBS, config: ProjectConfig | None = None,
              pending: Mapping[str, str] | None = None, batch: bool = False) -> dict[str, Any]:
    """SPEC section 7's object: actions with status and reasons, total cost and time estimates.
    `pending`: cache key -> batch id of calls in batches; `batch`: estimate at the Batch API's price."""
    actions = []
    cost = seconds = 0.0
    waits: dict[str, str] = {}     # action id -> why it cannot run: its blocked or refused upstream
    for action in plan.actions:
        st = resolution.states[action.id]
        status, reasons = st.status, [r.text() for r in st.reasons]
        if status in UNSENT:
            waits[action.id] = upstream_text(action.assets[0], status)
        elif status is Status.RUN:
            upstream = next((waits[d] for d in action.deps if d in waits), None)
            if upstream is not None:   # build fails it with its upstream: it is not going to run
                status, reasons = Status.BLOCKED, [upstream]
                waits[action.id] = upstream
        run = status is Status.RUN
        shown = status.value
        if run and pending and st.key in pending:
            run, shown, reasons = False, PENDING, [f"in batch {pending[st.key or '']}"]
        own = config.models if config else None
        batched = batch and estimate.batchable(action)
        c = estimate.cost(action, pricing, batch=batched, own=own) if run else 0.0
        cost += c
        seconds += estimate.seconds(action, own) if run else 0.0
        entry = {"id": action.id[:16], "op": action.op.value, "assets": list(action.assets),
                 "target": describe(action), "status": shown, "reasons": reasons,
                 "est_cost_usd": round(c, 6)}
        if action.id in resolution.remote:
            entry["remote"] = True      # cached through a record in the remote cache
        actions.append(entry)
    runs = [a for a, entry in zip(plan.actions, actions, strict=True) if entry["status"] == Status.RUN.value]
    paced = estimate.paced_seconds(runs, config or ProjectConfig())
    return {"actions": actions, "est_cost_usd": round(cost, 6),
            "est_seconds": round(max(seconds / max(1, jobs), paced), 3)}


REFUSED_UPSTREAM = " was refused by the content filter"


def upstream_text(asset: str, status: Status) -> str:
    """Why what needs the image of `asset` (blocked or refused) does not run either."""
    if status is Status.REFUSED:
        return f"upstream asset {asset}{REFUSED_UPSTREAM}"
    return f"upstream asset {asset} is blocked"


def plan_text(data: dict[str, Any], changed: bool = False) -> str:
    """The plan as lines; `changed` leaves out the cached actions (the last line counts them all)."""
    lines = []
    for a in data["actions"]:
        if changed and a["status"] == Status.CACHED.value:
            continue
        why = f"  ({'; '.join(a['reasons'])})" if a["reasons"] else ""
        status = f"{a['status']} (remote)" if a.get("remote") else a["status"]
        lines.append(f"{status:<7} {a['op']:<8} {a['target']}{why}")
    for path in data.get("removes", ()):
        lines.append(f"{'remove':<7} {'orphan':<8} {path}  (no recipe writes it any more)")
    for path in data.get("keeps", ()):
        lines.append(f"{'keep':<7} {'orphan':<8} {path}  (no recipe writes it any more, but it changed "
                     "since assetgen wrote it)")
    for path in data.get("leaves", ()):
        lines.append(f"{'leave':<7} {'orphan':<8} {path}  (no recipe writes it any more, but assetgen has no "
                     "record of making it)")
    if data.get("left_as_paid"):
        count = data["left_as_paid"]
        lines.append(f"{count} output{'s' if count != 1 else ''} hold paid images: the local provider "
                     "leaves them as they are")
    run = sum(1 for a in data["actions"] if a["status"] == Status.RUN.value)
    blocked = sum(1 for a in data["actions"] if a["status"] == Status.BLOCKED.value
                  and not a["reasons"][0].endswith(REFUSED_UPSTREAM))     # counted with what was refused
    also = f", {blocked} blocked (restore the cache or --force them)" if blocked else ""
    refused = sum(1 for a in data["actions"] if a["status"] == Status.REFUSED.value)
    if refused:
        also += f", {refused} refused by the content filter (change the prompt or --force them)"
    waiting = sum(1 for a in data["actions"] if a["status"] == PENDING)
    also += f", {waiting} pending in batches" if waiting else ""
    removes = len(data.get("removes", ()))
    if removes:
        also += f", {removes} output{'s' if removes != 1 else ''} to remove"
    lines.append(f"{len(data['actions'])} actions, {run} to run{also}; "
                 f"estimated ${data['est_cost_usd']:.2f}, {data['est_seconds']:.0f}s")
    return "\n".join(lines) + "\n"
