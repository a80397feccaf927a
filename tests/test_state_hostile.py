"""Hostile state files: a lock file from a pull request, a cache, a stat cache and a build stamp
holding paths that leave the project, symlinks pointing out, bad hashes, wrong types, deep nesting
and huge numbers. Whatever they hold, `plan`, `build` and `gc` read, write and delete nothing
outside the project (victim files sit beside it and in a folder a symlink points to), and none
exits 3."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from assetgen.cli import main

RECIPE = """\
version: 1
defaults: {model: gpt-image-1, size: 1024x1024}
assets:
  icon:
    steps:
      - generate: "A sword"
      - edit: "Make it gold"
        mask: masks/m.png
    outputs:
      - path: out/icon.png
      - path: out/small.webp
        resize: 64x64
"""
VICTIM = b"someone else's file\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("built") / "p"
    (root / "recipes").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "recipes" / "r.yaml").write_text(RECIPE)
    from PIL import Image

    Image.new("RGBA", (1024, 1024), (0, 0, 0, 0)).save(root / "masks" / "m.png")
    assert main(["build", str(root)]) == 0
    return root


class World:
    """A copy of the built project at `tmp/p`, with victims beside it."""

    def __init__(self, tmp: Path, built: Path) -> None:
        self.tmp = tmp
        self.root = tmp / "p"
        shutil.copytree(built, self.root, symlinks=True)
        self.outside = tmp / "outside"
        self.outside.mkdir()
        victims = (tmp / "victim.txt", tmp / "victim.png", self.outside / "victim.png", tmp / "victim.json")
        for path in victims:
            path.write_bytes(VICTIM)
        (self.outside / "icon.png").write_bytes((self.root / "out" / "icon.png").read_bytes())
        self.lock = json.loads((self.root / "assetgen.lock").read_text())

    def write_lock(self) -> None:
        (self.root / "assetgen.lock").write_text(json.dumps(self.lock))

    def step(self, index: int = 0) -> dict:
        return self.lock["assets"]["icon"]["steps"][index]

    def orphan(self, path: str, sha: str) -> None:
        """An asset no recipe makes any more, whose output the lock says is `path` with hash `sha`."""
        entry = json.loads(json.dumps(self.lock["assets"]["icon"]))
        first = next(iter(entry["outputs"].values()))
        entry["outputs"] = {path: {**first, "sha256": sha}}
        self.lock["assets"]["gone"] = entry
        self.write_lock()

    def forget_step(self, index: int) -> None:
        """The lock no longer knows the step's key: its result comes from the cache record."""
        self.step(index)["key"] = sha_of(b"another request")
        self.write_lock()

    def rerender(self) -> None:
        """A recipe change that renders out/small.webp again: it needs the edit's image."""
        recipe = self.root / "recipes" / "r.yaml"
        recipe.write_text(recipe.read_text().replace("64x64", "32x32"))

    @property
    def cache(self) -> Path:
        return self.root / ".assetgen" / "cache"

    def object_of(self, sha: str) -> Path:
        return self.cache / "objects" / sha[:2] / sha

    def record(self, key: str) -> Path:
        return self.cache / "actions" / f"{key}.json"

    def snapshot(self) -> dict[str, tuple[int, bytes | str]]:
        """Every entry outside the project: its mtime and its bytes (or link target)."""
        seen: dict[str, tuple[int, bytes | str]] = {}
        for folder, dirs, files in os.walk(self.tmp):
            here = Path(folder)
            if here == self.tmp:
                dirs[:] = [d for d in dirs if d != "p"]
            for name in dirs + files:
                path = here / name
                st = path.lstat()
                if path.is_symlink():
                    seen[str(path)] = (st.st_mtime_ns, os.readlink(path))
                elif path.is_file():
                    seen[str(path)] = (st.st_mtime_ns, path.read_bytes())
                else:
                    seen[str(path)] = (st.st_mtime_ns, "dir")
        return seen


def sha_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Each case damages the world and names the exit code of the first `build` (2: refused, naming the
# file; 0 or 1: built what it could). Later commands may exit 0, 1 or 2, never 3.

def lock_result_climbs_out(w: World) -> int:
    w.step(1)["results"] = ["../../../victim.txt"]     # objects/../../../../victim.txt: beside p/
    w.write_lock()
    w.rerender()
    return 2


def lock_key_climbs_out(w: World) -> int:
    w.step(0)["key"] = "../../../victim"
    w.write_lock()
    return 2


def lock_orphan_beside_the_project(w: World) -> int:
    w.orphan("../victim.png", sha_of(VICTIM))
    return 2


def lock_orphan_absolute(w: World) -> int:
    w.orphan(str(w.tmp / "victim.png"), sha_of(VICTIM))
    return 2


def lock_orphan_through_a_symlink(w: World) -> int:
    (w.root / "link").symlink_to(w.outside, target_is_directory=True)
    w.orphan("link/victim.png", sha_of(VICTIM))
    return 0


def lock_recovery_through_a_symlink(w: World) -> int:
    # The lock says the lossless output holding the edit's image is link/icon.png (outside); the
    # cache lost that image; small.webp must be rendered again from it.
    (w.root / "link").symlink_to(w.outside, target_is_directory=True)
    outputs = w.lock["assets"]["icon"]["outputs"]
    outputs["link/icon.png"] = outputs.pop("out/icon.png")
    w.write_lock()
    shutil.rmtree(w.cache / "objects")
    w.rerender()
    return 0        # the local provider draws the lost image again instead


def lock_is_a_symlink_out(w: World) -> int:
    shutil.copy(w.root / "assetgen.lock", w.tmp / "victim.lock")
    (w.root / "assetgen.lock").unlink()
    (w.root / "assetgen.lock").symlink_to(w.tmp / "victim.lock")
    w.rerender()
    return 2


def lock_deeply_nested(w: World) -> int:
    w.step(0)["params"]["size"] = json.loads("[" * 200 + "]" * 200)
    w.write_lock()
    return 2


def lock_huge_numbers(w: World) -> int:
    (w.root / "assetgen.lock").write_text((w.root / "assetgen.lock").read_text().replace(
        '"version": 1', '"version": 1' + "0" * 4000))
    return 2


def lock_wrong_types(w: World) -> int:
    w.lock["assets"]["icon"]["outputs"] = [1, 2]
    w.write_lock()
    return 2


def record_result_climbs_out(w: World) -> int:
    key = w.step(1)["key"]
    body = json.loads(w.record(key).read_text())
    body["results"] = ["../../../victim.txt"]
    w.record(key).write_text(json.dumps(body))
    w.forget_step(1)
    w.rerender()
    return 0


def record_is_a_symlink_out(w: World) -> int:
    key = w.step(1)["key"]
    body = json.loads(w.record(key).read_text())
    body["results"] = [sha_of(VICTIM)]
    (w.tmp / "victim.json").write_text(json.dumps(body))
    w.record(key).unlink()
    w.record(key).symlink_to(w.tmp / "victim.json")
    w.forget_step(1)
    w.rerender()
    return 0


def record_wrong_types_and_numbers(w: World) -> int:
    for n, path in enumerate(sorted((w.cache / "actions").iterdir())):
        body = json.loads(path.read_text())
        body[["results", "when", "key", "op"][n % 4]] = [{"x": 1e308 * 10}, 10**4000, 7, None][n % 4] \
            if n % 4 != 1 else "1" + "0" * 5000
        path.write_text(json.dumps(body) if n % 4 != 1 else path.read_text().replace(
            '"when": ', '"when": 1' + "0" * 400 + "0 + "))
    w.forget_step(1)
    w.rerender()
    return 0


def object_is_a_symlink_out(w: World) -> int:
    image = w.step(1)["results"][0]
    w.object_of(image).unlink()
    w.object_of(image).symlink_to(w.outside / "icon.png")
    w.rerender()
    return 0


def object_shard_is_a_symlink_out(w: World) -> int:
    image = w.step(1)["results"][0]     # out/icon.png holds it: the local provider draws it again
    shutil.rmtree(w.object_of(image).parent)
    (w.outside / "shard").mkdir()
    w.object_of(image).parent.symlink_to(w.outside / "shard", target_is_directory=True)
    (w.root / "out" / "icon.png").unlink()
    return 0


def objects_with_names_that_are_not_hashes(w: World) -> int:
    (w.cache / "objects" / "..").joinpath("xx").mkdir(exist_ok=True)
    (w.cache / "objects" / "zz").mkdir()
    (w.cache / "objects" / "zz" / "zz-not-a-hash").write_bytes(b"junk")
    w.rerender()
    return 0


def cache_folder_is_a_symlink_out(w: World) -> int:
    shutil.rmtree(w.cache)
    (w.outside / "cache").mkdir()
    w.cache.symlink_to(w.outside / "cache", target_is_directory=True)
    w.rerender()
    return 2


def state_folder_is_a_symlink_out(w: World) -> int:
    shutil.rmtree(w.root / ".assetgen")
    (w.outside / "state").mkdir()
    (w.root / ".assetgen").symlink_to(w.outside / "state", target_is_directory=True)
    w.rerender()
    return 2


def stat_cache_names_files_outside(w: World) -> int:
    path = w.root / ".assetgen" / "stat-cache.json"
    entries = json.loads(path.read_text())
    entries["../victim.txt"] = [1, 2, 3, 4, sha_of(VICTIM)]
    entries[str(w.tmp / "victim.png")] = [1, 2, 3, 4, "x"]
    entries["masks/m.png"] = [[[[[]]]]]
    path.write_text(json.dumps(entries))
    w.rerender()
    return 0


def stat_cache_deeply_nested(w: World) -> int:
    (w.root / ".assetgen" / "stat-cache.json").write_text("[" * 100_000)
    w.rerender()
    return 0


def stamp_names_files_outside(w: World) -> int:
    path = w.root / ".assetgen" / "build-stamp.json"
    body = json.loads(path.read_text())
    body["files"]["../victim.txt"] = None
    body["files"][str(w.tmp / "victim.png")] = None
    body["dirs"]["../outside"] = None
    path.write_text(json.dumps(body))
    return 0


def stamp_wrong_types_and_numbers(w: World) -> int:
    path = w.root / ".assetgen" / "build-stamp.json"
    body = json.loads(path.read_text())
    body["actions_total"] = 10**30
    body["files"] = [[[]]]
    path.write_text(json.dumps(body))
    return 0


def stamp_is_a_symlink_out(w: World) -> int:
    path = w.root / ".assetgen" / "build-stamp.json"
    shutil.copy(path, w.tmp / "victim.stamp")
    path.unlink()
    path.symlink_to(w.tmp / "victim.stamp")
    return 0


def stamp_deeply_nested(w: World) -> int:
    (w.root / ".assetgen" / "build-stamp.json").write_text("{" + '"a":[' * 100_000)
    return 0


CASES: dict[str, Callable[[World], int]] = {f.__name__: f for f in (
    lock_result_climbs_out, lock_key_climbs_out, lock_orphan_beside_the_project, lock_orphan_absolute,
    lock_orphan_through_a_symlink, lock_recovery_through_a_symlink, lock_is_a_symlink_out,
    lock_deeply_nested, lock_huge_numbers, lock_wrong_types,
    record_result_climbs_out, record_is_a_symlink_out, record_wrong_types_and_numbers,
    object_is_a_symlink_out, object_shard_is_a_symlink_out, objects_with_names_that_are_not_hashes,
    cache_folder_is_a_symlink_out, state_folder_is_a_symlink_out,
    stat_cache_names_files_outside, stat_cache_deeply_nested,
    stamp_names_files_outside, stamp_wrong_types_and_numbers, stamp_is_a_symlink_out, stamp_deeply_nested,
)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_state_file_touches_nothing_outside_the_project(
        tmp_path: Path, built: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    world = World(tmp_path, built)
    expected = CASES[case](world)
    before = world.snapshot()
    root = str(world.root)
    codes = []
    for argv in (["plan", root], ["build", root], ["build", root], ["gc", root, "--dry-run"], ["gc", root]):
        capsys.readouterr()
        codes.append(main(argv))
        out = capsys.readouterr()
        assert "internal error" not in out.err, (argv, out.err)
        if argv[0] == "plan":
            assert "link/" not in out.out
    assert codes[1] == expected, codes
    assert 3 not in codes
    if expected == 2:
        assert set(codes) == {2}
    assert world.snapshot() == before
