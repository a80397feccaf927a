"""Random damage to state files, replayed against a paid build (the emulator as Azure).

A project is built once with `--provider azure` against the emulator (and again after touching its
recipe, which writes the variant cache). Each trial copies it, then damages one state file, chosen
and damaged by a seeded random generator: the lock file, the stat cache, the build stamp and index,
the recipe, variant, lint and plan caches, an action record or a cached image; a byte set to a
random value, one hex digit changed, the file cut short, or emptied. Then it lints, plans and
builds twice (the recipe touched on every other trial, so the build stamp does not short-circuit
the plan) and checks what must hold:

- no request reaches the emulator (a damaged state file costs time, never money);
- no build, lint or plan exits 3 (a crash);
- every output is still the image the paid build wrote, byte for byte, and decodes;
- lint prints what it prints for the undamaged project, and so does plan when the damage was to
  the plan cache.

`tests/test_state_fuzz.py` runs a few dozen trials; `bench/state_fuzz.py` runs more and prints figures.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import random
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from assetgen.cli import main
from assetgen.emulator.testing import EmulatorHandle, run_emulator

KEY = "state-fuzz-key"
PROJECT = """\
provider: azure
providers:
  azure:
    rpm: {gpt-image-1: 60000}
"""
RECIPE = """\
version: 1
defaults: {model: gpt-image-1, size: 1024x1024, quality: low}
assets:
  room:
    matrix: {i: [0, 1]}
    steps:
      - generate: "A castle room {{ i }}"
      - edit: "Add a dragon"
        mask: masks/left.png
    outputs:
      - path: "out/{{ name }}.png"
      - path: "out/{{ name }}.jpg"
        quality: 80
      - path: "out/{{ name }}-small.webp"
        resize: 64x64
  gem:
    prompt: "A gem"
    output_format: jpeg
    outputs:
      - path: out/gem.webp
        quality: 70
"""
DAMAGES = ("byte", "hex digit", "truncate", "empty")
_REFERENCE: dict[Path, tuple[tuple[int, str], tuple[int, str]]] = {}     # the built project's lint and plan


@dataclass(frozen=True)
class Trial:
    seed: int
    target: str         # project-relative path of the damaged file
    damage: str
    touched: bool       # the recipe was touched (past the build stamp)
    codes: tuple[int, ...]      # the two builds', then lint's and plan's
    requests: int
    # outputs that are not the paid image any more; "lint" (or "plan", when the plan cache was
    # damaged) when its output is not the undamaged project's
    wrong: tuple[str, ...]


@dataclass
class Figures:
    trials: list[Trial] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(t.requests for t in self.trials)

    @property
    def crashes(self) -> int:
        return sum(1 for t in self.trials if 3 in t.codes)

    @property
    def wrong(self) -> int:
        return sum(1 for t in self.trials if t.wrong)

    def exits(self) -> Counter[int]:
        return Counter(t.codes[0] for t in self.trials)

    def by_file(self) -> Counter[str]:
        return Counter(kind(t.target) for t in self.trials)

    def report(self) -> str:
        exits = ", ".join(f"{code}: {n}" for code, n in sorted(self.exits().items()))
        files = ", ".join(f"{kind} {n}" for kind, n in sorted(self.by_file().items()))
        damages = Counter(t.damage for t in self.trials)
        how = ", ".join(f"{d} {damages[d]}" for d in DAMAGES)
        return (f"{len(self.trials)} damaged state files ({files}; {how}): {self.requests} paid requests, "
                f"{self.crashes} crashes (exit 3), {self.wrong} with a wrong image shipped; "
                f"first build exit codes {exits}")


def kind(target: str) -> str:
    if target.startswith(".assetgen/cache/objects/"):
        return "image"
    if target.startswith(".assetgen/cache/actions/"):
        return "record"
    return Path(target).name


@contextlib.contextmanager
def paid_project(base: Path) -> Iterator[tuple[Path, EmulatorHandle]]:
    """The emulator (as Azure, via the environment) and a project built against it."""
    root = base / "built"
    (root / "recipes").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "assetgen.yaml").write_text(PROJECT)
    (root / "recipes" / "r.yaml").write_text(RECIPE)
    mask = Image.new("RGBA", (1024, 1024), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 512, 1024))
    mask.save(root / "masks" / "left.png")
    saved = {k: os.environ.get(k) for k in ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY")}
    with run_emulator(api_key=KEY) as emu:
        os.environ["AZURE_OPENAI_ENDPOINT"] = emu.url
        os.environ["AZURE_OPENAI_API_KEY"] = KEY
        try:
            code, _ = _build(root)
            if code != 0 or emu.stats()["requests"] != 5:
                raise RuntimeError(f"the paid build failed: exit {code}, {emu.stats()}")
            _touch(root / "recipes" / "r.yaml")     # a build after a change: the variant cache too
            code, _ = _build(root)
            cached = (root / ".assetgen" / "variant-cache.json").is_file()
            if code != 0 or emu.stats()["requests"] != 5 or not cached:
                raise RuntimeError(f"the rebuild failed: exit {code}, {emu.stats()}")
            _lint(root)     # the lint cache
            _touch(root / "recipes" / "r.yaml")
            _lint(root)     # and its changes file (the recipe's new stat)
            time.sleep(0.1)     # past the time a stat that recent is not trusted
            _plan(root)     # the plan cache (the recipe changed since the build: the full plan)
            _touch(root / "recipes" / "r.yaml")
            time.sleep(0.1)
            _plan(root)     # and its changes file
            _REFERENCE[root] = (_lint(root), _plan(root))
            yield root, emu
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _build(root: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["build", str(root), "--provider", "azure", "--json"])
    return code, err.getvalue()


def _lint(root: Path) -> tuple[int, str]:
    return _main(root, ["lint"])


def _plan(root: Path) -> tuple[int, str]:
    return _main(root, ["plan", "--provider", "azure", "--json"])


def _main(root: Path, argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    cwd = Path.cwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = main(argv)
    finally:
        os.chdir(cwd)
    return code, out.getvalue()


def state_files(root: Path) -> list[str]:
    state = root / ".assetgen"
    found = ["assetgen.lock"]
    found += sorted(p.relative_to(root).as_posix() for p in state.rglob("*")
                    if p.is_file() and not p.name.endswith(".lock") and "previews" not in p.parts)
    return found


def damage(rng: random.Random, path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "empty" or not data:
        path.write_bytes(b"")
    elif how == "truncate":
        path.write_bytes(data[:rng.randrange(len(data))])
    elif how == "byte":
        at = rng.randrange(len(data))
        path.write_bytes(data[:at] + bytes([(data[at] + rng.randrange(1, 256)) % 256]) + data[at + 1:])
    else:
        digits = [m.start() for m in re.finditer(rb"[0-9a-f]", data)]
        if not digits:
            return damage(rng, path, "byte")
        at = rng.choice(digits)
        new = rng.choice([c for c in b"0123456789abcdef" if c != data[at]])
        path.write_bytes(data[:at] + bytes([new]) + data[at + 1:])


def _touch(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def outputs(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "out").iterdir())}


def decodes(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    except Exception:  # noqa: BLE001 - any failure to decode is a wrong image
        return False
    return True


def trial(seed: int, built: Path, emu: EmulatorHandle, work: Path) -> Trial:
    rng = random.Random(seed)
    root = work / f"t{seed}"
    shutil.copytree(built, root)
    files = state_files(root)
    kinds = sorted({kind(f) for f in files})        # each kind of state file as often, not each file
    picked = rng.choice(kinds)
    target = rng.choice([f for f in files if kind(f) == picked])
    how = rng.choice(DAMAGES)
    damage(rng, root / target, how)
    touched = seed % 2 == 0
    if touched:
        _touch(root / "recipes" / "r.yaml")
    paid = outputs(built)
    before = emu.stats()["requests"]
    linted = _lint(root)
    planned = _plan(root)
    codes = (*(_build(root)[0] for _ in range(2)), linted[0], planned[0])
    now = outputs(root)
    wrong = tuple(p for p, data in paid.items() if now.get(p) != data or not decodes(now[p]))
    if linted != _REFERENCE[built][0]:
        wrong += ("lint",)
    if kind(target).startswith("plan-cache") and planned != _REFERENCE[built][1]:
        wrong += ("plan",)
    shutil.rmtree(root)
    return Trial(seed, target, how, touched, codes, emu.stats()["requests"] - before, wrong)


def run(seeds: range, base: Path) -> Figures:
    figures = Figures()
    with paid_project(base) as (built, emu):
        for seed in seeds:
            figures.trials.append(trial(seed, built, emu, base))
    return figures


def digest(figures: Figures) -> str:
    """One hash of every trial's target, damage and outcome: the same seeds give the same digest."""
    text = "\n".join(f"{t.seed} {t.target} {t.damage} {t.codes} {t.requests} {t.wrong}"
                     for t in figures.trials)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
