"""Ctrl-C during a build against the emulator under a tight quota: the first one sends nothing more,
waits only for requests on the wire and saves them; the second one exits at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from assetgen.emulator.testing import EmulatorHandle, run_emulator

KEY = "interrupt-test-key-4711"
PROJECT = """\
provider: azure
providers:
  azure:
    rpm: {{gpt-image-1.5: {rpm}}}
"""
RECIPE = """\
version: 1
defaults: {{model: gpt-image-1.5, size: 1024x1024, quality: low}}
assets:
  tile:
    matrix:
      i: [{numbers}]
    prompt: "Tile number {{{{ i }}}}"
    output: "out/{{{{ name }}}}.png"
"""
TOKENS = 272            # output tokens of a low 1024x1024 gpt-image-1.5 image: the emulator's latency unit


def project(root: Path, assets: int, rpm: int) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "assetgen.yaml").write_text(PROJECT.format(rpm=rpm))
    numbers = ", ".join(str(i) for i in range(assets))
    (root / "recipes" / "tiles.yaml").write_text(RECIPE.format(numbers=numbers))
    return root


def start(root: Path, emu: EmulatorHandle) -> subprocess.Popen[str]:
    env = {**os.environ, "AZURE_OPENAI_ENDPOINT": emu.url, "AZURE_OPENAI_API_KEY": KEY}
    return subprocess.Popen([sys.executable, "-m", "assetgen", "build", str(root), "--json", "-j", "8"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for_records(emu: EmulatorHandle, proc: subprocess.Popen[str], count: int) -> None:
    deadline = time.monotonic() + 60
    while len(emu.records) < count and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert len(emu.records) >= count and proc.poll() is None, "the build ended before it was interrupted"


def cached_calls(root: Path) -> int:
    folder = root / ".assetgen" / "cache" / "actions"
    return sum(1 for p in folder.glob("*.json") if json.loads(p.read_text())["op"] != "render")


def test_first_ctrl_c_sends_nothing_that_waits_for_quota_and_exits_at_once(tmp_path: Path) -> None:
    root = project(tmp_path, assets=6, rpm=6)        # one request every 10 s: 50 s for the other five
    with run_emulator(api_key=KEY) as emu:
        proc = start(root, emu)
        wait_for_records(emu, proc, 1)
        signalled = time.time()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        took = time.time() - signalled
        records = emu.records
    assert proc.returncode == 130, err
    assert took < 20, f"the first Ctrl-C waited {took:.1f} s"
    assert [(r.status, r.time <= signalled) for r in records] == [(200, True)]
    assert cached_calls(root) == 1
    summary = json.loads(out)
    assert (summary["actions_run"], summary["requests"], summary["failures"]) == (1, 1, [])
    assert err == "interrupted: 10 actions not started; run the build again to finish them\n"


def test_first_ctrl_c_waits_for_the_request_on_the_wire_and_saves_it(tmp_path: Path) -> None:
    # One request every 3 s, each taking 4.5 s: when the first is answered the second is on the
    # wire and the third waits for its slot.
    root = project(tmp_path, assets=4, rpm=20)
    with run_emulator(api_key=KEY, latency=4.5 * 1000 / TOKENS) as emu:
        proc = start(root, emu)
        wait_for_records(emu, proc, 1)
        signalled = time.time()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        records = emu.records
    assert proc.returncode == 130, err
    assert [r.status for r in records] == [200, 200]
    assert records[1].time > signalled          # answered after the Ctrl-C, and kept
    assert cached_calls(root) == 2
    summary = json.loads(out)
    assert (summary["actions_run"], summary["requests"]) == (2, 2)
    assert err == "interrupted: 4 actions not started; run the build again to finish them\n"


def test_second_ctrl_c_exits_without_waiting_for_the_wire(tmp_path: Path) -> None:
    root = project(tmp_path, assets=3, rpm=60)
    with run_emulator(api_key=KEY, latency=3.0 * 1000 / TOKENS) as emu:   # each request takes 3 s
        proc = start(root, emu)
        wait_for_records(emu, proc, 1)          # the second request is on the wire
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
        answered = len(emu.records)
    assert proc.returncode == 130
    assert answered == 1                        # it left before the request on the wire was answered
