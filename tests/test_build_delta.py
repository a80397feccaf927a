"""A build after a change to a few recipe files loads and plans only those files, the files that
refer to their variants and the files those refer to (`run.delta`); the rest of the project is
checked by the build index. It leaves exactly what a full build leaves (outputs, lock file,
summary), and anything it cannot decide by index (a clash with another file, a damaged index, a
new recipe file) goes the full way, with the full build's messages."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from openedkit import recording
from PIL import Image

from assetgen.cli import main
from assetgen.run import delta, stamp
from assetgen.run.prepare import Prepared

PROJECT = """\
version: 1
provider: local
defaults:
  model: gpt-image-2
  size: 16x16
"""


def recipe(name: str, prompt: str, extra: str = "") -> str:
    return f"version: 1\nassets:\n  {name}:\n    prompt: \"{prompt}\"\n    output: out/{name}.png\n{extra}"


FRAMED = """\
version: 1
assets:
  framed:
    steps:
      - edit: "Frame it"
        image: {asset: b}
        mask: masks/m.png
    output: out/framed.png
"""


def make(root: Path) -> Path:
    (root / "recipes" / "one").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "assetgen.yaml").write_text(PROJECT)
    for name in "abcd":
        (root / "recipes" / "one" / f"{name}.yaml").write_text(recipe(name, f"Asset {name}"))
    (root / "recipes" / "framed.yaml").write_text(FRAMED)
    Image.new("RGBA", (16, 16), (0, 0, 0, 0)).save(root / "masks" / "m.png")
    assert build(root) == 0
    return root


def build(root: Path) -> int:
    cwd = Path.cwd()
    os.chdir(root)
    try:
        return main(["build", "--json"])
    finally:
        os.chdir(cwd)


def planned(root: Path) -> Prepared | None:
    """What a build of `root` would load and plan after a small change (None: the full way)."""
    compared = stamp.compare(root, stamp.signature([], root, None))
    assert compared is not None
    return delta.prepare(compared, None)


def loaded(root: Path) -> list[str]:
    prep = planned(root)
    assert prep is not None
    return sorted(r.path for r in prep.project.recipes)


def full_copy(root: Path, tmp_path: Path) -> Path:
    """The project as it is now, without the stamp: its build goes the full way."""
    other = tmp_path / "full"
    shutil.copytree(root, other)
    (other / ".assetgen" / stamp.STAMP_FILE).unlink()
    return other


def state(root: Path) -> dict[str, object]:
    out = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "out").rglob("*"))}
    return {"lock": (root / "assetgen.lock").read_text(), "outputs": out}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_one_changed_file_is_the_only_one_loaded_and_the_build_is_the_full_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make(tmp_path / "p")
    edit(root / "recipes" / "one" / "c.yaml", "Asset c", "Asset c, red")
    assert loaded(root) == ["recipes/one/c.yaml"]
    other = full_copy(root, tmp_path)
    capsys.readouterr()
    assert build(other) == 0
    full = json.loads(capsys.readouterr().out)
    assert build(root) == 0
    mine = json.loads(capsys.readouterr().out)
    assert mine == full
    assert mine["actions_total"] == 10 and mine["actions_run"] == 1 and mine["outputs_written"] == 1
    assert state(root) == state(other)
    assert build(root) == 0 and json.loads(capsys.readouterr().out)["actions_run"] == 0   # the stamp: a no-op


def test_one_change_neither_reads_nor_rewrites_the_stat_cache_of_the_others(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make(tmp_path / "p")
    cache = root / ".assetgen" / "stat-cache.json"
    before = (cache.read_bytes(), cache.stat().st_mtime_ns)
    edit(root / "recipes" / "one" / "c.yaml", "Asset c", "Asset c, red")
    capsys.readouterr()
    with recording() as opened:
        assert build(root) == 0
    assert json.loads(capsys.readouterr().out)["outputs_written"] == 1
    assert str(cache) not in opened
    assert (cache.read_bytes(), cache.stat().st_mtime_ns) == before
    (root / "out" / "c.png").write_bytes(b"retouched")      # the cache's old entry for it is stale
    (root / "assetgen.yaml").write_text(PROJECT + "\n")     # the full way, which reads the cache
    assert build(root) == 1
    summary = json.loads(capsys.readouterr().out)
    assert (summary["actions_run"], summary["outputs_written"], summary["kept"]) == (0, 0, ["out/c.png"])
    assert (root / "out" / "c.png").read_bytes() == b"retouched"


def test_a_file_saved_by_renaming_is_still_the_only_one_loaded(tmp_path: Path) -> None:
    root = make(tmp_path / "p")
    path = root / "recipes" / "one" / "c.yaml"
    (root / "recipes" / "one" / "c.yaml.tmp").write_text(path.read_text().replace("Asset c", "Asset c2"))
    os.replace(root / "recipes" / "one" / "c.yaml.tmp", path)   # as editors save: the folder changes
    assert loaded(root) == ["recipes/one/c.yaml"]


def test_a_change_upstream_loads_the_files_that_refer_to_it(tmp_path: Path) -> None:
    root = make(tmp_path / "p")
    edit(root / "recipes" / "one" / "b.yaml", "Asset b", "Asset b, blue")
    assert loaded(root) == ["recipes/framed.yaml", "recipes/one/b.yaml"]
    edit(root / "recipes" / "one" / "b.yaml", "Asset b, blue", "Asset b, green")
    edit(root / "recipes" / "framed.yaml", "Frame it", "Frame it twice")
    other = full_copy(root, tmp_path)
    assert build(root) == 0 and build(other) == 0
    assert state(root) == state(other)


def test_a_change_downstream_loads_what_it_refers_to(tmp_path: Path) -> None:
    root = make(tmp_path / "p")
    edit(root / "recipes" / "framed.yaml", "Frame it", "Frame it in gold")
    assert loaded(root) == ["recipes/framed.yaml", "recipes/one/b.yaml"]


def test_a_removed_variant_loses_its_output_and_lock_entry(tmp_path: Path) -> None:
    root = make(tmp_path / "p")
    (root / "recipes" / "one" / "d.yaml").write_text(recipe("e", "Asset e"))
    assert loaded(root) == ["recipes/one/d.yaml"]
    other = full_copy(root, tmp_path)
    assert build(root) == 0 and build(other) == 0
    assert not (root / "out" / "d.png").exists() and (root / "out" / "e.png").is_file()
    assert state(root) == state(other)
    assert '"d"' not in (root / "assetgen.lock").read_text()


@pytest.mark.parametrize("change, message", [
    (recipe("d", "Asset d").replace("out/d.png", "out/a.png"), "duplicate output path 'out/a.png'"),
    (recipe("d", "Asset d").replace("out/d.png", "out/A.png"), "differ only in case"),
    (recipe("a", "Asset d").replace("out/a.png", "out/d.png"), "duplicate variant name 'a'"),
    (recipe("d", "Asset d").replace("out/d.png", "masks/M.png"), "masks/m.png"),
    (recipe("d", "Asset d").replace("output: out/d.png",
                                    "outputs: [{path: recipes/one/A.yaml, format: png}]"),
     "would overwrite a recipe file"),
    (recipe("d", "Asset d", "    steps: []\n"), "recipes/one/d.yaml"),
])
def test_a_clash_with_another_file_goes_the_full_way_with_its_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, message: str) -> None:
    root = make(tmp_path / "p")
    (root / "recipes" / "one" / "d.yaml").write_text(change)
    assert planned(root) is None
    capsys.readouterr()
    assert build(root) == 2
    assert message in capsys.readouterr().err


def test_an_input_another_file_writes_goes_the_full_way(tmp_path: Path) -> None:
    root = make(tmp_path / "p")
    edit(root / "recipes" / "framed.yaml", "masks/m.png", "out/a.png")
    assert planned(root) is None


def test_a_new_recipe_file_goes_the_full_way(tmp_path: Path) -> None:
    root = make(tmp_path / "p")
    edit(root / "recipes" / "one" / "c.yaml", "Asset c", "Asset c, red")
    (root / "recipes" / "one" / "e.yaml").write_text(recipe("e", "Asset e"))
    assert planned(root) is None
    other = full_copy(root, tmp_path)
    assert build(root) == 0 and build(other) == 0
    assert state(root) == state(other)
    edit(root / "recipes" / "one" / "c.yaml", "Asset c, red", "Asset c, blue")
    assert loaded(root) == ["recipes/one/c.yaml"]      # the index now has e.yaml


@pytest.mark.parametrize("damage", [
    b"", b"{", b"[]", b'{"version": 1, "files": {"recipes/one/a.yaml": [1, 2]}}',
    b'{"version": 1, "files": {"../x": [[], {}, [], [], [], [], []]}}',
    *(b'{"version": 1, "files": {"recipes/one/a.yaml": %s}}' % entry for entry in (
        b'[[1], {}, [], [], [], [], []]', b'[["a"], {"a": "a"}, [], [], [], [], []]',
        b'[["a"], {"a": [1]}, [], [], [], [], []]', b'[["a"], [], [], [], [], [], []]',
        b'[["a"], {}, [], [], [], [], [], []]', b'[["a"], {}, [], [], [], [], "x"]', b'"x"',
        b'[["a"], {}, [], [[]], [], [], []]')),
    # the base as columns: the paths, and seven columns (null: every value empty)
    *(b'{"version": 2, "paths": %s, "columns": %s}' % case for case in (
        (b'["recipes/one/a.yaml"]', b'[[["a"]], null, null, null, null, null]'),
        (b'["recipes/one/a.yaml"]', b'[[["a"], ["b"]], null, null, null, null, null, null]'),
        (b'["../x"]', b'[[["a"]], null, null, null, null, null, null]'),
        (b'["recipes/one/a.yaml", "recipes/one/a.yaml"]', b'[null, null, null, null, null, null, null]'),
        (b'["recipes/one/a.yaml"]', b'[["a"], null, null, null, null, null, null]'),
        (b'["recipes/one/a.yaml"]', b'[[[1]], null, null, null, null, null, null]'),
        (b'["recipes/one/a.yaml"]', b'[[["a", ["b"]]], null, null, null, null, null, null]'),
        (b'["recipes/one/a.yaml"]', b'[[["a"]], [[]], null, null, null, null, null]'),
        (b'["recipes/one/a.yaml"]', b'[[["a"]], [{"a": "a"}], null, null, null, null, null]'),
        (b'["recipes/one/a.yaml"]', b'[[["a"]], [{"a": [null]}], null, null, null, null, null]'),
        (b'["recipes/one/a.yaml"]', b'[[["a"]], null, null, null, null, null, [["x"], 2]]'),
        (b'[1]', b'[null, null, null, null, null, null, null]'),
        (b'"recipes/one/a.yaml"', b'[null, null, null, null, null, null, null]'))),
])
def test_a_damaged_index_is_ignored(tmp_path: Path, damage: bytes) -> None:
    root = make(tmp_path / "p")
    index = root / ".assetgen" / stamp.INDEX_FILE
    assert index.is_file()
    index.write_bytes(damage)
    edit(root / "recipes" / "one" / "c.yaml", "Asset c", "Asset c, red")
    assert planned(root) is None        # its hash is not the one the stamp holds
    # even one whose hash the stamp holds is read with its shape checked
    body = json.loads((root / ".assetgen" / stamp.STAMP_FILE).read_text())
    import hashlib

    body["index"] = hashlib.sha256(damage).hexdigest()
    (root / ".assetgen" / stamp.STAMP_FILE).write_text(json.dumps(body))
    assert planned(root) is None
    other = full_copy(root, tmp_path)
    assert build(root) == 0 and build(other) == 0
    assert state(root) == state(other)


def test_a_lock_file_changed_by_hand_goes_the_full_way(tmp_path: Path) -> None:
    root = make(tmp_path / "p")
    lock = root / "assetgen.lock"
    lock.write_text(lock.read_text() + "\n")
    edit(root / "recipes" / "one" / "c.yaml", "Asset c", "Asset c, red")
    assert planned(root) is None


def pull(root: Path, text: str | None = None) -> None:
    """The lock file as a pull that brings it leaves it: a new file (another inode and ctime)."""
    lock = root / "assetgen.lock"
    data = lock.read_bytes() if text is None else text.encode("utf-8")
    lock.unlink()
    lock.write_bytes(data)


def test_a_pulled_lock_file_of_assetgen_text_is_read_in_part_after_one_full_build(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make(tmp_path / "p")
    pull(root)
    edit(root / "recipes" / "one" / "c.yaml", "Asset c", "Asset c, red")
    assert planned(root) is None        # the lock changed since the stamp: the full way, once
    capsys.readouterr()
    assert build(root) == 0
    assert json.loads(capsys.readouterr().out)["actions_run"] == 1
    pull(root)                          # the next pull: the same text, read whole and found unchanged
    assert build(root) == 0
    assert json.loads(capsys.readouterr().out)["actions_run"] == 0
    text = (root / "assetgen.lock").read_text()
    edit(root / "recipes" / "one" / "d.yaml", "Asset d", "Asset d, red")
    assert loaded(root) == ["recipes/one/d.yaml"]       # the entries it needs, found in that file
    other = full_copy(root, tmp_path)
    assert build(root) == 0 and build(other) == 0
    assert state(root) == state(other) and state(root)["lock"] != text


def test_a_pulled_lock_file_laid_out_otherwise_is_left_as_it_is_and_read_whole(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make(tmp_path / "p")
    text = (root / "assetgen.lock").read_text()
    pull(root, json.dumps(json.loads(text), indent=4, sort_keys=True))
    capsys.readouterr()
    assert build(root) == 0
    assert json.loads(capsys.readouterr().out)["actions_run"] == 0
    assert json.loads((root / "assetgen.lock").read_text()) == json.loads(text)
    assert (root / "assetgen.lock").read_text() != text     # not rewritten: its layout is the user's
    edit(root / "recipes" / "one" / "c.yaml", "Asset c", "Asset c, red")
    assert planned(root) is None


def test_a_pulled_lock_file_with_crlf_line_endings_is_read_in_part_after_one_full_build(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # git's core.autocrlf on a Windows checkout: the lock file assetgen wrote, each line ending in CRLF
    root = make(tmp_path / "p")
    crlf = (root / "assetgen.lock").read_bytes().replace(b"\n", b"\r\n")
    pull(root, crlf.decode("utf-8"))
    capsys.readouterr()
    assert build(root) == 0 and json.loads(capsys.readouterr().out)["actions_run"] == 0
    assert (root / "assetgen.lock").read_bytes() == crlf        # left as it is
    edit(root / "recipes" / "one" / "c.yaml", "Asset c", "Asset c, red")
    assert loaded(root) == ["recipes/one/c.yaml"]       # not the full path after every small change
    other = full_copy(root, tmp_path)
    assert build(root) == 0 and json.loads(capsys.readouterr().out)["actions_run"] == 1
    assert build(other) == 0
    written = (root / "assetgen.lock").read_bytes()
    assert b"\r" not in written        # written again with LF throughout, never a mix of both
    assert written == (other / "assetgen.lock").read_bytes() and state(root) == state(other)


def test_a_pulled_lock_file_in_assetgen_layout_keeps_the_text_of_the_entries_a_build_leaves(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make(tmp_path / "p")
    text = (root / "assetgen.lock").read_text()
    start = text.index('    "a": {')
    end = text.index(',\n    "b": {')
    compact = '    "a": ' + json.dumps(json.loads("{" + text[start:end] + "}")["a"], sort_keys=True)
    pull(root, text[:start] + compact + text[end:])
    capsys.readouterr()
    assert build(root) == 0 and json.loads(capsys.readouterr().out)["actions_run"] == 0
    edit(root / "recipes" / "one" / "c.yaml", "Asset c", "Asset c, red")
    assert loaded(root) == ["recipes/one/c.yaml"]
    assert build(root) == 0 and json.loads(capsys.readouterr().out)["actions_run"] == 1
    assert compact + ",\n" in (root / "assetgen.lock").read_text()     # as the pull brought it


def test_a_changed_file_that_passes_the_schema_is_checked_without_importing_json_schema(
        tmp_path: Path) -> None:
    import subprocess
    import sys

    root = make(tmp_path / "p")
    script = ("import sys\nfrom assetgen.cli import main\ncode = main(['build', '--json'])\n"
              "print(code, 'jsonschema' in sys.modules)\n")
    edit(root / "recipes" / "one" / "c.yaml", "Asset c", "Asset c, red")
    run = [sys.executable, "-c", script]
    done = subprocess.run(run, cwd=root, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "0 False"
    edit(root / "recipes" / "one" / "c.yaml", "prompt:", "promt:")     # JSON Schema says what is wrong
    done = subprocess.run(run, cwd=root, capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == "2 True"
    assert "recipes/one/c.yaml:4:5: error: unknown key 'promt'" in done.stderr, done.stderr
