"""HTML pages from the templates in `assetgen/review/templates`, with their CSS and script inlined
so that a page is one file plus its images: it opens from `file://` and as a CI artifact, and
loads nothing from any other host."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from assetgen.errors import UserError


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


def _ours(name: str, text: str) -> bool:
    """Whether `text`, the file `name` in an `--out` folder, is a page or report assetgen wrote."""
    import json
    import re

    if not text.strip():
        return True         # nothing in it to lose
    if name.endswith(".html"):
        return re.search(r"<title>assetgen (review|diff)\b", text[:4096]) is not None
    if name.endswith(".md"):
        return text.startswith("### assetgen: ")
    if name.endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError:
            return False
        return isinstance(data, dict) and set(data) == {"rev", "assets"}
    last = text.rstrip("\n").rsplit("\n", 1)[-1]
    return re.match(r"(no output differs|\d+ variants? differs?) from ", last) is not None


def check_out(folder: Path, name: str) -> None:
    """Before `--out FOLDER` writes `name` there: a file of that name that assetgen did not write
    (a page of a site, someone's notes) is not replaced. UserError naming it."""
    path = folder / name
    try:
        text = path.read_bytes()[:1 << 20].decode("utf-8", errors="replace")
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UserError(f"{path}: cannot read it to tell whether assetgen wrote it: {exc.strerror}") from None
    if not _ours(name, text):
        raise UserError(f"{path}: error: a file assetgen did not write is there; --out writes {name} and "
                        "img/ into its folder: choose another folder, or move that file away. Nothing was "
                        "written")
