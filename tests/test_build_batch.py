"""`build --batch` end to end against the emulator: submit and exit 0, collect on a later build,
edit chains in waves, and never a call submitted twice, also after a kill between submit and record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from assetgen.cli import main
from assetgen.emulator.testing import EmulatorHandle, run_emulator

KEY = "batch-build-key"
PROJECT = "provider: openai\nproviders:\n  openai:\n    rpm: {gpt-image-1.5: 6000}\n"
RECIPE = """\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
assets:
  icon:
    matrix: {colour: [red, blue, green]}
    prompt: "A {{ colour }} potion"
    output: "out/icon-{{ colour }}.png"
  banner:
    steps:
      - generate: A knight on a cliff
      - edit: Put the logo in the corner
        images: [brand/logo.png]
        input_fidelity: high
    output: out/banner.png
"""
CALLS = 5      # 3 icons + the banner's generation and edit


def project(root: Path, recipe: str = RECIPE) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "brand").mkdir()
    (root / "assetgen.yaml").write_text(PROJECT)
    (root / "recipes" / "a.yaml").write_text(recipe)
    Image.new("RGBA", (64, 64), (200, 30, 30, 255)).save(root / "brand" / "logo.png")
    return root


def env(emu: EmulatorHandle) -> dict[str, str]:
    return {**os.environ, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{emu.url}/v1"}


def run(root: Path, emu: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        *args: str, code: int = 0) -> dict[str, Any]:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{emu.url}/v1")
    capsys.readouterr()
    command = args[0] if args else "build"
    assert main([command, str(root), "--json", *args[1:]]) == code, capsys.readouterr().err
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def settle(emu: EmulatorHandle) -> None:
    """Wait until every batch the emulator holds is finished."""
    store = emu.state.batch_store
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with store.lock:
            if all(b.obj["status"] in ("completed", "failed", "cancelled") for b in store.batches.values()):
                return
        time.sleep(0.05)
    raise AssertionError("batches did not finish")


def submissions(emu: EmulatorHandle) -> Counter[str]:
    return Counter(emu.state.batch_store.submitted_custom_ids())


def statuses(plan: dict[str, Any]) -> Counter[str]:
    return Counter(a["status"] for a in plan["actions"] if a["op"] != "render")


def test_batch_build_submits_collects_and_runs_chains_in_waves(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p")
    with run_emulator(api_key=KEY, batch_delay=3.0) as emu:
        first = run(root, emu, monkeypatch, capsys, "build", "--batch")
        assert (first["pending"], first["actions_run"], first["requests"]) == (4, 0, 2)
        assert len(first["batches"]) == 1
        assert first["outputs_written"] == 0 and not (root / "out").exists()
        assert statuses(run(root, emu, monkeypatch, capsys, "plan")) == {"pending": 4, "run": 1}
        again = run(root, emu, monkeypatch, capsys, "build", "--batch")      # before the batch finished
        assert (again["pending"], again["batches"], again["collected"]) == (4, [], 0)
        assert len(emu.state.batch_store.batches) == 1
        settle(emu)
        second = run(root, emu, monkeypatch, capsys, "build", "--batch")     # collect wave 1, submit wave 2
        assert (second["collected"], second["outputs_written"], second["pending"]) == (4, 3, 1)
        assert len(second["batches"]) == 1
        assert sorted(p.name for p in (root / "out").iterdir()) == [
            "icon-blue.png", "icon-green.png", "icon-red.png"]
        settle(emu)
        third = run(root, emu, monkeypatch, capsys)                          # a plain build collects too
        assert (third["collected"], third["outputs_written"], third["pending"], third["actions_run"]) == (
            1, 1, 0, 0)
        capsys.readouterr()
        assert main(["build", str(root)]) == 0
        assert capsys.readouterr().out.startswith("nothing to do")
        edit = next(b for b in emu.state.batch_store.batches.values() if b.obj["endpoint"].endswith("edits"))
    assert emu.records == []                                  # not one synchronous image call
    assert max(submissions(emu).values()) == 1 and len(submissions(emu)) == CALLS
    [line] = edit.lines
    assert [i["image_url"][:22] for i in line["body"]["images"]] == ["data:image/png;base64,"] * 2
    assert line["body"]["input_fidelity"] == "high"
    lock = json.loads((root / "assetgen.lock").read_text())
    assert set(lock["assets"]) == {"icon-red", "icon-blue", "icon-green", "banner"}
    with Image.open(root / "out" / "banner.png") as img:
        assert img.size == (1024, 1024)
    assert not list((root / ".assetgen" / "batches").glob("*.json"))


def test_the_batch_estimate_is_exactly_half(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p")
    with run_emulator(api_key=KEY, batch_delay=60) as emu:
        sync = run(root, emu, monkeypatch, capsys, "plan")["est_cost_usd"]
        batch = run(root, emu, monkeypatch, capsys, "plan", "--batch")["est_cost_usd"]
        assert sync > 0 and batch == pytest.approx(sync / 2, abs=1e-6)     # (both rounded to 6 places)
        budget = f"{sync * 0.75:.6f}"
        capsys.readouterr()
        assert main(["build", str(root), "--max-cost", budget]) == 2
        assert "exceeds --max-cost" in capsys.readouterr().err
        assert run(root, emu, monkeypatch, capsys, "build", "--batch", "--max-cost", budget)["pending"] == 4


def test_batch_needs_the_openai_provider(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p")
    assert main(["build", str(root), "--provider", "azure", "--batch"]) == 2
    assert "--batch needs the openai provider, not azure" in capsys.readouterr().err


def test_failed_lines_are_reported_per_asset_and_submitted_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p", RECIPE.replace("A knight on a cliff", "A forbidden knight"))
    with run_emulator(api_key=KEY, batch_delay=0.2) as emu:
        run(root, emu, monkeypatch, capsys, "build", "--batch")
        settle(emu)
        second = run(root, emu, monkeypatch, capsys, "build", "--batch", code=1)
        assert second["failures"] == [{"asset": "banner", "message": (
            f"batch {emu.state.batch_store.order[0]}: filtered by the OpenAI safety system "
            "(content_policy_violation): the prompt or an input image was refused: Your request was "
            "rejected as a result of our safety system. Your prompt may contain text that is not allowed by "
            "our safety system.")}]
        assert (second["collected"], second["pending"], second["outputs_written"]) == (3, 1, 3)
        banner = [k for k, n in submissions(emu).items() if n == 2]
    assert len(banner) == 1                     # the failed line went into the next batch, once


def _held_build(root: Path, emu: EmulatorHandle) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "assetgen", "build", str(root), "--batch"], env=env(emu),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(proc: subprocess.Popen[bytes], ready: Any) -> None:
    deadline = time.monotonic() + 30
    while not ready() and time.monotonic() < deadline:
        assert proc.poll() is None, "the build ended before it could be killed"
        time.sleep(0.01)
    assert ready()


@pytest.mark.parametrize("point", ["upload", "create"])
def test_a_build_killed_between_submit_and_record_submits_nothing_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        point: str) -> None:
    """Killed while the service holds the answer to the upload (no batch yet) or to the create (the
    batch exists, the record does not know it): the next build reconciles with batches.list."""
    root = project(tmp_path / "p")
    with run_emulator(api_key=KEY, batch_delay=0.3, batch_hold=30) as emu:
        store = emu.state.batch_store
        if point == "create":
            store.hold_upload = 0.0
        proc = _held_build(root, emu)
        if point == "upload":
            _wait(proc, lambda: any(f.meta["filename"].startswith("assetgen-") for f in store.files.values()))
        else:
            _wait(proc, lambda: len(store.batches) == 1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        [record] = [json.loads(p.read_text()) for p in (root / ".assetgen" / "batches").glob("*.json")]
        assert record["state"] == "submitting" and record["batch_id"] is None
        store.hold_upload = store.hold_create = 0.0
        builds = [run(root, emu, monkeypatch, capsys, "build", "--batch")]
        while builds[-1]["pending"] or not (root / "out" / "banner.png").exists():
            assert len(builds) < 10, builds
            settle(emu)
            builds.append(run(root, emu, monkeypatch, capsys, "build", "--batch"))
        made = [b for result in builds for b in result["batches"]]
        assert len(made) == (2 if point == "upload" else 1)      # the adopted batch is not made again
        assert sum(result["collected"] for result in builds) == CALLS
    assert max(submissions(emu).values()) == 1 and len(submissions(emu)) == CALLS


@pytest.mark.parametrize("damage", ["deleted", "truncated", "garbage"])
def test_a_lost_or_damaged_batch_record_never_makes_a_call_paid_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        damage: str) -> None:
    # the batch is on the service, carrying the record's id: it is adopted again, not submitted again
    root = project(tmp_path / "p", RECIPE.split("  banner:")[0])
    with run_emulator(api_key=KEY, batch_delay=1.0) as emu:
        first = run(root, emu, monkeypatch, capsys, "build", "--batch")
        assert first["pending"] == 3 and len(first["batches"]) == 1
        [record] = (root / ".assetgen" / "batches").glob("*.json")
        if damage == "deleted":
            record.unlink()
        else:
            record.write_bytes(record.read_bytes()[:40] if damage == "truncated" else b"\x00garbage")
        again = run(root, emu, monkeypatch, capsys, "build", "--batch")
        assert (again["pending"], again["batches"]) == (3, [])
        settle(emu)
        done = run(root, emu, monkeypatch, capsys)       # a plain build: collects, calls nothing
        assert (done["collected"], done["outputs_written"], done["actions_run"]) == (3, 3, 0)
        last = run(root, emu, monkeypatch, capsys)
        assert last["requests"] == 0
    assert emu.records == []                        # not one synchronous image call
    assert max(submissions(emu).values()) == 1 and len(submissions(emu)) == 3
