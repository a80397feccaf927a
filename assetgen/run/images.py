"""The bytes of an image by hash, for a render or a call: from the cache, or else from the output
file that holds its pixels losslessly (`plan.recovery`), read and checked against the lock's hash.

An output this build renders again is read before anything runs, so a rendition that rewrites it
never hides the pixels another action still needs. Recovered bytes stay out of the cache: they are
not the bytes the image's hash names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from pathlib import Path

from assetgen.cache import Store
from assetgen.plan.recovery import Recovered


class Images:
    def __init__(self, store: Store, root: Path, recovered: Mapping[str, Recovered],
                 overwritten: Collection[str]) -> None:
        self.store = store
        self.root = root
        self.recovered = recovered
        self.held: dict[str, bytes] = {}
        for image, found in recovered.items():
            if found.path in overwritten:
                data = self._read(found)
                if data is not None:
                    self.held[image] = data

    def get(self, image: str) -> bytes | None:
        data = self.store.get_object(image)
        if data is None:
            data = self.held.get(image)
        if data is None and image in self.recovered:
            data = self._read(self.recovered[image])
        return data

    def missing(self, image: str) -> str:
        """Why `get` found nothing: the words for a failure message."""
        found = self.recovered.get(image)
        if found is None:
            return "is missing from the cache"
        return f"is missing from the cache, and {found.path} changed during the build"

    def _read(self, found: Recovered) -> bytes | None:
        try:
            data = (self.root / found.path).read_bytes()
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest() == found.sha256 else None
