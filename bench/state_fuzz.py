"""Damaged state files against a paid build: the figures for "no state file can cause a paid call".

    python bench/state_fuzz.py [--trials 500] [--first-seed 0]

Builds a project once with `--provider azure` against the in-process emulator, then for each
seed damages one state file (`assetgen.lock`, `.assetgen/stat-cache.json`, the build stamp, the
lint and plan caches, an action record or a cached image: a random byte, a hex digit, a truncation
or emptied), lints, plans and builds twice and counts paid requests (the emulator's own stats),
crashes (exit 3), outputs that are no longer the paid images (bytes compared, and decoded) and lint
(or, after damage to the plan cache, plan) output that is not the undamaged project's. The trial
logic is `tests/statefuzz.py`, which the test suite runs at 50 seeds; the same seeds give the same
digest.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import statefuzz  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="state-fuzz-") as tmp:
        figures = statefuzz.run(range(args.first_seed, args.first_seed + args.trials), Path(tmp))
    took = time.monotonic() - started
    print(figures.report())
    by_target: Counter[tuple[str, int]] = Counter(
        (statefuzz.kind(t.target), t.codes[0]) for t in figures.trials)
    for (kind, code), n in sorted(by_target.items()):
        print(f"  {kind:<18} exit {code}: {n}")
    for t in figures.trials:
        if t.requests or 3 in t.codes or t.wrong:
            print(f"  FAILED seed {t.seed}: {t.target} ({t.damage}) exits {t.codes}, "
                  f"{t.requests} requests, wrong {list(t.wrong)}")
    last = args.first_seed + args.trials - 1
    print(f"seeds {args.first_seed}..{last}, digest {statefuzz.digest(figures)}, "
          f"{took:.0f} s ({took / max(1, len(figures.trials)):.2f} s a trial)")
    bad = figures.requests or figures.crashes or figures.wrong
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
