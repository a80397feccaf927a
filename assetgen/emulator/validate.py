"""Per-model request validation from the catalog (the same table the linter uses).

`validate(...)` turns the request's fields (JSON values, or text values of a multipart form) into
one frozen `ImageCall`, or raises the `ApiError` the real service would answer with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assetgen import catalog
from assetgen.catalog import ModelSpec
from assetgen.emulator import errors
from assetgen.emulator.errors import Mode
from assetgen.recipe.model import Op

INT_PARAMS = frozenset({"n", "partial_images", "output_compression"})
BOOL_PARAMS = frozenset({"stream"})
ENUMS: dict[str, tuple[str, ...]] = {
    "style": ("vivid", "natural"),
    "response_format": ("url", "b64_json"),
    "background": ("transparent", "opaque", "auto"),
    "moderation": ("low", "auto"),
    "input_fidelity": ("high", "low"),
}
MAX_PARTIAL_IMAGES = 3
OPERATION_NAMES = {Op.GENERATE: "imageGeneration", Op.EDIT: "imageEdit"}


@dataclass(frozen=True)
class ImageCall:
    """One validated image request, every value resolved to what the emulator produces."""

    op: Op
    model: str
    prompt: str
    size: str | None         # concrete WxH; None on an edit with size auto: the first input's size
    quality: str             # resolved (never "auto")
    n: int
    output_format: str       # png | jpeg | webp
    compression: int | None
    transparent: bool
    response_format: str     # b64_json | url
    stream: bool
    partial_images: int
    input_fidelity: str

    @property
    def background(self) -> str:
        return "transparent" if self.transparent else "opaque"


def all_known_params() -> frozenset[str]:
    names: set[str] = set()
    for spec in catalog.models().values():
        names |= spec.generate_params | spec.edit_params
    return frozenset(names)


def validate(op: Op, spec: ModelSpec, fields: dict[str, Any], mode: Mode, *, form: bool = False) -> ImageCall:
    """Check `fields` against `spec` for `op`; `form` means values are multipart text."""
    _check_operation(op, spec, mode)
    _check_known(op, spec, fields, mode)
    accepted = spec.params_for(op.value) | {"prompt", "model"}
    # what is left unchecked is a field no model takes, passed on the OpenAI path: it is ignored
    values = {name: _typed(name, value, form) for name, value in fields.items() if name in accepted}
    prompt = _prompt(values, spec)
    for name, allowed in ENUMS.items():
        if name in values and values[name] not in allowed:
            raise errors.invalid_value(name, values[name], allowed)
    return ImageCall(
        op=op,
        model=spec.name,
        prompt=prompt,
        size=_size(op, spec, values.get("size"), mode),
        quality=_quality(spec, values.get("quality")),
        n=_bounded(values, "n", 1, spec.max_n, default=1),
        output_format=(fmt := _output_format(spec, values.get("output_format"), mode)),
        compression=_compression(values, fmt),
        transparent=_transparent(spec, values.get("background"), fmt),
        response_format=values.get("response_format", "url" if spec.response_format else "b64_json"),
        stream=bool(values.get("stream", False)),
        partial_images=_bounded(values, "partial_images", 0, MAX_PARTIAL_IMAGES, default=0),
        input_fidelity=values.get("input_fidelity", "low"),
    )


def _check_operation(op: Op, spec: ModelSpec, mode: Mode) -> None:
    if op is Op.EDIT and not spec.edit:
        if mode is Mode.AZURE:
            raise errors.operation_not_supported(OPERATION_NAMES[op], spec.name)
        editable = [m.name for m in catalog.models().values() if m.edit]
        raise errors.invalid_value("model", spec.name, editable)


def _check_known(op: Op, spec: ModelSpec, fields: dict[str, Any], mode: Mode) -> None:
    accepted = spec.params_for(op.value) | {"prompt", "model"}
    known = all_known_params()
    for name in fields:
        if name not in accepted and (mode is Mode.AZURE or name in known):
            raise errors.unknown_parameter(name)
    if "input_fidelity" in fields and spec.supports("input_fidelity", mode.value) is False:
        raise errors.openai_error(400, f"input_fidelity is not supported for {spec.name}.",
                                  param="input_fidelity", code="unsupported_parameter")


def _typed(name: str, value: Any, form: bool) -> Any:
    if name in INT_PARAMS:
        if form and isinstance(value, str) and value.strip().lstrip("-").isdecimal():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise errors.invalid_type(name, "an integer", _kind(value))
        return value
    if name in BOOL_PARAMS:
        if form and value in ("true", "false"):
            return value == "true"
        if not isinstance(value, bool):
            raise errors.invalid_type(name, "a boolean", _kind(value))
        return value
    if not isinstance(value, str):
        raise errors.invalid_type(name, "a string", _kind(value))
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    return "an object"


def _prompt(values: dict[str, Any], spec: ModelSpec) -> str:
    if "prompt" not in values:
        raise errors.missing_parameter("prompt")
    prompt = values["prompt"]
    if not prompt:
        raise errors.openai_error(
            400, "Invalid 'prompt': string too short. Expected a string with minimum length 1, "
            "but got an empty string instead.", param="prompt", code="string_below_min_length")
    if len(prompt) > spec.prompt_max:
        raise errors.openai_error(
            400, f"Invalid 'prompt': string too long. Expected a string with maximum length "
            f"{spec.prompt_max}, but got a string with length {len(prompt)} instead.",
            param="prompt", code="string_above_max_length")
    return prompt


def _size(op: Op, spec: ModelSpec, size: str | None, mode: Mode) -> str | None:
    if size is not None and not spec.size_ok(size):
        raise errors.invalid_value("size", size, spec.sizes)
    if size is not None and not spec.size_ok(size, mode.value):
        least = spec.free_size.min_for(mode.value) if spec.free_size else 0
        raise errors.openai_error(
            400, f"Invalid 'size': {size} has fewer than the minimum of {least} pixels.", param="size",
            code="invalid_value")
    if op is Op.EDIT and size in (None, "auto"):
        return None
    return spec.resolve_size(size)


def _quality(spec: ModelSpec, quality: str | None) -> str:
    if quality is not None and quality not in spec.qualities:
        raise errors.invalid_value("quality", quality, spec.qualities)
    return spec.resolve_quality(quality)


def _bounded(values: dict[str, Any], name: str, low: int, high: int, default: int) -> int:
    value = values.get(name, default)
    if value < low:
        raise errors.below_min(name, low, value)
    if value > high:
        raise errors.above_max(name, high, value)
    return int(value)


def _output_format(spec: ModelSpec, fmt: str | None, mode: Mode) -> str:
    allowed = spec.output_formats.get(mode.catalog_key, ())
    if fmt is None:
        return "png"
    if fmt not in allowed:
        raise errors.invalid_value("output_format", fmt, allowed)
    return fmt


def _compression(values: dict[str, Any], fmt: str) -> int | None:
    if "output_compression" not in values:
        return None
    value = _bounded(values, "output_compression", 0, 100, default=100)
    if fmt == "png" and value != 100:
        raise errors.openai_error(
            400, "Invalid 'output_compression': compression is only supported for output_format "
            "'jpeg' and 'webp'.", param="output_compression", code="invalid_value")
    return value


def _transparent(spec: ModelSpec, background: str | None, fmt: str) -> bool:
    if background != "transparent":
        return False
    if fmt not in spec.transparent_formats:
        raise errors.openai_error(
            400, f"Transparent background is not supported for output_format '{fmt}'. "
            f"Use {errors.quoted_list(spec.transparent_formats)}.", param="background", code="invalid_value")
    return True
