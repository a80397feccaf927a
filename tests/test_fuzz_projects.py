"""Property-based fuzzing of whole projects: a random assetgen.yaml beside recipes carrying hostile
templates, aliases and sizes. `lint` and `plan` end in a diagnostic (exit 0, 1 or 2), never a crash.
A modest number of examples here; bench/fuzz.py runs 100,000 mutated projects."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetgen import cli

TEMPLATES = [
    "{{ ((9**999)**999)**999 }}", "{{ 'x'|indent(2000000000) }}", "{{ 'x' * 10**9 }}", "{{ name ~ name }}",
    "{% for i in range(100000) %}{% for j in range(9) %}{% endfor %}{% endfor %}", "{{ '%9999999s' % 1 }}",
    "{{ 'ab'|replace('a', 'aaaaaaaaaaaaaaaaaaaaaaaaaaa')|replace('a', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa') }}",
    "{{ (1).to_bytes(10**9, 'big') }}", "{{ " + "9" * 5000 + " }}", "{{ index }}", "{{ x }}", "plain",
    "a" * 300 + ".png", "../x.png", "{{ asset }}-{{ name }}.png",
]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 10**6), st.text(max_size=8),
                    st.sampled_from(TEMPLATES + ["gpt-image-1", "gpt-image-15", "mine", ".", "*.yaml",
                                                 "recipes/**/*.yaml", "azure", "local", "1024x1024"]))
PROJECT_KEYS = ["recipes", "provider", "defaults", "providers", "pricing", "models", "cache", "like",
                "azure", "openai", "deployments", "rpm", "model", "size", "mine", "price_per_image", "x"]
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(PROJECT_KEYS), inner, max_size=3)),
    max_leaves=12)
PROJECTS = st.dictionaries(st.sampled_from(PROJECT_KEYS), VALUES, max_size=5)
RECIPES = st.builds(
    lambda model, prompt, path, width, alias: (
        f"version: 1\ndefaults: {{model: {model}}}\nassets:\n  a: {'&a ' if alias else ''}\n"
        f"    matrix: {{k: [{', '.join(str(i) for i in range(width))}]}}\n"
        f"    prompt: {yaml.safe_dump(prompt).splitlines()[0]}\n"
        f"    output: {yaml.safe_dump(path).splitlines()[0]}\n" + ("    x: *a\n" if alias else "")),
    st.sampled_from(["gpt-image-1", "gpt-image-15", "mine"]), st.sampled_from(TEMPLATES),
    st.sampled_from(TEMPLATES), st.sampled_from([1, 3, 200]), st.booleans())


def _exit(root: Path, args: list[str]) -> tuple[int, str]:
    sink = io.StringIO()
    here = os.getcwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            return cli.main(args), sink.getvalue()
    finally:
        os.chdir(here)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PROJECTS, RECIPES)
def test_lint_and_plan_never_crash(project: dict, recipe: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "recipes").mkdir()
        (root / "recipes" / "a.yaml").write_text(recipe, encoding="utf-8")
        (root / "assetgen.yaml").write_text(yaml.safe_dump(project), encoding="utf-8")
        for args in (["lint"], ["plan", "--json"]):
            code, out = _exit(root, args)
            assert code in (0, 1, 2), out[-3000:]
            assert "internal error" not in out
