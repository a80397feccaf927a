"""A recipe file read again after an edit of some values of its matrix lists, without parsing them.

A large matrix is mostly one flow list of plain values (`i: [0, 1, 2, ...]`), and the usual edit
changes one of them. When the last reading of the file found every matrix list written that way
(only values made of ASCII letters, digits and `_.+-`, commas, spaces and line breaks between
`[` and `]`), the `Basis` keeps its text, where each list lies and the values it held. A new text
is compared with that one (the common start and end): when what differs lies inside one list,
between its brackets, and splits into as many values, each changed value a token of those
characters with the spacing around it unchanged, the new lists are the old ones with those values
read again — by `yamlpos.plain_scalar`, the same reading a full parse gives a plain value. The
rest of the document is parsed from the new text with every list's inside blanked out (spaces, its
line breaks kept): every other value is where a full parse puts it, so positions in messages stay
right, and the lists are put back as values. Anything else — a quote, a comment, a bracket, a new
or removed value, a change outside the lists — is None: the file is read whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from msgspec import Struct

from assetgen.recipe import reuse, yamlpos

_TOKEN = r"[A-Za-z0-9_][A-Za-z0-9_.+-]*|[-+.][A-Za-z0-9_][A-Za-z0-9_.+-]*"
_VALUE = re.compile(_TOKEN)
_LIST = re.compile(rf"[ \n]*(?:{_TOKEN})(?:[ \n]*,[ \n]*(?:{_TOKEN}))*[ \n]*")
_ODD = re.compile("[\r\x85\u2028\u2029\ufeff]")    # line breaks YAML counts besides "\n", a byte order mark
_SPACE = " \n"

Where = tuple[str, str, int, int]   # asset key, matrix key, offsets of the list's `[` and `]`


class Basis(Struct, frozen=True):
    """A file's text as last read, with where its matrix lists lie and their values."""

    text: str
    lists: tuple[Where, ...]
    values: tuple[list[Any], ...]       # each list's values, as the document held them

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "lists": self.lists, "values": self.values}

    def column(self, asset: str, key: str) -> list[Any]:
        """The values of the list of `asset`'s matrix key `key`."""
        at = [(a, k) for a, k, _, _ in self.lists].index((asset, key))
        return self.values[at]

    @staticmethod
    def from_json(raw: Any) -> Basis | None:
        """A stored basis, when it has its shape (damage costs time: the file is read whole)."""
        if type(raw) is not dict or type(raw.get("text")) is not str:
            return None
        lists, values = raw.get("lists"), raw.get("values")
        if type(lists) is not list or type(values) is not list or len(lists) != len(values) or not lists:
            return None
        text = raw["text"]
        end = -1
        for where, found in zip(lists, values, strict=True):
            if not (type(where) is list and len(where) == 4 and type(where[0]) is str
                    and type(where[1]) is str and type(where[2]) is int and type(where[3]) is int
                    and end < where[2] < where[3] < len(text) and text[where[2]] == "["
                    and text[where[3]] == "]" and type(found) is list and found and reuse.scalars(found)):
                return None
            end = where[3]
        return Basis(raw["text"], tuple(tuple(w) for w in lists), tuple(values))    # type: ignore[misc]


def basis(text: str, doc: yamlpos.Document) -> Basis | None:
    """The basis of a document read from `text`, when every matrix list is a flow list of plain
    values written as above (None otherwise)."""
    if _ODD.search(text) or not isinstance(doc.data, dict) or not isinstance(doc.data.get("assets"), dict):
        return None
    starts = [0]
    starts += (m.end() for m in re.finditer("\n", text))
    lists: list[Where] = []
    values: list[list[Any]] = []
    for asset, spec in doc.data["assets"].items():
        matrix = spec.get("matrix") if isinstance(spec, dict) else None
        if matrix is None:
            continue
        if not isinstance(matrix, dict):
            return None
        for key, found in matrix.items():
            place = doc.positions.values.get(("assets", asset, "matrix", key))
            if place is None or type(found) is not list or not found or not reuse.scalars(found) \
                    or place[0] > len(starts):
                return None
            start = starts[place[0] - 1] + place[1] - 1
            end = text.find("]", start)
            if text[start:start + 1] != "[" or end < 0 or (lists and start <= lists[-1][3]):
                return None
            inside = text[start + 1:end]
            if not _LIST.fullmatch(inside) or inside.count(",") + 1 != len(found):
                return None
            lists.append((asset, key, start, end))
            values.append(found)
    return Basis(text, tuple(lists), tuple(values)) if lists else None


class Edit(Struct, frozen=True):
    """A new text of a file read on a basis: its document, its basis, what changed."""

    doc: yamlpos.Document
    basis: Basis
    changed: dict[tuple[str, str], list[int]]    # (asset key, matrix key) -> positions of new values


def read(old: Basis, text: str, rel: str) -> Edit | None:
    """`text` read on `old` (None: it must be parsed whole)."""
    lists = old.lists
    values = old.values
    changed: dict[tuple[str, str], list[int]] = {}
    if text != old.text:
        found = _changed(old, text)
        if found is None:
            return None
        at, new = found
        asset, key, start, end = lists[at]
        column = list(values[at])
        for i, value in new:
            column[i] = value
        delta = len(text) - len(old.text)
        values = (*values[:at], column, *values[at + 1:])
        lists = (*lists[:at], (asset, key, start, end + delta),
                 *((a, k, s + delta, e + delta) for a, k, s, e in lists[at + 1:]))
        changed[(asset, key)] = [i for i, _ in new]
    doc = yamlpos.load(_blanked(text, lists), rel)
    if doc.diagnostics or not isinstance(doc.data, dict):
        return None
    try:
        for (asset, key, _, _), column in zip(lists, values, strict=True):
            matrix = doc.data["assets"][asset]["matrix"]
            if matrix[key] != []:
                return None
            matrix[key] = column
    except (KeyError, TypeError):
        return None
    return Edit(doc, Basis(text, lists, values), changed)


def _changed(old: Basis, text: str) -> tuple[int, list[tuple[int, Any]]] | None:
    """The list the change to `text` lies in, and the positions and values of its new values."""
    before = old.text
    head = _common_head(before, text)
    tail = _common_tail(before, text, min(len(before), len(text)) - head)
    old_end, new_end = len(before) - tail, len(text) - tail
    at = next((i for i, (_, _, start, end) in enumerate(old.lists) if start < head and old_end <= end), None)
    if at is None:
        return None
    start, end = old.lists[at][2:]
    inside = before[start + 1:end]
    if not _LIST.fullmatch(inside) or inside.count(",") + 1 != len(old.values[at]):
        return None     # not the list the basis says
    comma = before.rfind(",", start + 1, head)
    lo = comma + 1 if comma >= 0 else start + 1
    comma = before.find(",", old_end, end)
    hi = comma if comma >= 0 else end
    old_cells = before[lo:hi].split(",")
    new_cells = text[lo:hi + new_end - old_end].split(",")
    if len(old_cells) != len(new_cells):
        return None
    first = before.count(",", start + 1, lo)
    new: list[tuple[int, Any]] = []
    for i, (was, now) in enumerate(zip(old_cells, new_cells, strict=True)):
        if was == now:
            continue
        token = now.strip(_SPACE)
        lead = len(now) - len(now.lstrip(_SPACE))
        if not _VALUE.fullmatch(token) or now[:lead] != was[:len(was) - len(was.lstrip(_SPACE))] \
                or now[lead + len(token):] != was[len(was.rstrip(_SPACE)):]:
            return None
        value = yamlpos.plain_scalar(token)
        if not reuse.scalars([value]):
            return None
        if not _same(yamlpos.plain_scalar(was.strip(_SPACE)), old.values[at][first + i]):
            return None     # not the value the basis says
        new.append((first + i, value))
    return at, new


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _blanked(text: str, lists: Sequence[Where]) -> str:
    """`text` with the inside of each list made spaces, its line breaks kept."""
    parts = []
    at = 0
    for _, _, start, end in lists:
        inside = text[start + 1:end]
        parts += [text[at:start + 1], "\n".join(" " * len(line) for line in inside.split("\n"))]
        at = end
    parts.append(text[at:])
    return "".join(parts)


def _common_head(a: str, b: str) -> int:
    """The length of the start `a` and `b` share (halving the span still unknown)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_tail(a: str, b: str, most: int) -> int:
    """The length of the end `a` and `b` share, at most `most`."""
    lo, hi = 0, most
    la, lb = len(a), len(b)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[la - mid:la - lo] == b[lb - mid:lb - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo
