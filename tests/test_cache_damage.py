"""A damaged image in the cache is treated as missing: recovered from a lossless output when one
holds it; otherwise the local provider draws it again (a paid call would be blocked, see
test_build_recovery.py)."""

from __future__ import annotations

import json
from pathlib import Path

from assetgen.cli import main

RECIPE = """\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
assets:
  icon:
    prompt: "A sword"
    outputs:
      - path: out/icon.png
      - path: out/small.webp
        resize: RESIZE
"""


def _write(root: Path, resize: str) -> None:
    (root / "recipes").mkdir(exist_ok=True)
    (root / "recipes" / "a.yaml").write_text(RECIPE.replace("RESIZE", resize), encoding="utf-8")


def _damage(root: Path) -> None:
    for obj in (root / ".assetgen" / "cache" / "objects").glob("*/*"):
        obj.write_bytes(b"damaged")


def _build(root: Path, capsys, *extra: str, code: int = 0) -> dict[str, object]:
    capsys.readouterr()
    assert main(["build", str(root), "--json", *extra]) == code
    return json.loads(capsys.readouterr().out)


def test_a_damaged_cached_image_is_recovered_from_the_png_output(tmp_path: Path, capsys) -> None:
    _write(tmp_path, "128x128")
    assert main(["build", str(tmp_path)]) == 0
    _damage(tmp_path)
    _write(tmp_path, "64x64")
    summary = _build(tmp_path, capsys)
    assert (summary["actions_run"], summary["actions_failed"], summary["outputs_written"]) == (0, 0, 1)
    assert not list((tmp_path / ".assetgen" / "cache" / "objects").glob("*/*"))


def test_a_damaged_cached_image_no_output_holds_is_drawn_again_by_the_local_provider(
        tmp_path: Path, capsys) -> None:
    # A paid provider's call would be blocked instead (tests/test_build_recovery.py).
    _write(tmp_path, "128x128")
    assert main(["build", str(tmp_path)]) == 0
    _damage(tmp_path)
    (tmp_path / "out" / "icon.png").unlink()
    _write(tmp_path, "64x64")
    capsys.readouterr()
    assert main(["plan", str(tmp_path)]) == 0
    assert ("run     generate icon  (image not in cache (needed by out/small.webp; the local provider "
            "draws it again))\n") in capsys.readouterr().out
    summary = _build(tmp_path, capsys)
    assert (summary["actions_run"], summary["actions_failed"], summary["outputs_written"]) == (1, 0, 2)
    assert _build(tmp_path, capsys)["actions_run"] == 0
