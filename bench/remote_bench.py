"""Remote cache benchmark: a fresh clone of a 1,000-asset project restored from a remote cache on
Azurite, against a clone with its outputs committed (time, API requests).

A write-mode build against the emulator fills the remote (Azurite, started here on loopback from
.ci/node or $PATH); then, each in a new copy with no .assetgen/:
  committed  the lock and every output, no remote cache
  remote     the lock, no outputs, the remote cache in read mode
Each is the CLI in its own process (`python -m assetgen build --json`), the median of --runs.

    .venv/bin/python bench/remote_bench.py [--assets 1000] [--runs 3]

Targets (issue 14): remote: 0 API requests, <= 3x the committed time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from object_stores import run_azurite  # noqa: E402

from assetgen.emulator.testing import run_emulator  # noqa: E402

KEY = "bench-key"
CONTAINER = "bench"


def recipe(count: int) -> str:
    values = ", ".join(str(i) for i in range(count))
    return ("version: 1\ndefaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}\nassets:\n"
            f"  icon:\n    matrix:\n      i: [{values}]\n"
            '    prompt: "Icon {{ i }}"\n    output: "out/{{ name }}.png"\n')


def build(root: Path, env: dict[str, str]) -> tuple[float, dict]:
    start = time.perf_counter()
    argv = [sys.executable, "-m", "assetgen", "build", "--json", "-j", "16"]
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"build failed ({done.returncode}) in {root}:\n{done.stderr[-2000:]}")
    return wall, json.loads(done.stdout)


def clone(src: Path, dst: Path, outputs: bool) -> Path:
    skip = (".assetgen",) if outputs else (".assetgen", "out")
    return Path(shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*skip)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=1000, help="assets (one call and one output each)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each restore (default 3; median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name, run_emulator(api_key=KEY) as emu:
        tmp = Path(tmp_name)
        with run_azurite(tmp / "azurite") as azurite:
            azurite.container(CONTAINER)
            base = {k: v for k, v in os.environ.items() if not k.startswith(("ASSETGEN_", "AZURE_"))}
            base.update(AZURE_OPENAI_ENDPOINT=emu.url, AZURE_OPENAI_API_KEY=KEY)
            remote = dict(base, ASSETGEN_REMOTE_CACHE=f"az://{CONTAINER}/bench",
                          AZURE_STORAGE_CONNECTION_STRING=azurite.connection_string)
            main_tree = tmp / "main"
            (main_tree / "recipes").mkdir(parents=True)
            (main_tree / "recipes" / "icons.yaml").write_text(recipe(args.assets))
            (main_tree / "assetgen.yaml").write_text('recipes: ["recipes/*.yaml"]\nprovider: azure\n'
                                                     "providers: {azure: {rpm: {gpt-image-1.5: 100000}}}\n")
            fill, report = build(main_tree, dict(remote, ASSETGEN_REMOTE_CACHE_MODE="write"))
            print(f"fill (write mode): {fill:.1f} s, {report['actions_run']} calls, "
                  f"{report['remote_uploads']} blobs uploaded")
            rows = []
            cases = (("committed outputs", base, True), ("remote cache (Azurite)", remote, False))
            for name, env, outputs in cases:
                walls, requests, hits, written = [], [], [], []
                for run in range(args.runs):
                    before = len(emu.records)
                    wall, rep = build(clone(main_tree, tmp / f"{name[:6]}-{run}", outputs), env)
                    walls.append(wall)
                    requests.append(len(emu.records) - before)
                    hits.append(rep.get("remote_hits", 0))
                    written.append(rep["outputs_written"])
                rows.append((name, statistics.median(walls), max(requests), max(hits), max(written)))
    committed = rows[0][1]
    print(f"{args.assets} assets, fresh clone without .assetgen/, median of {args.runs}:")
    print(f"{'clone':<24} {'wall s':>7} {'x committed':>11} {'API requests':>12} {'remote hits':>11} "
          f"{'outputs written':>15}")
    for name, wall, requests, hits, written in rows:
        print(f"{name:<24} {wall:7.2f} {wall / committed:11.2f} {requests:12d} {hits:11d} {written:15d}")


if __name__ == "__main__":
    main()
