"""Everyday commands at scale: assetgen beside Ninja, pydoit and DVC, side by side in one run.

    .venv/bin/pip install -e '.[bench]'      # Ninja, pydoit and DVC, in the same virtualenv
    .venv/bin/python bench/scale_bench.py [--sizes 1000,10000] [--first-build 50000]
                                          [--layouts matrix,files] [--peers ninja,doit,dvc]
                                          [--repeat 3]

assetgen builds N assets, one output each, with the offline `local` provider (`size: 16x16` on
gpt-image-2, whose free sizes take it, so drawing is cheap) in two layouts: `matrix`, one
recipe with an N-value matrix, and `files`, one recipe file per asset (in folders of 1,000). Each tool gets an
equivalent project (one Ninja edge, pydoit task or DVC stage copying an input file per asset).
Figures per tool and size:

- first build: from nothing (wall time, CPU time in brackets, peak RSS);
- no-op: a rebuild with nothing changed;
- one change: change ONE asset (a prompt in one recipe file; one matrix value; one peer input),
  then rebuild;
- `plan` and `lint` after one change (assetgen only; warm: the recipe cache holds the rest);
- full path: a rebuild after the lock file was replaced by one of the same text, as a pull that
  brings it does (assetgen only): the stamp misses, so the whole project is loaded (from the
  recipe cache), planned, resolved (all cached) and its lock read whole;
- after a pull: one change after that, then a rebuild (assetgen only): the first small build on
  a lock file this checkout's assetgen did not write.

Each figure is the median wall time of --repeat runs, with the median CPU time (user + system, of
the command and every process it started, worker processes included) in brackets and the peak
RSS of the command's own process. The machine may be busy with other work: the tools run one
after another in the same run, so their ratios are fair even when the absolute times are noisy,
and the CPU time does not count the time spent waiting for the machine; the load average is
printed with the table. Projects are kept under bench/.work/scale/ between runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "scale"
BIN = Path(sys.executable).parent
PYTHON = sys.executable
PROJECT = "version: 1\nprovider: local\nrecipes: ['recipes/**/*.yaml']\ndefaults:\n  model: gpt-image-2\n" \
          "  size: 16x16\n"

Figure = tuple[float, int, float]     # wall seconds, peak RSS MiB, CPU seconds (user + system)
# Every tool runs as installed: Python keeps its bytecode (pip compiles the peers' on install; an
# editable assetgen writes its own on first use), whatever PYTHONDONTWRITEBYTECODE says here.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _subreaper() -> None:
    """Orphans of the commands timed here (a forkserver and its worker processes outlive nothing,
    but are not waited for by the command) become this process's children, so their CPU time is
    counted (Linux; elsewhere only what the command waited for is)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)     # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def timed(cmd: list[str], cwd: Path) -> Figure:
    """(wall, peak RSS of the command's own process, CPU of it and of every process it started)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, own = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    while True:              # the orphans it left (a forkserver, worker processes): counted, then gone
        try:
            os.wait()
        except ChildProcessError:
            break
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} failed in {cwd}:\n{err[-2000:]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, own.ru_maxrss // 1024, cpu


def median(runs: list[Figure]) -> Figure:
    return (statistics.median(r[0] for r in runs), max(r[1] for r in runs),
            statistics.median(r[2] for r in runs))


# -- projects -----------------------------------------------------------------------------

def assetgen_project(layout: str, n: int) -> Path:
    root = WORK / f"assetgen-{layout}-{n}"
    shutil.rmtree(root, ignore_errors=True)
    (root / "recipes").mkdir(parents=True)
    (root / "assetgen.yaml").write_text(PROJECT)
    if layout == "matrix":      # a recipe file makes at most 10,000 variants: more take more files
        for part, first in enumerate(range(0, n, 10_000)):
            values = ", ".join(str(i) for i in range(first, min(n, first + 10_000)))
            (root / "recipes" / ("bench.yaml" if part == 0 else f"bench{part}.yaml")).write_text(
                f"version: 1\nassets:\n  a{part or ''}:\n    matrix:\n      i: [{values}]\n"
                "    prompt: \"Asset {{ i }}\"\n    output: \"out/{{ name }}.png\"\n")
    else:
        for i in range(n):
            folder = root / "recipes" / f"{i // 1000:03d}"
            folder.mkdir(exist_ok=True)
            (folder / f"a{i}.yaml").write_text(
                f"version: 1\nassets:\n  a{i}:\n    prompt: \"Asset {i}\"\n    output: \"out/a{i}.png\"\n")
    return root


class Change:
    """Change one asset, a different way each time (so every run has a change to build)."""

    def __init__(self, root: Path, layout: str, n: int) -> None:
        self.count = 0
        if layout == "matrix":
            self.file = root / "recipes" / "bench.yaml"
            self.old = f", {n // 2}, "
        else:
            i = n // 2
            self.file = root / "recipes" / f"{i // 1000:03d}" / f"a{i}.yaml"
            self.old = f"Asset {i}\""

    def __call__(self) -> None:
        self.count += 1
        text = self.file.read_text()
        new = self.old.replace(", ", f", c{self.count}x", 1) if self.old.startswith(",") \
            else self.old.replace("\"", f" v{self.count}\"")
        self.file.write_text(text.replace(self.old, new, 1))
        self.old = new


def inputs(root: Path, n: int) -> None:
    (root / "in").mkdir(parents=True, exist_ok=True)
    (root / "out").mkdir(exist_ok=True)
    for i in range(n):
        (root / "in" / f"{i}.txt").write_text(f"asset {i}\n")


DODO = '''\
import shutil

N = {n}


def task_copy():
    for i in range(N):
        yield {{"name": str(i), "file_dep": [f"in/{{i}}.txt"], "targets": [f"out/{{i}}.txt"],
               "actions": [(shutil.copyfile, [f"in/{{i}}.txt", f"out/{{i}}.txt"])]}}
'''


def peer_project(name: str, n: int) -> tuple[Path, list[str]]:
    root = WORK / f"{name}-{n}"
    shutil.rmtree(root, ignore_errors=True)
    inputs(root, n)
    if name == "ninja":
        lines = ["rule copy", "  command = cp $in $out", ""]
        lines += [f"build out/{i}.txt: copy in/{i}.txt" for i in range(n)]
        (root / "build.ninja").write_text("\n".join(lines) + "\n")
        return root, [str(BIN / "ninja")]
    if name == "doit":
        (root / "dodo.py").write_text(DODO.format(n=n))
        return root, [str(BIN / "doit")]
    subprocess.run([str(BIN / "dvc"), "init", "--no-scm", "-q"], cwd=root, check=True)
    stages = {f"s{i}": {"cmd": f"cp in/{i}.txt out/{i}.txt", "deps": [f"in/{i}.txt"],
                        "outs": [f"out/{i}.txt"]} for i in range(n)}
    (root / "dvc.yaml").write_text(json.dumps({"stages": stages}, indent=1))   # JSON is YAML
    # `dvc repro` of thousands of fresh stages rewrites dvc.lock after each one (many minutes), so
    # its first build is not timed: the outputs, DVC's cache and the dvc.lock DVC itself would
    # write are made here, and one untimed `dvc repro` checks them and fills its state database.
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
    return root, [str(BIN / "dvc"), "repro", "-q"]


# -- measuring ----------------------------------------------------------------------------

def pulled(root: Path) -> None:
    """The lock file as a pull that brings it leaves it: the same text, in a new file."""
    lock = root / "assetgen.lock"
    data = lock.read_bytes()
    lock.unlink()
    lock.write_bytes(data)


def measure_assetgen(layout: str, n: int, repeat: int, first_only: bool = False) -> dict[str, Figure]:
    root = assetgen_project(layout, n)
    build = [PYTHON, "-m", "assetgen", "build", "-j", "8", "--json"]
    figures = {"first build": timed(build, root)}
    change = Change(root, layout, n)
    if first_only:
        return {**figures, **full_path(root, build, 1, change)}
    figures["no-op"] = median([timed(build, root) for _ in range(repeat)])
    runs = []
    for _ in range(repeat):
        change()
        runs.append(timed(build, root))
    figures["one change"] = median(runs)
    for command in ("plan", "lint"):
        runs = []
        for _ in range(repeat):
            change()
            runs.append(timed([PYTHON, "-m", "assetgen", command, *(["--json"] if command == "plan" else [])],
                              root))
        figures[command] = median(runs)
    timed(build, root)      # the changes `plan` and `lint` saw, built
    return {**figures, **full_path(root, build, repeat, change)}


def full_path(root: Path, build: list[str], repeat: int, change: Change) -> dict[str, Figure]:
    """Rebuilds after a pull brought the lock file, and the small build after each (measured last,
    so that no other figure follows a pulled lock)."""
    full, after = [], []
    for _ in range(repeat):
        pulled(root)
        full.append(timed(build, root))
        change()
        after.append(timed(build, root))
    return {"full path": median(full), "after a pull": median(after)}


def measure_peer(name: str, n: int, repeat: int) -> dict[str, Figure]:
    if name == "dvc" and n > 1000:
        return {}
    root, cmd = peer_project(name, n)
    figures = {} if name == "dvc" else {"first build": timed(cmd, root)}
    if name == "dvc":
        timed(cmd, root)
    figures["no-op"] = median([timed(cmd, root) for _ in range(repeat)])
    runs = []
    for k in range(repeat):
        (root / "in" / f"{n // 2}.txt").write_text(f"asset {n // 2} changed {k}\n")
        runs.append(timed(cmd, root))
    figures["one change"] = median(runs)
    return figures


ROWS = ("one change", "no-op", "plan", "lint", "full path", "after a pull", "first build")


def show(value: Figure | None, base: float | None = None, rss: bool = True) -> str:
    if value is None:
        return "—"
    wall, mib, cpu = value
    text = f"{wall:.2f} s" if wall >= 0.1 else f"{wall:.3f} s"
    text += f" (cpu {cpu:.2f})"
    if rss:
        text += f", {mib} MiB"
    if base:
        text += f" ({wall / base:.1f}x)"
    return text


def table(n: int, results: dict[str, dict[str, Figure]], columns: list[str]) -> str:
    head = f"| work, {n:,} assets | " + " | ".join(columns) + " |"
    lines = [head, "|---" * (len(columns) + 1) + "|"]
    for row in ROWS:
        cells = []
        for col in columns:
            value = results.get(col, {}).get(row)
            cells.append(show(value, rss=row in ("one change", "full path", "after a pull", "first build")))
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratios(n: int, results: dict[str, dict[str, Figure]]) -> list[str]:
    out = []
    doit = results.get("pydoit", {}).get("one change")
    for layout in ("matrix", "files"):
        mine = results.get(f"assetgen {layout}", {})
        if "one change" not in mine:
            continue
        change, noop = mine["one change"], mine["no-op"]
        line = (f"{n:,} {layout}: one change = {change[0] / noop[0]:.1f}x the no-op "
                f"(cpu {change[2] / noop[2]:.1f}x)")
        if doit:
            line += f", {change[0] / doit[0]:.1f}x pydoit's one change (cpu {change[2] / doit[2]:.1f}x)"
        out.append(line)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--first-build", default="",
                        help="sizes measured for the first build only, e.g. 50000")
    parser.add_argument("--layouts", default="matrix,files")
    parser.add_argument("--peers", default="ninja,doit,dvc")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    layouts = [x for x in args.layouts.split(",") if x]
    peers = [p for p in args.peers.split(",") if p]
    missing = [p for p in peers if not (BIN / p).exists()]
    if missing:
        print(f"missing {', '.join(missing)} in {BIN}: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    WORK.mkdir(parents=True, exist_ok=True)
    _subreaper()
    names = {"ninja": "Ninja", "doit": "pydoit", "dvc": "DVC"}
    every: dict[int, dict[str, dict[str, Figure]]] = {}
    for n in (int(s) for s in args.sizes.split(",") if s):
        results: dict[str, dict[str, Figure]] = {}
        for layout in layouts:
            results[f"assetgen {layout}"] = measure_assetgen(layout, n, args.repeat)
        for peer in peers:
            results[names[peer]] = measure_peer(peer, n, args.repeat)
        every[n] = results
        columns = [f"assetgen {x}" for x in layouts] + [names[p] for p in peers]
        print(f"\n{table(n, results, columns)}\n")
        print("\n".join(ratios(n, results)))
    sizes = sorted(every)
    if len(sizes) >= 2:
        small, big = sizes[0], sizes[-1]
        for layout in layouts:
            a = every[small][f"assetgen {layout}"]["one change"]
            b = every[big][f"assetgen {layout}"]["one change"]
            print(f"one change, {layout}: {big:,} vs {small:,} assets: {b[0] / a[0]:.1f}x "
                  f"(cpu {b[2] / a[2]:.1f}x)")
    for n in (int(s) for s in args.first_build.split(",") if s):
        for layout in layouts:
            figs = measure_assetgen(layout, n, 1, first_only=True)
            for row in ("first build", "full path", "after a pull"):
                print(f"{row}, {n:,} assets, {layout}: {show(figs[row])}")
            every.setdefault(n, {})[f"assetgen {layout}"] = figs
            for small in sizes:     # the first build's peak memory against a smaller project's
                base = every[small].get(f"assetgen {layout}", {}).get("first build")
                if base is not None and small < n:
                    print(f"first build peak RSS, {layout}: {n:,} vs {small:,} assets: "
                          f"{figs['first build'][1] / base[1]:.2f}x")
    load = os.getloadavg()
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}, "
          f"python {sys.version.split()[0]}")
    (WORK / "results.json").write_text(json.dumps({str(k): v for k, v in every.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
