"""Templates: sandboxed Jinja2, undefined variables as errors, a fast path that renders the same."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.sandbox import SandboxedEnvironment

from assetgen.lint import lint
from assetgen.recipe import template
from assetgen.recipe.template import TemplateError

JINJA = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)


def test_plain_text_is_returned_as_written() -> None:
    assert template.render("a } b { c\n", {}, "prompt") == "a } b { c\n"
    assert template.render("a {{ b }}\n", {"b": 1}, "prompt") == "a 1\n"


def test_filters_and_expressions_work() -> None:
    assert template.render("{{ kind | upper }}-{{ n * 2 }}", {"kind": "axe", "n": 3}, "name") == "AXE-6"


@pytest.mark.parametrize(("text", "message"), [
    ("{{ colour }}", "undefined variable 'colour' in prompt"),
    ("{{ colour | upper }}", "undefined variable 'colour' in prompt"),
    ("{{ ''.__class__ }}",
     "unsafe template in prompt: access to attribute '__class__' of 'str' object is unsafe."),
    ("{{ x.__globals__ }}",
     "unsafe template in prompt: access to attribute '__globals__' of 'function' object is unsafe."),
    ("{% for %}", "template syntax error in prompt: Expected an expression, got 'end of statement block'"),
    ("{{ 1 / 0 }}", "template error in prompt: division by zero"),
    ("{{ 'x' * 10**9 }}", "template in prompt is too costly: it would build a string of 1,000,000,000 "
                          "characters; at most 100,000"),
    ("{{ 2 ** 100000 }}", "template in prompt is too costly: it would compute a number of about 30,103 "
                          "digits; at most 1,233"),
    ("{{ ['a', 'b'] | random }}", "template error in prompt: 'random' gives different text on every build, "
                                  "and each build would pay for a new image; write the value out"),
    ("{{ lipsum(1) }}", "template error in prompt: 'lipsum' gives different text on every build, and each "
                        "build would pay for a new image; write the value out"),
    ("{{ ['a'] | map('upper') }}", "template error in prompt: an expression renders a generator object, "
                                   "whose text differs on every build (join a list: | join(', '))"),
    ("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", "template syntax error in prompt: nested too deeply"),
    ("{{ " + "9" * 5000 + " }}", "template syntax error in prompt: a number in it is too long"),
])
def test_errors_name_the_variable_and_the_field(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as exc:
        template.render(text, {"x": test_plain_text_is_returned_as_written}, "prompt")
    assert str(exc.value) == message


def test_a_prompt_renders_the_same_text_on_every_build(tmp_path: Path) -> None:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "a.yaml").write_text(
        "defaults: {model: gpt-image-1.5}\nassets:\n  a:\n"
        "    prompt: \"{{ ['red', 'blue'] | random }} gem\"\n    output: a.png\n"
        "  b:\n    prompt: \"{{ ['red', 'blue'] | map('upper') | join(', ') }} gem\"\n"
        "    output: b.png\n", encoding="utf-8")
    assert [str(d) for d in lint([], tmp_path)] == [
        "recipes/a.yaml:4:13: error: template error in prompt: 'random' gives different text on every build, "
        "and each build would pay for a new image; write the value out"]


_NAMES = st.sampled_from(["a", "b", "kind", "true", "none", "range", "name_2"])
_TEXT = st.text(alphabet="ab {}-\n%#", max_size=8)
_VALUES = st.one_of(st.text(max_size=5), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())


@settings(deadline=None)     # the first template that needs Jinja2 imports it
@given(st.lists(st.tuples(_TEXT, _NAMES, st.sampled_from(["{{ %s }}", "{{%s}}", "{{  %s }}"])), max_size=4),
       _TEXT, st.dictionaries(_NAMES, _VALUES))
def test_fast_path_renders_exactly_like_jinja(pieces: list, tail: str, context: dict) -> None:
    text = "".join(lit + form % name for lit, name, form in pieces) + tail
    try:
        expected: str | None = JINJA.from_string(text).render(context)
    except jinja2.TemplateError:
        expected = None
    if expected is not None and " at 0x" in expected:
        expected = None   # `{{ range }}` prints a memory address, which differs on every build: refused
    try:
        got: str | None = template.render(text, context, "prompt")
    except TemplateError:
        got = None
    assert got == expected


def test_the_names_left_to_jinja2_are_the_environments_globals() -> None:
    from assetgen.recipe import template

    assert template.GLOBALS == set(template._env().globals)
