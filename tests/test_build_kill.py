"""A build killed with SIGKILL part-way, then rerun: no torn output, no finished call redone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

ASSETS = 12
RECIPE = f"""\
version: 1
defaults:
  model: gpt-image-2
  size: 512x512
assets:
  tile:
    matrix:
      i: [{", ".join(str(i) for i in range(ASSETS))}]
    prompt: "Tile number {{{{ i }}}}"
    outputs:
      - path: "out/{{{{ name }}}}.png"
      - path: "out/{{{{ name }}}}.webp"
        quality: 90
"""


def _records(root: Path) -> set[str]:
    folder = root / ".assetgen" / "cache" / "actions"
    keys = set()
    for path in folder.glob("*.json") if folder.is_dir() else ():
        if json.loads(path.read_text())["op"] != "render":
            keys.add(path.stem)
    return keys


def _build(root: Path, *extra: str, pipe: bool = True) -> subprocess.Popen[str]:
    where = subprocess.PIPE if pipe else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", "assetgen", "build", str(root), "-j", "2", *extra],
                            stdout=where, stderr=where, text=True)


def test_killed_build_resumes_without_redoing_finished_calls(tmp_path: Path) -> None:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "tiles.yaml").write_text(RECIPE)
    proc = _build(tmp_path, pipe=False)
    deadline = time.monotonic() + 60
    while len(_records(tmp_path)) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the build finished before it could be killed; make it slower"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = _records(tmp_path)
    assert 3 <= len(finished) < ASSETS

    rerun = _build(tmp_path, "--json")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    summary = json.loads(out)
    assert summary["actions_run"] == ASSETS - len(finished)
    assert _records(tmp_path) >= finished
    outputs = sorted((tmp_path / "out").iterdir())
    assert len(outputs) == 2 * ASSETS
    assert not [p for p in outputs if p.name.startswith(".tmp-")]
    for path in outputs:
        with Image.open(path) as img:
            img.load()
            assert img.size == (512, 512)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])     # SIGTERM: a CI job cancelled
def test_first_ctrl_c_saves_in_flight_work_and_exits_130(tmp_path: Path, stop: signal.Signals) -> None:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "tiles.yaml").write_text(RECIPE)
    proc = _build(tmp_path, "--json")
    deadline = time.monotonic() + 60
    while len(_records(tmp_path)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the build finished before it could be interrupted"
    proc.send_signal(stop)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130
    summary = json.loads(out)
    finished = _records(tmp_path)
    assert summary["actions_run"] == len(finished) < ASSETS
    lock = json.loads((tmp_path / "assetgen.lock").read_text())
    assert len(lock["assets"]) >= 1
    rerun = _build(tmp_path, "--json")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert json.loads(out)["actions_run"] == ASSETS - len(finished)
