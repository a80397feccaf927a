"""Model capability, token and price table, loaded from `data/models.json`.

A new model is a new row in that file, not new code. `get(name)` returns None for a model
the table does not know; callers then pass its parameters through unchecked.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

DEFAULT_SIZE = "1024x1024"


@dataclass(frozen=True)
class FreeSize:
    multiple: int
    max_long_edge: int
    max_pixels: int
    max_ratio: float


@dataclass(frozen=True)
class EditInputs:
    formats: tuple[str, ...]
    max_bytes: int
    max_images: int


@dataclass(frozen=True)
class ModelSpec:
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

    def params_for(self, op: str) -> frozenset[str]:
        """The request parameters this model takes for `op` ("generate" or "edit")."""
        return self.edit_params if op == "edit" else self.generate_params

    def size_ok(self, size: str) -> bool:
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
            and w * h <= rule.max_pixels
            and max(w, h) <= rule.max_ratio * min(w, h)
        )

    def resolve_size(self, size: str | None) -> str:
        """The concrete WxH a request produces; `auto` and unset mean the model's default."""
        return self.default_size if size in (None, "auto") else size

    def resolve_quality(self, quality: str | None) -> str:
        return self.auto_quality if quality in (None, "auto") else quality

    def output_tokens(self, size: str | None, quality: str | None) -> int:
        """Image output tokens for one image; free sizes scale the square entry by area."""
        table = self.tokens.get(self.resolve_quality(quality)) or next(iter(self.tokens.values()))
        concrete = self.resolve_size(size)
        if concrete in table:
            return table[concrete]
        dims = parse_size(concrete) or (1024, 1024)
        base = table.get(DEFAULT_SIZE) or next(iter(table.values()))
        return round(base * dims[0] * dims[1] / (1024 * 1024))

    def estimate_cost(
        self, size: str | None, quality: str | None, n: int = 1, prompt_tokens: int = 0,
        pricing: dict[str, Any] | None = None,
    ) -> float:
        """Estimated USD for one call producing `n` images; `pricing` overrides the table."""
        per_image = (pricing or {}).get("per_image", self.price_per_image)
        if per_image:
            q = self.resolve_quality(quality)
            by_size = per_image.get(q) or next(iter(per_image.values()))
            s = self.resolve_size(size)
            return n * float(by_size.get(s, max(by_size.values())))
        rates = {**(self.price_per_mtok or {}), **((pricing or {}).get("per_mtok") or {})}
        out = self.output_tokens(size, quality) * n * float(rates.get("image_out", 0))
        text = prompt_tokens * float(rates.get("text_in", 0))
        return (out + text) / 1_000_000


def parse_size(size: str) -> tuple[int, int] | None:
    """`"1536x1024"` -> (1536, 1024); anything else -> None."""
    w, sep, h = size.partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        return None
    return int(w), int(h)


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
        edit_inputs=EditInputs(tuple(inputs["formats"]), inputs["max_bytes"], inputs["max_images"])
        if inputs else None,
        reports_usage=row["reports_usage"],
        tokens=row["tokens"],
        price_per_mtok=row["price_per_mtok"],
        price_per_image=row["price_per_image"],
        default_rpm=row["default_rpm"],
        notes=row.get("notes", ""),
    )


@functools.cache
def models() -> dict[str, ModelSpec]:
    text = resources.files("assetgen").joinpath("data/models.json").read_text(encoding="utf-8")
    return {name: _spec(name, row) for name, row in json.loads(text)["models"].items()}


def get(name: str | None) -> ModelSpec | None:
    return models().get(name or "")


FALLBACK_RPM = 9    # requests per minute for a model the table does not know


def rpm_for(model: str, configured: Mapping[str, int], deployment: str) -> float:
    """A deployment's quota: the project's `rpm:` entry, else the table's default for the model."""
    if deployment in configured:
        return float(configured[deployment])
    spec = get(model)
    return float(spec.default_rpm if spec else FALLBACK_RPM)


# Parameters that never change the produced image: kept out of cache keys.
NON_IMAGE_PARAMS = frozenset({"user", "stream", "partial_images"})

# Every request parameter a recipe may set (SPEC section 3), besides `prompt`.
REQUEST_PARAMS = (
    "model", "size", "quality", "n", "background", "moderation", "output_format",
    "output_compression", "input_fidelity", "style", "user",
)
