"""No-op rebuild benchmark: assetgen against DVC, pydoit and Ninja, side by side in one run.

    python bench/noop_bench.py [--sizes 1000,10000] [--peers dvc,doit,ninja] [--repeat 3]

Each tool gets an equivalent project of N assets, is primed once (a full build), then timed on
a no-op rebuild (median wall time of --repeat runs, peak RSS from /usr/bin/time). assetgen's
project is one recipe with an N-value matrix on gpt-image-2 (whose free sizes take a tiny one)
at `size: 16x16`, built with the offline `local` provider, so priming
is cheap; the peers get one stage / task / edge per asset copying an input file to an output.
Also reported: assetgen's no-op without its build stamp (the full planning path: YAML, templates,
stat cache) and `assetgen plan --json` of N assets.

The peers live in their own virtualenv, created on first use:
    python3 -m venv bench/.work/peers && bench/.work/peers/bin/pip install dvc doit ninja
Work folders are kept under bench/.work/ so a second run skips priming.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
PEERS = WORK / "peers" / "bin"
PYTHON = sys.executable


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, int]:
    """(wall seconds, peak RSS in MiB) of one run: perf_counter around it, RSS from /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-o", out.name, "-f", "%M", *cmd], cwd=cwd, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed in {cwd}:\n{proc.stderr[-2000:]}")
        rss = out.read().split()[-1]
    return wall, int(rss) // 1024


def median_run(cmd: list[str], cwd: Path, repeat: int, before: object = None) -> tuple[float, int]:
    runs = []
    for _ in range(repeat):
        if callable(before):
            before()
        runs.append(timed(cmd, cwd))
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def assetgen_project(n: int) -> Path:
    root = WORK / f"assetgen-{n}"
    (root / "recipes").mkdir(parents=True, exist_ok=True)
    values = ", ".join(str(i) for i in range(n))
    text = ("version: 1\ndefaults:\n  model: gpt-image-2\n  size: 16x16\nassets:\n  a:\n"
            f"    matrix:\n      i: [{values}]\n    prompt: \"Asset {{{{ i }}}}\"\n"
            "    output: \"out/{{ name }}.png\"\n")
    recipe = root / "recipes" / "bench.yaml"
    if not recipe.is_file() or recipe.read_text() != text:
        recipe.write_text(text)
    subprocess.run([PYTHON, "-m", "assetgen", "build", "-j", "8", "--json"], cwd=root, check=True,
                   stdout=subprocess.DEVNULL)
    return root


def inputs(root: Path, n: int) -> None:
    (root / "in").mkdir(parents=True, exist_ok=True)
    (root / "out").mkdir(exist_ok=True)
    for i in range(n):
        path = root / "in" / f"{i}.txt"
        if not path.is_file():
            path.write_text(f"asset {i}\n")


def ninja_project(n: int) -> Path:
    root = WORK / f"ninja-{n}"
    inputs(root, n)
    lines = ["rule copy", "  command = cp $in $out", ""]
    lines += [f"build out/{i}.txt: copy in/{i}.txt" for i in range(n)]
    (root / "build.ninja").write_text("\n".join(lines) + "\n")
    subprocess.run([str(PEERS / "ninja")], cwd=root, check=True, stdout=subprocess.DEVNULL)
    return root


DODO = '''\
import shutil

N = {n}


def task_copy():
    for i in range(N):
        yield {{"name": str(i), "file_dep": [f"in/{{i}}.txt"], "targets": [f"out/{{i}}.txt"],
               "actions": [(shutil.copyfile, [f"in/{{i}}.txt", f"out/{{i}}.txt"])]}}
'''


def doit_project(n: int) -> Path:
    root = WORK / f"doit-{n}"
    inputs(root, n)
    (root / "dodo.py").write_text(DODO.format(n=n))
    subprocess.run([str(PEERS / "doit")], cwd=root, check=True, stdout=subprocess.DEVNULL)
    return root


def dvc_project(n: int) -> Path:
    """A primed DVC project. `dvc repro` of thousands of fresh stages rewrites dvc.lock after every
    stage (it took minutes for a few hundred here), so priming copies the files, puts the outputs
    in DVC's cache and writes the dvc.lock DVC itself would write (same schema, md5 and size per
    dep and out); one untimed
    `dvc repro` then checks it and fills DVC's state database before the timed runs."""
    root = WORK / f"dvc-{n}"
    inputs(root, n)
    if not (root / ".dvc").is_dir():
        subprocess.run([str(PEERS / "dvc"), "init", "--no-scm", "-q"], cwd=root, check=True)
    stages = {f"s{i}": {"cmd": f"cp in/{i}.txt out/{i}.txt", "deps": [f"in/{i}.txt"],
                        "outs": [f"out/{i}.txt"]} for i in range(n)}
    (root / "dvc.yaml").write_text(json.dumps({"stages": stages}, indent=1))   # JSON is YAML
    locked = {}
    for i in range(n):
        data = (root / "in" / f"{i}.txt").read_bytes()
        (root / "out" / f"{i}.txt").write_bytes(data)
        md5 = hashlib.md5(data).hexdigest()
        cached = root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(data)
        entry = {"hash": "md5", "md5": md5, "size": len(data)}
        locked[f"s{i}"] = {"cmd": f"cp in/{i}.txt out/{i}.txt", "deps": [{"path": f"in/{i}.txt", **entry}],
                           "outs": [{"path": f"out/{i}.txt", **entry}]}
    (root / "dvc.lock").write_text(json.dumps({"schema": "2.0", "stages": locked}, indent=1))
    subprocess.run([str(PEERS / "dvc"), "repro", "-q"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    return root


def ensure_peers() -> None:
    if (PEERS / "dvc").exists() and (PEERS / "doit").exists() and (PEERS / "ninja").exists():
        return
    subprocess.run([sys.executable, "-m", "venv", str(WORK / "peers")], check=True)
    subprocess.run([str(PEERS / "pip"), "install", "-q", "dvc", "doit", "ninja"], check=True)


def bench_size(n: int, peers: list[str], repeat: int) -> dict[str, tuple[float, int]]:
    figures: dict[str, tuple[float, int]] = {}
    root = assetgen_project(n)
    build = [PYTHON, "-m", "assetgen", "build", "--json"]
    figures["assetgen"] = median_run(build, root, repeat)
    stamp = root / ".assetgen" / "build-stamp.json"
    figures["assetgen (no stamp)"] = median_run(build, root, repeat, lambda: stamp.unlink(missing_ok=True))
    subprocess.run(build, cwd=root, check=True, stdout=subprocess.DEVNULL)   # restore the stamp
    figures["assetgen plan"] = median_run([PYTHON, "-m", "assetgen", "plan", "--json"], root, repeat)
    makers = {"ninja": (ninja_project, ["ninja"]), "doit": (doit_project, ["doit"]),
              "dvc": (dvc_project, ["dvc", "repro", "-q"])}
    for name in peers:
        make, cmd = makers[name]
        where = make(n)
        figures[name] = median_run([str(PEERS / cmd[0]), *cmd[1:]], where, 1 if name == "dvc" else repeat)
    return figures


def report(n: int, figures: dict[str, tuple[float, int]]) -> None:
    base = figures["assetgen"][0]
    print(f"\nno-op rebuild of {n:,} assets (median wall time, peak RSS)")
    for name, (wall, rss) in figures.items():
        ratio = f"{wall / base:8.1f}x assetgen" if name != "assetgen" and base > 0 else ""
        print(f"  {name:<22} {wall:8.3f} s  {rss:6d} MiB  {ratio}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--peers", default="ninja,doit,dvc")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    if peers:
        ensure_peers()
    WORK.mkdir(parents=True, exist_ok=True)
    results = {}
    for n in (int(s) for s in args.sizes.split(",")):
        figures = bench_size(n, peers, args.repeat)
        report(n, figures)
        results[n] = figures
    (WORK / "noop_results.json").write_text(json.dumps(results, indent=1))
    print(f"\nmachine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}; "
          f"figures in {WORK / 'noop_results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
