"""A first build of a large project is made a part at a time (`run.parts`), and writes exactly what
a build of the whole project at once writes: the same lock file, outputs, build index and stamp.
An error anywhere stops it before anything runs, with the whole build's messages; a failed call
leaves the other parts built and the next build finishes. Parts are made small here with
$ASSETGEN_PART_VARIANTS (10,000 variants by default)."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from assetgen.cli import main
from assetgen.emulator.testing import EmulatorHandle, run_emulator
from assetgen.run.build import BuildOptions, build

PART = "ASSETGEN_PART_VARIANTS"
KEY = "parts-test-key-5150"


def one(name: str, prompt: str) -> str:
    return f"version: 1\nassets:\n  {name}:\n    prompt: \"{prompt}\"\n    output: out/{name}.png\n"


def edit(name: str, image: str) -> str:
    return (f"version: 1\nassets:\n  {name}:\n    steps:\n      - edit: \"Retouch {name}\"\n"
            f"        image: {image}\n    output: out/{name}.png\n")


def project(root: Path) -> Path:
    """Ten recipe files, 11 variants: a matrix, a file that edits another file's asset (the two go
    in one part), two files that read one input image, outputs in two folders."""
    (root / "recipes" / "more").mkdir(parents=True)
    (root / "in").mkdir()
    Image.new("RGB", (16, 16), "red").save(root / "in" / "base.png")
    (root / "assetgen.yaml").write_text("version: 1\nprovider: local\nrecipes: ['recipes/**/*.yaml']\n"
                                        "defaults: {model: gpt-image-2, size: 16x16}\n")
    recipes = root / "recipes"
    for i in range(1, 6):
        (recipes / f"a{i}.yaml").write_text(one(f"a{i}", f"Asset {i}"))
    (recipes / "b1.yaml").write_text(edit("b1", "in/base.png"))
    (recipes / "more" / "b2.yaml").write_text(edit("b2", "in/base.png"))
    (recipes / "more" / "z.yaml").write_text(edit("z", "{asset: a1}"))
    (recipes / "m.yaml").write_text("version: 1\nassets:\n  m:\n    matrix:\n      c: [red, green, blue]\n"
                                    "    prompt: \"Mat {{ c }}\"\n    output: \"out/m/{{ name }}.png\"\n")
    return root


def built(root: Path, monkeypatch: pytest.MonkeyPatch, part: int | None) -> Any:
    if part is None:
        monkeypatch.delenv(PART, raising=False)
    else:
        monkeypatch.setenv(PART, str(part))
    return build(BuildOptions(cwd=root))


def files(root: Path, folder: str) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / folder).rglob("*"))
            if p.is_file()}


def index(root: Path) -> list[tuple[Any, ...]]:
    body = json.loads((root / ".assetgen" / "build-index.json").read_text())
    columns = [c if c is not None else [None] * len(body["paths"]) for c in body["columns"]]
    return sorted(zip(body["paths"], *(map(json.dumps, c) for c in columns), strict=True))


def stamped(root: Path) -> tuple[list[str], int]:
    text = (root / ".assetgen" / "build-stamp.json").read_text()
    body = json.loads(text[text.index("{"):])
    return sorted(body["files"]), body["actions_total"]


def test_a_first_build_in_parts_writes_what_a_whole_build_writes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    parts, whole = project(tmp_path / "parts"), project(tmp_path / "whole")
    by_parts, at_once = built(parts, monkeypatch, 3), built(whole, monkeypatch, None)
    assert (by_parts.parts, at_once.parts) == (5, 0)
    for report in (by_parts, at_once):
        assert (report.actions_total, report.actions_run, report.outputs_written, report.failures) == (
            22, 11, 11, ())
    assert (parts / "assetgen.lock").read_bytes() == (whole / "assetgen.lock").read_bytes()
    assert files(parts, "out") == files(whole, "out")
    assert len(files(parts, "out")) == 11
    assert index(parts) == index(whole)
    assert stamped(parts) == stamped(whole)
    assert sorted(stamped(parts)[0]).count("in/base.png") == 1

    monkeypatch.setenv(PART, "3")
    monkeypatch.chdir(parts)
    assert main(["build"]) == 0
    assert capsys.readouterr().out == "nothing to do: 22 actions up to date\n"
    for root in (parts, whole):     # one change, then the same lock file again
        recipe = root / "recipes" / "a3.yaml"
        recipe.write_text(recipe.read_text().replace("Asset 3", "Asset three"))
        report = build(BuildOptions(cwd=root))
        assert (report.actions_run, report.outputs_written, report.parts) == (1, 1, 0)
    assert (parts / "assetgen.lock").read_bytes() == (whole / "assetgen.lock").read_bytes()


def test_the_summary_says_the_build_was_made_in_parts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(PART, "4")
    monkeypatch.chdir(project(tmp_path / "p"))
    assert main(["build"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("part ")] == [
        "part 1 of 3: 8 actions, 8 to run", "part 2 of 3: 6 actions, 6 to run",
        "part 3 of 3: 8 actions, 8 to run"]
    assert out[out.index("part 2 of 3: 6 actions, 6 to run") + 1].startswith("[9/14] ")
    assert out[-3].startswith("[22/22] ")
    assert out[-2:] == [
        "a first build of a large project: built in 3 parts, one after another",
        "22 actions (11 calls, 11 renditions): 11 calls made, 11 outputs written, 0 failed; 0 requests"]


BROKEN = {
    "an undefined variable": ("recipes/more/z.yaml", "{{ nope }}", ""),
    "an output another file writes": ("recipes/m.yaml", "out/m/{{ name }}.png", "out/a2.png"),
    "a reference to nothing": ("recipes/more/z.yaml", "{asset: a1}", "{asset: a9}"),
    "an input another file writes": ("recipes/b1.yaml", "in/base.png", "out/a4.png"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_an_error_in_any_part_stops_the_build_before_anything_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        case: str) -> None:
    rel, old, new = BROKEN[case]
    said = []
    for part in (None, 3):
        root = project(tmp_path / str(part))
        recipe = root / rel
        text = recipe.read_text()
        recipe.write_text(text.replace(old, new) if new else text.replace("Retouch", "Retouch {{ nope }}"))
        if part is None:
            monkeypatch.delenv(PART, raising=False)
        else:
            monkeypatch.setenv(PART, str(part))
        monkeypatch.chdir(root)
        code = main(["build"])
        said.append((code, capsys.readouterr().err))
        assert not (root / "out").exists()
        assert not (root / "assetgen.lock").exists()
    assert said[0] == said[1]
    assert said[1][0] == 2 and ": error: " in said[1][1]


def test_a_lock_file_with_entries_is_built_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path / "p")
    assert built(root, monkeypatch, 3).parts >= 3
    shutil.rmtree(root / "out")
    shutil.rmtree(root / ".assetgen")
    report = built(root, monkeypatch, 3)       # a fresh clone of a project with its lock file
    assert (report.parts, report.outputs_written, report.failures) == (0, 11, ())


def azure(root: Path, forbidden: str) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "assetgen.yaml").write_text("version: 1\nprovider: azure\n"
                                        "defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}\n"
                                        "providers: {azure: {rpm: {gpt-image-1.5: 6000}}}\n")
    for i in range(6):
        prompt = f"A {forbidden} relic {i}" if i == 1 else f"A relic {i}"
        (root / "recipes" / f"r{i}.yaml").write_text(one(f"r{i}", prompt))
    return root


@contextlib.contextmanager
def served(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorHandle]:
    """The emulator, with the project in `root` built from there in parts of 2 variants."""
    monkeypatch.setenv(PART, "2")
    monkeypatch.chdir(root)
    with run_emulator(api_key=KEY) as emu:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
        yield emu


def test_a_refused_call_in_one_part_leaves_the_others_built_and_the_next_build_finishes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = azure(tmp_path / "p", "forbidden")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    with served(root, monkeypatch) as emu:
        assert main(["build", "--json"]) == 1
        out = json.loads(capsys.readouterr().out)
        assert [f["asset"] for f in out["failures"]] == ["r1"]
        assert (out["actions_total"], out["actions_run"], out["outputs_written"]) == (12, 5, 5)
        assert sorted(json.loads((root / "assetgen.lock").read_text())["assets"]) == [
            "r0", "r2", "r3", "r4", "r5"]
        assert not (root / ".assetgen" / "build-stamp.json").exists()
        sent = len(emu.records)
        recipe = root / "recipes" / "r1.yaml"
        recipe.write_text(recipe.read_text().replace("forbidden", "gilded"))
        assert main(["build", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert (out["actions_run"], out["outputs_written"], len(emu.records) - sent) == (1, 1, 1)
        assert main(["build"]) == 0
        assert capsys.readouterr().out == "nothing to do: 12 actions up to date\n"
    assert len(json.loads((root / "assetgen.lock").read_text())["assets"]) == 6


def test_fail_fast_stops_at_the_part_that_failed_and_keeps_what_was_built(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = azure(tmp_path / "p", "forbidden")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    with served(root, monkeypatch) as emu:
        assert main(["build", "--json", "--fail-fast", "-j", "1"]) == 1
        out = json.loads(capsys.readouterr().out)
    assert [f["asset"] for f in out["failures"]] == ["r1"]
    assert out["actions_total"] == 12
    # the first part (r0, r1) ran; the two after it never started
    assert out["actions_run"] + out["actions_cached"] + out["actions_failed"] <= 4
    assert sorted(json.loads((root / "assetgen.lock").read_text())["assets"]) == ["r0"]
    assert not (root / "out" / "r2.png").exists()
    assert len(emu.records) <= 2


def test_refused_credentials_stop_the_build_at_the_first_part(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = azure(tmp_path / "p", "plain")
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "dev")     # developer sign-ins only: no network probe
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))   # no az, azd or pwsh to ask
    with served(root, monkeypatch) as emu:
        assert main(["build", "--json"]) == 1
        out, err = capsys.readouterr()
        assert emu.records == []
    summary = json.loads(out)
    assert [f["asset"] for f in summary["failures"]] == ["r0", "r1"]      # the first part's
    assert (summary["actions_total"], summary["actions_run"], summary["actions_failed"]) == (12, 0, 4)
    assert "the build stopped at part 1 of 3 (no credentials: " in err
    assert "the 8 actions of the parts after it were not started" in err
    assert "not started; run the build again" not in err
    lock = root / "assetgen.lock"
    assert not lock.exists() or json.loads(lock.read_text())["assets"] == {}


def test_ctrl_c_in_a_later_part_keeps_every_call_made_and_the_next_build_sends_only_the_rest(
        tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    root = azure(tmp_path / "p", "plain")     # 3 parts of 2 calls; 30 a minute: the third call starts part 2
    (root / "assetgen.yaml").write_text((root / "assetgen.yaml").read_text().replace("6000", "30"))
    with run_emulator(api_key=KEY) as emu:
        env = {**os.environ, "AZURE_OPENAI_ENDPOINT": emu.url, "AZURE_OPENAI_API_KEY": KEY, PART: "2"}
        proc = subprocess.Popen([sys.executable, "-m", "assetgen", "build", "--json"], cwd=root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while len(emu.records) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        assert len(emu.records) >= 3 and proc.poll() is None, "the build ended before it was interrupted"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        made = len(emu.records)
        assert proc.returncode == 130, err
        locked = json.loads((root / "assetgen.lock").read_text())["assets"]
        assert len(locked) == made == json.loads(out)["actions_run"] < 6
        assert all((root / "out" / f"{name}.png").is_file() for name in locked)
        done = subprocess.run([sys.executable, "-m", "assetgen", "build", "--json"], cwd=root, env=env,
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert len(emu.records) - made == 6 - made      # only the calls not made before
    assert len(json.loads((root / "assetgen.lock").read_text())["assets"]) == 6
