"""The lock text is the same whether each entry is encoded again or taken from the file assetgen
wrote last (`.assetgen/lock-text.json` holds that file's stat): a build that changes one asset
writes the text a full encoding would, and a lock file not written by assetgen, or a record that
does not match it, is encoded afresh. The quick reading of a lock file gives what the careful one
gives."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from assetgen import lockfile
from assetgen.atomic import Known
from assetgen.cli import main

RECIPE = """\
version: 1
defaults: {model: gpt-image-2, size: 16x16}
assets:
  sword:
    prompt: "A sword"
    output: out/sword.png
  shield:
    prompt: "A shield"
    outputs:
      - path: out/shield.png
      - path: out/shield.jpg
        quality: 80
  gem:
    matrix:
      color: [red, blue, grün]
    prompt: "A {{ color }} gem, \\"cut\\""
    output: "out/{{ name }}.png"
"""


def full_text(lock: lockfile.Lock) -> str:
    """The lock text encoded whole, as assetgen always wrote it."""
    assets = {n: a.to_json() for n, a in sorted(lock.assets.items())}
    body = {"version": lockfile.LOCK_VERSION, "assets": assets}
    return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def project(root: Path) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "assetgen.yaml").write_text("version: 1\nprovider: local\n")
    (root / "recipes" / "r.yaml").write_text(RECIPE)
    assert main(["build", str(root)]) == 0
    return root


def test_a_build_that_changes_one_asset_writes_the_fully_encoded_text(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert (root / ".assetgen" / lockfile.TEXT_RECORD).is_file()
    read = lockfile.read(root)
    assert set(read.blocks) == set(read.assets)      # the file is the one assetgen wrote
    recipe = root / "recipes" / "r.yaml"
    recipe.write_text(recipe.read_text().replace("A shield", "A round shield"))
    assert main(["build", str(root)]) == 0
    text = (root / "assetgen.lock").read_text()
    lock = lockfile.read(root)
    assert lock.assets["shield"].steps[0].prompt == "A round shield"
    assert text == full_text(lock)


def test_the_text_of_an_entry_comes_from_the_file_only_when_the_entry_is_unchanged(tmp_path: Path) -> None:
    root = project(tmp_path)
    lock = lockfile.read(root)
    marked = {n: (a, t.replace("out/", "OUT/")) for n, (a, t) in lock.blocks.items()}
    reused = lockfile.Lock(lock.assets, marked).text()
    assert reused.count("OUT/") == full_text(lock).count("out/")     # every entry from the file
    changed = dict(lock.assets)
    old = changed["sword"]
    step = old.steps[0]
    changed["sword"] = lockfile.LockAsset(old.name, old.recipe, (step.__class__(
        step.op, step.provider, step.model, "A sword!", step.params, step.inputs, step.key, step.results),),
        old.outputs)
    text = lockfile.Lock(changed, marked).text()
    assert '"prompt": "A sword!"' in text
    assert '"OUT/sword.png"' not in text and '"out/sword.png"' in text


def test_a_parameter_of_another_type_is_encoded_again(tmp_path: Path) -> None:
    root = project(tmp_path)
    lock = lockfile.read(root)
    old = lock.assets["sword"]
    step = old.steps[0]
    params = tuple(sorted({**dict(step.params), "seed": 1}.items()))
    as_float = tuple(sorted({**dict(step.params), "seed": 1.0}.items()))
    before = lockfile.LockAsset(old.name, old.recipe, (step.__class__(
        step.op, step.provider, step.model, step.prompt, params, step.inputs, step.key, step.results),),
        old.outputs)
    after = lockfile.LockAsset(old.name, old.recipe, (step.__class__(
        step.op, step.provider, step.model, step.prompt, as_float, step.inputs, step.key, step.results),),
        old.outputs)
    blocks = {"sword": (before, lockfile.Lock({"sword": before}).text())}
    assert '"seed": 1.0' in lockfile.Lock({"sword": after}, blocks).text()


def test_a_lock_file_written_by_hand_is_encoded_afresh(tmp_path: Path) -> None:
    root = project(tmp_path)
    lock = lockfile.read(root)
    compact = json.dumps(json.loads((root / "assetgen.lock").read_text())).encode("utf-8")
    (root / "assetgen.lock").write_bytes(compact)
    assert lockfile.read(root).blocks == {}       # the record names another text
    # even a record that matches (it names the hand-written text) cannot split it into entries
    lockfile._record(root, Known.of(os.stat(root / "assetgen.lock")))
    again = lockfile.read(root)
    assert again.blocks == {} and again == lock
    assert again.text() == full_text(lock)


def test_a_damaged_record_is_ignored(tmp_path: Path) -> None:
    root = project(tmp_path)
    lock = lockfile.read(root)
    record = root / ".assetgen" / lockfile.TEXT_RECORD
    stat = list(Known.of(os.stat(root / "assetgen.lock")).stat)
    other = json.dumps({"stat": [stat[0], *stat[1:4], stat[4] + 1]}).encode()     # another device
    for damage in (b"", b"[1]", b'{"sha256": 5}', b"\xff" * 10, b'{"sha256": "' + b"0" * 64 + b'"}',
                   b'{"stat": null}', b'{"stat": [1, 2, 3, 4, 5]}', other, b'{"stat": "%d"}' % stat[0]):
        record.write_bytes(damage)
        again = lockfile.read(root)
        assert again.blocks == {} and again == lock
        assert again.text() == full_text(lock)


def test_entries_moved_between_files_keep_no_stale_text(tmp_path: Path) -> None:
    """An entry whose block was read under one name is never written under another."""
    root = project(tmp_path)
    text = (root / "assetgen.lock").read_text()
    swapped = text.replace('"shield": {', '"zzz": {', 1)    # the names no longer follow the sorted order
    (root / "assetgen.lock").write_text(swapped)
    lockfile._record(root, Known.of(os.stat(root / "assetgen.lock")))
    assert lockfile.read(root).blocks == {}


def test_the_quick_reading_gives_what_the_careful_one_gives(tmp_path: Path) -> None:
    root = project(tmp_path)
    body = json.loads((root / "assetgen.lock").read_text())
    careful = {n: lockfile._asset(n, v, lockfile._Shape("assets").at(n)) for n, v in body["assets"].items()}
    quick = {n: lockfile._quick_asset(n, v) for n, v in body["assets"].items()}
    assert quick == careful
    assert [repr(s.params) for a in quick.values() for s in a.steps] == \
        [repr(s.params) for a in careful.values() for s in a.steps]


def test_the_lock_file_is_written_one_entry_at_a_time(tmp_path: Path) -> None:
    """Writing a lock of many entries never holds its whole text (nor its bytes): the file is the
    text, replaced only when it changes, and memory stays a small part of its size."""
    import os
    import tracemalloc

    import msgspec

    root = project(tmp_path)
    sword = lockfile.read(root).assets["sword"]
    many = lockfile.Lock({f"sword-{i:05d}": msgspec.structs.replace(sword, name=f"sword-{i:05d}")
                          for i in range(3000)})
    text = many.text()
    assert text == full_text(many)
    tracemalloc.start()
    try:
        assert lockfile.write(root, many)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (root / "assetgen.lock").read_text(encoding="utf-8") == text
    assert peak < len(text) // 4
    inode = os.stat(root / "assetgen.lock").st_ino
    assert not lockfile.write(root, many)        # the same text: the file stays as it is
    assert os.stat(root / "assetgen.lock").st_ino == inode
    assert [p.name for p in root.iterdir() if p.name.startswith(".tmp-")] == []
    assert lockfile.read(root) == many


def test_a_lock_file_that_cannot_be_written_in_the_background_says_so(tmp_path: Path) -> None:
    from assetgen.run.build import _Writing

    root = project(tmp_path)
    lock = lockfile.read(root)
    (root / "assetgen.lock").unlink()
    (root / "assetgen.lock").mkdir()
    (root / "assetgen.lock" / "x").write_text("a folder in its place")
    many = lockfile.Lock({**lock.assets, "zzz": lock.assets["sword"]})
    writing = _Writing(root, many)
    with pytest.raises(OSError):
        writing.done()
    writing.done()      # said once
    assert [p.name for p in root.iterdir() if p.name.startswith(".tmp-")] == []
