"""Recipes -> a DAG of actions: one GENERATE or EDIT per API call, one RENDER per output file.

The plan is a value. Building it reads nothing but the content of input files (through the
stat cache). Each action has an `id`: a hash of its request in which upstream images stand as
(upstream action id, candidate index). Identical requests anywhere in the project get one id and
so share one action. The cache *key* of an action (with the hash of the image each upstream
action actually produced) is worked out later, by `plan.status`, once those images are known.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from msgspec import Struct

from assetgen.catalog import RESPONSES
from assetgen.errors import UserError
from assetgen.plan import keys
from assetgen.recipe.model import Fit, ImageRef, Op, Output, Project, Step, Variant


class ActionOp(enum.Enum):
    GENERATE = "generate"
    EDIT = "edit"
    RENDER = "render"


class Role(enum.Enum):
    IMAGE = "image"
    MASK = "mask"
    REFERENCE = "images"


class Source(Struct, frozen=True):
    """An input image: a project file (with its content hash) or an upstream action's candidate."""

    role: Role
    file: str | None = None
    file_sha: str | None = None
    action: str | None = None
    index: int = 0
    asset: str | None = None        # the upstream variant, for messages

    def ident(self) -> dict[str, Any]:
        if self.action is not None:
            return {"action": self.action, "index": self.index}
        return {"file": self.file_sha}


class CallSpec(Struct, frozen=True):
    provider: str
    model: str
    prompt: str
    params: tuple[tuple[str, Any], ...]   # every request parameter the recipe set, model excluded
    label: str                            # the variant name (the local provider draws it)
    sources: tuple[Source, ...] = ()
    # `api: responses`: the earlier turns' text, and the id of the turn before (content only: a
    # turn's key covers the whole conversation before it, never a server-side response id)
    history: tuple[str, ...] = ()
    previous: str | None = None

    @property
    def n(self) -> int:
        return int(dict(self.params).get("n", 1))

    def param(self, name: str) -> Any:
        return dict(self.params).get(name)


class RenderSpec(Struct, frozen=True):
    output: Output
    source: Source


class Action(Struct, frozen=True):
    id: str
    op: ActionOp
    assets: tuple[str, ...]               # the variants this action serves
    deps: tuple[str, ...]                 # upstream action ids
    call: CallSpec | None = None
    render: RenderSpec | None = None

    @property
    def is_call(self) -> bool:
        return self.call is not None

    @property
    def call_op(self) -> Op:
        return Op(self.op.value)


class AssetPlan(Struct, frozen=True):
    name: str
    recipe: str
    steps: tuple[str, ...]        # action ids of the edit chain, in order
    outputs: tuple[str, ...]      # render action ids, one per output
    key: str = ""                 # the asset key in the recipe (the variant's `asset`)


class Plan(Struct, frozen=True):
    provider: str
    actions: tuple[Action, ...]   # topological order: every action after its deps
    assets: tuple[AssetPlan, ...]

    def by_id(self) -> dict[str, Action]:
        return {a.id: a for a in self.actions}


def call_ident(spec: CallSpec, op: ActionOp) -> dict[str, Any]:
    """The image-affecting request, with inputs as `Source.ident()` (id) or hashes (key)."""
    ident: dict[str, Any] = {
        "op": op.value, "provider": spec.provider, "model": spec.model, "prompt": spec.prompt,
        "params": keys.image_params(spec.params),
    }
    if spec.provider == "local":
        ident["label"] = spec.label
    if spec.previous is not None:
        ident["previous"] = spec.previous
    return ident


def render_ident(output: Output) -> dict[str, Any]:
    return {"op": ActionOp.RENDER.value, "format": output.format, "quality": output.quality,
            "resize": list(output.resize) if output.resize else None,
            "fit": output.fit.value if output.resize else Fit.CONTAIN.value}


FileHash = Callable[[str], str | None]


class _Builder:
    def __init__(self, project: Project, provider: str, file_hash: FileHash) -> None:
        self.variants = {v.name: (r.path, v) for r in project.recipes for v in r.variants}
        self.provider = provider
        self.file_hash = file_hash
        self.actions: dict[str, Action] = {}
        self.assets: dict[str, AssetPlan] = {}
        self.visiting: list[str] = []
        self.params: dict[Any, tuple[tuple[str, Any], ...]] = {}   # a step's params -> the call's (shared)

    def asset(self, name: str) -> AssetPlan:
        if name in self.assets:
            return self.assets[name]
        if name in self.visiting:
            cycle = " -> ".join([*self.visiting[self.visiting.index(name):], name])
            raise UserError(f"reference cycle: {cycle}")
        self.visiting.append(name)
        recipe, variant = self.variants[name]
        serves = (variant.name,)      # one tuple for all the variant's actions
        steps: list[str] = []
        history: tuple[str, ...] = ()     # the conversation so far: consecutive `api: responses` turns
        for i, step in enumerate(variant.steps):
            prev = steps[-1] if steps else None
            turn = step.param("api") == RESPONSES
            history = history if turn else ()
            steps.append(self.step(variant, step, prev, variant.steps[i - 1].pick if i else None,
                                   history, prev if history else None, serves))
            history = (*history, step.prompt) if turn else ()
        final = steps[-1]
        outputs = tuple(self.output(variant, out, final, serves) for out in variant.outputs)
        self.visiting.pop()
        plan = AssetPlan(name, recipe, tuple(steps), outputs, variant.asset)
        self.assets[name] = plan
        return plan

    def source(self, ref: ImageRef, role: Role) -> Source:
        if ref.asset is not None:
            upstream = self.asset(ref.asset)
            last = self.variants[ref.asset][1].steps[-1]
            return Source(role, action=upstream.steps[-1], index=last.pick or 0, asset=ref.asset)
        assert ref.path is not None
        sha = self.file_hash(ref.path)
        return Source(role, file=ref.path, file_sha=sha or f"missing:{ref.path}")

    def step(self, variant: Variant, step: Step, prev: str | None, prev_pick: int | None,
             history: tuple[str, ...] = (), previous: str | None = None,
             serves: tuple[str, ...] | None = None) -> str:
        sources: list[Source] = []
        if step.op is Op.EDIT:
            if prev is not None:
                sources.append(Source(Role.IMAGE, action=prev, index=prev_pick or 0, asset=variant.name))
            elif step.image is not None:
                sources.append(self.source(step.image, Role.IMAGE))
        if step.mask is not None:
            sources.append(self.source(step.mask, Role.MASK))
        sources += [self.source(ref, Role.REFERENCE) for ref in step.images]
        spec = CallSpec(self.provider, str(step.model or ""), step.prompt, self.call_params(step),
                        variant.name, tuple(sources), history, previous)
        op = ActionOp(step.op.value)
        ident = call_ident(spec, op)
        ident["inputs"] = [[s.role.value, s.ident()] for s in sources]
        return self.add(Action(keys.digest(ident), op, serves or (variant.name,),
                               tuple(s.action for s in sources if s.action), call=spec))

    def call_params(self, step: Step) -> tuple[tuple[str, Any], ...]:
        """The step's request parameters but the model, one tuple for steps that have the same."""
        params = tuple((k, v) for k, v in step.params if k != "model")
        try:
            return self.params.setdefault(params, params)
        except TypeError:       # a value that cannot be hashed: its own
            return params

    def output(self, variant: Variant, out: Output, final: str, serves: tuple[str, ...] | None = None) -> str:
        source = Source(Role.IMAGE, action=final, index=out.index, asset=variant.name)
        ident = {**render_ident(out), "path": out.path, "source": source.ident()}
        return self.add(Action(keys.digest(ident), ActionOp.RENDER, serves or (variant.name,), (final,),
                               render=RenderSpec(out, source)))

    def add(self, action: Action) -> str:
        known = self.actions.get(action.id)
        if known is None:
            self.actions[action.id] = action
        elif action.assets[0] not in known.assets:
            self.actions[action.id] = Action(known.id, known.op, (*known.assets, *action.assets),
                                             known.deps, known.call, known.render)
        return action.id


def build_plan(project: Project, provider: str, file_hash: FileHash) -> Plan:
    """The DAG of every action the project's variants need, in topological order."""
    builder = _Builder(project, provider, file_hash)
    for name in builder.variants:
        builder.asset(name)
    return Plan(provider, tuple(builder.actions.values()), tuple(builder.assets.values()))
