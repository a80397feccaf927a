"""The offline `local` provider: deterministic placeholders drawn by `assetgen.placeholder`.

No network, no key. Images have the requested size and background and carry the prompt and the
variant name; candidates of one request differ by their label ("name #2"). Edits repaint only the
pixels the mask allows. Drawing runs in worker processes (a thread for the first few) so that `-j`
and the cores matter.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

from assetgen import catalog, placeholder
from assetgen.providers.base import ImageRequest, ImageResult, ProviderError
from assetgen.recipe.model import Op
from assetgen.workers import Workers, usable

POOL_AFTER = 32      # drawings made in a thread before the process pool starts (it costs ~0.2 s)


class LocalProvider:
    """Draws in worker processes, one per core, once a build has more than a few drawings to make
    (drawing holds the GIL: threads would use one core); the first ones in a thread. A build of
    many placeholders draws, stores and renders them in its own workers (`assetgen.run.jobs`)."""

    kind = "local"

    def __init__(self, workers: int | None = None) -> None:
        self._workers = workers if workers is not None else usable()
        self._pool: Workers | None = None
        self._calls = 0

    async def run(self, request: ImageRequest) -> ImageResult:
        self._calls += 1
        if self._workers < 2 or self._calls <= POOL_AFTER or request.on_partial is not None:
            return await asyncio.to_thread(draw, request)
        if self._pool is None:
            self._pool = Workers(self._workers, [__name__])
        result: ImageResult = await self._pool.run(draw, request)
        return result

    def stop(self) -> None:
        return None      # nothing waits here: a drawing in progress finishes

    def activity(self) -> str:
        return ""

    async def aclose(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.aclose()


def _size(request: ImageRequest) -> tuple[int, int] | None:
    size = request.params.get("size")
    spec = catalog.get(request.model)
    if size in (None, "auto"):
        if request.op is Op.EDIT:
            return None
        return catalog.parse_size(spec.default_size if spec else catalog.DEFAULT_SIZE)
    dims = catalog.parse_size(str(size))
    if dims is None:
        raise ProviderError(f"invalid size {size!r}", status=400)
    return dims


def draw(request: ImageRequest) -> ImageResult:
    params: dict[str, Any] = request.params
    n = int(params.get("n", 1))
    fmt = str(params.get("output_format") or "png")
    compression = params.get("output_compression")
    images = []
    for i in range(n):
        caption = f"#{i}" if n > 1 else ""      # candidates are numbered from 0, as everywhere
        if request.op is Op.GENERATE:
            w, h = _size(request) or (1024, 1024)
            img = placeholder.generate(w, h, request.prompt, request.label,
                                       params.get("background") == "transparent", caption)
        else:
            img = _edit(request, caption)
        images.append(placeholder.encode(img, fmt, compression))
    return ImageResult(images=tuple(images), usage={}, requests=0)


def _edit(request: ImageRequest, caption: str) -> Any:
    from PIL import Image

    if not request.images:
        raise ProviderError("an edit needs an input image", status=400)
    with Image.open(io.BytesIO(request.images[0].data)) as opened:
        base = opened.convert("RGBA")
    mask = None
    if request.mask is not None:
        with Image.open(io.BytesIO(request.mask.data)) as opened:
            mask = opened.convert("RGBA")
    references = []
    for ref in request.images[1:]:
        with Image.open(io.BytesIO(ref.data)) as opened:
            references.append(opened.convert("RGBA"))
    return placeholder.edit(base, request.prompt, request.label, mask, _size(request), references, caption)
