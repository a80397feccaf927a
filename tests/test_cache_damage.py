"""A damaged image in the cache is treated as missing: the call that made it runs again."""

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


def test_a_damaged_cached_image_is_made_again(tmp_path: Path, capsys) -> None:
    _write(tmp_path, "128x128")
    assert main(["build", str(tmp_path)]) == 0
    for obj in (tmp_path / ".assetgen" / "cache" / "objects").glob("*/*"):
        obj.write_bytes(b"damaged")
    _write(tmp_path, "64x64")
    capsys.readouterr()
    assert main(["plan", str(tmp_path)]) == 0
    assert ("run    generate icon  (image not in cache (needed by out/small.webp))\n"
            in capsys.readouterr().out)
    assert main(["build", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["actions_run"], summary["actions_failed"]) == (1, 0)
