"""Acceptance tests for `assetgen build` on real temp projects, counting actions from --json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from assetgen.cli import main

RECIPE = """\
version: 1
defaults:
  model: gpt-image-2
  size: 64x64
assets:
  icon:
    matrix:
      color: [red, blue]
    prompt: "A {{ color }} gem"
    outputs:
      - path: "out/{{ name }}.png"
      - path: "out/{{ name }}.jpg"
        quality: 80
  chain:
    steps:
      - generate: "A castle"
      - edit: "Add a dragon"
        mask: masks/left.png
      - edit: "Make it night"
    output: out/chain.webp
  other:
    steps:
      - edit: "Frame it"
        image: {asset: chain}
        mask: masks/left.png
    output: out/other.png
"""


def make_project(root: Path, recipe: str = RECIPE) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "recipes" / "r.yaml").write_text(recipe)
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 32, 64))
    mask.save(root / "masks" / "left.png")
    return root


def build(root: Path, capsys: pytest.CaptureFixture[str], *extra: str, code: int = 0) -> dict[str, object]:
    capsys.readouterr()
    assert main(["build", str(root), "--json", *extra]) == code
    out = capsys.readouterr().out
    return json.loads(out)


def mtimes(root: Path) -> dict[str, int]:
    found = {p: p.stat().st_mtime_ns for p in (root / "out").rglob("*") if p.is_file()}
    found[root / "assetgen.lock"] = (root / "assetgen.lock").stat().st_mtime_ns
    return {str(p.relative_to(root)): m for p, m in found.items()}


def edit_recipe(root: Path, old: str, new: str) -> None:
    path = root / "recipes" / "r.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_first_build_runs_everything_and_rebuild_runs_nothing(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path)
    first = build(root, capsys)
    assert first == {"actions_total": 12, "actions_run": 6, "actions_cached": 6, "actions_failed": 0,
                     "requests": 0, "outputs_written": 6, "failures": []}
    before = mtimes(root)
    again = build(root, capsys)
    assert again["actions_run"] == 0 and again["outputs_written"] == 0
    assert mtimes(root) == before
    for path in (root / "out").iterdir():
        with Image.open(path) as img:
            img.load()
            assert img.size == (64, 64)


def test_rebuild_after_stamp_is_gone_still_runs_nothing(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path)
    build(root, capsys)
    before = mtimes(root)
    (root / ".assetgen" / "build-stamp.json").unlink()
    again = build(root, capsys)
    assert (again["actions_run"], again["outputs_written"]) == (0, 0)
    assert mtimes(root) == before


def test_adding_a_matrix_value_runs_one_generate(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path)
    build(root, capsys)
    edit_recipe(root, "[red, blue]", "[red, blue, green]")
    result = build(root, capsys)
    assert (result["actions_run"], result["outputs_written"]) == (1, 2)
    assert (root / "out" / "icon-green.png").is_file()


def test_changing_one_edit_prompt_runs_that_edit_and_what_follows(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path)
    build(root, capsys)
    edit_recipe(root, "Add a dragon", "Add a griffin")
    result = build(root, capsys)
    # the edit, the next edit, and `other` (which starts from chain's final image)
    assert result["actions_run"] == 3
    # other.png is unchanged: its edit repaints exactly the half of chain's image that changed
    assert result["outputs_written"] == 1


def test_changing_a_mask_reruns_only_the_edits_that_use_it(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path)
    build(root, capsys)
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 16, 16))
    mask.save(root / "masks" / "left.png")
    result = build(root, capsys)
    # chain's first edit and the one after it; other's edit (uses the mask and chain's image)
    assert result["actions_run"] == 3
    icon = root / "out" / "icon-red.png"
    assert icon.is_file()


def test_changing_output_quality_rewrites_only_that_output(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path)
    build(root, capsys)
    before = mtimes(root)
    edit_recipe(root, "quality: 80", "quality: 40")
    result = build(root, capsys)
    assert (result["actions_run"], result["outputs_written"]) == (0, 2)
    after = mtimes(root)
    changed = sorted(k for k in after if after[k] != before[k])
    assert changed == ["assetgen.lock", "out/icon-blue.jpg", "out/icon-red.jpg"]


def test_deleted_output_is_restored_without_a_call(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path)
    build(root, capsys)
    data = (root / "out" / "chain.webp").read_bytes()
    (root / "out" / "chain.webp").unlink()
    result = build(root, capsys)
    assert (result["actions_run"], result["outputs_written"]) == (0, 1)
    assert (root / "out" / "chain.webp").read_bytes() == data


def test_fresh_clone_with_outputs_and_lock_runs_no_call(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path)
    build(root, capsys)
    before = mtimes(root)
    shutil.rmtree(root / ".assetgen")
    result = build(root, capsys)
    assert (result["actions_run"], result["outputs_written"]) == (0, 0)
    assert mtimes(root) == before


def test_fresh_clone_then_quality_change_runs_no_call(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path)
    build(root, capsys)
    before = mtimes(root)
    shutil.rmtree(root / ".assetgen")
    edit_recipe(root, "quality: 80", "quality: 40")
    result = build(root, capsys)
    # the icon images are not in the (empty) cache: the committed PNG outputs hold their pixels
    assert (result["actions_run"], result["outputs_written"]) == (0, 2)
    after = mtimes(root)
    changed = sorted(k for k in after if after[k] != before[k])
    assert changed == ["assetgen.lock", "out/icon-blue.jpg", "out/icon-red.jpg"]


def test_frozen_after_a_prompt_change_names_the_asset_and_runs_nothing(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path)
    build(root, capsys)
    before = mtimes(root)
    edit_recipe(root, "A castle", "A tower")
    capsys.readouterr()
    assert main(["build", str(root), "--frozen"]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "stale: chain: prompt changed; upstream asset chain changed\n"
        "stale: other: upstream asset chain changed\n"
        "stale: assetgen.lock: would change\n"
    )
    assert captured.out == (
        "--frozen: 2 assets need an API call, assetgen.lock would change; nothing was written\n")
    assert mtimes(root) == before


def test_frozen_json_counts_zero_calls(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path)
    build(root, capsys)
    edit_recipe(root, "A {{ color }} gem", "A {{ color }} jewel")
    capsys.readouterr()
    assert main(["build", str(root), "--json", "--frozen"]) == 1
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert {k: v for k, v in result.items() if k not in ("actions_total", "failures")} == {
        "actions_run": 0, "actions_cached": 0, "actions_failed": 0, "requests": 0, "outputs_written": 0}
    why = "needs an API call (--frozen): prompt changed"
    assert result["failures"] == [{"asset": "icon-blue", "message": why},
                                  {"asset": "icon-red", "message": why},
                                  {"asset": "assetgen.lock",
                                   "message": "--frozen: assetgen.lock would change"}]
    assert err == ("stale: icon-blue: prompt changed\nstale: icon-red: prompt changed\n"
                   "stale: assetgen.lock: would change\n")


def test_force_regenerates_matching_assets(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path)
    build(root, capsys)
    result = build(root, capsys, "--force", "icon-red")
    assert result["actions_run"] == 1


def test_only_builds_the_matching_assets_and_their_upstream(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path)
    result = build(root, capsys, "--only", "other")
    assert result["actions_total"] == 5
    assert result["actions_run"] == 4
    assert sorted(p.name for p in (root / "out").iterdir()) == ["other.png"]
    lock = json.loads((root / "assetgen.lock").read_text())
    assert sorted(lock["assets"]) == ["other"]
    full = build(root, capsys)
    assert full["actions_run"] == 2   # the two icons; chain's calls are cached


def test_failures_are_reported_and_independent_work_goes_on(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path, RECIPE.replace("output: out/chain.webp", "output: blocked/chain.webp"))
    (root / "blocked").write_text("a file where a folder should be")
    result = build(root, capsys, code=1)
    message = ("cannot write blocked/chain.webp: 'blocked' is a file, not a folder (the image is in the "
               "cache: no call is needed again)")
    assert result["failures"] == [{"asset": "chain", "message": message}]
    assert (result["actions_run"], result["actions_failed"]) == (6, 1)
    assert sorted(p.name for p in (root / "out").iterdir()) == [
        "icon-blue.jpg", "icon-blue.png", "icon-red.jpg", "icon-red.png", "other.png"]
    lock = json.loads((root / "assetgen.lock").read_text())
    assert sorted(lock["assets"]) == ["icon-blue", "icon-red", "other"]
    (root / "blocked").unlink()
    again = build(root, capsys)
    assert (again["actions_run"], again["outputs_written"]) == (0, 1)


def test_fail_fast_stops_starting_new_work(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path, RECIPE.replace("output: out/chain.webp", "output: blocked/chain.webp"))
    (root / "blocked").write_text("a file where a folder should be")
    capsys.readouterr()
    assert main(["build", str(root), "--json", "--fail-fast", "-j", "1"]) == 1
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert result["actions_failed"] == 1
    left = 12 - result["actions_run"] - result["actions_cached"] - result["actions_failed"]
    assert left > 0
    noun = "action" if left == 1 else "actions"
    assert err.splitlines()[0] == (
        f"--fail-fast: {left} {noun} not started; run the build again to finish them")


GENERATES_ONLY = """\
version: 1
defaults:
  model: gpt-image-1-mini
  quality: high
assets:
  icon:
    matrix:
      color: [red, blue]
    prompt: "A {{ color }} gem"
    output: "out/{{ name }}.png"
"""


def test_max_cost_refuses_to_start(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path, GENERATES_ONLY)
    capsys.readouterr()
    assert main(["build", str(root), "--provider", "openai", "--max-cost", "0.01"]) == 2
    assert capsys.readouterr().err == "the estimated cost $0.10 exceeds --max-cost $0.01; nothing was run\n"
    assert main(["build", str(root), "--provider", "openai", "--max-cost", "0.0015"]) == 2
    assert capsys.readouterr().err == "the estimated cost $0.10 exceeds --max-cost $0.0015; nothing was run\n"
    assert main(["plan", str(root), "--provider", "openai", "--json"]) == 0
    cost = json.loads(capsys.readouterr().out)["est_cost_usd"]
    below = f"{cost - 0.0001:.4f}"      # the same in cents: the message shows the digits that differ
    assert main(["build", str(root), "--provider", "openai", "--max-cost", below]) == 2
    err = capsys.readouterr().err
    assert err == f"the estimated cost ${cost:.4f} exceeds --max-cost ${below}; nothing was run\n", err
    assert not (root / "out").exists()


def test_lock_file_is_sorted_and_names_each_assets_requests(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path)
    build(root, capsys)
    text = (root / "assetgen.lock").read_text()
    lock = json.loads(text)
    assert list(lock["assets"]) == ["chain", "icon-blue", "icon-red", "other"]
    step = lock["assets"]["icon-red"]["steps"][0]
    assert (step["op"], step["model"], step["prompt"], step["params"]) == (
        "generate", "gpt-image-2", "A red gem", {"size": "64x64"})
    assert text == json.dumps(lock, indent=2, sort_keys=True) + "\n"
    mask_input = lock["assets"]["chain"]["steps"][1]["inputs"][1]
    assert (mask_input["role"], mask_input["file"]) == ("mask", "masks/left.png")


def test_only_and_force_accept_an_asset_key(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path)
    result = build(root, capsys, "--only", "icon")
    assert (result["actions_total"], result["actions_run"]) == (6, 2)
    result = build(root, capsys, "--force", "icon")
    assert result["actions_run"] == 6   # both icons again, plus chain (3) and other (1), never built


def test_building_one_recipe_file_keeps_the_others_lock_entries(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path)
    (root / "assetgen.yaml").write_text('recipes: ["recipes/**/*.yaml"]\n')
    (root / "recipes" / "extra.yaml").write_text(
        'version: 1\nassets:\n  coin:\n    model: gpt-image-2\n    size: 32x32\n    prompt: "A coin"\n'
        '    output: out/coin.png\n')
    build(root, capsys)
    capsys.readouterr()
    assert main(["build", str(root / "recipes" / "extra.yaml"), "--json", "--force", "coin"]) == 0
    assert json.loads(capsys.readouterr().out)["actions_run"] == 1
    lock = json.loads((root / "assetgen.lock").read_text())
    assert sorted(lock["assets"]) == ["chain", "coin", "icon-blue", "icon-red", "other"]


def test_pick_beside_the_prompt_shorthand_chooses_the_candidate_others_start_from(
        tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path, """\
version: 1
defaults: {model: gpt-image-1, size: 1024x1024, quality: low}
assets:
  hero:
    prompt: "a knight"
    n: 3
    pick: 2
    outputs:
      - path: "out/hero-{{ index }}.png"
  poster:
    steps:
      - edit: "make it a poster"
        image: {asset: hero}
    output: out/poster.png
""")
    assert build(root, capsys)["actions_run"] == 2
    lock = json.loads((root / "assetgen.lock").read_text())
    candidates = lock["assets"]["hero"]["steps"][0]["results"]
    assert [i["sha256"] for i in lock["assets"]["poster"]["steps"][0]["inputs"]] == [candidates[2]]
