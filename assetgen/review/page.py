"""HTML pages from the templates in `assetgen/review/templates`, with their CSS and script inlined
so that a page is one file plus its images: it opens from `file://` and as a CI artifact, and
loads nothing from any other host."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import jinja2


def asset_text(name: str) -> str:
    return resources.files("assetgen.review").joinpath("templates", name).read_text(encoding="utf-8")


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FunctionLoader(asset_text), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.globals["inline"] = lambda name: jinja2.utils.markupsafe.Markup(asset_text(name))
    env.filters["money"] = lambda usd: f"${usd:.2f}" if usd >= 0.01 or usd == 0 else f"${usd:.3f}"
    return env


def render(template: str, **context: Any) -> str:
    return _env().get_template(template).render(**context)
