"""Renditions: formats, quality, resize with every fit, metadata stripped."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from assetgen.errors import Location
from assetgen.recipe.model import Fit, Output
from assetgen.render import available_formats, render

HERE = Location("recipes/r.yaml", 1, 1)


def _source(size: tuple[int, int] = (200, 100), transparent: bool = True) -> bytes:
    img = Image.new("RGBA", size, (255, 0, 0, 0 if transparent else 255))
    img.paste((0, 0, 255, 255), (50, 25, 150, 75))
    buf = io.BytesIO()
    img.save(buf, "PNG", pnginfo=_info())
    return buf.getvalue()


def _info():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "secret prompt")
    return info


def _open(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


@pytest.mark.parametrize("fmt, pil", [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_each_format_decodes_as_itself(fmt: str, pil: str) -> None:
    img = _open(render(_source(), Output("x", fmt, HERE, quality=80)))
    assert (img.format, img.size) == (pil, (200, 100))


def test_metadata_is_stripped() -> None:
    img = _open(render(_source(), Output("x.png", "png", HERE)))
    assert "Comment" not in img.info


def test_quality_changes_the_bytes() -> None:
    low = render(_source(transparent=False), Output("x.jpg", "jpeg", HERE, quality=10))
    high = render(_source(transparent=False), Output("x.jpg", "jpeg", HERE, quality=95))
    assert len(low) < len(high)


def test_contain_pads_with_transparency_for_png_and_white_for_jpeg() -> None:
    png = _open(render(_source(), Output("x.png", "png", HERE, resize=(100, 100), fit=Fit.CONTAIN)))
    assert png.size == (100, 100)
    assert png.convert("RGBA").getpixel((50, 5)) == (0, 0, 0, 0)
    assert png.convert("RGBA").getpixel((50, 50))[2] == 255
    jpg = _open(render(_source(), Output("x.jpg", "jpeg", HERE, resize=(100, 100), fit=Fit.CONTAIN)))
    assert all(c > 240 for c in jpg.convert("RGB").getpixel((50, 5)))


def test_cover_crops_to_fill() -> None:
    out = Output("x.png", "png", HERE, resize=(50, 50), fit=Fit.COVER)
    img = _open(render(_source(transparent=False), out)).convert("RGBA")
    assert img.size == (50, 50)
    assert img.getpixel((25, 25)) == (0, 0, 255, 255)
    assert img.getpixel((25, 1)) == (255, 0, 0, 255)   # filled to the edge: no padding


def test_stretch_ignores_aspect_ratio() -> None:
    out = Output("x.png", "png", HERE, resize=(40, 80), fit=Fit.STRETCH)
    img = _open(render(_source(transparent=False), out))
    assert img.size == (40, 80)
    assert img.convert("RGBA").getpixel((20, 40)) == (0, 0, 255, 255)


def test_rendering_is_deterministic() -> None:
    out = Output("x.webp", "webp", HERE, quality=70, resize=(64, 64))
    assert render(_source(), out) == render(_source(), out)


def test_avif_when_pillow_has_it() -> None:
    if "avif" not in available_formats():
        pytest.skip("this Pillow has no AVIF encoder")
    img = _open(render(_source(), Output("x.avif", "avif", HERE, quality=60)))
    assert img.format == "AVIF"
