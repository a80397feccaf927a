"""`lockfile.read_some`: a build after a small change reads only the lock entries it needs, finds
them by their key in the text assetgen wrote, and leaves the rest as text, split into entries only
when the file is written again. What it gives is what the whole reading gives."""

from __future__ import annotations

import os
from pathlib import Path

from assetgen import lockfile
from assetgen.cli import main

PROJECT = "version: 1\nprovider: local\ndefaults:\n  model: gpt-image-2\n  size: 16x16\n"
RECIPE = """\
version: 1
assets:
  a1: {prompt: "one", output: out/a1.png}
  a10: {prompt: "ten", output: out/a10.png}
  a2: {prompt: "two", output: out/a2.png}
  m:
    matrix: {v: ["x", "é", 'q"x', 'b\\\\s', "日本", "🙂x", "ü\\u0080"]}
    prompt: "m {{ v }}"
    output: "out/m-{{ v | length }}{{ v[0] }}.png"
"""


def built(root: Path) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "assetgen.yaml").write_text(PROJECT)
    (root / "recipes" / "r.yaml").write_text(RECIPE, encoding="utf-8")
    cwd = Path.cwd()
    os.chdir(root)
    try:
        assert main(["build", "--json"]) == 0
    finally:
        os.chdir(cwd)
    return root


def test_the_entries_read_are_the_whole_readings_and_the_rest_is_kept_as_written(tmp_path: Path) -> None:
    root = built(tmp_path / "p")
    whole = lockfile.read(root)
    names = sorted(whole.assets)
    assert {"a1", "a10", "m-é", 'm-q"x', "m-b\\\\s"} <= set(names), names
    for wanted in (["a1"], ["a10", "m-é"], ['m-q"x', "m-b\\\\s", "missing"], names, []):
        some = lockfile.read_some(root, wanted)
        assert some is not None
        assert some.assets == {n: whole.assets[n] for n in wanted if n in whole.assets}
        assert sorted(some.others) == [n for n in names if n not in wanted]
        assert some.text() == (root / "assetgen.lock").read_text(encoding="utf-8")     # written as read
        text = some.others_text()
        for name in names:
            key = '\n    "' + name.replace("\\", "\\\\").replace('"', '\\"') + '": {'
            assert (key in "\n" + text) == (name not in wanted), name
            call = whole.assets[name].steps[0].key       # each asset's own
            assert some.others_hold(["nothing", call]) == (name not in wanted) == (call in text), name


def test_a_lock_file_changed_since_assetgen_wrote_it_is_not_read_in_part(tmp_path: Path) -> None:
    root = built(tmp_path / "p")
    lock = root / "assetgen.lock"
    lock.write_text(lock.read_text() + "\n")
    assert lockfile.read_some(root, ["a1"]) is None


def test_what_a_command_froze_for_the_collector_is_thawed_when_it_ends(tmp_path: Path) -> None:
    import gc

    root = built(tmp_path / "p")
    (root / "recipes" / "r.yaml").write_text(RECIPE.replace('"one"', '"one more"'), encoding="utf-8")
    cwd = Path.cwd()
    os.chdir(root)
    try:
        assert main(["plan"]) == 0      # reads the stamp, the build index and the lock
    finally:
        os.chdir(cwd)
    assert gc.get_freeze_count() == 0


NEW_NAMES = ["a0", "a1a", "a11", "a3", "b", "m-", "m-a", "m-q", 'm-q"y', "m-é2", "m-z", "z", "a10", "m-x",
             "m-ü", "m-ü\u0080a", "m-日", "m-日本人", "m-🙂", "m-🙂y", "m-\uffff", "\U0001f642"]


def test_a_small_build_writes_the_unread_entries_back_in_runs_as_the_whole_rewrite_would(
        tmp_path: Path) -> None:
    import msgspec
    from hypothesis import given, settings
    from hypothesis import strategies as st

    root = built(tmp_path / "p")
    whole = lockfile.read(root)
    names = sorted(whole.assets)

    @given(st.sets(st.sampled_from(names)), st.data())
    @settings(max_examples=300, deadline=None)
    def check(wanted: set[str], data: st.DataObject) -> None:
        some = lockfile.read_some(root, wanted)
        assert some is not None
        removed = data.draw(st.sets(st.sampled_from(sorted(wanted)))) if wanted else set()
        added = data.draw(st.sets(st.sampled_from(NEW_NAMES)))
        assets = {n: a for n, a in some.assets.items() if n not in removed}
        for name in sorted(added):
            assets[name] = msgspec.structs.replace(whole.assets["a2"], name=name)
        expected = {n: a for n, a in whole.assets.items() if n not in removed}
        expected.update({n: assets[n] for n in added})
        partial = lockfile.Lock(assets, some.blocks, some.others)
        assert b"".join(partial.chunks()) == lockfile.Lock(expected).text().encode("utf-8")

    check()


_opened: list[str] | None = None      # while a test watches: the paths opened


def _watch(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], str | bytes | os.PathLike):
        _opened.append(os.fsdecode(args[0]))


def test_writing_back_a_lock_read_from_the_file_does_not_read_the_file_again(tmp_path: Path) -> None:
    """The file's stat, checked when it was read, tells that it is still the file read, whose text
    this is: the file is neither read again nor replaced."""
    import sys

    global _opened
    sys.addaudithook(_watch)
    root = built(tmp_path / "p")
    path = root / "assetgen.lock"
    before = path.read_bytes()
    inode = os.stat(path).st_ino
    for lock in (lockfile.read_some(root, ["a1", "m-é"]), lockfile.read(root)):
        assert lock is not None and lock.file is not None
        _opened = []
        try:
            assert not lockfile.write(root, lock)
            opened = _opened
        finally:
            _opened = None
        assert str(path) not in opened
        assert os.stat(path).st_ino == inode and path.read_bytes() == before


def test_a_lock_file_changed_after_it_was_read_is_replaced(tmp_path: Path) -> None:
    root = built(tmp_path / "p")
    path = root / "assetgen.lock"
    before = path.read_bytes()
    lock = lockfile.read_some(root, ["a1"])
    assert lock is not None
    edited = before.replace(b'"one"', b'"eno"')
    assert edited != before and len(edited) == len(before)
    path.write_bytes(edited)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert lockfile.write(root, lock)
    assert path.read_bytes() == before


def test_the_record_names_the_file_in_place_by_its_stat(tmp_path: Path) -> None:
    import json

    from assetgen.atomic import Known

    root = built(tmp_path / "p")
    record = json.loads((root / ".assetgen" / lockfile.TEXT_RECORD).read_text())
    assert record == {"stat": list(Known.of(os.stat(root / "assetgen.lock")).stat)}
    assert lockfile.read_some(root, ["a1"]) is not None


def test_a_lock_file_rewritten_in_place_with_its_old_mtime_is_not_read_in_part(tmp_path: Path) -> None:
    # the same size, inode and mtime (a hand that restores the mtime): the ctime tells
    root = built(tmp_path / "p")
    path = root / "assetgen.lock"
    before = path.read_bytes()
    st = os.stat(path)
    edited = before.replace(b'"one"', b'"eno"')
    with open(path, "r+b") as fh:
        fh.write(edited)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_ino, after.st_mtime_ns) == (st.st_size, st.st_ino, st.st_mtime_ns)
    assert lockfile.read_some(root, ["a1"]) is None
    assert lockfile.read(root).file is None


def test_a_lock_file_put_back_by_hand_is_not_read_in_part(tmp_path: Path) -> None:
    # the very bytes assetgen wrote, but another file (git checkout, a copy): read whole once
    import shutil

    root = built(tmp_path / "p")
    path = root / "assetgen.lock"
    shutil.copy2(path, root / "copy.lock")
    os.replace(root / "copy.lock", path)
    assert lockfile.read_some(root, ["a1"]) is None


def test_a_record_of_the_lock_files_hash_is_still_honoured(tmp_path: Path) -> None:
    import hashlib
    import json

    root = built(tmp_path / "p")
    data = (root / "assetgen.lock").read_bytes()
    record = root / ".assetgen" / lockfile.TEXT_RECORD
    record.write_text(json.dumps({"sha256": hashlib.sha256(data).hexdigest()}))
    some = lockfile.read_some(root, ["a1"])
    assert some is not None and not lockfile.write(root, some)
    assert json.loads(record.read_text())["stat"][0] == len(data)
    assert lockfile.read_some(root, ["a1"]) is not None
