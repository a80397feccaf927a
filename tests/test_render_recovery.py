"""A PNG rendition without resize holds its source image losslessly: every rendition made from it
is byte-identical to the one made from the source (what recovery on a fresh clone relies on)."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from assetgen.errors import Location
from assetgen.recipe.model import Fit, Output
from assetgen.render import render

HERE = Location("recipes/r.yaml", 1, 1)
SIZE = (96, 64)


def _noise(mode: str, seed: int) -> Image.Image:
    """Random pixels (all alpha levels, fully transparent ones included) in `mode`."""
    rng = random.Random(seed)
    rgba = Image.frombytes("RGBA", SIZE, rng.randbytes(SIZE[0] * SIZE[1] * 4))
    rgba.paste((10, 200, 30, 0), (0, 0, 24, 64))        # a transparent band with colour behind it
    if mode == "P":
        img = rgba.convert("RGB").quantize(64)
        img.info["transparency"] = 3
        return img
    return rgba.convert(mode)


def _encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.save(buf, fmt, quality=75)
    elif fmt == "WEBP":
        img.save(buf, fmt, quality=70)
    else:
        img.save(buf, fmt)
    return buf.getvalue()


SOURCES = {
    "rgba png": ("RGBA", "PNG"),
    "rgb png": ("RGB", "PNG"),
    "palette png with transparency": ("P", "PNG"),
    "grey+alpha png": ("LA", "PNG"),
    "grey png": ("L", "PNG"),
    "rgb jpeg (as an API returns it)": ("RGB", "JPEG"),
    "rgba webp (as an API returns it)": ("RGBA", "WEBP"),
}

OUTPUTS = [
    Output("o.png", "png", HERE),
    Output("o.png", "png", HERE, resize=(40, 40), fit=Fit.CONTAIN),
    Output("o.png", "png", HERE, resize=(40, 40), fit=Fit.COVER),
    Output("o.jpg", "jpeg", HERE, quality=80),
    Output("o.jpg", "jpeg", HERE),
    Output("o.jpg", "jpeg", HERE, quality=60, resize=(48, 20), fit=Fit.CONTAIN),
    Output("o.jpg", "jpeg", HERE, quality=60, resize=(30, 30), fit=Fit.STRETCH),
    Output("o.webp", "webp", HERE),
    Output("o.webp", "webp", HERE, quality=80),
    Output("o.webp", "webp", HERE, quality=80, resize=(32, 32), fit=Fit.CONTAIN),
    Output("o.webp", "webp", HERE, resize=(50, 20), fit=Fit.COVER),
]

FULL_PNG = Output("full.png", "png", HERE)


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("output", OUTPUTS, ids=lambda o: f"{o.format}-q{o.quality}-{o.resize}-{o.fit.value}")
def test_a_rendition_of_the_full_size_png_equals_the_rendition_of_the_source(source: str,
                                                                              output: Output) -> None:
    mode, fmt = SOURCES[source]
    original = _encode(_noise(mode, seed=len(source)), fmt)
    recovered = render(original, FULL_PNG)
    assert render(recovered, output) == render(original, output)


def test_the_recovered_png_is_not_the_source_bytes() -> None:
    """Same pixels, other bytes: recovered bytes must never be stored under the source's hash."""
    original = _encode(_noise("RGB", seed=1), "JPEG")
    assert render(original, FULL_PNG) != original
