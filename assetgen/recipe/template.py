"""Jinja2 templates in a sandbox, with undefined variables as errors.

Each distinct template string is compiled once. A string without `{{`, `{%` or `{#` is not a
template and is returned as written. Errors name the variable and what the string is (`prompt`,
`name`, `outputs[0].path` ...); the caller attaches the location of the string.
"""

from __future__ import annotations

import functools
import re
import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from msgspec import Struct

from assetgen.recipe import budget

if TYPE_CHECKING:       # Jinja2 is imported when a template needs more than `{{ name }}`
    import jinja2

    from assetgen.recipe.sandbox import Sandbox


class _Unstable(Exception):
    """A template whose text would change from one build to the next (each build a new paid call)."""


class _Refused:
    """Stands in for `random` and `lipsum()`: a recipe renders the same text on every build."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise _Unstable(f"'{self.name}' gives different text on every build, and each build would pay "
                        "for a new image; write the value out")

    def __str__(self) -> str:
        return self()


_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+>")


def _finalize(value: Any) -> Any:
    """What `{{ ... }}` prints; an object whose text holds its memory address differs per build."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    from assetgen.recipe import sandbox

    sandbox.check_text(value)
    if _ADDRESS.search(str(value)):
        hint = " (join a list: | join(', '))" if isinstance(value, types.GeneratorType) else ""
        raise _Unstable(f"an expression renders a {type(value).__name__} object, whose text differs on "
                        f"every build{hint}")
    return value


@functools.cache
def _env() -> Sandbox:
    import jinja2

    from assetgen.recipe import sandbox

    env = sandbox.Sandbox(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
                          finalize=_finalize)
    env.filters["random"] = _Refused("random")
    env.globals["lipsum"] = _Refused("lipsum")
    return env


# the names the environment defines (a test checks them against it): a template naming one is
# left to Jinja2
GLOBALS = frozenset({"cycler", "dict", "joiner", "lipsum", "namespace", "range"})
_MARKERS = ("{{", "{%", "{#")


class TemplateError(Exception):
    """A template that cannot be rendered; the message is ready for a diagnostic. `name`: the
    undefined variable; `line`: the template's line (1-based) Jinja2 found a syntax error on."""

    def __init__(self, message: str, name: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.line = line


def is_template(text: str) -> bool:
    return any(m in text for m in _MARKERS)


# `text {{ name }} text`: rendered by joining strings, exactly as Jinja2 would (str() of the value),
# without building a Jinja2 context: a 10,000-variant recipe renders ~50,000 of these.
_SIMPLE_VAR = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*) *\}\}")


class _Simple(Struct, frozen=True):
    parts: tuple[str, ...]   # literal, name, literal, name, ..., literal


class _Broken(NamedTuple):
    """A template Jinja2 cannot compile: why, and on which of its lines (None: not known)."""

    why: str
    line: int | None = None


@functools.lru_cache(maxsize=4096)
def _compile(text: str) -> jinja2.Template | _Simple | _Broken:
    simple = _simple(text)
    if simple is not None:
        return simple
    import jinja2

    try:
        return _env().from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        return _Broken(f": {exc.message}", exc.lineno)
    except RecursionError:
        return _Broken(": nested too deeply")
    except (ValueError, OverflowError):   # a number literal past Python's 4,300 digits
        return _Broken(": a number in it is too long")


_NOT_SIMPLE_NAMES = frozenset({"true", "false", "none", "True", "False", "None", *GLOBALS})


def _simple(text: str) -> _Simple | None:
    if "\r" in text:
        return None
    parts = _SIMPLE_VAR.split(text)
    literals = parts[::2]
    if any("{" in lit or "}" in lit for lit in literals):
        return None   # braces next to a tag lex differently: leave those to Jinja2
    if any(name in _NOT_SIMPLE_NAMES for name in parts[1::2]):
        return None
    return _Simple(tuple(parts))


def costs_nothing(text: str) -> bool:
    """Whether rendering `text` spends none of a file's step budget (plain text, or only
    `{{ name }}` substitutions), whatever the values."""
    return not is_template(text) or _simple(text) is not None


def _render_simple(template: _Simple, context: Mapping[str, Any], what: str) -> str:
    out = []
    for i, part in enumerate(template.parts):
        if i % 2 == 0:
            out.append(part)
        elif part in context:
            out.append(str(context[part]))
        else:
            raise TemplateError(f"undefined variable '{part}' in {what}", name=part)
    return "".join(out)


file_budget = budget.file_budget     # every rendering inside shares one recipe file's step budget


def render(text: str, context: Mapping[str, Any], what: str) -> str:
    """Render `text` with `context`; raise TemplateError naming `what` on any failure."""
    if not is_template(text):
        return text
    template = _compile(text)
    if isinstance(template, _Broken):
        raise TemplateError(f"template syntax error in {what}{template.why}", line=template.line)
    if isinstance(template, _Simple):
        return _render_simple(template, context, what)
    import jinja2
    from jinja2.sandbox import SecurityError

    token = budget.start()
    try:
        return template.render(context)
    except budget.Exceeded as exc:
        raise TemplateError(f"template in {what} is too costly: {exc}") from None
    except SecurityError as exc:
        raise TemplateError(f"unsafe template in {what}: {exc}") from None
    except _Unstable as exc:
        raise TemplateError(f"template error in {what}: {exc}") from None
    except jinja2.UndefinedError as exc:
        message, name = _undefined(exc, what)
        raise TemplateError(message, name=name) from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template error in {what}: {exc}") from None
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError, RuntimeError) as exc:
        raise TemplateError(f"template error in {what}: {exc}") from None
    finally:
        budget.stop(token)


def _undefined(exc: jinja2.UndefinedError, what: str) -> tuple[str, str | None]:
    """The message, and the undefined variable's name when it is one."""
    text = str(exc.message or "")
    if text.startswith("'") and text.endswith("' is undefined"):
        quoted = text[: -len(' is undefined')]
        return f"undefined variable {quoted} in {what}", quoted[1:-1]
    return f"undefined value in {what}: {text}", None
