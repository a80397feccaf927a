"""Batch benchmark: N image calls through OpenAI's Batch API against synchronous calls at R RPM,
both against the emulator, both through the `assetgen` command as a user runs it.

- `sync`: `assetgen build --provider openai` with the emulator and the project at `--rpm R`.
- `batch`: `assetgen build --batch` (submit, exit), then `assetgen build` every 2 s until nothing is
  pending; the emulator completes a batch `--batch-delay` seconds after its creation.
For each: wall time, HTTP requests (`build --json`'s `requests`, summed), and the estimated cost
(`plan --json`, `plan --batch --json`): the batch estimate is exactly half.

`--kills K` instead runs the crash check: K `build --batch` processes SIGKILLed at random moments
(the emulator answers uploads and creates `--hold` seconds late, so kills land between the submission
and its record as well as everywhere else), then builds until nothing is pending, and counts how
often the emulator was given each call: every call must have been submitted exactly once.

    .venv/bin/python bench/batch_bench.py [--calls 500] [--rpm 60] [--batch-delay 5]
    .venv/bin/python bench/batch_bench.py --kills 20 [--calls 60] [--hold 0.3] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from assetgen.emulator.testing import EmulatorHandle, run_emulator

KEY = "bench-key"
MODEL = "gpt-image-1.5"


def project(root: Path, calls: int, rpm: int, chain: bool = False) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "assetgen.yaml").write_text(
        f"provider: openai\nproviders:\n  openai:\n    rpm: {{{MODEL}: {rpm}}}\n")
    if chain:       # half the calls in generate -> edit chains: the edits go in a second wave
        body = ("    steps:\n      - generate: \"Tile number {{ i }}\"\n      - edit: \"Add a border\"\n")
        count = calls // 2
    else:
        body = "    prompt: \"Tile number {{ i }}\"\n"
        count = calls
    (root / "recipes" / "tiles.yaml").write_text(
        f"version: 1\ndefaults: {{model: {MODEL}, size: 1024x1024, quality: low}}\nassets:\n  tile:\n"
        f"    matrix: {{i: [{', '.join(str(i) for i in range(count))}]}}\n{body}"
        "    output: \"out/{{ name }}.png\"\n")
    return root


def assetgen(root: Path, emu: EmulatorHandle, *args: str) -> tuple[int, dict[str, Any]]:
    env = {**os.environ, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{emu.url}/v1"}
    done = subprocess.run([sys.executable, "-m", "assetgen", *args, str(root), "--json"], env=env,
                          capture_output=True, text=True, check=False)
    try:
        return done.returncode, json.loads(done.stdout)
    except json.JSONDecodeError:
        said = done.stderr[-2000:]
        raise SystemExit(f"assetgen {' '.join(args)} exited {done.returncode}: {said}") from None


def estimates(root: Path, emu: EmulatorHandle) -> tuple[float, float]:
    sync = assetgen(root, emu, "plan")[1]["est_cost_usd"]
    return sync, assetgen(root, emu, "plan", "--batch")[1]["est_cost_usd"]


def run_sync(calls: int, rpm: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, run_emulator(api_key=KEY, rpm=rpm) as emu:
        root = project(Path(tmp), calls, rpm)
        cost, _ = estimates(root, emu)
        start = time.monotonic()
        code, out = assetgen(root, emu, "build")
        wall = time.monotonic() - start
        assert code == 0 and out["actions_run"] == calls, out
        return {"wall_s": round(wall, 1), "requests": out["requests"], "est_cost_usd": cost,
                "http_429": emu.stats()["throttled"]}


def run_batch(calls: int, delay: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, run_emulator(api_key=KEY, batch_delay=delay) as emu:
        root = project(Path(tmp), calls, 60)
        sync_cost, batch_cost = estimates(root, emu)
        start = time.monotonic()
        code, out = assetgen(root, emu, "build", "--batch")
        submit = time.monotonic() - start
        assert code == 0 and out["pending"] == calls, out
        requests, builds = out["requests"], 1
        while out["pending"]:
            time.sleep(2)
            code, out = assetgen(root, emu, "build")
            requests += out["requests"]
            builds += 1
        wall = time.monotonic() - start
        written = len(list((root / "out").glob("*.png")))
        assert written == calls and not emu.records, (written, len(emu.records))
        return {"wall_s": round(wall, 1), "submit_s": round(submit, 1), "builds": builds,
                "requests": requests, "est_cost_usd": batch_cost, "sync_estimate_usd": sync_cost,
                "exactly_half": batch_cost == sync_cost / 2}


def run_kills(kills: int, calls: int, hold: float, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp, run_emulator(api_key=KEY, batch_delay=0.5,
                                                              batch_hold=hold) as emu:
        root = project(Path(tmp), calls, 6000, chain=True)
        env = {**os.environ, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{emu.url}/v1"}
        finished = 0
        for _ in range(kills):
            proc = subprocess.Popen([sys.executable, "-m", "assetgen", "build", str(root), "--batch"],
                                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.3, 2.5))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            else:
                finished += 1
            proc.wait()
        emu.state.batch_store.hold_upload = emu.state.batch_store.hold_create = 0.0
        builds = 0
        while True:
            code, out = assetgen(root, emu, "build", "--batch")
            builds += 1
            if not out.get("pending") and code == 0 and len(list((root / "out").glob("*.png"))) == calls // 2:
                break
            time.sleep(0.6)
            assert builds < 60, out
        seen = Counter(emu.state.batch_store.submitted_custom_ids())
    return {"kills": kills - finished, "runs_that_finished_before_the_kill": finished, "calls": calls,
            "batches": len(emu.state.batch_store.batches), "calls_submitted": len(seen),
            "submitted_twice": sum(1 for n in seen.values() if n > 1), "builds_to_finish": builds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rpm", type=int, default=60)
    parser.add_argument("--batch-delay", type=float, default=5.0)
    parser.add_argument("--kills", type=int, default=0)
    parser.add_argument("--hold", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=["sync", "batch"])
    args = parser.parse_args()
    if args.kills:
        print(json.dumps(run_kills(args.kills, args.calls, args.hold, args.seed)))
        return
    if args.only != "sync":
        print(json.dumps({"batch": run_batch(args.calls, args.batch_delay)}), flush=True)
    if args.only != "batch":
        print(json.dumps({"sync": run_sync(args.calls, args.rpm)}), flush=True)


if __name__ == "__main__":
    main()
