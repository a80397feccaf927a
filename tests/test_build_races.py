"""What changes while a build runs is never stamped as built: the next build sees it. A recipe or
input changed after the build read it, an output deleted or changed by hand after the build found
it as it wrote it (before, the stamp took their stats at its end and the next build said "nothing
to do")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from azurekit import PROJECT

from assetgen.cli import main
from assetgen.emulator.testing import run_emulator
from assetgen.run.build import BuildOptions, build

KEY = "races-test-key-0042"
RECIPE = """\
version: 1
defaults: {size: 1024x1024, quality: low}
assets:
  gem: {prompt: "A red gem", output: out/gem.png}
  coin: {prompt: "A gold coin", output: out/coin.png}
"""


def _project(root: Path) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "assetgen.yaml").write_text(PROJECT, encoding="utf-8")
    (root / "recipes" / "r.yaml").write_text(RECIPE, encoding="utf-8")
    return root


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "AZURE_OPENAI_ENDPOINT": url, "AZURE_OPENAI_API_KEY": KEY,
            "AZURE_TOKEN_CREDENTIALS": "dev"}


def _build(root: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["build", str(root), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _while_building(root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                    meanwhile: Callable[[], object]) -> tuple[dict[str, object], dict[str, object]]:
    """Build, change the coin's prompt, and build again in a process, doing `meanwhile` once the
    plan is made while the coin's call is on the wire (~3 s); then the two builds after it."""
    with run_emulator(api_key=KEY, latency=10.0) as emu:
        for name, value in _env(emu.url).items():
            monkeypatch.setenv(name, value)
        _build(root, capsys)
        recipe = root / "recipes" / "r.yaml"
        recipe.write_text(RECIPE.replace("A gold coin", "A silver coin"), encoding="utf-8")
        proc = subprocess.Popen([sys.executable, "-u", "-m", "assetgen", "build", str(root)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(emu.url))
        assert proc.stdout is not None
        first = proc.stdout.readline()      # the plan, made: the recipes found, gem.png as the lock has it
        assert first.startswith("4 actions, 2 to run"), first
        meanwhile()
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        return _build(root, capsys), _build(root, capsys)


def test_an_output_deleted_while_the_build_runs_is_restored_by_the_next(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    again, _ = _while_building(root, monkeypatch, capsys, (root / "out" / "gem.png").unlink)
    assert again["outputs_written"] == 1 and (root / "out" / "gem.png").is_file()


def test_a_recipe_file_added_while_the_build_runs_is_built_by_the_next(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path / "p")
    more = 'version: 1\nassets:\n  ring: {prompt: "A ring", output: out/ring.png}\n'
    again, last = _while_building(root, monkeypatch, capsys,
                                  lambda: (root / "recipes" / "more.yaml").write_text(more, encoding="utf-8"))
    assert again["actions_run"] == 1 and (root / "out" / "ring.png").is_file() and last["requests"] == 0


def test_a_recipe_changed_after_the_build_started_is_not_stamped_as_built(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the edit lands after the command started (as an editor's save while it loads and plans):
    # the build may have read the file before it, so its stamp must not vouch for the file
    root = tmp_path / "p"
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "r.yaml").write_text(RECIPE, encoding="utf-8")
    started = time.time_ns()
    time.sleep(0.01)
    (root / "recipes" / "r.yaml").write_text(RECIPE.replace("A red gem", "A blue gem"), encoding="utf-8")
    report = build(BuildOptions(paths=(str(root),), cwd=root, started=started))
    assert report.exit_code == 0 and report.outputs_written == 2
    assert not (root / ".assetgen" / "build-stamp.json").exists()
    assert _build(root, capsys)["actions_total"] == 4       # the full path: no stamp vouched for it
    assert (root / ".assetgen" / "build-stamp.json").exists()
