"""load_project: files on disk become the typed, rendered, expanded model."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetgen.errors import Location, UserError
from assetgen.lint import load_checked
from assetgen.recipe.load import load_project
from assetgen.recipe.model import Fit, ImageRef, Op, ProviderKind

REPO = Path(__file__).parent.parent

SPEC = """\
version: 1
defaults:
  model: gpt-image-1.5
  size: 1024x1024
  quality: medium
vars:
  style: "hand-painted"
  look: "{{ style }}, centered"
assets:
  potion:
    matrix:
      kind: [health, mana, stamina]
      tint: [red, blue]
    exclude:
      - {kind: stamina, tint: blue}
    include:
      - {kind: poison, tint: green}
    name: "potion-{{ kind }}-{{ tint }}"
    prompt: "A {{ tint }} {{ kind }} potion, {{ look }}"
    background: transparent
    outputs:
      - path: "icons/{{ name }}.png"
      - path: "icons/small/{{ name }}.webp"
        quality: 85
        resize: 256x256
        fit: cover
  banner:
    size: 1536x1024
    steps:
      - generate: "A knight, {{ style }}"
        quality: high
      - edit: "A storm"
        mask: masks/sky.png
      - edit: "Add the logo"
        images: [brand/logo.png]
        input_fidelity: high
    output: marketing/banner.JPG
  square:
    steps:
      - edit: "Recompose as a square"
        image: {asset: banner}
        size: 1024x1024
    output: marketing/square.jpg
  trio:
    n: 3
    prompt: "Three of {{ asset }}"
    outputs: [{path: "trio/{{ name }}-{{ index }}.png"}]
"""


@pytest.fixture
def project_root(tmp_path: Path) -> Path:
    (tmp_path / "assetgen.yaml").write_text("provider: azure\ndefaults:\n  user: team-a\n", encoding="utf-8")
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "spec.yaml").write_text(SPEC, encoding="utf-8")
    return tmp_path


def test_spec_example_loads_without_diagnostics(project_root: Path) -> None:
    result = load_project([], project_root)
    assert [str(d) for d in result.diagnostics] == []
    assert result.project.root == project_root.resolve()
    assert result.project.config.provider is ProviderKind.AZURE
    assert [v.name for v in result.project.variants()] == [
        "potion-health-red", "potion-health-blue", "potion-mana-red", "potion-mana-blue",
        "potion-stamina-red", "potion-poison-green", "banner", "square", "trio"]


def test_matrix_variant_is_rendered_and_merged(project_root: Path) -> None:
    variant = load_project([], project_root).project.variants()[0]
    assert variant.values == (("kind", "health"), ("tint", "red"))
    assert variant.location == Location("recipes/spec.yaml", 10, 3)
    (step,) = variant.steps
    assert step.op is Op.GENERATE
    assert step.prompt == "A red health potion, hand-painted, centered"
    assert step.params == (("background", "transparent"), ("model", "gpt-image-1.5"), ("quality", "medium"),
                           ("size", "1024x1024"), ("user", "team-a"))
    assert step.location == Location("recipes/spec.yaml", 19, 5)
    assert step.param_location("user") == Location("assetgen.yaml", 3, 3)
    assert step.param_location("background") == Location("recipes/spec.yaml", 20, 5)
    png, webp = variant.outputs
    assert (png.path, png.format, png.resize, png.fit) == (
        "icons/potion-health-red.png", "png", None, Fit.CONTAIN)
    assert (webp.path, webp.format, webp.quality, webp.resize, webp.fit) == (
        "icons/small/potion-health-red.webp", "webp", 85, (256, 256), Fit.COVER)


def test_include_entry_is_the_location_of_its_variant(project_root: Path) -> None:
    variant = load_project([], project_root).project.variants()[5]
    assert (variant.name, variant.location) == ("potion-poison-green", Location("recipes/spec.yaml", 17, 9))


def test_edit_chain_merges_step_over_asset_over_defaults(project_root: Path) -> None:
    banner = load_project([], project_root).project.variants()[6]
    first, storm, logo = banner.steps
    assert first.param("quality") == "high" and first.param("size") == "1536x1024"
    assert storm.param("quality") == "medium"
    assert storm.mask == ImageRef(Location("recipes/spec.yaml", 33, 15), path="masks/sky.png")
    assert logo.images == (ImageRef(Location("recipes/spec.yaml", 35, 18), path="brand/logo.png"),)
    assert logo.param("input_fidelity") == "high" and storm.param("input_fidelity") is None
    assert [(o.path, o.format) for o in banner.outputs] == [("marketing/banner.JPG", "jpeg")]


def test_asset_reference_resolves_to_the_variant_name(project_root: Path) -> None:
    square = load_project([], project_root).project.variants()[7]
    assert square.steps[0].image == ImageRef(Location("recipes/spec.yaml", 41, 16), asset="banner")


def test_n_above_one_gives_one_output_per_candidate(project_root: Path) -> None:
    trio = load_project([], project_root).project.variants()[8]
    assert trio.steps[0].prompt == "Three of trio"
    assert [(o.path, o.index) for o in trio.outputs] == [
        ("trio/trio-0.png", 0), ("trio/trio-1.png", 1), ("trio/trio-2.png", 2)]


def test_folder_path_means_its_project_and_file_path_only_that_file(project_root: Path) -> None:
    (project_root / "recipes" / "other.yaml").write_text(
        "assets:\n  solo:\n    prompt: x\n    output: solo.png\n", encoding="utf-8")
    whole = load_project([project_root / "recipes"], Path("/"))
    assert len(whole.project.recipes) == 2
    one = load_project(["recipes/other.yaml"], project_root)
    assert [r.path for r in one.project.recipes] == ["recipes/other.yaml"]
    assert one.project.root == project_root.resolve()


def test_root_is_found_by_walking_up(project_root: Path) -> None:
    deep = project_root / "recipes" / "deep"
    deep.mkdir()
    assert load_project([], deep).project.root == project_root.resolve()


def test_without_project_file_the_folder_is_the_root(tmp_path: Path) -> None:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "a.yaml").write_text("assets:\n  a:\n    prompt: x\n", encoding="utf-8")
    result = load_project([tmp_path], Path("/"))
    assert result.project.root == tmp_path.resolve()
    assert result.project.config.provider is ProviderKind.LOCAL
    assert [v.name for v in result.project.variants()] == ["a"]


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="^nope.yaml: no such file or folder$"):
        load_project(["nope.yaml"], tmp_path)


def test_variant_with_errors_is_dropped_and_dependents_too(tmp_path: Path) -> None:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "a.yaml").write_text(
        "defaults: {model: gpt-image-1}\nassets:\n  bad:\n    prompt: '{{ nope }}'\n"
        "  lean:\n    steps:\n      - edit: x\n        image: {asset: bad}\n"
        "  fine:\n    prompt: ok\n", encoding="utf-8")
    result = load_project([], tmp_path)
    assert [v.name for v in result.project.variants()] == ["fine"]
    assert [str(d) for d in result.diagnostics] == [
        "recipes/a.yaml:4:17: error: undefined variable 'nope' in prompt"]
    assert result.skipped == {"bad", "lean"}


def test_load_or_raise_includes_lint_checks(tmp_path: Path) -> None:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "a.yaml").write_text(
        "defaults: {model: dall-e-3}\nassets:\n  a:\n    n: 2\n    prompt: x\n", encoding="utf-8")
    with pytest.raises(UserError) as exc:
        load_checked([], tmp_path)
    assert str(exc.value) == "recipes/a.yaml:4:5: error: dall-e-3 takes only n: 1, got n: 2"


def test_load_or_raise_returns_the_example_project() -> None:
    project = load_checked(["recipes"], REPO)
    assert len(project.variants()) == 15


def test_a_named_file_brings_the_files_it_references(tmp_path: Path) -> None:
    (tmp_path / "assetgen.yaml").write_text("defaults: {model: gpt-image-1}\n", encoding="utf-8")
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "base.yaml").write_text(
        "assets:\n  base:\n    prompt: x\n    output: base.png\n", encoding="utf-8")
    (tmp_path / "recipes" / "other.yaml").write_text(
        "assets:\n  other:\n    prompt: '{{ broken }}'\n", encoding="utf-8")
    (tmp_path / "recipes" / "edit.yaml").write_text(
        "assets:\n  edit:\n    steps:\n      - edit: y\n        image: {asset: base}\n    output: e.png\n",
        encoding="utf-8")
    result = load_project(["recipes/edit.yaml"], tmp_path)
    assert result.diagnostics == ()
    assert [r.path for r in result.project.recipes] == ["recipes/base.yaml", "recipes/edit.yaml"]


def test_recipe_globs_stay_inside_the_project(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.yaml").write_text("assets:\n  x:\n    prompt: x\n", encoding="utf-8")
    root = tmp_path / "project"
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "link.yaml").symlink_to(outside / "x.yaml")
    globs = "recipes: ['../outside/*.yaml', 'recipes/*.yaml']\n"
    (root / "assetgen.yaml").write_text(globs, encoding="utf-8")
    result = load_project([], root)
    assert result.project.recipes == ()


def test_a_file_not_in_utf8_is_reported_at_its_first_bad_byte(tmp_path: Path) -> None:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "a.yaml").write_bytes(
        b"assets:\n  a:\n    prompt: \"\xc3\xa9caf\xe9\"\n    output: a.png\n")
    assert [str(d) for d in load_project([], tmp_path).diagnostics] == [
        "recipes/a.yaml:3:18: error: cannot read recipe: byte 0xe9 is not UTF-8; save the file as UTF-8"]
