"""Images the cache lacks, found again in the outputs: a lossless, full-size rendition holds them.

A fresh clone has the lock file and the outputs but an empty cache. When something needs the bytes
of an image (a rendition whose parameters changed, an edit that starts from it), a PNG output
rendered from that image with no resize holds exactly its pixels: `render` decodes the image,
converts it to RGBA and, for PNG without resize, encodes those RGBA pixels losslessly. Decoding the
PNG and converting to RGBA gives the same pixels back, and every rendition is a function of those
pixels alone, so a rendition made from the PNG is byte-identical to one made from the image.

Only an output the lock records and whose file still has the recorded hash qualifies. When the
image itself is lossy (a JPEG or WebP from the API), only a PNG rendered by the current encoder
does (its lock key is the key we would compute now): another Pillow may decode a JPEG to slightly
different pixels. A PNG image decodes to the same pixels in every Pillow, so for one (the API's
default format) a PNG output written by any Pillow version holds it: a fresh clone on a newer
Pillow re-renders its outputs from them instead of finding every image lost.

The recovered bytes are never stored under the image's hash: they are a different file with the
same pixels, and the cache's objects must hash to their names.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from msgspec import Struct

from assetgen import statefiles
from assetgen.lockfile import Lock, LockOutput
from assetgen.plan import keys
from assetgen.plan.graph import ActionOp
from assetgen.recipe.model import Fit


class Recovered(Struct, frozen=True):
    """Where an image's pixels are: an output file, and the hash it must have."""

    path: str
    sha256: str


def _lossless(out: LockOutput, encoder: str, source_png: bool) -> bool:
    """A PNG without resize, rendered by `encoder` (the key as `plan.status.render_output` makes it),
    or by any encoder when the image it was rendered from is a PNG itself."""
    if out.format.lower() != "png" or out.resize is not None:
        return False
    if source_png:
        return True
    ident = {"op": ActionOp.RENDER.value, "format": out.format, "quality": out.quality, "resize": None,
             "fit": Fit.CONTAIN.value}
    return out.key == keys.digest({**ident, "source": out.source, "encoder": encoder})


class Recovery:
    """Finds, for an image hash, a committed output that holds its pixels."""

    def __init__(self, lock: Lock, file_hash: Callable[[str], str | None], encoder: str, root: Path) -> None:
        self.file_hash = file_hash
        self._lock = lock
        self._encoder = encoder
        self._root = root
        self._candidates: dict[str, list[Recovered]] | None = None

    @property
    def candidates(self) -> dict[str, list[Recovered]]:
        """Image hash -> the outputs that hold its pixels; worked out when first asked (a build whose
        images are all in the cache never asks)."""
        if self._candidates is None:
            self._candidates = _candidates(self._lock, self._encoder, self._root)
        return self._candidates

    def why_not(self, image: str) -> str | None:
        """Why no output serves `image` when one once held it: it is gone, or changed since."""
        held = self.candidates.get(image, ())
        if not held:
            return None
        found = held[0]
        if self.file_hash(found.path) is None:
            return f"{found.path}, which held it, is missing"
        return f"{found.path}, which held it, changed since it was written"

    def find(self, image: str) -> Recovered | None:
        """An output whose file is unchanged since it was rendered from `image`, losslessly."""
        for found in self.candidates.get(image, ()):
            if self.file_hash(found.path) == found.sha256:
                return found
        return None


def _candidates(lock: Lock, encoder: str, root: Path) -> dict[str, list[Recovered]]:
    found: dict[str, list[Recovered]] = {}
    png = {image for a in lock.assets.values() for step in a.steps
           if str(dict(step.params).get("output_format", "png")).lower() == "png"
           for image in step.results}
    for asset in sorted(lock.assets.values(), key=lambda a: a.name):
        for out in asset.outputs:
            if not statefiles.inside(root, out.path):
                continue    # the lock names it, the lock may be hostile: never read outside
            if not out.adopted and _lossless(out, encoder, out.source in png):
                found.setdefault(out.source, []).append(Recovered(out.path, out.sha256))
    return found
