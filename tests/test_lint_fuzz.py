"""Lint never crashes: random YAML documents and random mutations of a valid recipe give diagnostics only."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetgen.errors import Diagnostic
from assetgen.lint import lint

VALID = """\
version: 1
defaults:
  model: gpt-image-1.5
  size: 1024x1024
vars:
  style: "flat icon"
assets:
  potion:
    matrix:
      kind: [health, mana]
      tint: [red, blue]
    exclude:
      - {kind: mana, tint: blue}
    include:
      - {kind: poison, tint: green}
    name: "potion-{{ kind }}-{{ tint }}"
    prompt: "A {{ tint }} {{ kind }} potion, {{ style }}"
    background: transparent
    outputs:
      - path: "icons/{{ name }}.png"
      - path: "icons/small/{{ name }}.webp"
        resize: 64x64
  banner:
    size: 1536x1024
    steps:
      - generate: "A knight"
        n: 2
        pick: 1
      - edit: "A storm"
        mask: masks/sky.png
      - edit: "A logo"
        images: [brand/logo.png, {asset: potion-health-red}]
        input_fidelity: high
    output: banner.png
  square:
    steps:
      - edit: "Square"
        image: {asset: banner}
    output: square.jpg
"""

KEYS = ["version", "defaults", "vars", "assets", "matrix", "exclude", "include", "name", "prompt", "steps",
        "output", "outputs", "path", "format", "quality", "resize", "fit", "generate", "edit", "image",
        "mask", "images", "pick", "asset", "model", "size", "n", "background", "output_format", "style", "x"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 20), st.floats(allow_nan=True),
    st.sampled_from(["gpt-image-1.5", "dall-e-3", "1024x1024", "{{ x }}", "{{ ''.__class__ }}",
                     "../up.png", "/abs.png", "a.png", "a.txt", "{% for %}", "transparent", "jpeg",
                     "{{ index }}", "potion"]),
    st.text(max_size=6),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)), max_leaves=25)
SNIPPETS = ["{{", "}}", "..", "!!python/object:os.system", "- ", ": ", "&a ", "*a", "<<: ", "\t", "'", '"',
            "{", "[", "n: 11", "model: dall-e-3", "pick: 5", "{asset: banner}", "size: 7x7", "\n  ", "#", "%",
            "---\n"]
ASSET = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6)
STEP = st.dictionaries(st.sampled_from(["generate", "edit", "image", "mask", "images", "pick", "n", "size"]),
                       VALUES, min_size=1, max_size=4)
RECIPE_SHAPED = st.fixed_dictionaries({
    "defaults": st.dictionaries(st.sampled_from(["model", "size", "n", "quality", "background"]), SCALARS),
    "assets": st.dictionaries(st.sampled_from(["a", "b", "c"]), st.one_of(
        ASSET, st.fixed_dictionaries({"steps": st.lists(STEP, min_size=1, max_size=3)}, optional={
            "output": SCALARS, "n": SCALARS, "matrix": VALUES, "name": SCALARS}),
        st.fixed_dictionaries({"prompt": SCALARS}, optional={
            "outputs": VALUES, "matrix": st.dictionaries(st.sampled_from(["k", "j"]), VALUES),
            "name": SCALARS,
            "exclude": VALUES, "include": VALUES}))),
})


def _lint_text(text: str) -> list[Diagnostic]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "recipes").mkdir()
        (root / "recipes" / "r.yaml").write_text(text, encoding="utf-8")
        return lint([], root)


def test_the_valid_recipe_is_clean_apart_from_missing_files() -> None:
    assert [d.message for d in _lint_text(VALID)] == [
        "mask 'masks/sky.png' does not exist", "input image 'brand/logo.png' does not exist"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=5), RECIPE_SHAPED))
def test_random_documents_give_diagnostics_only(document: dict) -> None:
    text = yaml.safe_dump(document)
    for d in _lint_text(text):
        assert d.location.line >= 1 and d.message


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80))
def test_random_text_gives_diagnostics_only(text: str) -> None:
    _lint_text(text)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = VALID.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "insert", "truncate", "replace"]))
        if kind == "delete" and len(lines) > 1:
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "insert":
            col = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:col] + draw(st.sampled_from(SNIPPETS)) + lines[i][col:]
        elif kind == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        else:
            key = lines[i].split(":")[0]
            lines[i] = f"{key}: {yaml.safe_dump(draw(VALUES), default_flow_style=True).strip()}"
    return "\n".join(lines) + "\n"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_of_a_valid_recipe_give_diagnostics_only(text: str) -> None:
    for d in _lint_text(text):
        assert d.location.line >= 1 and d.message


PROJECT_KEYS = ["recipes", "provider", "defaults", "providers", "pricing", "azure", "openai", "deployments",
                "rpm", "endpoint", "api", "auth", "per_mtok", "per_image", "model", "version"]
PROJECT_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(PROJECT_KEYS), inner, max_size=3)),
    max_leaves=15)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(PROJECT_KEYS), PROJECT_VALUES, max_size=5))
def test_random_project_files_give_diagnostics_only(document: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "assetgen.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
        (root / "recipes").mkdir()
        (root / "recipes" / "r.yaml").write_text(VALID, encoding="utf-8")
        for d in lint([], root):
            assert d.location.line >= 1 and d.message
