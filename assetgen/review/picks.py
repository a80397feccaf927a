"""Write a variant's pick into its recipe, changing nothing else in the file.

The pick goes where the recipe language takes it: on the asset with the `prompt` shorthand, on
the last step with `steps`. An asset with one variant gets a number; an asset with a matrix a
mapping from variant name to candidate (SPEC section 9), listing every variant (a number that
stood there before is spelled out for the others).

ruamel.yaml reads the file with the position of every key and value, so the change is a small
edit of the text at those positions: comments, order, quoting, flow style and blank lines all
stay as they were. The edited text is parsed again and must equal the old data with only the
pick changed; otherwise nothing is written and the error says what to add by hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from msgspec import Struct
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from assetgen.atomic import write_atomic
from assetgen.errors import UserError

_INT = re.compile(r"\d+")


class PickRequest(Struct, frozen=True):
    recipe: Path              # the recipe file
    asset: str                # the asset key
    variant: str              # the variant whose pick changes
    candidate: int            # 0-based
    variants: Sequence[str]   # every variant of the asset, in order
    current: Mapping[str, int]  # each variant's pick now


def _rt() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    return yaml


def _plain(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def _target(data: Any, asset: str, where: str) -> tuple[CommentedMap, tuple[Any, ...]]:
    """The mapping that holds the pick, and its path in the data."""
    try:
        node = data["assets"][asset]
    except (KeyError, TypeError):
        raise UserError(f"{where}: asset '{asset}' is not in this file any more") from None
    if not isinstance(node, CommentedMap):
        raise UserError(f"{where}: asset '{asset}' is not a mapping")
    steps = node.get("steps")
    if isinstance(steps, CommentedSeq) and steps:
        last = steps[-1]
        if not isinstance(last, CommentedMap):
            raise UserError(f"{where}: the last step of '{asset}' is not a mapping")
        return last, ("assets", asset, "steps", len(steps) - 1)
    return node, ("assets", asset)


def _new_value(req: PickRequest, old: Any) -> int | dict[str, int]:
    if len(req.variants) <= 1:
        return req.candidate
    if isinstance(old, Mapping):
        value = {str(k): int(v) for k, v in old.items()}
    else:
        value = {v: int(req.current.get(v, old if isinstance(old, int) else 0)) for v in req.variants}
    value[req.variant] = req.candidate
    return value


class _Text:
    """The file's lines, each with its own line ending (LF or CRLF); new lines end as the first does."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")     # the line breaks YAML counts (not str.splitlines' others)
        self.lines = [line + "\n" for line in self.lines[:-1]] + ([self.lines[-1]] if self.lines[-1] else [])
        self.newline = "\r\n" if self.lines and self.lines[0].endswith("\r\n") else "\n"

    def replace_int(self, line: int, col: int, new: str) -> None:
        text = self.lines[line]
        found = _INT.match(text, col)
        if found is None:
            raise ValueError("no number at the pick's position")
        self.lines[line] = text[:found.start()] + new + text[found.end():]

    def insert(self, line: int, new: list[str]) -> None:
        self.lines[line:line] = [n.removesuffix("\n") + self.newline if n.endswith("\n") else n for n in new]

    def own_line(self, line: int, col: int) -> bool:
        return self.lines[line][:col].strip() == ""

    def text(self) -> str:
        return "".join(self.lines)


def _entries(value: Mapping[str, int], indent: int) -> list[str]:
    return [f"{' ' * indent}{_key(name)}: {k}\n" for name, k in value.items()]


def _key(name: str) -> str:
    """A variant name as a YAML key that reads back as that text: quoted when plain YAML would read
    it as something else (`yes`, `123`, `null`, `a: b`)."""
    import json

    import yaml

    try:
        plain = yaml.safe_load(f"{name}: 0")
    except yaml.YAMLError:
        plain = None
    return name if isinstance(plain, dict) and list(plain) == [name] else json.dumps(name)


def _edit(text: _Text, target: CommentedMap, old: Any, new: int | dict[str, int], variant: str) -> None:
    if "pick" in target:
        kline, kcol = target.lc.key("pick")
        vline, vcol = target.lc.value("pick")
        if isinstance(new, int):
            text.replace_int(vline, vcol, str(new))
        elif isinstance(old, CommentedMap):
            if variant in old:
                line, col = old.lc.value(variant)
                text.replace_int(line, col, str(new[variant]))
            elif old.fa.flow_style():
                line, col = vline, vcol
                brace = text.lines[line].index("{", col)
                text.lines[line] = (text.lines[line][:brace + 1] + f"{_key(variant)}: {new[variant]}, "
                                    + text.lines[line][brace + 1:])
            else:
                first = next(iter(old))
                line, col = old.lc.key(first)
                text.insert(line, _entries({variant: new[variant]}, col))
        else:                                   # a number becomes a mapping of every variant
            line = text.lines[vline]
            found = _INT.match(line, vcol)
            if found is None:
                raise ValueError("no number at the pick's position")
            rest = line[found.end():].rstrip("\n").strip()
            text.lines[vline] = line[:found.start()].rstrip() + (f"  {rest}" if rest else "") + "\n"
            text.insert(vline + 1, _entries(new, kcol + 2))
        return
    keys = sorted(target, key=lambda k: k not in ("output", "outputs"))   # next to the outputs it picks for
    line, col = target.lc.key(list(target)[0])
    anchor = next(((ln, c) for k in keys for ln, c in [target.lc.key(k)] if text.own_line(ln, c)), None)
    if anchor is None:                          # `- edit: "..."` alone: the line after it
        line, col = line + 1, col
    else:
        line, col = anchor
    head = f"{' ' * col}pick:"
    text.insert(line, [f"{head} {new}\n"] if isinstance(new, int)
                else [f"{head}\n", *_entries(new, col + 2)])


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    node = data
    for part in path:
        node = node[part]
    node["pick"] = value


def write_pick(req: PickRequest, root: Path) -> int | dict[str, int]:
    """Write the pick; the value now under `pick:`. UserError when the file cannot take it."""
    where = req.recipe.relative_to(root).as_posix() if req.recipe.is_relative_to(root) else str(req.recipe)
    target_file = req.recipe.resolve()     # a recipe that is a link: the file it points at is changed
    if not target_file.is_relative_to(root.resolve()):
        raise UserError(f"{where}: a symbolic link that leads out of the project, to {target_file}: "
                        "the pick is not written through it; set it in that file by hand")
    original = target_file.read_bytes().decode("utf-8")     # line endings as they are (CRLF stays)
    try:
        data = _rt().load(original)
    except YAMLError as exc:
        raise UserError(f"{where}: cannot read the recipe to write the pick: {exc}") from None
    target, path = _target(data, req.asset, where)
    old = target.get("pick")
    new = _new_value(req, old)
    edited = _Text(original)
    try:
        _edit(edited, target, old, new, req.variant)
        changed = _plain(edited.text())
    except (ValueError, IndexError, YAMLError):
        changed = None
    expected = _plain(original)
    _set(expected, path, new)
    if changed != expected:
        spot = "the last step" if "steps" in path else f"asset '{req.asset}'"
        raise UserError(f"{where}: cannot write the pick without changing the file's layout; "
                        f"set 'pick: {new}' on {spot} by hand")
    if edited.text() != original:
        write_atomic(target_file, edited.text().encode("utf-8"))
    return new
