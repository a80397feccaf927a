"""Renditions: decode the final image, resize with a fit, encode to the output's format.

Metadata is stripped (nothing but pixels is written). Encoding is deterministic for one Pillow
version, whose version is part of every render key.
"""

from __future__ import annotations

import io

from PIL import Image, features

from assetgen.recipe.model import Fit, Output

ALPHA_FORMATS = frozenset({"png", "webp", "avif", "gif", "tiff"})
PIL_NAMES = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP", "avif": "AVIF",
             "gif": "GIF", "tiff": "TIFF", "bmp": "BMP"}


def available_formats() -> tuple[str, ...]:
    names = ["png", "jpeg", "webp"]
    if "avif" in features.modules and features.check_module("avif"):
        names.append("avif")
    return tuple(names)


def resize(img: Image.Image, size: tuple[int, int], fit: Fit,
           background: tuple[int, int, int, int]) -> Image.Image:
    if img.size == size:
        return img
    w, h = size
    if fit is Fit.STRETCH:
        return img.resize(size, Image.Resampling.LANCZOS)
    scale = (max if fit is Fit.COVER else min)(w / img.width, h / img.height)
    scaled = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                        Image.Resampling.LANCZOS)
    if fit is Fit.COVER:
        left, top = (scaled.width - w) // 2, (scaled.height - h) // 2
        return scaled.crop((left, top, left + w, top + h))
    canvas = Image.new("RGBA", size, background)
    canvas.paste(scaled, ((w - scaled.width) // 2, (h - scaled.height) // 2), scaled)
    return canvas


def render(source: bytes, output: Output) -> bytes:
    """The bytes of one output file, rendered from the final image's bytes."""
    fmt = output.format.lower()
    with Image.open(io.BytesIO(source)) as opened:
        img = opened.convert("RGBA")
    alpha = fmt in ALPHA_FORMATS
    background = (0, 0, 0, 0) if alpha else (255, 255, 255, 255)
    if output.resize is not None:
        img = resize(img, output.resize, output.fit, background)
    if not alpha:
        flat = Image.new("RGB", img.size, (255, 255, 255))
        flat.paste(img, (0, 0), img)
        img = flat
    return encode(img, fmt, output.quality)


def encode(img: Image.Image, fmt: str, quality: int | None) -> bytes:
    buf = io.BytesIO()
    name = PIL_NAMES.get(fmt, fmt.upper())
    if name == "PNG":
        img.save(buf, "PNG", optimize=False, compress_level=6)
    elif name == "JPEG":
        img.save(buf, "JPEG", quality=quality or 90, optimize=True)
    elif name == "WEBP":
        if quality is None:
            img.save(buf, "WEBP", lossless=True)
        else:
            img.save(buf, "WEBP", quality=quality, method=4)
    elif name == "AVIF":
        img.save(buf, "AVIF", quality=quality or 75)
    else:
        img.save(buf, name)
    return buf.getvalue()
