"""Input images for a call: project files and upstream results, as the provider receives them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath

from assetgen.plan.graph import Source
from assetgen.providers.base import InputImage

MAGIC = (
    (b"\x89PNG", "image/png", "png"),
    (b"\xff\xd8", "image/jpeg", "jpg"),
    (b"RIFF", "image/webp", "webp"),
)


class MissingInput(Exception):
    pass


def sniff(data: bytes) -> tuple[str, str]:
    """(content type, extension) from the first bytes; PNG when unknown."""
    for magic, ctype, ext in MAGIC:
        if data.startswith(magic):
            return ctype, ext
    return "image/png", "png"


def load(source: Source, sha: str, root: Path, image: Callable[[str], bytes | None]) -> InputImage:
    if source.file is not None:
        try:
            data = (root / source.file).read_bytes()
        except OSError as exc:
            raise MissingInput(f"cannot read {source.file}: {exc.strerror}") from None
        ctype, _ = sniff(data)
        return InputImage(PurePosixPath(source.file).name, data, ctype)
    cached = image(sha)
    if cached is None:
        raise MissingInput(f"the image of {source.asset} is missing from the cache")
    ctype, ext = sniff(cached)
    return InputImage(f"{source.asset}.{ext}", cached, ctype)
