"""Jinja2 templates in a sandbox, with undefined variables as errors.

Each distinct template string is compiled once. A string without `{{`, `{%` or `{#` is not a
template and is returned as written. Errors name the variable and what the string is (`prompt`,
`name`, `outputs[0].path` ...); the caller attaches the location of the string.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment, SecurityError

_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
_MARKERS = ("{{", "{%", "{#")


class TemplateError(Exception):
    """A template that cannot be rendered; the message is ready for a diagnostic."""


def is_template(text: str) -> bool:
    return any(m in text for m in _MARKERS)


@functools.lru_cache(maxsize=4096)
def _compile(text: str) -> jinja2.Template | str:
    try:
        return _ENV.from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        return f": {exc.message}"


def render(text: str, context: Mapping[str, Any], what: str) -> str:
    """Render `text` with `context`; raise TemplateError naming `what` on any failure."""
    if not is_template(text):
        return text
    template = _compile(text)
    if isinstance(template, str):
        raise TemplateError(f"template syntax error in {what}{template}")
    try:
        return template.render(context)
    except SecurityError as exc:
        raise TemplateError(f"unsafe template in {what}: {exc}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(_undefined(exc, what)) from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template error in {what}: {exc}") from None
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError, RecursionError) as exc:
        raise TemplateError(f"template error in {what}: {exc}") from None


def _undefined(exc: jinja2.UndefinedError, what: str) -> str:
    text = str(exc.message or "")
    if text.startswith("'") and text.endswith("' is undefined"):
        return f"undefined variable {text[: -len(' is undefined')]} in {what}"
    return f"undefined value in {what}: {text}"
