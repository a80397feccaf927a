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
VIEW_PX = 1024          # the compare slider and the full view
WEBP_QUALITY = 82


def encode_thumbnail(data: bytes, px: int) -> bytes:
    with Image.open(io.BytesIO(data)) as opened:
        opened.draft("RGB", (px, px))       # JPEG: decode at a smaller scale when it can
        alpha = opened.mode in ("RGBA", "LA", "PA") or (opened.mode == "P" and "transparency" in opened.info)
        img = opened.convert("RGBA" if alpha else "RGB")
    img.thumbnail((px, px), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "WEBP", quality=WEBP_QUALITY, method=4)
    return buf.getvalue()


class Thumbs:
    """Makes thumbnails into `cache` and places them in `out` (a page's folder) by name."""

    def __init__(self, cache: Path, out: Path, folder: str = "img") -> None:
        self.cache = cache
        self.out = out
        self.folder = folder
        self.made = 0            # encoded in this run
        self.reused = 0          # found in the cache

    def place(self, sha: str, px: int, load: Callable[[], bytes | None]) -> str | None:
        """The page-relative URL of the thumbnail of image `sha`; None when its bytes are unknown."""
        name = f"{sha}-{px}.webp"
        target = self.out / self.folder / name
        url = f"{self.folder}/{name}"
        if target.is_file():
            self.reused += 1
            return url
        cached = self.cache / str(px) / f"{sha}.webp"
        if not cached.is_file():
            data = load()
            if data is None:
                return None
            try:
                write_atomic(cached, encode_thumbnail(data, px))
            except (OSError, Image.UnidentifiedImageError, ValueError):
                return None
            self.made += 1
        else:
            self.reused += 1
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(cached, target)
        except OSError:
            shutil.copyfile(cached, target)
        return url
