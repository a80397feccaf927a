"""Stray temp files beside the outputs: a build marks that it writes outputs until it is done, and a
build after a small change looks for temp files only when the mark of a writer that is gone says it
may have left some (a build of the whole project always looks)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from smallproject import build, make, recipe

from assetgen.atomic import HOST_TAG
from assetgen.run import delta, stamp


def small_change(root: Path, name: str, prompt: str) -> None:
    """Change one recipe file, and check that the build takes the path of a small change."""
    (root / "recipes" / f"{name}.yaml").write_text(recipe(name, prompt))
    compared = stamp.compare(root, stamp.signature([], root, None))
    assert compared is not None and delta.prepare(compared, None) is not None


def plant(folder: Path, name: str, age: float = 5) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def marks(root: Path) -> list[str]:
    return sorted(p.name for p in (root / ".assetgen" / "writers").iterdir())


def test_a_complete_build_leaves_no_mark(tmp_path: Path) -> None:
    root = make(tmp_path, "abc")
    assert marks(root) == []
    small_change(root, "b", "Asset b again")
    assert build(root)["outputs_written"] == 1
    assert marks(root) == []


def test_a_build_after_a_small_change_removes_what_a_killed_build_left(tmp_path: Path) -> None:
    root = make(tmp_path, "abc")
    dead = dead_pid()
    writers = root / ".assetgen" / "writers"
    mark = plant(writers, f"build.{dead}-{HOST_TAG}.deadbeef")      # as a killed build leaves them
    temp = plant(root / "out", f".tmp-b.png.{dead}-{HOST_TAG}.0badf00d")
    other = plant(root / "out", f".tmp-c.png.{dead}-{HOST_TAG}.0badf00d")
    small_change(root, "b", "Asset b again")
    assert build(root)["outputs_written"] == 1
    assert not temp.exists()
    # c.png is no output of this build: its temp file waits for a build that writes it, and so
    # does the mark (the build of the whole project forgets it once it has looked everywhere)
    assert other.exists() and marks(root) == [mark.name]
    (root / "assetgen.yaml").write_text((root / "assetgen.yaml").read_text() + "\n")
    build(root)
    assert not other.exists() and marks(root) == []


def test_a_live_writers_mark_sends_no_build_looking(tmp_path: Path) -> None:
    root = make(tmp_path, "abc")
    alive = os.getppid()
    plant(root / ".assetgen" / "writers", f"build.{alive}-{HOST_TAG}.deadbeef")
    young = plant(root / "out", f".tmp-b.png.{alive}-{HOST_TAG}.0badf00d")     # its writer may still be at it
    small_change(root, "b", "Asset b again")
    build(root)
    assert young.exists()
    assert marks(root) == [f"build.{alive}-{HOST_TAG}.deadbeef"]


def test_an_hour_old_mark_of_another_machine_is_a_writer_gone(tmp_path: Path) -> None:
    root = make(tmp_path, "abc")
    elsewhere = "0" * 8 if HOST_TAG != "0" * 8 else "1" * 8
    plant(root / ".assetgen" / "writers", f"build.12-{elsewhere}.deadbeef", 7200)
    old = plant(root / "out", f".tmp-b.png.12-{elsewhere}.0badf00d", 7200)
    small_change(root, "b", "Asset b again")
    build(root)
    assert not old.exists()


def test_without_a_record_of_earlier_writers_a_build_looks(tmp_path: Path) -> None:
    # the state of a version that kept no marks (or one whose marks were lost) says nothing
    root = make(tmp_path, "abc")
    (root / ".assetgen" / "writers").rmdir()
    dead = dead_pid()
    temp = plant(root / "out", f".tmp-b.png.{dead}-{HOST_TAG}.0badf00d")
    small_change(root, "b", "Asset b again")
    build(root)
    assert not temp.exists()
    assert marks(root) == []
