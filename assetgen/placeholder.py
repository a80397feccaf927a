"""Deterministic placeholder images: the `local` provider and the emulator both draw with this.

A generated placeholder has the requested size and background and visibly carries the prompt and
a label (the variant name, or the model in the emulator). An edit repaints only the pixels the
mask allows (alpha 0) and keeps every other pixel of the input exactly.
"""

from __future__ import annotations

import hashlib
import io
import textwrap

from PIL import Image, ImageDraw, ImageFont


def _palette(seed: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return (digest[0], digest[1], digest[2]), (digest[3], digest[4], digest[5])


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(8, size))


def _draw_text(img: Image.Image, label: str, prompt: str) -> None:
    w, h = img.size
    draw = ImageDraw.Draw(img)
    title_px = max(10, min(w, h) // 14)
    body_px = max(8, min(w, h) // 28)
    margin = max(4, min(w, h) // 32)
    draw.text((margin, margin), label, font=_font(title_px), fill=(255, 255, 255, 255),
              stroke_width=max(1, title_px // 12), stroke_fill=(0, 0, 0, 255))
    chars_per_line = max(8, int((w - 2 * margin) / (body_px * 0.55)))
    lines = textwrap.wrap(prompt, chars_per_line)[: max(1, (h - 3 * margin - title_px) // (body_px + 4))]
    y = margin * 2 + title_px
    for line in lines:
        draw.text((margin, y), line, font=_font(body_px), fill=(255, 255, 255, 255),
                  stroke_width=1, stroke_fill=(0, 0, 0, 255))
        y += body_px + 4


def _gradient(size: tuple[int, int], seed: str) -> Image.Image:
    top, bottom = _palette(seed)
    ramp = Image.linear_gradient("L").resize(size)
    lower = Image.new("RGBA", size, (*bottom, 255))
    return Image.composite(lower, Image.new("RGBA", size, (*top, 255)), ramp)


def generate(width: int, height: int, prompt: str, label: str, transparent: bool = False) -> Image.Image:
    """A new RGBA placeholder. Transparent ones draw a disc on a clear background."""
    size = (width, height)
    seed = f"{label}\x00{prompt}"
    if transparent:
        img = Image.new("RGBA", size, (0, 0, 0, 0))
        disc = Image.new("L", size, 0)
        inset = min(width, height) // 10
        ImageDraw.Draw(disc).ellipse((inset, inset, width - inset, height - inset), fill=255)
        img.paste(_gradient(size, seed), (0, 0), disc)
    else:
        img = _gradient(size, seed)
    _draw_text(img, label, prompt)
    return img


def edit(base: Image.Image, prompt: str, label: str, mask: Image.Image | None = None,
         size: tuple[int, int] | None = None) -> Image.Image:
    """Repaint `base` where `mask` has alpha 0 (everywhere when there is no mask)."""
    base = base.convert("RGBA")
    if size is not None and base.size != size:
        base = base.resize(size, Image.Resampling.LANCZOS)
    painted = _gradient(base.size, f"{label}\x00{prompt}")
    stripes = ImageDraw.Draw(painted)
    step = max(8, base.width // 16)
    for x in range(-base.height, base.width, step * 2):
        stripes.line((x, 0, x + base.height, base.height), fill=(255, 255, 255, 90), width=max(1, step // 3))
    _draw_text(painted, label, prompt)
    if mask is None:
        return Image.blend(base, painted, 0.6)
    alpha = mask.convert("RGBA").getchannel("A")
    if alpha.size != base.size:
        alpha = alpha.resize(base.size, Image.Resampling.NEAREST)
    editable = alpha.point(lambda a: 255 if a == 0 else 0)
    return Image.composite(painted, base, editable)


def encode(img: Image.Image, fmt: str = "png", compression: int | None = None) -> bytes:
    """Encode as the API would return it. `compression` is the API's 0-100 `output_compression`."""
    buf = io.BytesIO()
    fmt = fmt.lower()
    if fmt in ("jpeg", "jpg"):
        flat = Image.new("RGB", img.size, (255, 255, 255))
        flat.paste(img, (0, 0), img.convert("RGBA"))
        flat.save(buf, "JPEG", quality=max(1, min(95, compression if compression is not None else 90)))
    elif fmt == "webp":
        quality = compression if compression is not None else 90
        img.save(buf, "WEBP", quality=quality, lossless=compression is None or compression == 100)
    else:
        img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()
