"""Model capability, token and price table, loaded from `data/models.json`.

A new model is a new row in that file, not new code. `get(name)` returns None for a model
the table does not know; callers then pass its parameters through unchecked. A dated snapshot
(`aliases` in the file, e.g. gpt-image-2-2026-04-21) is its model's row under its own name.
What differs between services is data keyed by provider: `lifecycle` (retired on a date, with a
replacement), `support` (a feature on one service: true, false, "preview" or "unconfirmed"),
`batch` (the Batch API takes it), and the edit input size limit.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
from msgspec import Struct, field

DATA = Path(__file__).parent / "data"      # the package data: a folder, read without importlib.resources

DEFAULT_SIZE = "1024x1024"


class FreeSize(Struct, frozen=True):
    multiple: int
    max_long_edge: int
    max_pixels: int
    max_ratio: float
    min_pixels: dict[str, int] = field(default_factory=dict)     # provider -> least width x height
    experimental_pixels: int | None = None                       # above this: works, but experimental

    def min_for(self, provider: str | None) -> int:
        return self.min_pixels.get(provider or "", 0)


class EditInputs(Struct, frozen=True):
    formats: tuple[str, ...]
    max_bytes: int                                   # the strictest limit, for a provider not named
    max_images: int
    max_bytes_by: dict[str, int] = field(default_factory=dict)   # provider -> limit per input image

    def max_bytes_for(self, provider: str | None) -> int:
        return self.max_bytes_by.get(provider or "", self.max_bytes)


class Lifecycle(Struct, frozen=True):
    """A model's state on one provider: retired on `retired` (a date, or "" when the source gives none)."""

    retired: datetime.date | None = None
    retired_undated: bool = False
    deprecated: bool = False
    replacement: str | None = None

    def is_retired(self, today: datetime.date) -> bool:
        return self.retired_undated or (self.retired is not None and self.retired <= today)


class ModelSpec(Struct, frozen=True):
    name: str
    family: str
    sizes: tuple[str, ...]
    free_size: FreeSize | None
    default_size: str
    qualities: tuple[str, ...]
    auto_quality: str
    max_n: int
    edit: bool
    input_fidelity: bool
    style: bool
    response_format: bool
    generate_params: frozenset[str]
    edit_params: frozenset[str]
    output_formats: dict[str, tuple[str, ...]]
    transparent_formats: tuple[str, ...]
    prompt_max: int
    edit_inputs: EditInputs | None
    reports_usage: bool
    tokens: dict[str, dict[str, int]]
    price_per_mtok: dict[str, float] | None
    price_per_image: dict[str, dict[str, float]] | None
    default_rpm: int
    notes: str
    input_image_tokens: dict[str, int] = field(default_factory=dict)  # per input image, by input_fidelity
    batch: dict[str, bool] = field(default_factory=dict)               # provider -> the Batch API takes it
    lifecycle: dict[str, Lifecycle] = field(default_factory=dict)      # provider -> retirement
    support: dict[str, dict[str, bool | str]] = field(default_factory=dict)  # feature -> provider -> level
    alias_of: str | None = None                                        # a dated snapshot of this model

    def params_for(self, op: str) -> frozenset[str]:
        """The request parameters this model takes for `op` ("generate" or "edit")."""
        return self.edit_params if op == "edit" else self.generate_params

    def supports(self, feature: str, provider: str | None) -> bool | str:
        """True, False, "preview" or "unconfirmed": what the sources say of `feature` on `provider`
        (True when the table says nothing)."""
        return self.support.get(feature, {}).get(provider or "", True)

    def batchable(self, provider: str | None) -> bool:
        return bool(self.batch.get(provider or "", False))

    def life(self, provider: str | None) -> Lifecycle | None:
        return self.lifecycle.get(provider or "")

    def size_ok(self, size: str, provider: str | None = None) -> bool:
        if size in self.sizes:
            return True
        dims = parse_size(size)
        if dims is None or self.free_size is None:
            return False
        w, h = dims
        rule = self.free_size
        return (
            w % rule.multiple == 0
            and h % rule.multiple == 0
            and max(w, h) <= rule.max_long_edge
            and rule.min_for(provider) <= w * h <= rule.max_pixels
            and max(w, h) <= rule.max_ratio * min(w, h)
        )

    def experimental_size(self, size: str) -> bool:
        """A free size the service calls experimental (gpt-image-2: above 2560x1440 pixels)."""
        dims = parse_size(size)
        rule = self.free_size
        return (dims is not None and rule is not None and rule.experimental_pixels is not None
                and dims[0] * dims[1] > rule.experimental_pixels and size not in self.sizes)

    def resolve_size(self, size: str | None) -> str:
        """The concrete WxH a request produces; `auto` and unset mean the model's default."""
        return self.default_size if size in (None, "auto") else size

    def resolve_quality(self, quality: str | None) -> str:
        return self.auto_quality if quality in (None, "auto") else quality

    def priciest_size(self, quality: str | None) -> str | None:
        """Of the sizes `auto` (or no size) may come out as, the one of the most output tokens at
        `quality`; None when the table prices none (a per-image model)."""
        table = self.tokens.get(self.resolve_quality(quality)) or next(iter(self.tokens.values()), {})
        return max(table, key=lambda size: table[size]) if table else None

    def output_tokens(self, size: str | None, quality: str | None) -> int:
        """Image output tokens for one image; free sizes scale the square entry by area."""
        table = self.tokens.get(self.resolve_quality(quality)) or next(iter(self.tokens.values()))
        concrete = self.resolve_size(size)
        if concrete in table:
            return table[concrete]
        dims = parse_size(concrete) or (1024, 1024)
        base = table.get(DEFAULT_SIZE) or next(iter(table.values()))
        return round(base * dims[0] * dims[1] / (1024 * 1024))

    def image_input_tokens(self, images: int, input_fidelity: str | None) -> int:
        """Input-image tokens of an edit: per image, by `input_fidelity` (low when unset)."""
        table = self.input_image_tokens
        per = table.get(input_fidelity or "low", table.get("low", 0))
        return images * per

    def estimate_cost(
        self, size: str | None, quality: str | None, n: int = 1, prompt_tokens: int = 0,
        pricing: dict[str, Any] | None = None, input_images: int = 0, input_fidelity: str | None = None,
    ) -> float:
        """Estimated USD for one call producing `n` images; `pricing` overrides the table. An edit's
        `input_images` (the working image and references) are priced as input-image tokens."""
        per_image = (pricing or {}).get("per_image", self.price_per_image)
        if per_image:
            q = self.resolve_quality(quality)
            by_size = per_image.get(q) or next(iter(per_image.values()))
            s = self.resolve_size(size)
            return n * float(by_size.get(s, max(by_size.values())))
        rates = {**(self.price_per_mtok or {}), **((pricing or {}).get("per_mtok") or {})}
        out = self.output_tokens(size, quality) * n * float(rates.get("image_out", 0))
        text = prompt_tokens * float(rates.get("text_in", 0))
        image_in = self.image_input_tokens(input_images, input_fidelity) * float(rates.get("image_in", 0))
        return (out + text + image_in) / 1_000_000


def parse_size(size: str) -> tuple[int, int] | None:
    """`"1536x1024"` -> (1536, 1024); anything else -> None."""
    w, sep, h = size.partition("x")
    if not sep or not (w.isascii() and w.isdigit() and h.isascii() and h.isdigit()) or len(w + h) > 18:
        return None
    return int(w), int(h)


def _edit_inputs(inputs: dict[str, Any] | None) -> EditInputs | None:
    if not inputs:
        return None
    limit = inputs["max_bytes"]
    by = dict(limit) if isinstance(limit, dict) else {}
    strictest = min(by.values()) if by else int(limit)
    return EditInputs(tuple(inputs["formats"]), strictest, inputs["max_images"], by)


def _lifecycle(entry: dict[str, Any]) -> Lifecycle:
    retired = entry.get("retired")
    return Lifecycle(
        retired=datetime.date.fromisoformat(retired) if isinstance(retired, str) else None,
        retired_undated=retired is True,
        deprecated=bool(entry.get("deprecated", False)),
        replacement=entry.get("replacement"),
    )


def _spec(name: str, row: dict[str, Any]) -> ModelSpec:
    free = row.get("free_size")
    inputs = row.get("edit_inputs")
    return ModelSpec(
        name=name,
        family=row["family"],
        sizes=tuple(row["sizes"]),
        free_size=FreeSize(**free) if free else None,
        default_size=row["default_size"],
        qualities=tuple(row["qualities"]),
        auto_quality=row["auto_quality"],
        max_n=row["max_n"],
        edit=row["edit"],
        input_fidelity=row["input_fidelity"],
        style=row["style"],
        response_format=row["response_format"],
        generate_params=frozenset(row["generate_params"]),
        edit_params=frozenset(row["edit_params"]),
        output_formats={k: tuple(v) for k, v in row["output_formats"].items()},
        transparent_formats=tuple(row["transparent_formats"]),
        prompt_max=row["prompt_max"],
        edit_inputs=_edit_inputs(inputs),
        reports_usage=row["reports_usage"],
        tokens=row["tokens"],
        price_per_mtok=row["price_per_mtok"],
        price_per_image=row["price_per_image"],
        default_rpm=row["default_rpm"],
        notes=row.get("notes", ""),
        input_image_tokens=dict(row.get("input_image_tokens") or {}),
        batch=dict(row.get("batch") or {}),
        lifecycle={p: _lifecycle(e) for p, e in (row.get("lifecycle") or {}).items()},
        support={f: dict(by) for f, by in (row.get("support") or {}).items()},
    )


@functools.cache
def _table() -> dict[str, Any]:
    text = (DATA / "models.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@functools.cache
def models() -> dict[str, ModelSpec]:
    """Every row, and every dated snapshot as its model's row under its own name."""
    table = _table()
    rows = {name: _spec(name, row) for name, row in table["models"].items()}
    for alias, target in (table.get("aliases") or {}).items():
        rows[alias] = msgspec.structs.replace(rows[target], name=alias, alias_of=target)
    return rows


def batch_discount() -> float:
    """The Batch API's price as a fraction of the synchronous one (0.5: half price)."""
    return float(_table().get("batch_discount", 1.0))


def get(name: str | None, own: Mapping[str, ModelSpec] | None = None) -> ModelSpec | None:
    """The row for `name`: the project's own (`own`, from assetgen.yaml `models:`), else the table's."""
    if own and name and name in own:
        return own[name]
    return models().get(name or "")


class ProjectModels(dict[str, ModelSpec]):
    """Model rows a project declares in assetgen.yaml. Hashed by their names, so a frozen
    ProjectConfig holding them can key a cache (equal rows have equal names)."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self)))


def row(name: str) -> dict[str, Any] | None:
    """The table's row for `name` as written (a dated snapshot: its model's row), for `like:`."""
    table = _table()
    target = (table.get("aliases") or {}).get(name, name)
    found = table["models"].get(target)
    return dict(found) if found is not None else None


def spec_from_row(name: str, fields: dict[str, Any]) -> ModelSpec:
    """A ModelSpec from a row in the table's format; KeyError, TypeError or ValueError if it is not one."""
    return _spec(name, fields)


FALLBACK_RPM = 9    # requests per minute for a model the table does not know


def rpm_for(model: str, configured: Mapping[str, int], deployment: str) -> float:
    """A deployment's quota: the project's `rpm:` entry, else the table's default for the model."""
    if deployment in configured:
        return float(configured[deployment])
    spec = get(model)
    return float(spec.default_rpm if spec else FALLBACK_RPM)


# Parameters that choose the API a step goes through (SPEC section 12), not image API parameters:
# `api: responses` runs the step as a turn of a Responses API conversation with the image tool.
CONVERSATION_PARAMS = ("api", "text_model", "instructions")
RESPONSES = "responses"


class ResponsesTool(Struct, frozen=True):
    """The Responses API's `image_generation` tool: which image models back it on each provider,
    the tool fields a recipe may set, and whether the provider streams it."""

    image_models: dict[str, tuple[str, ...]]
    tool_params: frozenset[str]
    streaming: dict[str, bool]


@functools.cache
def responses_tool() -> ResponsesTool:
    text = (DATA / "responses.json").read_text(encoding="utf-8")
    row = json.loads(text)
    return ResponsesTool({k: tuple(v) for k, v in row["image_models"].items()},
                         frozenset(row["tool_params"]), dict(row["streaming"]))


# Parameters that never change the produced image: kept out of cache keys.
NON_IMAGE_PARAMS = frozenset({"user", "stream", "partial_images"})

# Every request parameter a recipe may set (SPEC sections 3 and 12), besides `prompt`.
REQUEST_PARAMS = (
    "model", "size", "quality", "n", "background", "moderation", "output_format",
    "output_compression", "input_fidelity", "style", "user", *CONVERSATION_PARAMS,
)
