"""`lockfile.read` takes a lock file laid out as assetgen writes it an entry at a time (a lock of
many assets is never one tree of JSON values beside its entries), and any other file whole: either
way it reads what the file's JSON says, the same errors included."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetgen import lockfile
from assetgen.errors import UserError
from assetgen.lockfile import Lock, LockAsset, LockInput, LockOutput, LockStep

SHA = st.text("0123456789abcdef", min_size=64, max_size=64)
# names and prompts with what a naive split of the file would trip on: quotes, backslashes, the
# separator between two entries (escaped inside a JSON string), non-ASCII
CHARS = [*string.ascii_letters[:6], '"', "\\", "\n", ",", " ", "é", "日", "🙂", "{", "}"]
TEXT = st.text(st.sampled_from(CHARS), max_size=12)
PARAM = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6),
                  st.floats(allow_nan=False, allow_infinity=False), TEXT,
                  st.lists(st.integers(0, 3), max_size=2))
PARAMS = st.dictionaries(st.sampled_from(["size", "n", "x"]), PARAM, max_size=3)
FILES = st.sampled_from([None, "in/a.png", "in/é b.png"])


@st.composite
def assets(draw: st.DrawFn) -> LockAsset:
    name = draw(TEXT.filter(bool))
    steps = tuple(LockStep(
        op=draw(st.sampled_from(["generate", "edit"])), provider="local", model="gpt-image-2",
        prompt=draw(TEXT), params=tuple(sorted(draw(PARAMS).items())),
        inputs=tuple(LockInput("image", draw(SHA), draw(FILES)) for _ in range(draw(st.integers(0, 2)))),
        key=draw(SHA), results=tuple(draw(st.lists(SHA, max_size=2))))
        for _ in range(draw(st.integers(0, 2))))
    outputs = tuple(LockOutput(path=f"out/{i}-{draw(st.sampled_from(['a', 'é', 'b c']))}.png", format="png",
                               quality=draw(st.sampled_from([None, 80])), resize=None, fit=None,
                               source=draw(SHA), key=draw(SHA), sha256=draw(SHA))
                    for i in range(draw(st.integers(0, 2))))
    return LockAsset(name, "recipes/r.yaml", steps, outputs)


def _as_json(lock: Lock) -> dict[str, Any]:
    return {name: asset.to_json() for name, asset in lock.assets.items()}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(found=st.lists(assets(), max_size=6))
def test_a_lock_file_reads_as_its_json_says_laid_out_or_not(tmp_path_factory: pytest.TempPathFactory,
                                                            found: list[LockAsset]) -> None:
    root = tmp_path_factory.mktemp("p")
    lock = Lock({a.name: a for a in found})
    text = lock.text()
    expected = json.loads(text)["assets"]
    for layout in (text,                                                # as assetgen writes it
                   text.replace("\n", "\r\n"),                          # checked out with autocrlf
                   json.dumps(json.loads(text), indent=4, ensure_ascii=False),     # by another tool
                   json.dumps(json.loads(text), separators=(",", ":"))):
        (root / "assetgen.lock").write_text(layout, encoding="utf-8")
        assert _as_json(lockfile.read(root)) == expected


def _write(root: Path, text: str) -> Lock:
    (root / "assetgen.lock").write_text(text, encoding="utf-8")
    return lockfile.read(root)


ONE = LockAsset("b", "recipes/r.yaml", (),
                (LockOutput("out/b.png", "png", None, None, None, "a" * 64, "b" * 64, "c" * 64),))
TWO = LockAsset("c", "recipes/r.yaml", (), ())


def test_entries_out_of_order_twice_or_reformatted_inside_read_as_the_whole_json_says(tmp_path: Path) -> None:
    text = Lock({"b": ONE, "c": TWO}).text()
    b = text[text.index('    "b"'):text.index(',\n    "c"')]
    c = text[text.index('    "c"'):text.index("\n  },")]
    head, tail = text[:text.index('    "b"')], text[text.index("\n  },"):]
    both = {"b": ONE.to_json(), "c": TWO.to_json()}
    assert _as_json(_write(tmp_path, head + c + ",\n" + b + tail)) == both
    # a name twice: the last one, as JSON takes it
    other = b.replace('"format": "png"', '"format": "webp"')
    twice = _write(tmp_path, head + b + ",\n" + other + ",\n" + c + tail)
    assert twice.assets["b"].outputs[0].format == "webp"
    # an entry whose inner lines were re-indented to the entries' depth: not split apart
    flat = b.replace("\n      ", "\n    ")
    assert flat != b
    assert _as_json(_write(tmp_path, head + flat + ",\n" + c + tail)) == both


@pytest.mark.parametrize(("find", "put", "words"), [
    ('"sha256": "' + "c" * 64, '"sha256": "' + "c" * 63,
     "assets['b']['outputs']['out/b.png']['sha256'] is not a sha256 (64 lowercase hex digits)"),
    ('"outputs": {', '"outputs": [', "it is not valid JSON at line 5 column 20: Expecting ',' delimiter"),
    ('"recipe": "recipes/r.yaml"', '"recipe": 7', "assets['b']['recipe'] is not a string"),
    ('"source": "' + "a" * 64 + '"', '"source": NaN', "it holds a value out of range: NaN is not a number"),
])
def test_a_damaged_entry_of_a_laid_out_file_is_worded_as_the_whole_reading_words_it(
    tmp_path: Path, find: str, put: str, words: str,
) -> None:
    text = Lock({"b": ONE, "c": TWO}).text()
    assert find in text
    with pytest.raises(UserError) as err:
        _write(tmp_path, text.replace(find, put, 1))
    assert f"cannot read the lock file: {words}. Nothing was run." in str(err.value)
