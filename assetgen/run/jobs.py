"""The work of one action that a worker can do alone, with files only: draw a placeholder and store
it, or render an image from the cache and write the output. Each returns hashes and file stats,
never image bytes, so the build process touches no image; the executor's thread path writes
renditions with the same `write_rendition`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from msgspec import Struct

from assetgen.atomic import write_atomic
from assetgen.cache import Store
from assetgen.lockfile import LockOutput
from assetgen.providers.base import ImageRequest
from assetgen.recipe.model import Output


def kept_message(path: str, adopted: bool, known: bool) -> str:
    if adopted:
        return (f"kept {path}: adopted as it is, and the recipe now renders it differently "
                "(--overwrite replaces it)")
    if not known:
        return f"kept {path}: assetgen did not write it (--overwrite replaces it)"
    return f"kept {path}: changed since assetgen wrote it (--overwrite replaces it)"


class Target(Struct, frozen=True):
    """Where a rendition goes, and what may be there: the hash of the file there now (None: no file),
    what the lock says assetgen wrote there, whether --overwrite or --adopt applies to it."""

    root: Path
    path: str
    current: str | None
    known: LockOutput | None
    overwrite: bool = False
    adopt: bool = False
    durable: bool = True        # False: a placeholder's rendition (made again for free), no fsync


class Wrote(Struct, frozen=True):
    """What became of a rendition: its hash and whether the file was written; `adopted` (the file's
    bytes kept as they are, `sha` theirs); `kept` (the file changed by hand: why it stays);
    `failed` (why it could not be written); `stat` of the file written, for the stat cache."""

    sha: str = ""
    written: bool = False
    adopted: bool = False
    kept: str = ""
    failed: str = ""
    stat: tuple[int, int, int, int] | None = None


def write_rendition(store: Store, encoded: bytes, output: Output, key: str, target: Target) -> Wrote:
    """Write the file only when its bytes differ and it is still what assetgen last wrote (or
    --overwrite/--adopt say otherwise); record the render."""
    sha = hashlib.sha256(encoded).hexdigest()
    current = target.current
    written = current != sha
    if written and current is not None and not target.overwrite:
        if target.adopt:
            return Wrote(current, False, adopted=True)
        known = target.known
        if known is None or known.sha256 != current or known.adopted:
            adopted = known is not None and known.adopted
            return Wrote(kept=kept_message(target.path, adopted, known is not None))
    stat = None
    if written:
        full = target.root / target.path
        try:
            write_atomic(full, encoded, target.durable)
        except OSError as exc:
            return Wrote(failed=f"cannot write {target.path}: {_why_not(target.root, target.path, exc)}")
        try:
            st = os.stat(full)
            stat = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
        except OSError:
            pass
    # a rendition lost in a crash is made again from its image: no fsync for its record
    store.put_record(key, "render", "pillow", output.format, (sha,), durable=False, remember=False)
    return Wrote(sha, written, stat=stat)


def _why_not(root: Path, path: str, exc: OSError) -> str:
    """Why an output could not be written, in the recipe's terms where the file system's are not
    ("File exists" for a folder of its path that is a file)."""
    parts = path.split("/")
    for i in range(1, len(parts)):
        folder = "/".join(parts[:i])
        if (root / folder).is_file():
            return f"'{folder}' is a file, not a folder (the image is in the cache: no call is needed again)"
    if (root / path).is_dir():
        return "it is a folder (the image is in the cache: no call is needed again)"
    return exc.strerror or str(exc)


def draw_and_store(request: ImageRequest, cache: Path, key: str, op: str) -> tuple[str, ...]:
    """Draw a placeholder and store it: objects first, then the record that names them (no fsync:
    a placeholder lost in a crash is drawn again, free). () when the drawing has no image."""
    from assetgen.providers.local import draw

    result = draw(request)
    if not result.images:
        return ()
    store = Store(cache)
    shas = tuple(store.put_object(b, durable=False) for b in result.images)
    store.put_record(key, op, "local", request.model, shas, dict(result.usage),
                     durable=False, remember=False)
    store.drop_refusal(key)
    return shas


def render_and_write(cache: Path, source: str, output: Output, key: str,
                     target: Target) -> Wrote | None:
    """Render the stored image `source` and write it as `target` says; None when the cache lacks
    the image."""
    from assetgen.render import render

    store = Store(cache)
    data = store.get_object(source)
    if data is None:
        return None
    return write_rendition(store, render(data, output), output, key, target)
