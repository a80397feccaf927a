"""The executor against a scripted provider (a real Provider implementation, not a patch):
critical path first, fatal errors stop new work, previews are saved, events tell the story."""

from __future__ import annotations

import asyncio
from pathlib import Path

from assetgen import placeholder
from assetgen.providers.base import ImageRequest, ImageResult, ProviderError
from assetgen.run.events import Event, Kind
from assetgen.run.executor import Executor, Settings
from assetgen.run.prepare import prepare

RECIPE = """\
version: 1
defaults:
  model: gpt-image-2
  size: 32x32
assets:
  long:
    steps:
      - generate: "start"
      - edit: "one"
      - edit: "two"
    output: out/long.png
  short-a:
    prompt: "a"
    output: out/a.png
  short-b:
    prompt: "b"
    output: out/b.png
"""


class ScriptedProvider:
    kind = "local"

    def __init__(self, fail: dict[str, ProviderError] | None = None) -> None:
        self.prompts: list[str] = []
        self.fail = fail or {}

    async def run(self, request: ImageRequest) -> ImageResult:
        self.prompts.append(request.prompt)
        if request.prompt in self.fail:
            raise self.fail[request.prompt]
        if request.on_partial is not None and request.partial_images:
            for i in range(request.partial_images):
                request.on_partial(i, placeholder.encode(placeholder.generate(8, 8, f"p{i}", "x")))
        img = placeholder.generate(32, 32, request.prompt, request.label)
        return ImageResult((placeholder.encode(img),), {"total_tokens": 7}, requests=2)

    def stop(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def _run(tmp_path: Path, provider: ScriptedProvider, **settings: object) -> tuple[object, list[Event]]:
    (tmp_path / "recipes").mkdir(exist_ok=True)
    (tmp_path / "recipes" / "r.yaml").write_text(RECIPE)
    prep = prepare([str(tmp_path)], tmp_path)
    events: list[Event] = []
    executor = Executor(prep.plan, prep.resolution.states, prep.store, prep.files, provider,
                        Settings(tmp_path, **settings), events.append)  # type: ignore[arg-type]
    return asyncio.run(executor.run()), events


def test_the_longest_chain_starts_first(tmp_path: Path) -> None:
    provider = ScriptedProvider()
    out, events = _run(tmp_path, provider, jobs=1)
    assert provider.prompts[0] == "start"
    assert out.calls == 5 and out.requests == 10  # type: ignore[attr-defined]
    assert [e.kind for e in events][:2] == [Kind.STARTED, Kind.ACTION_START]
    assert (events[0].total, events[0].queued) == (8, 8)


def test_a_fatal_error_stops_new_work(tmp_path: Path) -> None:
    provider = ScriptedProvider({"start": ProviderError("bad key", status=401, fatal=True, requests=1)})
    out, events = _run(tmp_path, provider, jobs=1)
    assert provider.prompts == ["start"]
    assert [(f.assets, f.message) for f in out.failures] == [(("long",), "bad key")]  # type: ignore[attr-defined]
    assert out.requests == 1  # type: ignore[attr-defined]
    assert [e.message for e in events if e.kind is Kind.ACTION_FAILED] == ["bad key"]


def test_a_failure_blocks_only_its_dependants(tmp_path: Path) -> None:
    provider = ScriptedProvider({"one": ProviderError("content filter", status=400)})
    out, _ = _run(tmp_path, provider, jobs=2)
    assert sorted(provider.prompts) == ["a", "b", "one", "start"]
    assert len(out.blocked) == 2  # type: ignore[attr-defined]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]


def test_previews_are_saved_per_variant(tmp_path: Path) -> None:
    _run(tmp_path, ScriptedProvider(), jobs=2, previews=2)
    saved = sorted(p.relative_to(tmp_path / ".assetgen" / "previews").as_posix()
                   for p in (tmp_path / ".assetgen" / "previews").rglob("*.png"))
    assert saved == ["long/partial-0.png", "long/partial-1.png", "short-a/partial-0.png",
                     "short-a/partial-1.png", "short-b/partial-0.png", "short-b/partial-1.png"]
