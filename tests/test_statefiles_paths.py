"""`statefiles.all_relative` (a whole state file's paths checked at once) says what
`statefiles.is_relative` says of each."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from assetgen import statefiles

PIECES = st.sampled_from(["a", "b.png", ".", "..", "...", "/", "//", "\\", "\x00", "C:", "c:", ":", "é", " ",
                          "a..b", "./", "../", "\n"])
PATHS = st.lists(PIECES, max_size=6).map("".join)


@given(st.lists(PATHS, max_size=8))
@settings(max_examples=3000)
def test_all_relative_agrees_with_is_relative(paths: list[str]) -> None:
    assert statefiles.all_relative(paths) == all(map(statefiles.is_relative, paths))


@given(st.lists(st.one_of(PATHS, st.integers(), st.none()), max_size=4))
def test_what_is_not_a_string_is_not_relative(values: list[object]) -> None:
    assert statefiles.all_relative(values) == all(map(statefiles.is_relative, values))


def test_examples() -> None:
    assert statefiles.all_relative([])
    assert statefiles.all_relative(["a/b.png", "recipes/x.yaml", "a..b", "..."])
    for bad in ("", "/a", "a\\b", "C:/x", "../a", "a/../b", "a/..", ".", "./", "./.", "a\x00b"):
        assert not statefiles.all_relative(["ok.png", bad]), bad


@given(st.dictionaries(PATHS, st.one_of(st.none(), st.lists(st.integers(0, 2**62), max_size=4),
                                        st.text(max_size=5)), max_size=40), st.integers(1, 7), st.booleans())
def test_json_members_are_the_dumps_of_the_whole_object(entries: dict[str, object], per: int,
                                                         ascii_only: bool) -> None:
    import json

    text = "{" + "".join(statefiles.json_members(entries.items(), per=per, ascii_only=ascii_only)) + "}"
    assert text == json.dumps(entries, separators=(",", ":"), ensure_ascii=ascii_only)
