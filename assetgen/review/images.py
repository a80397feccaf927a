"""Thumbnails for the gallery and the diff, made once per image and size.

A thumbnail is named by the sha256 of the image it shows and its size, so a rebuilt page only
makes those of new images: `.assetgen/thumbs/<px>/<sha256>.webp`, copied (or hard-linked) into the
page's folder. WebP keeps transparency and is a tenth of a PNG's size.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from assetgen.atomic import write_atomic

THUMB_PX = 256          # the grid
VIEW_PX = 768           # the full view
WEBP_QUALITY = 82


def encode_thumbnails(data: bytes, sizes: tuple[int, ...]) -> dict[int, bytes]:
    """WebP thumbnails of an image at each size (the longer side), decoded once."""
    out: dict[int, bytes] = {}
    with Image.open(io.BytesIO(data)) as opened:
        opened.draft("RGB", (max(sizes), max(sizes)))     # JPEG: decode at a smaller scale when it can
        alpha = opened.mode in ("RGBA", "LA", "PA") or (opened.mode == "P" and "transparency" in opened.info)
        img = opened.convert("RGBA" if alpha else "RGB")
    for px in sorted(sizes, reverse=True):
        img.thumbnail((px, px), Image.Resampling.LANCZOS, reducing_gap=3.0)
        buf = io.BytesIO()
        img.save(buf, "WEBP", quality=WEBP_QUALITY, method=2)
        out[px] = buf.getvalue()
    return out


def encode_thumbnail(data: bytes, px: int) -> bytes:
    return encode_thumbnails(data, (px,))[px]


class Thumbs:
    """Makes thumbnails into `cache` and places them in `out` (a page's folder) by name.
    Safe to call from several threads at once."""

    def __init__(self, cache: Path, out: Path, folder: str = "img") -> None:
        self.cache = cache
        self.out = out
        self.folder = folder
        self.made = 0            # images decoded and encoded in this run
        self.reused = 0          # thumbnails found in the cache or the page's folder

    def name(self, sha: str, px: int) -> str:
        return f"{self.folder}/{sha}-{px}.webp"

    def place(self, sha: str, px: int, load: Callable[[], bytes | None]) -> str | None:
        """The page-relative URL of the thumbnail of image `sha`; None when its bytes are unknown."""
        return self.place_all(sha, (px,), load).get(px)

    def place_all(self, sha: str, sizes: tuple[int, ...],
                  load: Callable[[], bytes | None]) -> dict[int, str]:
        urls = {px: self.name(sha, px) for px in sizes}
        if all((self.out / u).is_file() for u in urls.values()):
            self.reused += 1
            return urls
        cached = {px: self.cache / str(px) / f"{sha}.webp" for px in sizes}
        if not all(p.is_file() for p in cached.values()):
            data = load()
            if data is None:
                return {}
            try:
                made = encode_thumbnails(data, sizes)
            except (OSError, Image.UnidentifiedImageError, ValueError, Image.DecompressionBombError):
                return {}
            for px, blob in made.items():
                write_atomic(cached[px], blob)
            self.made += 1
        else:
            self.reused += 1
        for px, url in urls.items():
            target = self.out / url
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_file():
                continue
            try:
                os.link(cached[px], target)
            except OSError:
                shutil.copyfile(cached[px], target)
        return urls
