"""Result images and usage: the same placeholder renderer as the `local` provider.

The label drawn on each image is the model name (with the candidate number when n > 1). Edits
repaint only what the mask allows. Usage: output tokens from the catalog token table times n;
input text tokens are a rough 4/3 per prompt word; each input image counts a fixed
figure from the catalog's `input_image_tokens` (more with input_fidelity high).
"""

from __future__ import annotations

import functools
import io
import math
import threading
from dataclasses import dataclass
from typing import Any

from PIL import Image

from assetgen import placeholder
from assetgen.catalog import ModelSpec, parse_size
from assetgen.emulator.uploads import EditInputs
from assetgen.emulator.validate import ImageCall
from assetgen.recipe.model import Op


@dataclass(frozen=True)
class Rendered:
    """One candidate: the final encoded image and its partial previews (encoded the same way)."""

    data: bytes
    partials: tuple[bytes, ...]


def output_size(call: ImageCall, spec: ModelSpec, inputs: EditInputs | None) -> str:
    """The concrete WxH of the result; an edit with size auto keeps the first input's size."""
    if call.size is not None:
        return call.size
    if inputs is not None:
        w, h = inputs.images[0].size
        if spec.size_ok(f"{w}x{h}"):
            return f"{w}x{h}"
    return spec.default_size


def label(call: ImageCall) -> str:
    """What a placeholder shows large: the prompt's first words."""
    return placeholder.first_words(call.prompt)


def caption(call: ImageCall, index: int) -> str:
    """The model, and the candidate's number from 0 when there are several."""
    return call.model if call.n == 1 else f"{call.model} #{index}"


def render(call: ImageCall, size: str, inputs: EditInputs | None, tag: str = "") -> list[Rendered]:
    """CPU work: run it in a thread. `tag`: drawn after each caption (another tag, other images)."""
    w, h = parse_size(size) or (1024, 1024)
    results = []
    for i in range(call.n):
        if call.op is Op.EDIT and inputs is not None:
            img = placeholder.edit(inputs.images[0], call.prompt, label(call), inputs.mask, (w, h),
                                   inputs.images[1:], caption(call, i) + tag)
            if not call.transparent:
                img = _opaque(img).convert("RGB")
            data = placeholder.encode(img, call.output_format, call.compression)
        else:
            img = None
            data = _generated(w, h, call.prompt, caption(call, i) + tag, call.transparent, call.output_format,
                              call.compression)
        count = call.partial_images if call.stream else 0
        partials = tuple(_partial(data, img, k, call) for k in range(count))
        results.append(Rendered(data, partials))
    return results


_drawing: dict[tuple[Any, ...], threading.Lock] = {}
_drawing_lock = threading.Lock()


def _generated(w: int, h: int, prompt: str, text: str, transparent: bool, fmt: str,
               compression: int | None) -> bytes:
    """Placeholders are deterministic, so identical requests reuse the encoded bytes; identical
    requests that arrive together wait for one drawing instead of each drawing it (a burst of
    them would otherwise hold every connection for as long as all those drawings take)."""
    args = (w, h, prompt, text, transparent, fmt, compression)
    with _drawing_lock:
        lock = _drawing.setdefault(args, threading.Lock())
    try:
        with lock:
            return _drawn(*args)
    finally:
        with _drawing_lock:
            if not lock.locked():
                _drawing.pop(args, None)


@functools.lru_cache(maxsize=64)
def _drawn(w: int, h: int, prompt: str, text: str, transparent: bool, fmt: str,
           compression: int | None) -> bytes:
    img = placeholder.generate(w, h, prompt, placeholder.first_words(prompt), transparent, text)
    return placeholder.encode(img if transparent else img.convert("RGB"), fmt, compression)


def _opaque(img: Image.Image) -> Image.Image:
    if img.getchannel("A").getextrema()[0] == 255:
        return img
    flat = Image.new("RGBA", img.size, (255, 255, 255, 255))
    flat.alpha_composite(img)
    return flat


def _partial(final: bytes, img: Image.Image | None, index: int, call: ImageCall) -> bytes:
    """Preview `index` of `call.partial_images`: a coarser version of the final image."""
    source = img if img is not None else Image.open(io.BytesIO(final))
    source.load()
    factor = 2 ** (call.partial_images - index + 1)
    small = source.resize((max(1, source.width // factor), max(1, source.height // factor)),
                          Image.Resampling.BILINEAR)
    coarse = small.resize(source.size, Image.Resampling.NEAREST)
    return placeholder.encode(coarse, call.output_format, call.compression)


def output_tokens(call: ImageCall, spec: ModelSpec, size: str) -> int:
    return spec.output_tokens(size, call.quality) * call.n


def usage(call: ImageCall, spec: ModelSpec, size: str, input_images: int) -> dict[str, Any]:
    out = output_tokens(call, spec, size)
    text = max(1, math.ceil(len(call.prompt.split()) * 4 / 3))
    image = spec.image_input_tokens(input_images, call.input_fidelity)
    return {
        "total_tokens": text + image + out,
        "input_tokens": text + image,
        "output_tokens": out,
        "input_tokens_details": {"text_tokens": text, "image_tokens": image},
        "output_tokens_details": {"image_tokens": out, "text_tokens": 0},
    }
