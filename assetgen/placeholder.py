"""Deterministic placeholder images: the `local` provider and the emulator both draw with this.

A placeholder is meant to be read by a person reviewing a pipeline before anyone pays:
- a generated image carries its label (the variant name; in the emulator the prompt's first
  words) large enough to read in a 96 px thumbnail, a caption (the candidate number, from 0), the
  prompt, and one colour chip per part of the name: a matrix value gets the same colour in every
  variant and every image;
- an edit without a mask shows the image it started from as an inset, with the edit's words
  beside it, so a chain of edits reads as nested steps rather than overprinted text; reference
  images are pasted in as framed tiles;
- an edit with a mask repaints only the pixels the mask allows (alpha 0) and keeps every other
  pixel of the input exactly; its words and reference tiles are drawn inside that area.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import re
import textwrap
import threading
from collections.abc import Sequence
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

Font = ImageFont.ImageFont | ImageFont.FreeTypeFont
WHITE = (255, 255, 255, 255)
BLACK = (0, 0, 0, 255)


def _digest(seed: str) -> bytes:
    return hashlib.sha256(seed.encode("utf-8")).digest()


def _palette(seed: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    digest = _digest(seed)
    return (digest[0], digest[1], digest[2]), (digest[3], digest[4], digest[5])


def token_colour(token: str) -> tuple[int, int, int]:
    """A stable, saturated colour for one part of a name (a matrix value)."""
    digest = _digest(token.lower())
    hue = int.from_bytes(digest[:2], "big") / 65536
    r, g, b = colorsys.hsv_to_rgb(hue, 0.55 + digest[2] / 255 * 0.3, 0.8 + digest[3] / 255 * 0.2)
    return int(r * 255), int(g * 255), int(b * 255)


_fonts = threading.local()     # each thread its own font objects (FreeType faces are not shared)


def _font(size: int) -> Font:
    """The default font at `size` (at least 8); loaded once per size and thread: a drawing uses
    three or four, and loading one costs more than drawing a small placeholder."""
    size = max(8, size)
    cache: dict[int, Font] | None = getattr(_fonts, "by_size", None)
    if cache is None:
        cache = _fonts.by_size = {}
    font = cache.get(size)
    if font is None:
        if len(cache) >= 64:
            cache.clear()
        font = cache[size] = ImageFont.load_default(size=size)
    return font


def _width(text: str, font: Font) -> float:
    left, _, right, _ = font.getbbox(text)
    return float(right - left)


def first_words(prompt: str, count: int = 4) -> str:
    words = prompt.replace(",", " ").split()
    return " ".join(words[:count]) + (" …" if len(words) > count else "")


def _lines(label: str) -> list[list[str]]:
    """Ways to break a label over 1-4 lines at its hyphens, underscores or spaces."""
    parts = [p for p in re.split(r"(?<=[-_ ])", label) if p][:8]
    if len(parts) < 2:
        return [[label]]
    options = []
    for cuts in range(1 << (len(parts) - 1)):
        if bin(cuts).count("1") > 3:
            continue
        lines, line = [], parts[0]
        for i, part in enumerate(parts[1:]):
            if cuts >> i & 1:
                lines.append(line)
                line = part
            else:
                line += part
        options.append([*lines, line])
    return options


def _fit(label: str, box_w: int, box_h: int) -> tuple[list[str], int]:
    """The line break and font size that show `label` largest within the box."""
    best: tuple[list[str], int] = ([label], 8)
    if box_h / 1.2 <= best[1]:     # no break can beat the smallest size: nothing to measure
        return best
    probe = _font(100)
    for lines in _lines(label):
        widest = max(_width(line, probe) for line in lines) or 1.0
        size = int(min(box_w / widest * 100, box_h / (len(lines) * 1.2)))
        if size > best[1]:
            best = (lines, size)
    return best


@lru_cache(maxsize=16)
def _ramp(size: tuple[int, int]) -> Image.Image:
    """The vertical ramp of a gradient, by size (read only: it is the mask of a composite)."""
    return Image.linear_gradient("L").resize(size)


def _gradient(size: tuple[int, int], seed: str) -> Image.Image:
    top, bottom = _palette(seed)
    ramp = _ramp(size)
    lower = Image.new("RGBA", size, (*bottom, 255))
    return Image.composite(lower, Image.new("RGBA", size, (*top, 255)), ramp)


def _panel(img: Image.Image, box: tuple[int, int, int, int], alpha: int = 150) -> None:
    shade = Image.new("RGBA", img.size, (0, 0, 0, 0))
    ImageDraw.Draw(shade).rounded_rectangle(box, radius=max(2, (box[3] - box[1]) // 8), fill=(0, 0, 0, alpha))
    img.alpha_composite(shade)


def _title(img: Image.Image, label: str, box: tuple[int, int, int, int]) -> int:
    """Draw `label` as large as fits in `box` on a dark panel; the y below it. A box with no width
    (a tiny image has no room beside its inset) gets nothing."""
    x0, y0, x1, y1 = box
    if x1 < x0:
        return y0
    pad = max(2, (x1 - x0) // 40)
    lines, size = _fit(label, x1 - x0 - 2 * pad, y1 - y0 - 2 * pad)
    font = _font(size)
    step = int(size * 1.2)
    height = step * len(lines) + 2 * pad
    _panel(img, (x0, y0, x1, y0 + height))
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        x = x0 + (x1 - x0 - _width(line, font)) / 2
        draw.text((x, y0 + pad + i * step), line, font=font, fill=WHITE,
                  stroke_width=max(1, size // 18), stroke_fill=BLACK)
    return y0 + height


def _body(img: Image.Image, text: str, box: tuple[int, int, int, int], size: int) -> None:
    x0, y0, x1, y1 = box
    if y1 - y0 < size or x1 - x0 < size:
        return
    font = _font(size)
    per_line = max(8, int((x1 - x0) / max(1.0, _width("abcdefghij", font) / 10)))
    lines = textwrap.wrap(text, per_line)[: max(1, (y1 - y0) // int(size * 1.25))]
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((x0, y0 + i * int(size * 1.25)), line, font=font, fill=WHITE,
                  stroke_width=max(1, size // 12), stroke_fill=BLACK)


def _chips(img: Image.Image, label: str, box: tuple[int, int, int, int]) -> None:
    """One coloured chip per part of the name, the same colour wherever that part appears."""
    parts = [p for p in re.split(r"[-_ ]+", label) if p]
    if len(parts) < 2:
        return
    x0, y0, x1, y1 = box
    size = max(8, (y1 - y0) * 2 // 3)
    font = _font(size)
    gap = max(2, size // 3)
    x = x0
    draw = ImageDraw.Draw(img)
    for part in parts:
        w = int(_width(part, font)) + 2 * gap
        if x + w > x1:
            break
        draw.rounded_rectangle((x, y0, x + w, y1), radius=(y1 - y0) // 3, fill=(*token_colour(part), 255),
                               outline=BLACK, width=max(1, size // 16))
        draw.text((x + gap, y0 + (y1 - y0 - size) / 2 - size * 0.1), part, font=font, fill=BLACK)
        x += w + gap


def _caption(img: Image.Image, caption: str, corner: tuple[int, int], size: int) -> None:
    if not caption:
        return
    font = _font(size)
    x = corner[0] - _width(caption, font)
    ImageDraw.Draw(img).text((x, corner[1]), caption, font=font, fill=WHITE, stroke_width=max(1, size // 10),
                             stroke_fill=BLACK)


def _card(img: Image.Image, label: str, prompt: str, caption: str) -> None:
    """Title, caption, chips and prompt over the whole image."""
    w, h = img.size
    m = max(2, min(w, h) // 24)
    _caption(img, caption, (w - m, m), max(8, min(w, h) // 14))
    below = _title(img, label, (m, m + min(w, h) // 12, w - m, m + min(w, h) // 12 + h * 2 // 5))
    chip_h = max(10, min(w, h) // 12)
    _chips(img, label, (m, h - m - chip_h, w - m, h - m))
    _body(img, prompt, (m, below + m, w - m, h - 2 * m - chip_h), max(8, min(w, h) // 22))


def generate(width: int, height: int, prompt: str, label: str, transparent: bool = False,
             caption: str = "") -> Image.Image:
    """A new RGBA placeholder. Transparent ones draw a disc on a clear background."""
    size = (width, height)
    seed = f"{label}\x00{prompt}\x00{caption}"
    if transparent:
        img = Image.new("RGBA", size, (0, 0, 0, 0))
        disc = Image.new("L", size, 0)
        inset = min(width, height) // 10
        ImageDraw.Draw(disc).ellipse((inset, inset, width - inset, height - inset), fill=255)
        img.paste(_gradient(size, seed), (0, 0), disc)
    else:
        img = _gradient(size, seed)
    _card(img, label, prompt, caption)
    return img


def _framed(tile: Image.Image, border: int) -> Image.Image:
    framed = Image.new("RGBA", (tile.width + 2 * border, tile.height + 2 * border), WHITE)
    framed.alpha_composite(tile.convert("RGBA"), (border, border))
    return framed


def _references(img: Image.Image, refs: Sequence[Image.Image], box: tuple[int, int, int, int]) -> None:
    """Paste each reference image as a framed tile along the bottom-right of `box`."""
    x0, y0, x1, y1 = box
    side = max(8, min((x1 - x0) * 9 // 10, (y1 - y0) * 2 // 3, min(img.size) // 3))
    border = max(1, side // 24)
    x = x1 - side - border * 2
    for k, ref in enumerate(refs):
        if x < x0:
            break
        tile = ref.convert("RGBA").copy()
        tile.thumbnail((side, side))
        framed = _framed(tile, border)
        y = y1 - framed.height
        img.alpha_composite(framed, (x, y))
        _caption(img, f"ref {k + 1}", (x + framed.width - border * 2, y + border * 2), max(8, side // 7))
        x -= side + border * 4


def _stripes(img: Image.Image) -> None:
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    step = max(8, img.width // 16)
    for x in range(-img.height, img.width, step * 2):
        draw.line((x, 0, x + img.height, img.height), fill=(255, 255, 255, 45), width=max(1, step // 3))
    img.alpha_composite(layer)


def _arrow(img: Image.Image, x: int, y: int, size: int) -> None:
    """A right-pointing arrow: the inset before it is the step this image was made from."""
    draw = ImageDraw.Draw(img)
    shaft = max(2, size // 5)
    draw.rectangle((x, y + size // 2 - shaft // 2, x + size * 3 // 5, y + size // 2 + shaft // 2), fill=WHITE,
                   outline=BLACK)
    head = x + size * 3 // 5
    draw.polygon([(head, y), (x + size, y + size // 2), (head, y + size)], fill=WHITE, outline=BLACK)


def edit(base: Image.Image, prompt: str, label: str, mask: Image.Image | None = None,
         size: tuple[int, int] | None = None, references: Sequence[Image.Image] = (),
         caption: str = "") -> Image.Image:
    """Repaint `base` where `mask` has alpha 0; without a mask, a new image holding `base` as an
    inset (the step before) beside the edit's words."""
    base = base.convert("RGBA")
    if size is not None and base.size != size:
        base = base.resize(size, Image.Resampling.LANCZOS)
    w, h = base.size
    m = max(2, min(w, h) // 24)
    painted = _gradient(base.size, f"{label}\x00{prompt}\x00{caption}")
    _stripes(painted)
    if mask is None:
        inset = base.copy()
        inset.thumbnail((w * 11 // 20, h * 11 // 20))
        framed = _framed(inset, max(1, min(w, h) // 128))
        painted.alpha_composite(framed, (m, m))
        arrow = min(w, h) // 9
        _arrow(painted, m * 2 + framed.width, m, arrow)
        right = (m * 3 + framed.width + arrow, m, w - m, m + framed.height)
        name_bottom = _title(painted, label, (right[0], right[1], right[2], right[1] + framed.height // 2))
        _title(painted, f"edit: {first_words(prompt)}", (m, m * 2 + framed.height, w - m, h - m))
        _caption(painted, caption, (w - m, h - m - max(8, min(w, h) // 14) * 2), max(8, min(w, h) // 14))
        _references(painted, references, (right[0], name_bottom + m, right[2], right[3]))
        return painted
    alpha = mask.convert("RGBA").getchannel("A")
    if alpha.size != base.size:
        alpha = alpha.resize(base.size, Image.Resampling.NEAREST)
    editable = alpha.point(lambda a: 255 if a == 0 else 0)
    box = editable.getbbox()
    if box is not None:
        x0, y0, x1, y1 = box
        _title(painted, f"edit: {first_words(prompt)}", (x0 + m, y0 + m, x1 - m, y0 + m + (y1 - y0) // 2))
        _references(painted, references, (x0 + m, y0 + m, x1 - m, y1 - m))
        _caption(painted, caption, (x1 - m, y1 - m - max(8, min(w, h) // 14) * 2), max(8, min(w, h) // 14))
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
