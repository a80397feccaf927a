"""A fresh clone (outputs and lock committed, empty cache) building with a paid provider (azure,
against the emulator): images the cache lacks are recovered from lossless full-size PNG outputs; a
locked image nothing holds is not silently made again. The local provider draws it again."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from assetgen.cli import main
from assetgen.emulator.testing import EmulatorHandle, run_emulator

PROJECT = """\
provider: azure
providers:
  azure:
    rpm: {gpt-image-1: 60000}
"""

RECIPE = """\
version: 1
defaults:
  model: gpt-image-1
  size: 1024x1024
  quality: low
assets:
  base:
    steps:
      - generate: "A castle"
      - edit: "Add a dragon"
        mask: masks/left.png
    outputs:
      - path: out/base.png
      - path: out/base.jpg
        quality: 80
  framed:
    steps:
      - edit: "Frame it"
        image: {asset: base}
        mask: masks/left.png
    output: out/framed.jpg
  gem:
    prompt: "A gem"
    output_format: jpeg
    outputs:
      - path: out/gem.webp
        quality: 70
      - path: out/gem-small.png
        resize: 32x32
"""

HINT = ("; restore the cache (copy .assetgen/cache, or point $ASSETGEN_CACHE_DIR at one) "
        "or pass --force gem to make a new image")


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with run_emulator(api_key="recovery-key") as handle:
        yield handle


@pytest.fixture(autouse=True)
def azure(emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "recovery-key")


def make_project(root: Path, project: str = PROJECT) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "assetgen.yaml").write_text(project)
    (root / "recipes" / "r.yaml").write_text(RECIPE)
    mask = Image.new("RGBA", (1024, 1024), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 512, 1024))
    mask.save(root / "masks" / "left.png")
    return root


def build(root: Path, capsys: pytest.CaptureFixture[str], *extra: str, code: int = 0) -> dict[str, object]:
    capsys.readouterr()
    assert main(["build", str(root), "--json", *extra]) == code
    return json.loads(capsys.readouterr().out)


def plan(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    capsys.readouterr()
    assert main(["plan", str(root), *extra]) == 0
    return capsys.readouterr().out


def edit_recipe(root: Path, old: str, new: str) -> None:
    path = root / "recipes" / "r.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def outputs(root: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted((root / "out").iterdir())}


def clones(tmp_path: Path, capsys: pytest.CaptureFixture[str], project: str = PROJECT) -> tuple[Path, Path]:
    """A built project with its cache, and a fresh clone of it: the same files, no `.assetgen/`."""
    full = make_project(tmp_path / "full", project)
    build(full, capsys)
    fresh = tmp_path / "fresh"
    shutil.copytree(full, fresh, ignore=shutil.ignore_patterns(".assetgen"))
    return full, fresh


def locked(root: Path, asset: str) -> str:
    lock = json.loads((root / "assetgen.lock").read_text())
    return str(lock["assets"][asset]["steps"][-1]["results"][0])


def test_a_quality_change_on_a_fresh_clone_runs_no_call_and_rewrites_only_that_output(
        tmp_path: Path, capsys) -> None:
    full, fresh = clones(tmp_path, capsys)
    before = outputs(fresh)
    for root in (full, fresh):
        edit_recipe(root, "quality: 80", "quality: 55")
    assert plan(fresh, capsys).splitlines()[-1] == "9 actions, 1 to run; estimated $0.00, 0s"
    result = build(fresh, capsys)
    assert (result["actions_run"], result["actions_failed"], result["outputs_written"]) == (0, 0, 1)
    after = outputs(fresh)
    assert [n for n in after if after[n] != before[n]] == ["base.jpg"]
    build(full, capsys)
    assert {n: b for n, (_, b) in after.items()} == {n: b for n, (_, b) in outputs(full).items()}


def test_a_deleted_output_on_a_fresh_clone_is_restored_from_the_png(tmp_path: Path, capsys) -> None:
    _, fresh = clones(tmp_path, capsys)
    data = (fresh / "out" / "base.jpg").read_bytes()
    (fresh / "out" / "base.jpg").unlink()
    assert ("run     render   out/base.jpg  (output out/base.jpg missing (restored from out/base.png))\n"
            in plan(fresh, capsys))
    result = build(fresh, capsys)
    assert (result["actions_run"], result["outputs_written"]) == (0, 1)
    assert (fresh / "out" / "base.jpg").read_bytes() == data


def test_an_edit_on_a_fresh_clone_starts_from_the_recovered_image(tmp_path: Path, capsys) -> None:
    full, fresh = clones(tmp_path, capsys)
    for root in (full, fresh):
        edit_recipe(root, "Frame it", "Frame it in gold")
    result = build(fresh, capsys)
    assert (result["actions_run"], result["actions_failed"]) == (1, 0)
    assert build(full, capsys)["actions_run"] == 1
    assert (fresh / "out" / "framed.jpg").read_bytes() == (full / "out" / "framed.jpg").read_bytes()


def test_a_png_output_rendered_again_still_serves_the_others(tmp_path: Path, capsys) -> None:
    full, fresh = clones(tmp_path, capsys)
    for root in (full, fresh):
        edit_recipe(root, "- path: out/base.png\n", "- path: out/base.png\n        resize: 48x48\n")
        edit_recipe(root, "quality: 80", "quality: 55")
    result = build(fresh, capsys, "-j", "1")
    assert (result["actions_run"], result["actions_failed"], result["outputs_written"]) == (0, 0, 2)
    build(full, capsys)
    assert {n: b for n, (_, b) in outputs(fresh).items()} == {n: b for n, (_, b) in outputs(full).items()}
    # the full-size PNG is gone: the next rendition change cannot recover the image any more
    edit_recipe(fresh, "quality: 55", "quality: 50")
    assert build(fresh, capsys, code=1)["actions_run"] == 0


def test_without_a_lossless_output_a_locked_image_is_not_made_again(tmp_path: Path, capsys) -> None:
    _, fresh = clones(tmp_path, capsys)
    before = outputs(fresh)
    lock = (fresh / "assetgen.lock").read_text()
    edit_recipe(fresh, "quality: 70", "quality: 60")
    sha = locked(fresh, "gem")[:12]
    why = f"locked image sha256:{sha} of gem is not in the cache and no lossless output holds it"
    text = plan(fresh, capsys)
    assert "cached  generate gem\n" in text             # the call is not made again ...
    assert f"blocked render   out/gem.webp  ({why})\n" in text    # ... what needs its image waits
    assert text.splitlines()[-1] == (
        "9 actions, 0 to run, 1 blocked (restore the cache or --force them); estimated $0.00, 0s")
    data = json.loads(plan(fresh, capsys, "--json"))
    webp = [a for a in data["actions"] if a["target"] == "out/gem.webp"]
    assert [(a["status"], a["reasons"], a["est_cost_usd"]) for a in webp] == [("blocked", [why], 0.0)]

    result = build(fresh, capsys, code=1)
    assert result == {"actions_total": 9, "actions_run": 0, "actions_cached": 8, "actions_failed": 1,
                      "requests": 0, "outputs_written": 0,
                      "failures": [{"asset": "gem", "message": why + HINT}]}
    assert outputs(fresh) == before
    assert (fresh / "assetgen.lock").read_text() == lock

    capsys.readouterr()
    assert main(["build", str(fresh)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("9 actions, 0 to run, 1 blocked\n")
    assert f"failed: gem: {why}{HINT}\n" in out
    assert main(["build", str(fresh), "--frozen"]) == 1
    assert capsys.readouterr().err == f"stale: gem: {why}\n"

    forced = build(fresh, capsys, "--force", "gem")
    assert (forced["actions_run"], forced["actions_failed"], forced["outputs_written"]) == (1, 0, 1)
    assert build(fresh, capsys)["actions_run"] == 0


def test_a_blocked_asset_does_not_stop_independent_work(tmp_path: Path, capsys) -> None:
    _, fresh = clones(tmp_path, capsys)
    edit_recipe(fresh, "quality: 70", "quality: 60")
    edit_recipe(fresh, "A castle", "A tower")
    result = build(fresh, capsys, code=1)
    assert (result["actions_run"], result["actions_failed"]) == (3, 1)
    assert [f["asset"] for f in result["failures"]] == ["gem"]


def test_fail_fast_with_a_blocked_asset_makes_no_call(tmp_path: Path, capsys) -> None:
    _, fresh = clones(tmp_path, capsys)
    edit_recipe(fresh, "quality: 70", "quality: 60")
    edit_recipe(fresh, "A castle", "A tower")
    result = build(fresh, capsys, "--fail-fast", code=1)
    assert result["actions_run"] == 0


def test_a_png_changed_by_hand_is_not_a_source(tmp_path: Path, capsys) -> None:
    _, fresh = clones(tmp_path, capsys)
    Image.new("RGBA", (1024, 1024), (1, 2, 3, 255)).save(fresh / "out" / "base.png")
    edit_recipe(fresh, "quality: 80", "quality: 55")
    result = build(fresh, capsys, code=1)
    assert result["actions_run"] == 0
    assert [f["asset"] for f in result["failures"]] == ["base"]
    sha = locked(fresh, "base")[:12]
    assert result["failures"][0]["message"].startswith(
        f"locked image sha256:{sha} of base is not in the cache and out/base.png, which held it, changed "
        "since it was written; restore the cache")
    (fresh / "out" / "base.png").unlink()
    assert "out/base.png, which held it, is missing" in plan(fresh, capsys)


def test_the_local_provider_draws_a_lost_image_again(tmp_path: Path, capsys) -> None:
    full, fresh = clones(tmp_path, capsys, project="provider: local\n")
    for root in (full, fresh):
        edit_recipe(root, "quality: 70", "quality: 60")
    assert ("run     generate gem  (image not in cache (needed by out/gem.webp; the local provider draws "
            "it again))\n") in plan(fresh, capsys)
    result = build(fresh, capsys)
    assert (result["actions_run"], result["actions_failed"], result["outputs_written"]) == (1, 0, 1)
    build(full, capsys)
    assert {n: b for n, (_, b) in outputs(fresh).items()} == {n: b for n, (_, b) in outputs(full).items()}


def test_a_fresh_clone_on_another_pillow_renders_again_from_the_png_outputs(tmp_path: Path, capsys) -> None:
    _, fresh = clones(tmp_path, capsys)
    path = fresh / "assetgen.lock"
    lock = json.loads(path.read_text())
    for asset in lock["assets"].values():        # render keys as another Pillow version made them
        for out in asset["outputs"].values():
            out["key"] = "0" * 64
    path.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    before = outputs(fresh)
    result = build(fresh, capsys, code=1)
    # base's PNG image is held by out/base.png, whichever Pillow wrote it. framed has no PNG
    # output, and gem's image is a JPEG (its output_format) that another Pillow may decode to
    # other pixels: both blocked until --force.
    assert (result["actions_run"], result["requests"], result["outputs_written"]) == (0, 0, 0)
    assert [f["asset"] for f in result["failures"]] == ["framed", "gem"]
    after = outputs(fresh)
    assert {n for n in after if after[n][1] != before[n][1]} == set()


SIBLINGS = """\
version: 1
defaults: {model: gpt-image-1, size: 1024x1024, quality: low}
assets:
  hero:
    prompt: "a knight"
    n: 3
    pick: 1
    outputs:
      - path: "out/hero-{{ index }}.png"
  poster:
    steps:
      - edit: "make it a poster"
        image: {asset: hero}
    output: out/poster.jpg
"""


def test_a_lost_candidate_blocks_only_what_needs_it(tmp_path: Path, capsys) -> None:
    full = tmp_path / "full"
    (full / "recipes").mkdir(parents=True)
    (full / "assetgen.yaml").write_text(PROJECT)
    (full / "recipes" / "r.yaml").write_text(SIBLINGS)
    build(full, capsys)
    fresh = tmp_path / "fresh"
    shutil.copytree(full, fresh, ignore=shutil.ignore_patterns(".assetgen"))
    (fresh / "out" / "hero-0.png").unlink()
    edit_recipe(fresh, "make it a poster", "make it a film poster")
    result = build(fresh, capsys, code=1)
    # poster starts from candidate 1, which out/hero-1.png holds; only hero-0.png cannot be made
    assert (result["actions_run"], result["actions_failed"], result["outputs_written"]) == (1, 1, 1)
    assert [f["asset"] for f in result["failures"]] == ["hero"]
    assert result["failures"][0]["message"].endswith("or pass --force hero to make a new image")
