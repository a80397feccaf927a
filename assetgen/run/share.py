"""What a build in `write` mode gives the remote cache once its calls are done (each call it made
went up as soon as it was stored: `assetgen.run.upload`; the remote cache skips what it created):
every call result it holds (images, then the record naming them) and every output it wrote or
checked (the rendition's bytes, so a fresh clone restores it without decoding). Results follow
the lock, so the lock wins over a local record that disagrees with it; the remote keeps whatever
it already has (create-only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from assetgen.plan import keys
from assetgen.remote_cache.remote import SHA, Upload, call_record
from assetgen.run.executor import Outcome
from assetgen.run.prepare import Prepared


def uploads_of(prep: Prepared, out: Outcome) -> Iterator[Upload]:
    store = prep.store
    root = prep.project.root
    for action in prep.plan.actions:
        key = out.keys.get(action.id)
        results = out.results.get(action.id)
        if not key or not results or not SHA.fullmatch(key) or not all(SHA.fullmatch(s) for s in results):
            continue
        if action.call is not None:
            local = store.record(key)
            if local is not None and local.results != results:
                local = None        # the lock's results win; the local record's usage is not theirs
            record = call_record(key, action.op.value, action.call.provider, action.call.model, results,
                                 local.usage if local else {}, local.deployment if local else "")
            yield Upload(tuple((sha, _stored(prep, sha)) for sha in results), record)
        elif action.render is not None:
            yield Upload(((results[0], _output(root / action.render.output.path, results[0])),))


def _stored(prep: Prepared, sha: str) -> Callable[[], bytes | None]:
    return lambda: prep.store.get_object(sha)


def _output(path: Path, sha: str) -> Callable[[], bytes | None]:
    def read() -> bytes | None:
        try:
            data = path.read_bytes()
        except OSError:
            return None
        return data if keys.sha256_bytes(data) == sha else None
    return read
