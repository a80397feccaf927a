"""Estimated cost and time of the calls a plan will make.

Cost comes from the model table (`catalog.ModelSpec.estimate_cost`, with the project's pricing
overrides): output image tokens (for `size: auto` or none, those of the size that costs most: the
service picks), input images, and the prompt's text (about 4 characters a token); the `local`
provider is free, and a model the table does not know costs 0 (unknown).
Time: a call takes about BASE_SECONDS plus SECONDS_PER_TOKEN per output image token (latency is
proportional to output tokens; the reference gives no official figures, these are rough), a local
placeholder LOCAL_SECONDS; the build's total is the sum divided by the concurrency, but never
less than the quota allows: N calls to a deployment paced at R requests per minute take N × 60 / R
seconds however many run at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from assetgen import catalog
from assetgen.plan.graph import Action, Role
from assetgen.recipe.model import ProjectConfig

BASE_SECONDS = 5.0
SECONDS_PER_TOKEN = 0.02
LOCAL_SECONDS = 0.05


def cost(action: Action, pricing: dict[str, Any], batch: bool = False,
         own: Mapping[str, catalog.ModelSpec] | None = None) -> float:
    """USD for one call: output tokens, and an edit's input images as input-image tokens (more with
    input_fidelity high); `batch`: at the Batch API's price. `own`: the project's model rows.
    A paid call is never priced at $0 for want of a row: lint refuses a model no row knows."""
    spec = action.call
    if spec is None or spec.provider == "local":
        return 0.0
    model = catalog.get(spec.model, own)
    if model is None and spec.model:
        raise ValueError(f"no catalog row prices model '{spec.model}'")
    if model is None:
        return 0.0      # no model set: lint warns, and the provider's own default answers
    images = sum(1 for s in spec.sources if s.role is not Role.MASK)
    size = spec.param("size")
    if size in (None, "auto"):      # the service picks: priced at the size that costs most
        size = model.priciest_size(spec.param("quality")) or size
    usd = model.estimate_cost(size, spec.param("quality"), spec.n, prompt_tokens=prompt_tokens(spec.prompt),
                              pricing=pricing.get(spec.model), input_images=images,
                              input_fidelity=spec.param("input_fidelity"))
    usd += conversation_cost(action, pricing)
    return usd * catalog.batch_discount() if batch else usd


def prompt_tokens(prompt: str) -> int:
    """The prompt's text input tokens, about 4 characters a token (the tokenizer is not at hand)."""
    return -(-len(prompt) // 4)


def conversation_cost(action: Action, pricing: dict[str, Any]) -> float:
    """`api: responses`: the text model's input (the replayed turns, this turn and the instructions,
    about 4 characters a token) at the project's `pricing.<text_model>.per_mtok.text_in`; the
    catalog has no text-model prices, so without that entry only the image is estimated."""
    spec = action.call
    if spec is None or spec.param("api") != catalog.RESPONSES:
        return 0.0
    rates = (pricing.get(str(spec.param("text_model"))) or {}).get("per_mtok") or {}
    text = " ".join([*spec.history, spec.prompt, str(spec.param("instructions") or "")])
    return len(text) / 4 * float(rates.get("text_in", 0)) / 1_000_000


def batchable(action: Action) -> bool:
    """Whether OpenAI's Batch API takes this call (its provider and its model's catalog row say so)."""
    spec = action.call
    model = catalog.get(spec.model) if spec is not None else None
    return (spec is not None and model is not None and model.batchable(spec.provider)
            and spec.param("api") != catalog.RESPONSES)     # the Responses API is not an image call


def seconds(action: Action, own: Mapping[str, catalog.ModelSpec] | None = None) -> float:
    spec = action.call
    if spec is None:
        return 0.0
    if spec.provider == "local":
        return LOCAL_SECONDS * spec.n
    model = catalog.get(spec.model, own)
    tokens = model.output_tokens(spec.param("size"), spec.param("quality")) if model else 1056
    return BASE_SECONDS + SECONDS_PER_TOKEN * tokens * spec.n


def paced_seconds(calls: Iterable[Action], config: ProjectConfig) -> float:
    """The least time these calls take at their deployments' quotas (0 for the local provider)."""
    counts: Counter[tuple[str, str]] = Counter()
    rpm: dict[tuple[str, str], float] = {}
    azure_quotas = config.azure.quotas()
    openai_quotas = dict(config.openai.rpm)
    for action in calls:
        spec = action.call
        if spec is None or spec.provider == "local":
            continue
        azure = spec.provider == "azure"
        name = config.azure.deployment_for(spec.model) if azure else spec.model
        key = (spec.provider, name)
        counts[key] += 1
        if azure:       # several deployments share the model's calls: their quotas add up
            rpm[key] = sum(catalog.rpm_for(spec.model, azure_quotas, d.name)
                           for d in config.azure.pool_for(spec.model))
        else:
            rpm[key] = catalog.rpm_for(spec.model, openai_quotas, name)
    return max((n * 60.0 / rpm[key] for key, n in counts.items()), default=0.0)
