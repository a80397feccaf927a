"""A build after a change to a recipe file with a large matrix renders and plans only the variants
whose matrix values the last build did not have (`run.partial`, with the variant cache
`run.varcache`); the others are kept as that build left them. It leaves exactly what a full build
of the same project leaves (outputs, lock file, `--json` summary), and whatever it cannot decide
(another definition, a value the schema refuses, a clash, a damaged cache) loads the file whole or
goes the full way, with the full build's messages."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetgen.cli import main
from assetgen.run import delta, stamp, varcache
from assetgen.run.prepare import Prepared

PROJECT = """\
version: 1
provider: local
defaults:
  model: gpt-image-2
  size: 16x16
"""
N = 40      # at least partial.MIN_VARIANTS: a full build records the file's definition


def matrix(values: str, prompt: str = "Asset {{ i }}", extra: str = "") -> str:
    return (f"version: 1\nassets:\n  a:\n    matrix:\n      i: [{values}]\n    prompt: \"{prompt}\"\n"
            f"    output: \"out/{{{{ name }}}}.png\"\n{extra}")


VALUES = ", ".join(str(i) for i in range(N))


def make(root: Path, text: str = "") -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "assetgen.yaml").write_text(PROJECT)
    (root / "recipes" / "m.yaml").write_text(text or matrix(VALUES))
    (root / "recipes" / "solo.yaml").write_text(
        "version: 1\nassets:\n  solo:\n    prompt: \"Alone\"\n    output: out/solo.png\n")
    assert build(root)[0] == 0
    return root


def build(root: Path) -> tuple[int, dict[str, object] | None]:
    import contextlib
    import io

    cwd = Path.cwd()
    out, err = io.StringIO(), io.StringIO()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["build", "--json"])
    finally:
        os.chdir(cwd)
    text = out.getvalue().strip()
    build.err = err.getvalue()      # type: ignore[attr-defined]
    return code, json.loads(text) if text else None


def planned(root: Path) -> Prepared | None:
    """What a build of `root` would plan after a small change (None: the full way)."""
    compared = stamp.compare(root, stamp.signature([], root, None))
    assert compared is not None
    return delta.prepare(compared, None)


def variants(root: Path) -> list[str]:
    prep = planned(root)
    assert prep is not None
    return sorted(v.name for v in prep.project.variants())


def full_copy(root: Path, tmp_path: Path) -> Path:
    other = tmp_path / "full"
    shutil.copytree(root, other)
    (other / ".assetgen" / stamp.STAMP_FILE).unlink()
    return other


def state(root: Path) -> dict[str, object]:
    out = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "out").rglob("*"))}
    return {"lock": (root / "assetgen.lock").read_text(), "outputs": out}


def same_as_full(root: Path, tmp_path: Path) -> dict[str, object]:
    """Build `root` and a copy of it the full way: the same summary, lock file and outputs."""
    other = full_copy(root, tmp_path)
    full = build(other)
    mine = build(root)
    assert mine == full
    assert state(root) == state(other)
    assert mine[1] is not None
    return mine[1]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_one_changed_matrix_value_plans_only_its_variant_and_builds_as_the_full_way(tmp_path: Path) -> None:
    root = make(tmp_path / "p")
    edit(root / "recipes" / "m.yaml", ", 7, ", ", 7x, ")
    assert variants(root) == ["a-7x"]
    prep = planned(root)
    assert prep is not None
    assert len(prep.plan.actions) == 2              # its call and its output
    assert set(prep.lock.assets) == {"a-7"}         # the only lock entry read: the variant it replaces
    summary = same_as_full(root, tmp_path)
    assert summary["actions_total"] == 2 * N + 2 and summary["actions_run"] == 1
    assert summary["outputs_written"] == 1
    assert not (root / "out" / "a-7.png").exists() and (root / "out" / "a-7x.png").is_file()
    noop = {**summary, "actions_run": 0, "actions_cached": 2 * N + 2, "outputs_written": 0}
    assert build(root) == (0, noop)
    # and the next change builds on the cache this build wrote
    edit(root / "recipes" / "m.yaml", ", 9, ", ", 9y, ")
    assert variants(root) == ["a-9y"]
    same_as_full(root, tmp_path / "second")


def test_values_added_removed_and_moved(tmp_path: Path) -> None:
    root = make(tmp_path / "p")
    edit(root / "recipes" / "m.yaml", "[0, 1, 2,", "[2, 1, 'new', true,")   # 0 gone, 2 moved, two new
    assert variants(root) == ["a-new", "a-true"]
    same_as_full(root, tmp_path)
    lock = (root / "assetgen.lock").read_text()
    assert '"a-0"' not in lock and '"a-true"' in lock


def test_a_value_of_another_type_is_another_variant(tmp_path: Path) -> None:
    root = make(tmp_path / "p")
    edit(root / "recipes" / "m.yaml", ", 5, ", ", '5', ")    # the same name, another value
    assert variants(root) == ["a-5"]
    summary = same_as_full(root, tmp_path)
    assert summary["actions_run"] == 0      # the same prompt: the call is cached


def test_a_touched_file_plans_nothing(tmp_path: Path) -> None:
    root = make(tmp_path / "p")
    path = root / "recipes" / "m.yaml"
    path.write_text(path.read_text())
    assert variants(root) == []
    summary = same_as_full(root, tmp_path)
    assert summary["actions_run"] == 0 and summary["outputs_written"] == 0


@pytest.mark.parametrize("old, new", [
    ("Asset {{ i }}", "Asset {{ i }}, red"),                 # another definition
    ("Asset {{ i }}", "Asset {{ i | string }}"),             # a template that spends the file's budget
])
def test_another_definition_loads_the_file_whole(tmp_path: Path, old: str, new: str) -> None:
    root = make(tmp_path / "p")
    edit(root / "recipes" / "m.yaml", old, new)
    edit(root / "recipes" / "m.yaml", ", 3, ", ", 3z, ")
    assert len(variants(root)) == N
    same_as_full(root, tmp_path)


@pytest.mark.parametrize("new, message", [
    (", 1, ", "duplicate variant name 'a-1'"),
    (", null, ", "recipes/m.yaml:5:"),
    (", [1], ", "recipes/m.yaml:5:"),
    (", solo, ", None),
])
def test_a_value_the_full_way_refuses_gets_its_message(tmp_path: Path, new: str, message: str | None) -> None:
    root = make(tmp_path / "p")
    (root / "recipes" / "solo.yaml").write_text(
        "version: 1\nassets:\n  solo:\n    prompt: \"Alone\"\n    output: out/a-solo.png\n")
    assert build(root)[0] == 0
    edit(root / "recipes" / "m.yaml", ", 4, ", new)
    assert planned(root) is None
    other = full_copy(root, tmp_path)
    full = build(other)
    full_err = build.err        # type: ignore[attr-defined]
    assert full[0] == 2
    assert build(root) == full and build.err == full_err      # type: ignore[attr-defined]
    if message is not None:
        assert message in full_err
    else:
        assert "out/a-solo.png" in full_err


def test_a_file_another_refers_to_is_loaded_whole(tmp_path: Path) -> None:
    from PIL import Image

    root = make(tmp_path / "p")
    (root / "masks").mkdir()
    Image.new("RGBA", (16, 16), (0, 0, 0, 0)).save(root / "masks" / "m.png")
    (root / "recipes" / "framed.yaml").write_text(
        "version: 1\nassets:\n  framed:\n    steps:\n      - edit: \"Frame it\"\n"
        "        image: {asset: a-3}\n        mask: masks/m.png\n    output: out/framed.png\n")
    assert build(root)[0] == 0
    edit(root / "recipes" / "m.yaml", ", 8, ", ", 8b, ")
    assert len(variants(root)) == N + 1     # and the file that refers to it
    same_as_full(root, tmp_path)


@pytest.mark.parametrize("damage", [b"", b"{", b"x\n{}", "digit"])
def test_a_damaged_variant_cache_loads_the_file_whole(tmp_path: Path, damage: bytes | str) -> None:
    root = make(tmp_path / "p")
    path = root / ".assetgen" / varcache.CACHE_FILE
    data = path.read_bytes()
    if damage == "digit":
        at = data.index(b'"1:a1:i2:i1"')
        data = data[:at] + b'"1:a1:i2:i2"' + data[at + 12:]
    else:
        assert isinstance(damage, bytes)
        data = damage
    path.write_bytes(data)
    edit(root / "recipes" / "m.yaml", ", 6, ", ", 6q, ")
    assert len(variants(root)) == N
    same_as_full(root, tmp_path)


def rewrite_cache(root: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the variant cache's entry of the matrix file, its checksum made again."""
    import hashlib

    path = root / ".assetgen" / varcache.CACHE_FILE
    body = json.loads(path.read_bytes().partition(b"\n")[2])
    change(body["files"]["recipes/m.yaml"])
    payload = json.dumps(body).encode()
    path.write_bytes(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)


def _set(field: str, at: int | None, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        if at is None:
            raw[field] = value
        else:
            raw[field][at] = value
    return change


@pytest.mark.parametrize("change", [
    _set("outputs", 3, 2),                  # one output too many
    _set("actions", 3, 1),                  # one action too few
    _set("action_ids", None, ["x"] * (2 * N)),      # other actions
    _set("input_paths", None, ["in.png"]),  # an input the file does not read
    _set("inputs", 0, 1),
    _set("ref_names", None, ["solo"]),
    _set("refs", 0, 1),
    _set("bare", None, list(range(N))),     # no variant with values: the asset is no matrix
    _set("keys", None, [f"k{i}" for i in range(N - 1)]),    # one variant too few
    # records of the wrong shape
    _set("keys", 3, 5),                     # a key that is not a string
    _set("keys", 3, "1:a1:i2:i4"),          # a key twice
    _set("outputs", 3, "1"),                # a count that is not a number
    _set("outputs", 3, True),
    _set("outputs", None, [2, -1] + [1] * (N - 2)),     # a count below zero
    _set("input_paths", None, [1]),         # a path that is not a string
    _set("bare", None, [N]),                # a position past the end
    _set("bare", None, ["0"]),
    _set("action_ids", None, [[1]] * (2 * N)),     # action ids that are not strings
    _set("definition", None, 1),
    _set("keys", None, None),
])
def test_a_cache_whose_records_do_not_add_up_to_the_index_or_have_the_wrong_shape_is_not_used(
        tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    root = make(tmp_path / "p")
    rewrite_cache(root, change)
    edit(root / "recipes" / "m.yaml", ", 6, ", ", 6q, ")
    assert len(variants(root)) == N
    same_as_full(root, tmp_path)


def test_a_build_after_a_matrix_change_imports_neither_json_schema_nor_jinja2_nor_rich(
        tmp_path: Path) -> None:
    import subprocess
    import sys

    root = make(tmp_path / "p")
    edit(root / "recipes" / "m.yaml", ", 7, ", ", 7x, ")
    script = ("import sys\nfrom assetgen.cli import main\ncode = main(['build'])\n"
              "modules = ('jsonschema', 'jinja2', 'rich', 'multiprocessing')\n"
              "print(code, *(m in sys.modules for m in modules))\n")
    run = [sys.executable, "-c", script]
    done = subprocess.run(run, cwd=root, capture_output=True, text=True, check=True)
    # rich: for a live display only; multiprocessing: for a worker pool, which one image needs not
    assert done.stdout.splitlines()[-1] == "0 False False False False"
    # loaded whole: rendered with Jinja2, and checked (by the schema's generated code: it passes)
    edit(root / "recipes" / "m.yaml", "Asset {{ i }}", "Asset {{ i | upper }}")
    done = subprocess.run(run, cwd=root, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "0 False True False False"


def test_a_full_build_reads_a_large_matrix_file_once(tmp_path: Path) -> None:
    """The definition the variant cache keeps is the one the loader made from the bytes it read:
    the file is not read and parsed again to record it (and the next change still loads in part)."""
    from openedkit import recording

    root = make(tmp_path / "p")
    shutil.rmtree(root / ".assetgen")
    (root / "assetgen.lock").unlink()
    with recording() as opened:
        assert build(root)[0] == 0
    assert [p for p in opened if p.endswith("m.yaml")] == [str(root / "recipes" / "m.yaml")]
    edit(root / "recipes" / "m.yaml", ", 7, ", ", 107, ")
    assert variants(root) == ["a-107"]


# -- a change read on the last text (`recipe.splice`) ------------------------------------------------

def plan_json(root: Path) -> str:
    import contextlib
    import io

    cwd = Path.cwd()
    out = io.StringIO()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            main(["plan", "--json"])
    finally:
        os.chdir(cwd)
    return out.getvalue()


def spliced(root: Path) -> bool | None:
    """Whether a build now reads the matrix file on the basis of its last text (None: not in part)."""
    prep = planned(root)
    if prep is None or prep.rest is None or "recipes/m.yaml" not in prep.rest.kept:
        return None
    return prep.rest.kept["recipes/m.yaml"].spliced


def cache_entry(root: Path) -> dict[str, Any]:
    body = json.loads((root / ".assetgen" / varcache.CACHE_FILE).read_bytes().partition(b"\n")[2])
    return dict(body["files"]["recipes/m.yaml"])


def settled(root: Path) -> Path:
    """A first change after a full build: the file is read whole, and the cache keeps its text."""
    assert "basis" not in cache_entry(root) or cache_entry(root)["basis"] is None
    edit(root / "recipes" / "m.yaml", ", 2, ", ", 2a, ")
    assert spliced(root) is False
    assert build(root)[0] == 0
    assert cache_entry(root)["basis"]["text"] == (root / "recipes" / "m.yaml").read_text()
    return root


def build_index(root: Path) -> dict[str, Any]:
    """The build index the stamp names, as a reader has it (its base and the changes since)."""
    from assetgen.run import index

    body, _ = stamp._load(root)
    entries = index.read(root, body["index"])
    assert entries is not None
    return {rel: entry.to_json() for rel, entry in entries.items()}


def same_everywhere(root: Path, tmp_path: Path) -> tuple[int, dict[str, object] | None]:
    """Plan and build `root` and a copy of it the full way: the same plan, summary and messages,
    lock file, outputs, build index, and variant cache but for the text it keeps."""
    other = full_copy(root, tmp_path)
    assert plan_json(root) == plan_json(other)
    full = build(other)
    full_err = build.err        # type: ignore[attr-defined]
    mine = build(root)
    assert mine == full and build.err == full_err      # type: ignore[attr-defined]
    if full[0] == 0:
        assert state(root) == state(other)
        assert build_index(root) == build_index(other)
        assert {**cache_entry(root), "basis": None} == {**cache_entry(other), "basis": None}
    return mine


def test_one_changed_value_is_read_on_the_last_text_and_builds_as_the_full_way(tmp_path: Path) -> None:
    root = settled(make(tmp_path / "p"))
    edit(root / "recipes" / "m.yaml", ", 7, ", ", 7x, ")
    assert spliced(root) is True
    assert variants(root) == ["a-7x"]
    code, summary = same_everywhere(root, tmp_path / "first")
    assert code == 0 and summary is not None and summary["actions_run"] == 1
    assert cache_entry(root)["basis"]["text"] == (root / "recipes" / "m.yaml").read_text()
    # two values at once, the next build on the text this one kept
    edit(root / "recipes" / "m.yaml", ", 9, ", ", 9y, ")
    edit(root / "recipes" / "m.yaml", ", 30, ", ", 30z, ")
    assert spliced(root) is True
    assert variants(root) == ["a-30z", "a-9y"]
    same_everywhere(root, tmp_path / "second")
    # the file saved again as it was: nothing to render
    path = root / "recipes" / "m.yaml"
    path.write_text(path.read_text())
    assert spliced(root) is True and variants(root) == []


@pytest.mark.parametrize("old, new, how", [
    (", 5, ", ", true, ", True),
    (", 5, ", ", 1.0, ", True),
    (", 5, ", ", 1e3, ", True),
    (", 5, ", ", -5, ", True),
    (", 5, ", ", '5', ", False),            # quoted
    (", 5, ", ", 5, 55, ", False),          # a new value
    (", 5, ", ", ", False),                 # a value removed
    (", 5, ", ", 5, # five\n ", False),     # a comment
    (", 5, ", ", &five 5, ", False),        # an anchor
    (", 5, ", ",  5, ", False),             # other spacing
    (", 5, ", ", 5 , ", False),
    ("Asset {{ i }}", "Asset {{ i }}!", False),     # another definition
    ("[0, 1,", "[0, 1,\n ", False),         # a line break
    (", 5, ", ", null, ", None),            # the full way's error
    (", 5, ", ", ~, ", None),
    (", 5, ", ", 0x1, ", None),             # a value twice: 1
    (", 5, ", ", [5], ", None),
    (", 5, ", ", 5: 6, ", None),
    (", 5, ", ", a#b, ", False),            # a plain value with "#" inside: read whole
])
def test_an_edit_gives_the_full_ways_result(tmp_path: Path, old: str, new: str, how: bool | None) -> None:
    root = settled(make(tmp_path / "p"))
    edit(root / "recipes" / "m.yaml", old, new)
    assert spliced(root) is how
    same_everywhere(root, tmp_path)


def test_a_value_of_a_matrix_of_two_keys_is_read_on_the_last_text(tmp_path: Path) -> None:
    two = (f"version: 1\nassets:\n  a:\n    matrix: {{i: [{VALUES}], j: [x, y, z]}}\n"
           "    prompt: \"Asset {{ i }} {{ j }}\"\n    output: \"out/{{ name }}.png\"\n"
           "  b:\n    prompt: \"Alone\"\n    output: out/b.png\n")
    root = settled(make(tmp_path / "p", two))
    edit(root / "recipes" / "m.yaml", "y, z]", "w, z]")      # every variant of `y` is another one
    assert spliced(root) is True
    assert len(variants(root)) == N and all(v.endswith("-w") for v in variants(root))
    same_everywhere(root, tmp_path / "first")
    edit(root / "recipes" / "m.yaml", ", 8, ", ", 8b, ")
    assert spliced(root) is True
    assert variants(root) == ["a-8b-w", "a-8b-x", "a-8b-z"]
    same_everywhere(root, tmp_path / "second")


def _basis(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda raw: change(raw["basis"])


@pytest.mark.parametrize("change", [
    _basis(lambda b: b.update(text=b["text"].replace(", 6, ", ", 6b, "))),      # another value there
    _basis(lambda b: b.update(text=b["text"].replace(", 6, ", ", 66, "))),      # and its list's place
    _basis(lambda b: b["values"][0].__setitem__(7, 70)),                     # the edited value's
    _basis(lambda b: b["values"][0].__setitem__(6, 60)),                     # another one's: unused
    _basis(lambda b: b["lists"][0].__setitem__(2, b["lists"][0][2] + 1)),
    _basis(lambda b: b["lists"][0].__setitem__(3, b["lists"][0][3] - 1)),
    _basis(lambda b: b["values"][0].pop()),
    _basis(lambda b: b.update(text=b["text"] + "#")),
    _basis(lambda b: b.update(values=[[True] * N])),
    lambda raw: raw.update(basis="x"),
    lambda raw: raw.update(basis={"text": 1}),
    lambda raw: raw["keys"].__setitem__(7, raw["keys"][8]),                  # two keys the same
])
def test_a_damaged_text_of_the_last_build_costs_only_time(
        tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    root = settled(make(tmp_path / "p"))
    rewrite_cache(root, change)
    edit(root / "recipes" / "m.yaml", ", 7, ", ", 7x, ")
    same_everywhere(root, tmp_path)


def test_a_damaged_other_list_of_a_matrix_of_two_keys_costs_only_time(tmp_path: Path) -> None:
    two = (f"version: 1\nassets:\n  a:\n    matrix: {{i: [{VALUES}], j: [x, y]}}\n"
           "    prompt: \"Asset {{ i }} {{ j }}\"\n    output: \"out/{{ name }}.png\"\n")
    root = settled(make(tmp_path / "p", two))
    rewrite_cache(root, _basis(lambda b: b["values"][1].__setitem__(0, "q")))     # j: [q, y]
    edit(root / "recipes" / "m.yaml", ", 7, ", ", 7x, ")
    assert spliced(root) is not True
    same_everywhere(root, tmp_path)


TOKENS = ["7x", "true", "False", "1.5", "1e3", "0x1f", "-3", ".5", "010", "a_b", "1_000", "null", "'q'",
          "a b", "[1]", "&x 1", "#c", "0x1", "5", ""]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(at=st.integers(3, N - 1), token=st.sampled_from(TOKENS))
def test_a_random_edit_of_one_value_gives_the_full_ways_result(tmp_path: Path, at: int, token: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        root = settled(make(Path(scratch) / "p"))
        edit(root / "recipes" / "m.yaml", f", {at}, " if at < N - 1 else f", {at}]",
             f", {token}, " if at < N - 1 else f", {token}]")
        same_everywhere(root, Path(scratch))
