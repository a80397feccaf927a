"""The build stamp is a base and the changes since it: a build after a small change writes only the
changes, a reader merges them, and past a threshold the base is written whole again. Whatever the
sequence of changes, the merged stamp is what a whole rewrite gives; a changes file that is damaged,
lost or of another base costs a full path, never a wrong no-op."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from smallproject import build, make, recipe

from assetgen.run import delta, index, stamp

NAMES = "abcdefgh"





def compared(root: Path) -> stamp.Compared | None:
    return stamp.compare(root, stamp.signature([], root, None))


def small(root: Path) -> bool:
    """Whether the next build takes the path of a small change."""
    found = compared(root)
    return found is not None and delta.prepare(found, None) is not None


def merged(root: Path) -> dict[str, Any]:
    """The stamp as a reader has it, less what differs between two writes of the same state."""
    body, _ = stamp._load(root)
    assert isinstance(body, dict)
    found = {k: v for k, v in body.items() if k not in ("id", "reached_at", "index")}
    entries = index.read(root, body["index"])      # the same entries (in the order each path made them)
    assert entries is not None
    return {**found, "index": {rel: e.to_json() for rel, e in entries.items()}}


def rewritten(root: Path, tmp: Path) -> dict[str, Any]:
    """The stamp a build of the project as it is writes whole (its stats are the same files')."""
    state = root / ".assetgen"
    names = (stamp.STAMP_FILE, stamp.CHANGES_FILE, stamp.INDEX_FILE, stamp.INDEX_CHANGES_FILE)
    for name in names:
        (tmp / name).unlink(missing_ok=True)
        if (state / name).exists():
            shutil.copy2(state / name, tmp / name)
        (state / name).unlink(missing_ok=True)
    assert build(root)["outputs_written"] == 0
    assert not (state / stamp.CHANGES_FILE).exists() and not (state / stamp.INDEX_CHANGES_FILE).exists()
    whole = merged(root)
    for name in names:       # put the stamp as it was back
        (state / name).unlink(missing_ok=True)
        if (tmp / name).exists():
            shutil.copy2(tmp / name, state / name)
    return whole


def edit(root: Path, name: str, prompt: str) -> None:
    (root / "recipes" / f"{name}.yaml").write_text(recipe(name, prompt))


def test_a_small_change_writes_only_the_changes(tmp_path: Path) -> None:
    root = make(tmp_path / "p", NAMES)
    base = (root / ".assetgen" / stamp.STAMP_FILE).read_bytes()
    edit(root, "c", "Asset c, red")
    assert small(root)
    assert build(root)["outputs_written"] == 1
    assert (root / ".assetgen" / stamp.STAMP_FILE).read_bytes() == base
    changes = json.loads((root / ".assetgen" / stamp.CHANGES_FILE).read_bytes().partition(b"\n")[2])
    assert sorted(changes["files"]) == ["assetgen.lock", "out/c.png", "recipes/c.yaml"]
    assert changes["gone"] == []
    found = compared(root)      # the next build is a no-op
    assert found is not None and found.changed == () and found.dirs_changed == ()
    assert merged(root) == rewritten(root, tmp_path)


def test_a_path_gone_since_the_base_is_gone_from_the_merged_stamp(tmp_path: Path) -> None:
    root = make(tmp_path / "p", NAMES)
    (root / "recipes" / "c.yaml").write_text(recipe("c", "Asset c").replace("out/c.png", "out/c2.png"))
    assert small(root)
    build(root)
    assert not (root / "out" / "c.png").exists()
    changes = json.loads((root / ".assetgen" / stamp.CHANGES_FILE).read_bytes().partition(b"\n")[2])
    assert changes["gone"] == ["out/c.png"]
    assert "out/c.png" not in merged(root)["files"]
    assert merged(root) == rewritten(root, tmp_path)
    # a path the base never had goes without a trace; one it had and has again is a change
    (root / "recipes" / "c.yaml").write_text(recipe("c", "Asset c").replace("out/c.png", "out/c3.png"))
    build(root)
    changes = json.loads((root / ".assetgen" / stamp.CHANGES_FILE).read_bytes().partition(b"\n")[2])
    assert changes["gone"] == ["out/c.png"] and "out/c2.png" not in changes["files"]
    assert merged(root) == rewritten(root, tmp_path)
    (root / "recipes" / "c.yaml").write_text(recipe("c", "Asset c"))
    build(root)
    changes = json.loads((root / ".assetgen" / stamp.CHANGES_FILE).read_bytes().partition(b"\n")[2])
    assert changes["gone"] == [] and "out/c.png" in changes["files"]
    assert merged(root) == rewritten(root, tmp_path)


def test_past_the_threshold_the_base_is_written_whole_again(tmp_path: Path) -> None:
    root = make(tmp_path / "p", NAMES)
    state = root / ".assetgen"
    ids = []
    for i, name in enumerate(NAMES):
        edit(root, name, f"Asset {name}, {i}")
        build(root)
        ids.append(json.loads((state / stamp.STAMP_FILE).read_text())["id"])
    # each change is a recipe file, its output and the lock; past 8 paths (a quarter of the 18, at
    # least 8) the changes file goes and the base is written whole: the 4th and 8th change
    assert ids[0] == ids[1] == ids[2] != ids[3] == ids[4] == ids[5] == ids[6] != ids[7]
    assert merged(root) == rewritten(root, tmp_path)


@pytest.mark.parametrize("damage", ["truncated", "flipped", "emptied", "missing", "other base", "a link"])
def test_a_damaged_changes_file_costs_only_a_full_path(tmp_path: Path, damage: str) -> None:
    root = make(tmp_path / "p", NAMES)
    state = root / ".assetgen"
    changes = state / stamp.CHANGES_FILE
    if damage == "other base":      # the changes of the base before this one
        edit(root, "a", "Asset a, blue")
        build(root)
        old = changes.read_bytes()
        for i, name in enumerate(NAMES):
            edit(root, name, f"Asset {name}, green {i}")
            build(root)
    edit(root, "c", "Asset c, red")
    build(root)
    data = changes.read_bytes()
    if damage == "truncated":
        changes.write_bytes(data[:-7])
    elif damage == "flipped":
        at = len(data) - 40
        changes.write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1:])
    elif damage == "emptied":
        changes.write_bytes(b"")
    elif damage == "missing":
        changes.unlink()
    elif damage == "other base":
        changes.write_bytes(old)
    else:
        (tmp_path / "elsewhere.json").write_bytes(data)
        changes.unlink()
        changes.symlink_to(tmp_path / "elsewhere.json")
    found = compared(root)
    assert found is not None and found.changed != ()      # the base alone: an earlier build's stamp
    assert build(root)["outputs_written"] == 0
    found = compared(root)
    assert found is not None and found.changed == () and found.dirs_changed == ()
    assert merged(root) == rewritten(root, tmp_path)


def test_the_no_op_merges_the_changes(tmp_path: Path) -> None:
    root = make(tmp_path / "p", NAMES)
    edit(root, "b", "Asset b, red")
    build(root)
    summary = build(root)
    assert summary["actions_run"] == 0 and summary["actions_cached"] == 2 * len(NAMES)
    assert (root / ".assetgen" / stamp.CHANGES_FILE).exists()
    (root / "out" / "b.png").unlink()       # what the changes file says of b.png no longer holds
    found = compared(root)
    assert found is not None and found.changed == ("out/b.png",)


def test_gc_sees_when_the_changes_were_written(tmp_path: Path) -> None:
    root = make(tmp_path / "p", NAMES)
    state = root / ".assetgen"
    then = os.stat(state / stamp.STAMP_FILE).st_mtime - 3600
    os.utime(state / stamp.STAMP_FILE, (then, then))
    edit(root, "b", "Asset b, red")
    build(root)
    found = stamp.reached(root)
    assert found is not None
    at, until = found
    assert until == os.stat(state / stamp.CHANGES_FILE).st_mtime and until >= at - 1


@given(st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(["red", "blue", "moved"])),
                min_size=1, max_size=6))
@settings(max_examples=8, deadline=None)
def test_any_sequence_of_small_changes_merges_to_the_whole_rewrite(
        tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[str, str]]) -> None:
    tmp = tmp_path_factory.mktemp("seq")
    root = make(tmp / "p", NAMES)
    for name, how in edits:
        text = recipe(name, f"Asset {name}, {how}")
        if how == "moved":
            text = text.replace(f"out/{name}.png", f"out/{name}-moved.png")
        (root / "recipes" / f"{name}.yaml").write_text(text)
        build(root)
    assert merged(root) == rewritten(root, tmp)


# -- the build index: the same, an entry (or a large entry's runs) at a time ----------------------

def index_changes(root: Path) -> dict[str, Any]:
    data = (root / ".assetgen" / stamp.INDEX_CHANGES_FILE).read_bytes()
    import hashlib

    body, _ = stamp._load(root)
    assert body["index"] == hashlib.sha256(data).hexdigest()      # the stamp names the changes
    return json.loads(data)


MATRIX = """\
version: 1
assets:
  m:
    matrix:
      v: [{values}]
    prompt: "m {{{{ v }}}}"
    output: "out/m-{{{{ v }}}}.png"
"""


def matrix_project(root: Path, values: list[str]) -> Path:
    make(root, NAMES)
    (root / "recipes" / "m.yaml").write_text(MATRIX.format(values=", ".join(values)))
    build(root)
    return root


def test_a_small_change_writes_only_its_entry_to_the_index(tmp_path: Path) -> None:
    root = make(tmp_path / "p", NAMES)
    base = (root / ".assetgen" / stamp.INDEX_FILE).read_bytes()
    edit(root, "c", "Asset c, red")
    build(root)
    assert (root / ".assetgen" / stamp.INDEX_FILE).read_bytes() == base
    changes = index_changes(root)
    assert list(changes["files"]) == ["recipes/c.yaml"] and changes["files"]["recipes/c.yaml"][0] == "="
    assert merged(root) == rewritten(root, tmp_path)


def test_a_change_to_a_large_matrix_is_written_as_the_runs_that_differ(tmp_path: Path) -> None:
    values = [f"v{i:03d}" for i in range(100)]
    root = matrix_project(tmp_path / "p", values)
    values[40] = "w040"
    (root / "recipes" / "m.yaml").write_text(MATRIX.format(values=", ".join(values)))
    assert small(root)
    build(root)
    record = index_changes(root)["files"]["recipes/m.yaml"]
    assert record[0] == "~"
    variants, assets, matrix, outputs, inputs, refs, actions = record[1]
    assert variants == ["~", [[40, 41, ["m-w040"]]]] and outputs == ["~", [[40, 41, ["out/m-w040.png"]]]]
    assert assets == ["k", {"m": ["~", [[40, 41, ["m-w040"]]]]}, []]
    assert matrix is inputs is refs is None
    assert actions[0] == "~" and [run[:2] for run in actions[1]] == [[80, 82]]
    assert merged(root) == rewritten(root, tmp_path)
    values.insert(50, "x050")        # one more variant and one less: the columns move
    del values[53]
    (root / "recipes" / "m.yaml").write_text(MATRIX.format(values=", ".join(values)))
    build(root)
    assert index_changes(root)["files"]["recipes/m.yaml"][0] == "~"
    assert merged(root) == rewritten(root, tmp_path)


def test_past_an_eighth_of_the_base_or_4_kb_the_index_is_written_whole_again(tmp_path: Path) -> None:
    root = make(tmp_path / "p", NAMES)
    for k in "xyz":     # 40 assets a file: each entry written whole in the changes, ~2.5 KB
        lines = [f"  {k}{i:02d}: {{prompt: \"{k} {i}\", output: out/{k}{i:02d}.png}}\n" for i in range(40)]
        (root / "recipes" / f"{k}.yaml").write_text("version: 1\nassets:\n" + "".join(lines))
    build(root)
    state = root / ".assetgen"
    assert not (state / stamp.INDEX_CHANGES_FILE).exists()
    base = (state / stamp.INDEX_FILE).read_bytes()
    for k in "xy":
        path = root / "recipes" / f"{k}.yaml"
        path.write_text(path.read_text().replace(f'"{k} 1"', f'"{k} one"'))
        build(root)
        if k == "x":
            assert (state / stamp.INDEX_FILE).read_bytes() == base and index_changes(root)["files"]
    assert (state / stamp.INDEX_FILE).read_bytes() != base      # the second change: past 4 KB
    assert not (state / stamp.INDEX_CHANGES_FILE).exists()
    assert merged(root) == rewritten(root, tmp_path)


@pytest.mark.parametrize("damage", ["truncated", "flipped", "missing", "base changed"])
def test_a_damaged_index_costs_only_a_full_path(tmp_path: Path, damage: str) -> None:
    root = make(tmp_path / "p", NAMES)
    edit(root, "c", "Asset c, red")
    build(root)
    path = root / ".assetgen" / stamp.INDEX_CHANGES_FILE
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[:-3])
    elif damage == "flipped":
        path.write_bytes(data[:20] + bytes([data[20] ^ 1]) + data[21:])
    elif damage == "missing":
        path.unlink()
    else:
        base = root / ".assetgen" / stamp.INDEX_FILE
        base.write_bytes(base.read_bytes().replace(b"recipes/a.yaml", b"recipes/A.yaml"))
    edit(root, "d", "Asset d, red")
    assert not small(root)
    assert build(root)["outputs_written"] == 1
    found = compared(root)
    assert found is not None and found.changed == ()
    assert merged(root) == rewritten(root, tmp_path)


@given(st.lists(st.sampled_from("abcde"), max_size=300), st.lists(st.sampled_from("abcde"), max_size=300),
       st.integers(1, 70))
@settings(max_examples=300, deadline=None)
def test_the_runs_of_two_columns_make_one_of_the_other(a: list[str], b: list[str], block: int) -> None:
    runs = index._runs(a, b, block)
    assert index._spliced(a, json.loads(json.dumps(runs))) == b
    if a == b:
        assert runs == []


@pytest.mark.parametrize("record, ok", [
    (["~", [["~", [[1, 2, ["y"]]]], None, None, None, None, None, None]], True),
    (["~", [["~", [[1, 2, [5]]]], None, None, None, None, None, None]], False),           # not a string
    (["~", [["~", [[1, 2, [["y"]]]]], None, None, None, None, None, None]], False),
    (["~", [["~", [[2, 1, ["y"]]]], None, None, None, None, None, None]], False),         # backwards
    (["~", [["~", [[1, 9, ["y"]]]], None, None, None, None, None, None]], False),         # past the end
    (["~", [["~", [[0, 1, ["y"]], [0, 1, ["z"]]]], None, None, None, None, None, None]], False),  # overlap
    (["~", [None, ["k", {"a": ["=", ["x"]]}, []], None, None, None, None, None]], True),
    (["~", [None, ["k", {"a": ["=", [None]]}, []], None, None, None, None, None]], False),
    (["~", [None, ["k", {"a": ["~", [[0, 1, [1]]]]}, []], None, None, None, None, None]], False),
    (["~", [None, ["=", {"a": "x"}], None, None, None, None, None]], False),
    (["~", [None, None, ["=", "x"], None, None, None, None]], False),
    (["~", [None, None, ["=", ["x", 1]], None, None, None, None]], False),
    (["~", [None, None, ["=", ["x"]], None, None, None, None]], True),
    (["~", [None, None, None, None, None, None]], False),                                  # six fields
    (["?", []], False),
])
def test_a_changed_entry_brings_only_strings_where_they_go(record: list[Any], ok: bool) -> None:
    base = [["a", "b", "c"], {"a": ["a", "b", "c"]}, [], ["o1", "o2", "o3"], [], [], ["i1", "i2"]]
    entry = index._applied(base, json.loads(json.dumps(record)))
    assert (entry is not None) == ok
    if entry is not None:
        assert index._shaped([entry])
