"""`assetgen plan`: every action with its status and the reasons, as SPEC section 7 shapes them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import PIL
from PIL import Image

from assetgen.cli import main

RECIPE = """\
version: 1
defaults:
  model: gpt-image-2
  size: 64x64
assets:
  gem:
    prompt: "A gem"
    quality: low
    output: out/gem.png
  framed:
    steps:
      - edit: "Frame it"
        image: {asset: gem}
        mask: masks/m.png
    outputs:
      - path: out/framed.webp
        quality: 80
"""


def _project(root: Path) -> Path:
    (root / "recipes").mkdir()
    (root / "masks").mkdir()
    (root / "recipes" / "r.yaml").write_text(RECIPE)
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(root / "masks" / "m.png")
    return root


def _plan(root: Path, capsys, *extra: str) -> dict:
    capsys.readouterr()
    assert main(["plan", str(root), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def _rows(plan: dict) -> list[tuple[str, str, list[str]]]:
    return [(a["op"], a["status"], a["reasons"]) for a in plan["actions"]]


def test_a_new_project_plans_everything_as_new(tmp_path: Path, capsys) -> None:
    plan = _plan(_project(tmp_path), capsys)
    assert set(plan) == {"actions", "est_cost_usd", "est_seconds"}
    assert set(plan["actions"][0]) >= {"id", "op", "assets", "status", "reasons", "est_cost_usd"}
    assert _rows(plan) == [("generate", "run", ["new"]), ("render", "run", ["new"]),
                           ("edit", "run", ["new"]), ("render", "run", ["new"])]
    assert plan["est_cost_usd"] == 0.0


def test_reasons_after_changes(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    assert main(["build", str(root), "--json"]) == 0
    assert all(s == "cached" for _, s, _ in _rows(_plan(root, capsys)))
    recipe = root / "recipes" / "r.yaml"
    recipe.write_text(RECIPE.replace("quality: low", "quality: high").replace("quality: 80", "quality: 60"))
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 255))
    mask.save(root / "masks" / "m.png")
    (root / "out" / "gem.png").unlink()
    assert _rows(_plan(root, capsys)) == [
        ("generate", "run", ["parameter quality changed (low -> high)"]),
        ("render", "run", ["upstream asset gem changed"]),
        ("edit", "run", ["upstream asset gem changed", "input file masks/m.png changed"]),
        ("render", "run", ["parameter quality changed (80 -> 60)", "upstream asset framed changed"]),
    ]


def test_missing_output_and_forced(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    assert main(["build", str(root), "--json"]) == 0
    (root / "out" / "framed.webp").unlink()
    assert _rows(_plan(root, capsys)) == [
        ("generate", "cached", []), ("render", "cached", []), ("edit", "cached", []),
        ("render", "run", ["output out/framed.webp missing (restored from cache)"]),
    ]


def test_text_plan(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    capsys.readouterr()
    assert main(["plan", str(root)]) == 0
    assert capsys.readouterr().out == (
        "run     generate gem  (new)\n"
        "run     render   out/gem.png  (new)\n"
        "run     edit     framed  (new)\n"
        "run     render   out/framed.webp  (new)\n"
        "4 actions, 4 to run; estimated $0.00, 0s\n"
    )


def test_estimates_for_a_paid_provider(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    (root / "recipes" / "r.yaml").write_text(
        'version: 1\nassets:\n  gem:\n    model: gpt-image-1.5\n    quality: high\n    size: 1024x1024\n'
        '    prompt: "A gem"\n    output: out/gem.png\n')
    plan = _plan(root, capsys, "--provider", "azure")
    assert plan["actions"][0]["est_cost_usd"] > 0
    assert plan["est_cost_usd"] == plan["actions"][0]["est_cost_usd"]
    assert plan["est_seconds"] > 0


def test_time_estimate_never_beats_the_quota(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    (root / "recipes" / "r.yaml").write_text(
        'version: 1\nassets:\n  gem:\n    model: gpt-image-1.5\n    quality: low\n    size: 1024x1024\n'
        '    matrix: {i: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]}\n    prompt: "Gem {{ i }}"\n'
        '    output: "out/{{ name }}.png"\n')
    # 12 calls at the catalog's 9 RPM take 80 s however many run at once
    assert _plan(root, capsys, "--provider", "azure")["est_seconds"] == 80.0
    (root / "assetgen.yaml").write_text(
        "providers: {azure: {deployments: {gpt-image-1.5: img15}, rpm: {img15: 36}}}\n")
    assert _plan(root, capsys, "--provider", "azure")["est_seconds"] == 20.0
    assert _plan(root, capsys, "--provider", "local")["est_seconds"] < 1


def test_a_lock_written_by_another_encoder_says_so(tmp_path: Path, capsys) -> None:
    """A fresh clone whose lock another Pillow wrote: the rendition is encoded again, with that
    reason (not 'changed on disk': the file is untouched), and with no call."""
    root = _project(tmp_path)
    assert main(["build", str(root), "--json"]) == 0
    lock_file = root / "assetgen.lock"
    lock = json.loads(lock_file.read_text())
    lock["assets"]["gem"]["outputs"]["out/gem.png"]["key"] = "0" * 64   # as another Pillow keys it
    lock_file.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(root / ".assetgen")
    plan = _plan(root, capsys)
    assert [(a["op"], a["status"], a["reasons"]) for a in plan["actions"] if a["status"] != "cached"] == [
        ("render", "run", [f"encoder changed (now pillow-{PIL.__version__})"])]
    before = (root / "out" / "gem.png").read_bytes()
    capsys.readouterr()
    assert main(["build", str(root), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["actions_run"], summary["outputs_written"]) == (0, 0)
    assert (root / "out" / "gem.png").read_bytes() == before
    assert "0" * 64 not in lock_file.read_text()
