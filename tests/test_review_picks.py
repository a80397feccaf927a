"""Writing a pick into a recipe keeps everything else in the file as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetgen.errors import UserError
from assetgen.review.picks import PickRequest, write_pick

RECIPE = """\
# yaml-language-server: $schema=../schema/recipe.schema.json
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024}   # flow style, a comment

assets:
  icon:
    matrix:
      kind: [sword, shield]     # two kinds
    name: "icon-{{ kind }}"
    n: 3
    prompt: 'A {{ kind }}, flat'
    outputs: [{path: "out/{{ name }}-{{ index }}.png"}]

  banner:
    n: 2
    steps:
      - generate: 'A knight'
        n: 1
      - edit: "Add a storm"   # keep this
    output: out/banner.jpg
"""


def _pick(path: Path, asset: str, variant: str, k: int, variants: list[str],
          current: dict[str, int] | None = None) -> object:
    return write_pick(PickRequest(path, asset, variant, k, variants, current or {}), path.parent)


def test_a_single_variant_asset_gets_a_number_on_its_last_step(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(RECIPE, encoding="utf-8")
    assert _pick(path, "banner", "banner", 1, ["banner"]) == 1
    assert path.read_text(encoding="utf-8") == RECIPE.replace(
        '      - edit: "Add a storm"   # keep this\n',
        '      - edit: "Add a storm"   # keep this\n        pick: 1\n')
    assert _pick(path, "banner", "banner", 0, ["banner"]) == 0      # changed in place
    assert path.read_text(encoding="utf-8") == RECIPE.replace(
        '      - edit: "Add a storm"   # keep this\n',
        '      - edit: "Add a storm"   # keep this\n        pick: 0\n')


def test_a_matrix_asset_gets_a_mapping_of_every_variant(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(RECIPE.replace("    n: 3\n", "    n: 3\n    pick: 1   # the usual\n"), encoding="utf-8")
    variants = ["icon-sword", "icon-shield"]
    value = _pick(path, "icon", "icon-shield", 2, variants, {"icon-sword": 1, "icon-shield": 1})
    assert value == {"icon-sword": 1, "icon-shield": 2}
    assert path.read_text(encoding="utf-8") == RECIPE.replace(
        "    n: 3\n", "    n: 3\n    pick:  # the usual\n      icon-sword: 1\n      icon-shield: 2\n")
    assert _pick(path, "icon", "icon-sword", 0, variants) == {"icon-sword": 0, "icon-shield": 2}
    assert "      icon-sword: 0\n      icon-shield: 2\n" in path.read_text(encoding="utf-8")


def test_a_flow_mapping_gains_the_new_variant(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(RECIPE.replace("    n: 3\n", "    n: 3\n    pick: {icon-sword: 1}\n"), encoding="utf-8")
    assert _pick(path, "icon", "icon-shield", 2, ["icon-sword", "icon-shield"]) == {
        "icon-sword": 1, "icon-shield": 2}
    assert "    pick: {icon-shield: 2, icon-sword: 1}\n" in path.read_text(encoding="utf-8")


def test_a_new_pick_stands_next_to_the_outputs(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(RECIPE, encoding="utf-8")
    _pick(path, "icon", "icon-sword", 2, ["icon-sword", "icon-shield"])
    assert path.read_text(encoding="utf-8") == RECIPE.replace(
        "    outputs: [{path:", "    pick:\n      icon-sword: 2\n      icon-shield: 0\n    outputs: [{path:")


def test_a_layout_it_cannot_edit_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    text = 'version: 1\nassets: {solo: {n: 2, prompt: "x", output: "o-{{ index }}.png"}}\n'
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match=r"a.yaml: cannot write the pick without changing the file's layout; "
                                        r"set 'pick: 1' on asset 'solo' by hand"):
        _pick(path, "solo", "solo", 1, ["solo"])
    assert path.read_text(encoding="utf-8") == text


def test_a_file_with_crlf_line_endings_keeps_them(tmp_path: Path) -> None:
    # a recipe saved on Windows: every line, the new ones too, ends as the file's do
    path = tmp_path / "a.yaml"
    crlf = RECIPE.replace("\n", "\r\n").encode("utf-8")
    path.write_bytes(crlf)
    assert _pick(path, "banner", "banner", 1, ["banner"]) == 1
    assert path.read_bytes() == crlf.replace(b'# keep this\r\n', b'# keep this\r\n        pick: 1\r\n')
    variants = ["icon-sword", "icon-shield"]
    assert _pick(path, "icon", "icon-shield", 2, variants) == {"icon-sword": 0, "icon-shield": 2}
    data = path.read_bytes()
    assert b"\r\n    pick:\r\n      icon-sword: 0\r\n      icon-shield: 2\r\n    outputs:" in data
    assert data.count(b"\n") == data.count(b"\r\n")


def test_a_recipe_that_is_a_symlink_has_the_file_it_points_at_changed(tmp_path: Path) -> None:
    shared = tmp_path / "common" / "shared.yaml"
    shared.parent.mkdir()
    shared.write_text(RECIPE, encoding="utf-8")
    link = tmp_path / "recipes" / "shared.yaml"
    link.parent.mkdir()
    link.symlink_to(Path("..") / "common" / "shared.yaml")
    request = PickRequest(link, "banner", "banner", 1, ["banner"], {})
    assert write_pick(request, tmp_path) == 1
    assert link.is_symlink() and "        pick: 1\n" in shared.read_text(encoding="utf-8")
    root = tmp_path / "p"       # a link that leads out of the project: nothing is written through it
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "out.yaml").symlink_to(shared)
    before = shared.read_bytes()
    with pytest.raises(UserError, match="leads out of the project"):
        write_pick(PickRequest(root / "recipes" / "out.yaml", "banner", "banner", 0, ["banner"], {}), root)
    assert shared.read_bytes() == before and (root / "recipes" / "out.yaml").is_symlink()


def test_a_variant_named_like_a_yaml_keyword_gets_a_quoted_key(tmp_path: Path) -> None:
    # `yes`, `123` and `null` read back as a boolean, a number and nothing: the key is quoted
    path = tmp_path / "a.yaml"
    path.write_text(RECIPE.replace("kind: [sword, shield]", "kind: ['yes', '123', 'null']")
                    .replace('name: "icon-{{ kind }}"', 'name: "{{ kind }}"'), encoding="utf-8")
    variants = ["yes", "123", "null"]
    assert _pick(path, "icon", "123", 2, variants) == {"yes": 0, "123": 2, "null": 0}
    assert '      "yes": 0\n      "123": 2\n      "null": 0\n' in path.read_text(encoding="utf-8")
    assert _pick(path, "icon", "yes", 1, variants) == {"yes": 1, "123": 2, "null": 0}
