"""The plain-text summary of `build` reads as English for counts of one."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from assetgen.cli import main

RECIPE = """\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
assets:
  icon:
    prompt: "A sword"
    output: out/icon.png
"""


def test_counts_of_one_are_singular(tmp_path: Path, capsys) -> None:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "a.yaml").write_text(RECIPE, encoding="utf-8")
    assert main(["build", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == (
        "2 actions (1 call, 1 rendition): 1 call made, 1 output written, 0 failed; 0 requests")
    (tmp_path / "recipes" / "a.yaml").write_text(RECIPE.replace("A sword", "A shield"), encoding="utf-8")
    assert main(["build", str(tmp_path), "--frozen"]) == 1
    assert capsys.readouterr().out == (
        "--frozen: 1 asset needs an API call, assetgen.lock would change; nothing was written\n")


def test_an_interrupted_build_says_so(tmp_path: Path) -> None:
    (tmp_path / "recipes").mkdir()
    numbers = ", ".join(str(i) for i in range(40))
    tiles = RECIPE.replace('prompt: "A sword"', f'matrix: {{i: [{numbers}]}}\n    prompt: "Tile {{{{ i }}}}"')
    tiles = tiles.replace("out/icon.png", '"out/{{ name }}.png"').replace("1024x1024", "1536x1024")
    (tmp_path / "recipes" / "a.yaml").write_text(tiles, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "assetgen", "build", str(tmp_path), "-j", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:      # interrupt once the first output is written
        if "render wrote" in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    expected = r"^interrupted: \d+ actions not started; run the build again to finish them\n$"
    assert re.search(expected, err), err


def test_a_reader_that_leaves_early_does_not_stop_the_build(tmp_path: Path) -> None:
    # `assetgen build | head -1`: the build finishes and saves everything, then exits 141 quietly
    root = tmp_path / "p"
    shutil.copytree(Path(__file__).resolve().parent.parent / "recipes", root,
                    ignore=shutil.ignore_patterns("build", ".assetgen", "assetgen.lock"))
    proc = subprocess.Popen([sys.executable, "-m", "assetgen", "build", str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141
    assert first == b"48 actions, 48 to run\n"
    assert err == b""
    assert len(list((root / "build").rglob("*.*"))) == 31
    lock = json.loads((root / "assetgen.lock").read_text())
    assert len(lock["assets"]) == 15
