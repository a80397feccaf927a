"""Fuzz `lint` and `plan` with mutated recipes and project files, offline, and report the figures.

    .venv/bin/python bench/fuzz.py [--cases 100000] [--workers 2] [--seconds 1500] [--seed 1]

Each case is a project (recipes/a.yaml, recipes/b.yaml, maybe assetgen.yaml) made by mutating a
seed: the example project, the lint corpus, the issue's reproductions. Workers run `assetgen lint`
and `assetgen plan --json` on it in-process (through `cli.main`, exactly as the command line) with a
5-second alarm per command and a 1 GB address-space limit, and report:

    cases, crashes (exit 3, or an exception out of main), hangs (> 5 s), peak memory (the
    largest worker's maximum resident set, which bounds every single case's)

Targets: 0 crashes, 0 hangs, peak < 300 MB. Each crash or hang is saved under --out for replay.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import os
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HANG_SECONDS = 5
MEMORY_LIMIT = 1 << 30

VALID = """\
version: 1
defaults:
  model: gpt-image-1.5
  size: 1024x1024
vars:
  style: "flat icon"
  mood: "{{ style | upper }} and calm"
assets:
  potion:
    matrix:
      kind: [health, mana]
      tint: [red, blue]
    exclude:
      - {kind: mana, tint: blue}
    include:
      - {kind: poison, tint: green}
    name: "potion-{{ kind }}-{{ tint }}"
    prompt: "A {{ tint }} {{ kind }} potion, {{ style }}, {{ mood }}"
    background: transparent
    outputs:
      - path: "icons/{{ name }}.png"
      - path: "icons/small/{{ name }}.webp"
        resize: 64x64
  banner:
    size: 1536x1024
    steps:
      - generate: "A knight"
        n: 2
        pick: 1
      - edit: "A storm"
        mask: masks/sky.png
      - edit: "A logo"
        images: [brand/logo.png, {asset: potion-health-red}]
        input_fidelity: high
    output: banner.png
  square:
    steps:
      - edit: "Square"
        image: {asset: banner}
    output: square.jpg
"""

PROJECTS = [
    "",
    'recipes: ["recipes/**/*.yaml"]\nprovider: azure\ndefaults: {model: gpt-image-1}\n',
    "provider: openai\nproviders: {openai: {rpm: {gpt-image-1.5: 5}}}\n",
    'recipes: ["."]\n',
    "providers:\n  azure:\n    deployments: {gpt-image-1.5: img15}\n    rpm: {img15: 9, gpt-image-1.5: 10}\n",
    "models:\n  studio-1:\n    like: gpt-image-1.5\n    price_per_image: {low: {1024x1024: 0.01}}\n",
    "models:\n  m:\n    family: gpt-image\n",
    "pricing: {gpt-image-1.5: {per_mtok: {image_out: 1}}}\n",
    'recipes: ["recipes/*.yaml", "../x/*.yaml", "/abs/*.yaml", "' + "r" * 300 + '/*.yaml"]\n',
]

# Fragments a mutation inserts: YAML syntax, hostile templates, big numbers, long names.
SNIPPETS = [
    "{{", "}}", "{%", "%}", "..", "../../x.png", "/etc/passwd", "!!python/object/apply:os.system ['true']",
    "- ", ": ", "&a ", "*a", "<<: *a", "\t", "'", '"', "{", "[", "]", "}", "#", "%", "---\n", "~", "null",
    "n: 11", "n: 2", "pick: 5", "model: dall-e-3", "model: gpt-image-15", "model: studio-1", "size: 7x7",
    "size: 99999x99999", "quality: hd", "{asset: banner}", "{asset: nope}", "resize: 99999x99999",
    "{{ ((9**999)**999)**999 }}", "{{ 'x'|indent(2000000000) }}", "{{ 'x' * 10**9 }}",
    "{{ 'ab'|replace('a','aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')|replace('a','aaaaaaaaaaaaaaaaaaaaaaaa') }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}", "{{ ''.__class__.__mro__ }}",
    "{{ (1).to_bytes(10**9, 'big') }}", "{{ '%999999999s' % 'x' }}", "{{ '{:>999999999}'.format(1) }}",
    "{{ range(100000)|join('x' * 1000) }}", "{{ [1]|batch(10**9, 0)|list }}", "{{ 5|round(-10**9) }}",
    "{{ lipsum() }}", "{{ [1,2]|random }}", "{{ index }}", "{{ name ~ name ~ name }}", "{{ asset }}",
    "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", "{{ 'x'.center(10**9) }}",
    "a" * 300 + ".png", "é" * 200 + ".png", "x" * 2000, "9" * 5000, "1e999", ".nan", "0x" + "f" * 40,
    "[" * 80, "]" * 80, "{a: 1, a: 2}", "\ufeff", "\x00", "\udcff",
]
KEYS = ["version", "defaults", "vars", "assets", "matrix", "exclude", "include", "name", "prompt", "steps",
        "output", "outputs", "path", "format", "quality", "resize", "fit", "generate", "edit", "image",
        "mask", "images", "pick", "asset", "model", "size", "n", "background", "output_format", "style",
        "recipes", "provider", "providers", "models", "like", "pricing", "rpm", "deployments"]


def _seeds() -> list[str]:
    seeds = [VALID]
    for folder in (REPO / "recipes" / "recipes", REPO / "tests" / "corpus"):
        seeds += [p.read_text(encoding="utf-8", errors="replace") for p in sorted(folder.glob("*.yaml"))]
    seeds.append("version: 1\nassets: &a\n  x: *a\n")
    values = "[" + ",".join(str(i) for i in range(1000)) + "]"
    seeds.append(f"version: 1\nassets:\n  x:\n    matrix:\n      a: {values}\n      b: {values}\n"
                 '    prompt: "p {{ a }} {{ b }}"\n    output: "o/{{ name }}.png"\n')
    chain = "".join(f'  a{i}: "{{{{ a{i - 1} ~ a{i - 1} }}}}"\n' for i in range(1, 30))
    seeds.append(f"version: 1\nvars:\n  a0: xxxxxxxxxxxxxxxx\n{chain}assets:\n  x:\n"
                 '    prompt: "{{ a29 }}"\n    output: x.png\n')
    return seeds


def mutate(text: str, rng: random.Random) -> str:
    """One to four random edits: insert a snippet, drop/duplicate/swap a line, change a value or a
    key, re-indent, truncate, or grow a matrix."""
    for _ in range(rng.randint(1, 4)):
        lines = text.split("\n")
        i = rng.randrange(len(lines))
        op = rng.randrange(10)
        if op == 0:
            pos = rng.randint(0, len(text))
            text = text[:pos] + rng.choice(SNIPPETS) + text[pos:]
            continue
        if op == 1 and len(lines) > 1:
            del lines[i]
        elif op == 2:
            lines.insert(i, lines[i])
        elif op == 3:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 4 and ":" in lines[i]:
            head = lines[i].split(":", 1)[0]
            lines[i] = f"{head}: {rng.choice(SNIPPETS)}"
        elif op == 5:
            indent = len(lines[i]) - len(lines[i].lstrip())
            lines[i] = " " * max(0, indent + rng.choice([-2, 2, 1])) + lines[i].lstrip()
        elif op == 6:
            lines[i] = lines[i].replace(lines[i].strip().split(":")[0] or "x", rng.choice(KEYS), 1)
        elif op == 7:
            text = text[: rng.randint(0, len(text))]
            continue
        elif op == 8:
            width = rng.choice([3, 50, 200, 1000])
            lines.insert(i, " " * (len(lines[i]) - len(lines[i].lstrip())) + "matrix: {k: ["
                         + ",".join(str(n) for n in range(width)) + "]}")
        else:
            lines.insert(i, lines[i].replace(rng.choice(["x", "a", "e", "o"]), rng.choice(SNIPPETS), 1))
        text = "\n".join(lines)
    return text


class _Hang(BaseException):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Hang()


def _command(args: list[str]) -> tuple[str, float]:
    """'ok', 'crash' or 'hang' for one in-process command, and its seconds."""
    from assetgen import cli

    start = time.monotonic()
    sink = io.StringIO()
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            code = cli.main(args)
        outcome = "crash" if code == 3 else "ok"
    except _Hang:
        outcome = "hang"
    except SystemExit as exc:
        outcome = "ok" if exc.code in (0, 1, 2) else "crash"
    except BaseException:   # noqa: BLE001 - anything out of main is a crash
        outcome = "crash"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return outcome, time.monotonic() - start


def _worker(job: tuple[int, int, int, str, float]) -> dict[str, object]:
    index, cases, seed, out, deadline = job
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    signal.signal(signal.SIGALRM, _alarm)
    os.environ["AZURE_TOKEN_CREDENTIALS"] = "dev"
    os.environ["AZURE_OPENAI_ENDPOINT"] = "http://127.0.0.1:9"
    rng = random.Random(seed * 1000 + index)
    seeds = _seeds()
    base = Path(tempfile.mkdtemp(prefix=f"assetgen-fuzz-{index}-"))
    counts = {"cases": 0, "crashes": 0, "hangs": 0, "slowest": 0.0}
    found: list[str] = []
    try:
        for n in range(cases):
            if time.time() > deadline:
                break
            root = base / "p"
            shutil.rmtree(root, ignore_errors=True)
            (root / "recipes").mkdir(parents=True)
            (root / "masks").mkdir()
            a = mutate(rng.choice(seeds), rng)
            b = mutate(rng.choice(seeds), rng) if rng.random() < 0.3 else ""
            (root / "recipes" / "a.yaml").write_text(a, encoding="utf-8", errors="surrogatepass")
            if b:
                (root / "recipes" / "b.yaml").write_text(b, encoding="utf-8", errors="surrogatepass")
            project = rng.choice(PROJECTS)
            if project and rng.random() < 0.3:
                project = mutate(project, rng)
            if project:
                (root / "assetgen.yaml").write_text(project, encoding="utf-8", errors="surrogatepass")
            os.chdir(root)
            counts["cases"] += 1
            for args in (["lint"], ["plan", "--json"]):
                outcome, seconds = _command(args)
                counts["slowest"] = max(float(counts["slowest"]), seconds)
                if outcome != "ok":
                    counts["crashes" if outcome == "crash" else "hangs"] += 1
                    keep = Path(out) / f"{outcome}-{index}-{n}-{args[0]}"
                    shutil.copytree(root, keep, dirs_exist_ok=True)
                    found.append(str(keep))
            os.chdir(base)
    finally:
        os.chdir("/")
        shutil.rmtree(base, ignore_errors=True)
    counts["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counts["found"] = found[:20]
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=1500, help="stop starting cases after this")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "assetgen-fuzz-found"))
    args = parser.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    per = -(-args.cases // args.workers)
    deadline = time.time() + args.seconds
    start = time.monotonic()
    chunks = max(1, per // 500)   # workers restart every 500 cases: a leak cannot hide in one process
    jobs = [(w * chunks + c, 500 if c < chunks - 1 else per - 500 * (chunks - 1), args.seed, args.out,
             deadline) for w in range(args.workers) for c in range(chunks)]
    totals = {"cases": 0, "crashes": 0, "hangs": 0, "slowest": 0.0, "peak_mb": 0.0}
    found: list[str] = []
    with multiprocessing.get_context("fork").Pool(args.workers, maxtasksperchild=1) as pool:
        for result in pool.imap_unordered(_worker, jobs):
            for key in ("cases", "crashes", "hangs"):
                totals[key] += int(result[key])  # type: ignore[call-overload]
            totals["slowest"] = max(totals["slowest"], float(result["slowest"]))  # type: ignore[arg-type]
            totals["peak_mb"] = max(totals["peak_mb"], float(result["peak_mb"]))  # type: ignore[arg-type]
            found += list(result["found"])  # type: ignore[call-overload]
            print(f"... {totals['cases']} cases, {totals['crashes']} crashes, {totals['hangs']} hangs, "
                  f"peak {totals['peak_mb']:.0f} MB, {time.monotonic() - start:.0f} s", flush=True)
    print(f"cases: {totals['cases']} (each: lint and plan --json, in-process)")
    print(f"crashes (exit 3): {totals['crashes']}")
    print(f"hangs (> {HANG_SECONDS} s): {totals['hangs']}")
    print(f"slowest command: {totals['slowest']:.2f} s")
    print(f"peak memory: {totals['peak_mb']:.0f} MB (largest worker's maximum resident set)")
    print(f"wall time: {time.monotonic() - start:.0f} s with {args.workers} workers")
    for path in found[:20]:
        print(f"found: {path}")
    return 1 if totals["crashes"] or totals["hangs"] else 0


if __name__ == "__main__":
    sys.exit(main())
