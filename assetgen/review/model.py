"""What `review` and `show` display, as values: per variant its steps (rendered prompt, request
parameters, status and reasons from the plan, cost), its candidates (the final step's images, the
pick marked) and its outputs. Built from a prepared plan; reading it calls nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from msgspec import Struct

from assetgen.plan import estimate
from assetgen.plan.graph import Action
from assetgen.plan.report import upstream_text
from assetgen.plan.status import UNSENT, Status
from assetgen.recipe.model import Variant
from assetgen.run.prepare import Prepared


class StepView(Struct, frozen=True):
    index: int
    op: str
    model: str
    prompt: str
    params: tuple[tuple[str, Any], ...]    # every request parameter, model included, sorted
    status: str                            # cached | run | blocked
    reasons: tuple[str, ...]
    cost_usd: float                        # the call at the provider's price (0 for local)
    images: tuple[str, ...]                # result hashes when known (cache or lock)
    inputs: tuple[str, ...]                # input files and upstream assets, for the page
    pick: int | None


class OutputView(Struct, frozen=True):
    path: str
    format: str
    index: int                             # the candidate it renders
    status: str
    reasons: tuple[str, ...]
    resize: str | None


class VariantView(Struct, frozen=True):
    name: str
    asset: str
    recipe: str
    values: tuple[tuple[str, Any], ...]    # matrix values, in matrix order
    steps: tuple[StepView, ...]
    outputs: tuple[OutputView, ...]
    n: int                                 # candidates of the final step
    pick: int                              # the candidate the outputs without {{ index }} take

    @property
    def candidates(self) -> tuple[str | None, ...]:
        """The final step's images by candidate number; None where not made yet."""
        images = self.steps[-1].images
        return tuple(images[k] if k < len(images) else None for k in range(self.n))

    @property
    def status(self) -> str:
        states = {s.status for s in self.steps} | {o.status for o in self.outputs}
        for worst in (Status.REFUSED.value, Status.BLOCKED.value, Status.RUN.value):
            if worst in states:
                return worst
        return Status.CACHED.value

    @property
    def cost_usd(self) -> float:
        return sum(s.cost_usd for s in self.steps)

    @property
    def cost_to_run_usd(self) -> float:
        return sum(s.cost_usd for s in self.steps if s.status == Status.RUN.value)


class AssetGroup(Struct, frozen=True):
    key: str
    recipe: str
    axes: tuple[tuple[str, tuple[Any, ...]], ...]   # matrix axis -> its values in first-seen order
    variants: tuple[VariantView, ...]


def _params(action: Action) -> tuple[tuple[str, Any], ...]:
    assert action.call is not None
    return tuple(sorted((*action.call.params, ("model", action.call.model))))


def _inputs(action: Action, chain: Sequence[str]) -> tuple[str, ...]:
    assert action.call is not None
    out = []
    for s in action.call.sources:
        if s.file is not None:
            label = s.file
        elif s.action in chain:
            label = f"step {chain.index(s.action) + 1}, candidate {s.index}"
        else:
            label = f"{{asset: {s.asset}}}, candidate {s.index}"
        out.append(f"{s.role.value}: {label}")
    return tuple(out)


def variant_view(prep: Prepared, variant: Variant, by_id: dict[str, Action],
                 blocked_upstream: dict[str, str]) -> VariantView:
    plan_asset = next(a for a in prep.plan.assets if a.name == variant.name)
    pricing = dict(prep.project.config.pricing)
    steps = []
    for i, (aid, step) in enumerate(zip(plan_asset.steps, variant.steps, strict=True)):
        action = by_id[aid]
        st = prep.resolution.states[aid]
        status, reasons = st.status.value, tuple(r.text() for r in st.reasons)
        if aid in blocked_upstream and st.status is Status.RUN:
            status, reasons = Status.BLOCKED.value, (blocked_upstream[aid],)
        assert action.call is not None
        steps.append(StepView(i, action.op.value, action.call.model, action.call.prompt, _params(action),
                              status, reasons, estimate.cost(action, pricing, own=prep.project.config.models),
                              tuple(st.results or ()),
                              _inputs(action, plan_asset.steps), step.pick))
    outputs = []
    for aid, out in zip(plan_asset.outputs, variant.outputs, strict=True):
        st = prep.resolution.states[aid]
        resize = f"{out.resize[0]}x{out.resize[1]}" if out.resize else None
        outputs.append(OutputView(out.path, out.format, out.index, st.status.value,
                                  tuple(r.text() for r in st.reasons), resize))
    final = variant.steps[-1]
    return VariantView(variant.name, variant.asset, plan_asset.recipe, variant.values, tuple(steps),
                       tuple(outputs), final.n, final.pick or 0)


def _blocked_upstream(prep: Prepared) -> dict[str, str]:
    """Action id -> why it cannot run: its blocked or refused upstream (as `plan` reports it)."""
    waits: dict[str, str] = {}
    for action in prep.plan.actions:
        st = prep.resolution.states[action.id]
        if st.status in UNSENT:
            waits[action.id] = upstream_text(action.assets[0], st.status)
        elif st.status is Status.RUN:
            upstream = next((waits[d] for d in action.deps if d in waits), None)
            if upstream is not None:
                waits[action.id] = upstream
    return {aid: who for aid, who in waits.items() if prep.resolution.states[aid].status is Status.RUN}


def variants(prep: Prepared, names: Sequence[str] | None = None) -> list[VariantView]:
    """Views of the project's variants (of `names` only, when given), in recipe order."""
    by_id = prep.plan.by_id()
    blocked = _blocked_upstream(prep)
    wanted = set(names) if names is not None else None
    planned = {a.name for a in prep.plan.assets}
    return [variant_view(prep, v, by_id, blocked) for v in prep.project.variants()
            if v.name in planned and (wanted is None or v.name in wanted)]


def groups(views: Sequence[VariantView]) -> list[AssetGroup]:
    """Variants grouped by asset key, with the matrix axes their values span."""
    order: dict[tuple[str, str], list[VariantView]] = {}
    for v in views:
        order.setdefault((v.recipe, v.asset), []).append(v)
    out = []
    for (recipe, key), members in order.items():
        axes: dict[str, list[Any]] = {}
        for v in members:
            for axis, value in v.values:
                seen = axes.setdefault(axis, [])
                if value not in seen:
                    seen.append(value)
        out.append(AssetGroup(key, recipe, tuple((a, tuple(vals)) for a, vals in axes.items()),
                              tuple(members)))
    return out
