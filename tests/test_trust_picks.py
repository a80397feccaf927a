"""Picks are per variant (SPEC section 9): `pick` is a number for every variant of an asset or a
mapping from variant name to candidate; with `n` > 1 an output path without `{{ index }}` writes
the picked candidate; changing a pick calls nothing for the candidates themselves, and `plan`
says `pick changed (2 -> 0)`. Paid builds run against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azurekit import point_at
from PIL import Image

from assetgen.cli import main
from assetgen.emulator.testing import EmulatorHandle, run_emulator

KEY = "pick-test-key-0001"
PROJECT = """\
provider: azure
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
providers: {azure: {rpm: {gpt-image-1.5: 6000}}}   # the emulator's quota: no waiting between calls
"""

EMBLEM = """\
version: 1
assets:
  emblem:
    prompt: "A guild emblem"   # three candidates, one stable file
    n: 3
    pick: 2
    outputs:
      - path: out/emblem.png
      - path: "out/candidates/emblem-{{ index }}.png"
"""

CHAIN = """\
version: 1
assets:
  icon:
    matrix: {kind: [sword, shield]}
    steps:
      - generate: "A {{ kind }} icon"
        n: 3
        pick: {icon-sword: 2, icon-shield: 0}
      - edit: "Add a glow"
    output: "icons/{{ name }}.png"
"""


def _project(root: Path, recipe: str) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "assetgen.yaml").write_text(PROJECT, encoding="utf-8")
    (root / "recipes" / "a.yaml").write_text(recipe, encoding="utf-8")
    return root


def _env(emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    point_at(emu, KEY, monkeypatch)


def _run(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> str:
    capsys.readouterr()
    got = main(list(argv))
    out, err = capsys.readouterr()
    assert got == code, out + err
    return out + err


def _lock(root: Path) -> dict[str, dict[str, object]]:
    return json.loads((root / "assetgen.lock").read_text(encoding="utf-8"))["assets"]


def _pixels(path: Path) -> bytes:
    with Image.open(path) as img:
        return img.convert("RGBA").tobytes()


def _set_pick(root: Path, old: str, new: str) -> None:
    recipe = root / "recipes" / "a.yaml"
    text = recipe.read_text(encoding="utf-8")
    assert old in text
    recipe.write_text(text.replace(old, new), encoding="utf-8")


def test_an_output_without_index_writes_the_picked_candidate_and_a_new_pick_costs_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p", EMBLEM)
    out = root / "out"
    with run_emulator(api_key=KEY) as emu:
        _env(emu, monkeypatch)
        _run(capsys, "build", str(root))
        assert len(emu.records) == 1
        assert _pixels(out / "emblem.png") == _pixels(out / "candidates" / "emblem-2.png")
        assert _pixels(out / "emblem.png") != _pixels(out / "candidates" / "emblem-0.png")

        _set_pick(root, "pick: 2", "pick: 0")
        plan = _run(capsys, "plan", str(root))
        assert "pick changed (2 -> 0)" in plan
        assert "upstream asset" not in plan
        _run(capsys, "build", str(root))
        assert len(emu.records) == 1
    assert _pixels(out / "emblem.png") == _pixels(out / "candidates" / "emblem-0.png")
    entry = _lock(root)["emblem"]
    results = entry["steps"][0]["results"]                              # type: ignore[index]
    assert entry["outputs"]["out/emblem.png"]["source"] == results[0]   # type: ignore[index]


def test_a_mapping_picks_per_variant_and_changing_one_reruns_only_that_variants_edit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p", CHAIN)
    with run_emulator(api_key=KEY) as emu:
        _env(emu, monkeypatch)
        _run(capsys, "build", str(root))
        assert len(emu.records) == 4                       # two generations of 3, two edits
        for variant, pick in (("icon-sword", 2), ("icon-shield", 0)):
            steps = _lock(root)[variant]["steps"]
            assert steps[1]["inputs"][0]["sha256"] == steps[0]["results"][pick]   # type: ignore[index]

        _set_pick(root, "icon-sword: 2", "icon-sword: 1")
        plan = _run(capsys, "plan", str(root))
        assert "pick changed (2 -> 1)" in plan
        _run(capsys, "build", str(root))
        assert len(emu.records) == 5                       # the sword's edit only
        steps = _lock(root)["icon-sword"]["steps"]
        assert steps[1]["inputs"][0]["sha256"] == steps[0]["results"][1]   # type: ignore[index]


def test_a_number_picks_the_same_candidate_for_every_variant(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p", CHAIN.replace("pick: {icon-sword: 2, icon-shield: 0}", "pick: 1"))
    (root / "assetgen.yaml").write_text("defaults: {model: gpt-image-1.5}\n", encoding="utf-8")
    _run(capsys, "build", str(root))
    for variant in ("icon-sword", "icon-shield"):
        steps = _lock(root)[variant]["steps"]
        assert steps[1]["inputs"][0]["sha256"] == steps[0]["results"][1]   # type: ignore[index]


@pytest.mark.parametrize(("pick", "message"), [
    ("{icon-sword: 2}", "a.yaml:6:9: error: steps[0] makes 3 candidates and more steps follow: set 'pick' "
                        "to the one that continues (variant 'icon-shield' has no entry in its mapping)"),
    ("{icon-sword: 2, icon-shield: 3}", "a.yaml:8:44: error: pick 3 is out of range: steps[0] makes 3 "
                                        "candidate(s), 0 to 2"),
    ("{icon-sword: 2, icon-shield: 0, icon-sheild: 1}",
     "a.yaml:8:47: warning: pick names 'icon-sheild', which is not a variant of asset 'icon'; "
     "did you mean 'icon-shield'?"),
    ("two", "a.yaml:8:9: error: invalid value for 'assets.icon.steps[0].pick': expected a candidate "
            "number (0-based) or a mapping from variant name to candidate number, got 'two'"),
    ("{icon-sword: -1, icon-shield: 0}",
     "a.yaml:8:9: error: invalid value for 'assets.icon.steps[0].pick': expected a candidate "
     "number (0-based) or a mapping from variant name to candidate number, got a mapping"),
])
def test_lint_names_each_wrong_pick_where_it_stands(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], pick: str, message: str) -> None:
    recipe = CHAIN.replace("pick: {icon-sword: 2, icon-shield: 0}", f"pick: {pick}")
    root = _project(tmp_path / "p", recipe)
    out = _run(capsys, "lint", str(root), code=0 if ": warning: " in message else 1)
    assert message in out


def test_an_output_without_index_and_no_pick_is_an_error_that_offers_both_ways(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p", EMBLEM.replace("    pick: 2\n", ""))
    out = _run(capsys, "lint", str(root), code=1)
    assert ("a.yaml:7:15: error: output path 'out/emblem.png' must use {{ index }} when n is 3, or the "
            "asset needs 'pick' (the candidate it writes) (outputs[0].path)") in out


@pytest.mark.parametrize("path, first, second", [("out/emblem-{{ index % 2 }}.png", 0, 2),
                                                 ("out/emblem-{{ index // 2 }}.png", 0, 1)])
def test_an_output_path_two_candidates_share_is_an_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], path: str, first: int, second: int) -> None:
    # one candidate would be lost, or overwrite the other one's file, whichever came last
    root = _project(tmp_path / "p", EMBLEM.replace("out/emblem.png", path))
    out = _run(capsys, "lint", str(root), code=1)
    shared = path.replace("{{ index % 2 }}", "0").replace("{{ index // 2 }}", "0")
    assert (f"error: output path '{shared}' is the same for candidates {first} and {second}: each candidate "
            "needs its own file") in out


def test_a_pick_out_of_range_is_said_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # not also "must use {{ index }} ... or the asset needs 'pick'": it has one
    root = _project(tmp_path / "p", EMBLEM.replace("pick: 2", "pick: 5"))
    out = _run(capsys, "lint", str(root), code=1)
    errors = [line for line in out.splitlines() if ": error: " in line]
    assert len(errors) == 1 and errors[0].endswith(
        "a.yaml:6:11: error: pick 5 is out of range: steps[0] makes 3 candidate(s), 0 to 2")
