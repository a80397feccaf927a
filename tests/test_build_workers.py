"""Many placeholders: worker processes draw, store and render them in chunks. Everything a build
leaves (outputs, cache objects and records, lock, `--json` summary, failures) is what the same
build in threads leaves."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from assetgen.run.executor import WORKERS_AFTER
from assetgen.workers import Workers, cores

N = WORKERS_AFTER + 8
VALUES = ", ".join(str(i) for i in range(N))
RECIPE = f"""\
version: 1
assets:
  tile:
    matrix:
      i: [{VALUES}]
    prompt: "Tile {{{{ i }}}}"
    outputs:
      - path: "out/{{{{ name }}}}.png"
      - path: "small/{{{{ name }}}}.jpg"
        quality: 80
        resize: 8x8
  chain:
    size: 64x64
    steps:
      - generate: "A castle"
      - edit: "Make it night"
    output: blocked/chain.webp
"""
PROJECT = "version: 1\nprovider: local\ndefaults: {model: gpt-image-2, size: 16x16}\n"

# builds at import (no `if __name__ == "__main__"`): its drawings stay in this process's threads
IN_THREADS = """\
import json
import sys
from pathlib import Path
from assetgen.run.build import BuildOptions, build

report = build(BuildOptions(cwd=Path.cwd()))
print(json.dumps(report.summary(), sort_keys=True))
sys.exit(int(report.exit_code))
"""

needs_cores = pytest.mark.skipif(cores() < 2, reason="worker processes need two cores")


def _project(root: Path) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "assetgen.yaml").write_text(PROJECT)
    (root / "recipes" / "r.yaml").write_text(RECIPE)
    (root / "blocked").write_text("a file where a folder should be")
    return root


def _run(cmd: list[str], cwd: Path) -> tuple[int, dict[str, object]]:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _in_processes(root: Path) -> tuple[int, dict[str, object]]:
    code, summary = _run([sys.executable, "-m", "assetgen", "build", "--json"], root)
    return code, json.loads(json.dumps(summary, sort_keys=True))


def _in_threads(root: Path) -> tuple[int, dict[str, object]]:
    (root / "script.py").write_text(IN_THREADS)
    try:
        return _run([sys.executable, "script.py"], root)
    finally:
        (root / "script.py").unlink()


def _files(root: Path, folder: str) -> dict[str, bytes]:
    base = root / folder
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def _records(root: Path) -> dict[str, dict[str, object]]:
    found = {}
    for path in sorted((root / ".assetgen" / "cache" / "actions").glob("*.json")):
        record = json.loads(path.read_text())
        assert isinstance(record.pop("when"), float)
        found[path.name] = record
    return found


@needs_cores
def test_worker_processes_leave_what_threads_leave(tmp_path: Path) -> None:
    pooled, threaded = _project(tmp_path / "pooled"), _project(tmp_path / "threaded")
    code, summary = _in_processes(pooled)
    assert (code, summary) == _in_threads(threaded)
    assert code == 1
    message = ("cannot write blocked/chain.webp: 'blocked' is a file, not a folder (the image is in the "
               "cache: no call is needed again)")
    assert summary["failures"] == [{"asset": "chain", "message": message}]
    assert (summary["actions_run"], summary["outputs_written"]) == (N + 2, 2 * N)
    for folder in ("out", "small", ".assetgen/cache/objects"):
        assert _files(pooled, folder) == _files(threaded, folder)
    assert len(_files(pooled, "out")) == N
    assert _records(pooled) == _records(threaded)
    assert (pooled / "assetgen.lock").read_bytes() == (threaded / "assetgen.lock").read_bytes()
    with Image.open(pooled / "small" / "tile-3.jpg") as img:
        assert (img.format, img.size) == ("JPEG", (8, 8))
    assert not [p for p in pooled.rglob(".tmp-*")]

    # the next build after the blocking file is gone: the same in both
    for root in (pooled, threaded):
        (root / "blocked").unlink()
    again = _in_processes(pooled)
    assert again == _in_threads(threaded)
    assert again[0] == 0 and again[1]["outputs_written"] == 1
    assert _records(pooled) == _records(threaded)


@needs_cores
def test_outputs_changed_by_hand_are_kept_by_workers_as_by_threads(tmp_path: Path) -> None:
    """A rendition in a worker checks the file there as a thread does: changed by hand, it stays."""
    pooled, threaded = _project(tmp_path / "pooled"), _project(tmp_path / "threaded")
    for root in (pooled, threaded):
        (root / "blocked").unlink()
        (root / "out").mkdir()
        (root / "out" / "tile-5.png").write_bytes(b"mine")
    first = _in_processes(pooled)
    assert first == _in_threads(threaded)
    assert first[1]["kept"] == ["out/tile-5.png"]
    assert (pooled / "out" / "tile-5.png").read_bytes() == b"mine"
    assert _files(pooled, "out") == _files(threaded, "out")
    assert (pooled / "assetgen.lock").read_bytes() == (threaded / "assetgen.lock").read_bytes()


def _whoami(tag: int) -> tuple[int, int]:
    return tag, os.getpid()


def _fails(tag: int) -> int:
    raise OSError(f"job {tag} failed")


@needs_cores
def test_jobs_handed_over_together_go_out_in_chunks() -> None:
    """20 jobs at once to 2 workers: 4 chunks of 5 (two per worker, one running and one queued),
    each run whole by one process; a failing job fails alone."""
    async def go() -> list[object]:
        workers = Workers(2, [__name__])
        try:
            return await asyncio.gather(*(workers.run(_fails if i == 7 else _whoami, i) for i in range(20)),
                                        return_exceptions=True)
        finally:
            await workers.aclose()

    results = asyncio.run(go())
    failed = results[7]
    assert isinstance(failed, OSError) and str(failed) == "job 7 failed"
    done = [r for r in results if isinstance(r, tuple)]
    assert [tag for tag, _ in done] == [i for i in range(20) if i != 7]
    by_tag = dict(done)
    assert os.getpid() not in by_tag.values()
    for first in range(0, 20, 5):
        assert len({by_tag[i] for i in range(first, first + 5) if i != 7}) == 1


def test_one_worker_runs_the_jobs_in_a_thread() -> None:
    async def go() -> list[tuple[int, int]]:
        workers = Workers(1)
        return list(await asyncio.gather(*(workers.run(_whoami, i) for i in range(3))))

    assert asyncio.run(go()) == [(0, os.getpid()), (1, os.getpid()), (2, os.getpid())]


@needs_cores
def test_first_ctrl_c_in_worker_processes_saves_what_they_finished(tmp_path: Path) -> None:
    """Ctrl-C while workers draw: the chunks out finish and are counted, nothing new starts, and
    the next build makes exactly the calls that have no record."""
    import signal
    import time

    (tmp_path / "recipes").mkdir()
    (tmp_path / "assetgen.yaml").write_text(PROJECT.replace("16x16", "512x512"))
    values = ", ".join(str(i) for i in range(200))
    (tmp_path / "recipes" / "r.yaml").write_text(
        f"version: 1\nassets:\n  tile:\n    matrix: {{i: [{values}]}}\n    prompt: \"Tile {{{{ i }}}}\"\n"
        "    output: \"out/{{ name }}.png\"\n")
    actions = tmp_path / ".assetgen" / "cache" / "actions"

    def calls() -> set[str]:
        found = set()
        for path in actions.glob("*.json") if actions.is_dir() else ():
            if json.loads(path.read_text())["op"] != "render":
                found.add(path.stem)
        return found

    proc = subprocess.Popen([sys.executable, "-m", "assetgen", "build", "--json"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(calls()) < WORKERS_AFTER + 8 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the build finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    finished = calls()
    assert json.loads(out)["actions_run"] == len(finished) < 200
    assert not list(tmp_path.rglob(".tmp-*"))
    code, again = _in_processes(tmp_path)
    assert (code, again["actions_run"]) == (0, 200 - len(finished))
    assert len(list((tmp_path / "out").iterdir())) == 200
