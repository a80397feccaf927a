"""A lock file that cannot be read (truncated, empty, not UTF-8, bad JSON, the wrong shape) is a
clear exit-2 error naming it and how to recover, from every command that reads it; never a crash.
An empty lock file is damage too (an absent one means "nothing built yet"): reading it as absent
would make a fresh clone pay again for every image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assetgen.cli import main

RECIPE = """\
version: 1
defaults: {model: gpt-image-1, size: 1024x1024}
assets:
  icon:
    prompt: "A sword"
    outputs:
      - path: out/icon.png
      - path: out/icon.jpg
        quality: 80
"""


def project(root: Path) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "r.yaml").write_text(RECIPE)
    assert main(["build", str(root)]) == 0
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    return code, capsys.readouterr().err


def _valid(root: Path) -> bytes:
    return (root / "assetgen.lock").read_bytes()


DAMAGE = {
    "truncated": lambda good: good[: len(good) // 2],
    "empty": lambda good: b"",
    "blank": lambda good: b"\n  \n",
    "not UTF-8": lambda good: good.replace(b"A sword", b"A \xff\xfe sword"),
    "bad JSON": lambda good: good.replace(b'"recipe":', b'"recipe" ', 1),
    "a list": lambda good: b"[1, 2, 3]\n",
    "assets a list": lambda good: b'{"version": 1, "assets": []}\n',
    "deep nesting": lambda good: b"[" * 100_000 + b"]" * 100_000,
    "nesting within the recursion limit":
        lambda good: b'{"version": 1, "assets": ' + b"[" * 500 + b"]" * 500 + b"}",
    "a huge number": lambda good: good.replace(b'"version": 1', b'"version": ' + b"9" * 5000),
    "NaN": lambda good: good.replace(b'"quality": 80', b'"quality": NaN'),
    "a huge quality": lambda good: good.replace(b'"quality": 80', b'"quality": 1e999'),
    "a string for a list": lambda good: good.replace(b'"results": [', b'"results": "x", "was": ['),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("command", ["build", "plan", "gc"])
def test_an_unreadable_lock_file_is_exit_2_naming_it_and_the_way_back(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str, command: str) -> None:
    root = project(tmp_path / "p")
    before = {p: p.read_bytes() for p in sorted((root / "out").iterdir())}
    broken = DAMAGE[damage](_valid(root))
    (root / "assetgen.lock").write_bytes(broken)
    (root / "recipes" / "r.yaml").write_text(RECIPE + "\n")     # past the build stamp
    code, err = run(capsys, command, str(root))
    assert code == 2, err
    assert err.startswith(f"{root / 'assetgen.lock'}: error: cannot read the lock file: "), err
    assert f"`git checkout -- {root / 'assetgen.lock'}`" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert (root / "assetgen.lock").read_bytes() == broken
    assert {p: p.read_bytes() for p in sorted((root / "out").iterdir())} == before


def test_the_message_is_relative_to_the_current_folder_and_says_what_is_wrong(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path / "p")
    good = _valid(root)
    monkeypatch.chdir(tmp_path)
    cases = {
        good[:100]: "it is cut short at line 7 column 3 (truncated?)",
        good[:good.index(b"A sword") + 3]: "it is cut short at line ",
        b"": "it is empty",
        good.replace(b"A sword", b"A \xff sword"): "it is not UTF-8 text (byte ",
        b"[" * 100_000: "it is nested too deeply",
        b'{"version": 1, "assets": {"icon": {"recipe": 7}}}': "assets['icon'] has no 'steps'",
        b'{"version": 2, "assets": {}}': "unsupported lock version 2 (this assetgen reads 1)",
    }
    for text, why in cases.items():
        (root / "assetgen.lock").write_bytes(text)
        code, err = run(capsys, "plan", "p")
        assert code == 2
        assert err.startswith(f"p/assetgen.lock: error: cannot read the lock file: {why}"), err
    (root / "assetgen.lock").write_bytes(b"")
    assert run(capsys, "plan", "p")[1] == (
        "p/assetgen.lock: error: cannot read the lock file: it is empty. Nothing was run. Restore it "
        "(`git checkout -- p/assetgen.lock`), or delete it and build again: the build then takes what "
        "the cache holds and calls the API for the rest\n")


def test_deleting_a_damaged_lock_file_rebuilds_it_from_the_cache_with_no_call(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p")
    good = _valid(root)
    (root / "assetgen.lock").write_bytes(good[:40])
    assert run(capsys, "build", str(root))[0] == 2
    (root / "assetgen.lock").unlink()
    capsys.readouterr()
    assert main(["build", str(root), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["actions_run"], summary["requests"]) == (0, 0)
    assert _valid(root) == good


@pytest.mark.parametrize(("field", "value"), [
    ("results", ["../../../victim.txt"]),
    ("results", ["A" * 64]),
    ("results", [7]),
    ("key", "../victim"),
    ("inputs", [{"role": "image", "sha256": "../x"}]),
    ("inputs", [{"role": "image", "sha256": "0" * 64, "file": "/etc/passwd"}]),
    ("params", {"size": json.loads("[" * 40 + "]" * 40)}),
    ("params", {"n": 10**40}),
])
def test_a_lock_step_with_a_bad_hash_or_path_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: object) -> None:
    root = project(tmp_path / "p")
    lock = json.loads(_valid(root))
    lock["assets"]["icon"]["steps"][0][field] = value
    (root / "assetgen.lock").write_text(json.dumps(lock))
    code, err = run(capsys, "plan", str(root))
    assert code == 2, err
    assert "cannot read the lock file: " in err
    assert "assets['icon']['steps'][0]" in err or "nested too deeply" in err, err


@pytest.mark.parametrize("path", ["../victim.png", "/tmp/victim.png", "out/../../victim.png", "C:/victim.png",
                                  "out\\..\\..\\victim.png", ""])
def test_a_lock_output_path_outside_the_project_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], path: str) -> None:
    root = project(tmp_path / "p")
    lock = json.loads(_valid(root))
    outputs = lock["assets"]["icon"]["outputs"]
    outputs[path] = outputs["out/icon.png"]
    (root / "assetgen.lock").write_text(json.dumps(lock))
    code, err = run(capsys, "build", str(root))
    assert code == 2
    why = f"assets['icon']['outputs'][{path!r}] is not a path inside the project"
    assert f"cannot read the lock file: {why}" in err


def test_a_symlinked_lock_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "p")
    outside = tmp_path / "elsewhere.lock"
    good = _valid(root)
    outside.write_bytes(good)
    (root / "assetgen.lock").unlink()
    (root / "assetgen.lock").symlink_to(outside)
    (root / "recipes" / "r.yaml").write_text(RECIPE + "\n")
    code, err = run(capsys, "build", str(root))
    assert code == 2 and "it is a symbolic link" in err, err
    assert outside.read_bytes() == good and (root / "assetgen.lock").is_symlink()
