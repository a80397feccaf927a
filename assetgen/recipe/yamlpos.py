"""YAML with positions: plain values plus a side map from key path to source location.

Built on PyYAML's composer (C-accelerated when available): the node tree carries marks, so
every key and value keeps its file, line and column. Nothing is constructed from tags: a
`!!python/...` tag is an error, never executed. A key repeated in one mapping is an error at
the second key (PyYAML would silently keep the last one).
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator
from typing import Any

import yaml
from msgspec import Struct, field

from assetgen.errors import Diagnostic, Location
from assetgen.recipe import limits

try:  # pragma: no cover - depends on how PyYAML was built
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

Path_ = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
MAX_NODES = limits.MAX_YAML_VALUES
MAX_DEPTH = limits.MAX_YAML_DEPTH


Place = tuple[int, int]      # (line, column), 1-based: a Location in the file, made when asked for


class Positions(Struct):
    """Key path -> where the key (mapping entries) and the value node are written."""

    file: str
    keys: dict[Path_, Place] = field(default_factory=dict)
    values: dict[Path_, Place] = field(default_factory=dict)

    def key(self, path: Path_) -> Location:
        """Where the entry at `path` is written: its key, else its value, else the nearest parent."""
        for i in range(len(path), -1, -1):
            sub = path[:i]
            place = self.keys.get(sub) or self.values.get(sub)
            if place is not None:
                return Location(self.file, *place)
        return Location(self.file)

    def value(self, path: Path_) -> Location:
        place = self.values.get(path)
        return Location(self.file, *place) if place is not None else self.key(path)


class Document(Struct, frozen=True):
    data: Any
    positions: Positions
    diagnostics: tuple[Diagnostic, ...]


def _loc(file: str, node: yaml.Node) -> Location:
    return Location(file, *_place(node))


def _place(node: yaml.Node) -> Place:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load(text: str, file: str) -> Document:
    """Parse one YAML document. Never raises for bad input: problems become diagnostics."""
    return _direct(text, file) or _composed(text, file)


def _composed(text: str, file: str) -> Document:
    """`load` through PyYAML's composer: every document, with its problems as diagnostics."""
    positions = Positions(file)
    try:
        scan = _scan(text, file)
        if scan.too_deep is not None:
            return Document(None, positions, (Diagnostic.error(
                scan.too_deep, f"invalid YAML: nested deeper than {MAX_DEPTH} levels"),))
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if "end of stream" in problem and exc.context_mark is not None:
            mark = exc.context_mark     # where what never ended starts, not past the file's last line
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        if "nesting depth" in problem:  # newer PyYAML/libyaml stop far deeper nesting while scanning
            return Document(None, positions, (Diagnostic.error(
                loc, f"invalid YAML: nested deeper than {MAX_DEPTH} levels"),))
        if exc.context and exc.context_mark:
            problem = f"{exc.context} (line {exc.context_mark.line + 1}), {problem}"
        if mark and _char_at(text, mark.line, mark.column) == "\t":
            problem = "a tab character here; YAML indents with spaces"
        return Document(None, positions, (Diagnostic.error(loc, f"invalid YAML: {problem}"),))
    except yaml.YAMLError as exc:
        return Document(None, positions, (Diagnostic.error(Location(file), f"invalid YAML: {exc}"),))
    if node is None:
        return Document(None, positions, ())
    # without aliases the nodes are a tree: its depth is the nesting just checked, its size the
    # number of nodes just counted
    too_big = _expanded_problem(node, file) if scan.aliases or scan.nodes > MAX_NODES else None
    if too_big is not None:
        return Document(None, positions, (too_big,))
    diags: list[Diagnostic] = []
    data = _convert(node, (), positions, diags, scan.tagged)
    positions.values.setdefault((), _place(node))
    return Document(data, positions, tuple(diags))


class _Open:
    """A mapping or sequence being filled while the events stream by."""

    __slots__ = ("value", "path", "key")

    def __init__(self, value: Any, path: Path_) -> None:
        self.value = value      # a dict or a list
        self.path = path
        self.key: str | None = None     # a mapping's key whose value comes next


def _direct(text: str, file: str) -> Document | None:
    """The document made straight from the parser's events, in one pass, when it is plain: one
    document, no alias, no explicit tag, no merge key, only scalar keys and each once, within the
    nesting and size limits. None for anything else (an error too): `load` then composes it, which
    decides and words every problem. Both give the same data and positions."""
    positions = Positions(file)
    stack: list[_Open] = []
    root: list[Any] = []
    nodes = docs = 0
    scalar, mapping_start, sequence_start = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
    events: Iterator[Any] = yaml.parse(text, Loader=_Loader)     # (any event: its fields vary)
    try:
        for event in events:
            kind = type(event)
            if kind is scalar or kind is mapping_start or kind is sequence_start:
                nodes += 1
                if event.tag is not None or nodes > MAX_NODES:
                    return None
                mark = event.start_mark
                loc = (mark.line + 1, mark.column + 1)
                if not stack:
                    path: Path_ = ()
                else:
                    top = stack[-1]
                    if type(top.value) is dict:
                        if top.key is None:     # a key
                            key = event.value if kind is scalar else None
                            if key is None or key in top.value or (key == "<<" and not event.style):
                                return None
                            top.key = key
                            positions.keys[(*top.path, key)] = loc
                            continue
                        path = (*top.path, top.key)
                    else:
                        path = (*top.path, len(top.value))
                positions.values[path] = loc
                if kind is scalar:
                    value: Any = _plain(event.value) if not event.style else event.value
                else:
                    value = {} if kind is mapping_start else []
                if not stack:
                    root.append(value)
                else:
                    top = stack[-1]
                    if type(top.value) is dict:
                        assert top.key is not None
                        top.value[top.key] = value
                        top.key = None
                    else:
                        top.value.append(value)
                if kind is not scalar:
                    stack.append(_Open(value, path))
                    if len(stack) > MAX_DEPTH:
                        return None
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                stack.pop()
            elif kind is yaml.DocumentStartEvent:
                docs += 1
                if docs > 1:
                    return None
            elif kind is not yaml.DocumentEndEvent and kind is not yaml.StreamStartEvent \
                    and kind is not yaml.StreamEndEvent:
                return None     # an alias
    except (yaml.YAMLError, RecursionError):
        return None
    if len(root) != 1:
        return None
    return Document(root[0], positions, ())


def _plain(text: str) -> Any:
    """A plain scalar without a tag, by the YAML 1.2 core schema (as `_scalar` reads it)."""
    if text.isascii():      # most values of a large matrix: digits (an int) or letters (a string)
        if text.isdecimal():
            return _int(text)
        if text.isalpha() and text not in _CORE_BOOL and text not in _NULL_WORDS:
            return text
    return _as_kind(_core_kind(text), text)


plain_scalar = _plain     # what `load` makes of a plain value (`recipe.splice` reads edited values with it)


def _char_at(text: str, line: int, column: int) -> str:
    lines = text.splitlines()
    return lines[line][column] if line < len(lines) and column < len(lines[line]) else ""


class _Scan(Struct, frozen=True):
    too_deep: Location | None   # where nesting first exceeds MAX_DEPTH
    nodes: int                  # nodes the document makes (aliases not expanded)
    aliases: bool               # it has an alias
    tagged: bool                # a node has an explicit tag


def _scan(text: str, file: str) -> _Scan:
    """Nesting, size, aliases and tags, from the event stream (the parser does not recurse)."""
    depth = nodes = 0
    aliases = tagged = False
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.ScalarEvent):
            nodes += 1
            tagged = tagged or event.tag is not None
        elif isinstance(event, yaml.CollectionStartEvent):
            nodes += 1
            tagged = tagged or event.tag is not None
            depth += 1
            mark = event.start_mark
            if depth > MAX_DEPTH and mark is not None:
                return _Scan(Location(file, mark.line + 1, mark.column + 1), nodes, aliases, tagged)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases = True
    return _Scan(None, nodes, aliases, tagged)


def _expanded_problem(root: yaml.Node, file: str) -> Diagnostic | None:
    """An alias that contains itself, or a document too large or too deep once aliases are expanded.

    Each node is measured once (shared nodes are memoised), without recursion: a chain of
    thousands of anchors must not exhaust the stack.
    """
    size: dict[int, int] = {}      # id -> values the node becomes (capped)
    depth: dict[int, int] = {}     # id -> nesting levels below and including it (capped)
    open_: set[int] = set()        # nodes whose children are being measured: meeting one is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        kids = _children(node)
        if children_done:
            open_.discard(key)
            size[key] = min(1 + sum(size[id(k)] for k in kids), MAX_NODES + 1)
            below = max((depth[id(k)] for k in kids), default=0)
            depth[key] = 0 if isinstance(node, yaml.ScalarNode) else min(1 + below, MAX_DEPTH + 1)
            continue
        if key in size:
            continue
        if key in open_:
            return Diagnostic.error(_loc(file, node), "an alias refers to a node that contains it (a cycle); "
                                                      "YAML anchors here may only repeat finished values")
        open_.add(key)
        stack.append((node, True))
        for kid in kids:
            if id(kid) in open_:
                return Diagnostic.error(_loc(file, kid), "an alias refers to a node that contains it "
                                                         "(a cycle); YAML anchors here may only repeat "
                                                         "finished values")
            if id(kid) not in size:
                stack.append((kid, False))
    if size[id(root)] > MAX_NODES:
        most = limits.count(MAX_NODES)
        return Diagnostic.error(_loc(file, root), f"document too large: more than {most} values once "
                                                  "aliases are expanded")
    if depth[id(root)] > MAX_DEPTH:
        return Diagnostic.error(_loc(file, root), f"invalid YAML: nested deeper than {MAX_DEPTH} levels "
                                                  "once aliases are expanded")
    return None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _convert(node: yaml.Node, path: Path_, pos: Positions, diags: list[Diagnostic], tagged: bool) -> Any:
    """`tagged`: the document has an explicit tag somewhere (else every plain scalar is implicit)."""
    pos.values[path] = _place(node)
    if not _tag_ok(node.tag):
        diags.append(Diagnostic.error(_loc(pos.file, node), f"unsupported YAML tag '{_short(node.tag)}'"))
        return None
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node, tagged)
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), pos, diags, tagged) for i, item in enumerate(node.value)]
    assert isinstance(node, yaml.MappingNode)
    return _mapping(node, path, pos, diags, tagged)


def _mapping(node: yaml.MappingNode, path: Path_, pos: Positions, diags: list[Diagnostic],
             tagged: bool) -> dict:
    out: dict[str, Any] = {}
    seen: dict[str, Location] = {}
    for key_node, value_node in _merged(node, pos, diags):
        loc = _loc(pos.file, key_node)
        if not isinstance(key_node, yaml.ScalarNode):
            diags.append(Diagnostic.error(loc, "a mapping key must be a plain string"))
            continue
        key = str(key_node.value)
        if key in seen:
            first = seen[key]
            diags.append(Diagnostic.error(loc, f"duplicate key '{key}' (first at line {first.line})"))
            continue
        seen[key] = loc
        sub = (*path, key)
        pos.keys[sub] = (loc.line, loc.col)
        out[key] = _convert(value_node, sub, pos, diags, tagged)
    return out


def _merged(node: yaml.MappingNode, pos: Positions, diags: list[Diagnostic]) -> Iterator[tuple[Any, Any]]:
    """The mapping's own pairs, then pairs from `<<` merge keys that it does not set itself."""
    own = [(k, v) for k, v in node.value if k.tag != _TAG + "merge"]
    yield from own
    names = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
    for key_node, value_node in node.value:
        if key_node.tag != _TAG + "merge":
            continue
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for src in sources:
            if not isinstance(src, yaml.MappingNode):
                diags.append(Diagnostic.error(_loc(pos.file, src), "a merge key ('<<') needs a mapping"))
                continue
            for k, v in src.value:
                if isinstance(k, yaml.ScalarNode) and k.value not in names and k.tag != _TAG + "merge":
                    names.add(k.value)
                    yield k, v


_SCALAR_TAGS = {"str", "int", "float", "bool", "null", "timestamp", "binary", "merge", "value"}
_COLLECTION_TAGS = {"map", "seq", "omap", "pairs", "set"}


_KNOWN_TAGS = frozenset(_TAG + t for t in _SCALAR_TAGS | _COLLECTION_TAGS) | {"?", "!"}


def _tag_ok(tag: str) -> bool:
    return tag in _KNOWN_TAGS


def _short(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


# Plain scalars resolve by the YAML 1.2 core schema, not PyYAML's YAML 1.1 rules: `on`, `no`,
# `NO` (Norway) stay words, `12:30` is not 750 (base 60) and `010` is ten, not octal eight.
_CORE_NULL = re.compile(r"~|null|Null|NULL")
_NULL_WORDS = frozenset(("null", "Null", "NULL"))
_CORE_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_CORE_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_CORE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
                         r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")


def _scalar(node: yaml.ScalarNode, tagged: bool = True) -> Any:
    kind = node.tag[len(_TAG):] if node.tag.startswith(_TAG) else "str"
    text = node.value
    if (_implicit(node) if tagged else not node.style):
        kind = _core_kind(text)
    return _as_kind(kind, text)


def _as_kind(kind: str, text: str) -> Any:
    """A scalar's text as the value of its kind."""
    if kind == "null":
        return None
    if kind == "bool":
        return _CORE_BOOL.get(text, text)
    if kind == "int":
        return _int(text)
    if kind == "float":
        return _float(text)
    return text   # str, timestamp and binary stay text: a recipe has no use for dates or bytes


_RESOLVER = yaml.resolver.Resolver()


def _implicit(node: yaml.ScalarNode) -> bool:
    """A plain scalar without an explicit tag (`!!str 5` keeps its tag)."""
    plain = not node.style   # None from the Python parser, "" from the C one
    return plain and node.tag == _RESOLVER.resolve(yaml.ScalarNode, node.value, (True, False))


def _core_kind(text: str) -> str:
    if text == "" or _CORE_NULL.fullmatch(text):
        return "null"
    if text in _CORE_BOOL:
        return "bool"
    if _CORE_INT.fullmatch(text):
        return "int"
    if _CORE_FLOAT.fullmatch(text):
        return "float"
    return "str"


def _int(text: str) -> int | str:
    if text.isdecimal() and text.isascii() and len(text) < 4000:     # most: plain digits
        return int(text)
    sign = -1 if text.startswith("-") else 1
    clean = text.lstrip("+-")
    try:
        if clean.startswith("0x"):
            return sign * int(clean[2:], 16)
        if clean.startswith("0o"):
            return sign * int(clean[2:], 8)
        return sign * int(clean)
    except ValueError:
        return text


def _float(text: str) -> float | str:
    clean = text.replace("_", "").lower()
    if clean in (".nan",):
        return text   # NaN never equals itself; keep the text so it fails validation plainly
    if clean.endswith(".inf"):
        return text
    try:
        if ":" in clean:
            return text
        return float(clean)
    except ValueError:
        return text


# -- a template error's place inside its value -----------------------------------------------

def template_place(text: str, path: Path_, name: str | None, line: int | None) -> Place | None:
    """Where in the file `text` a template error lies inside the string value at `path`: the
    undefined variable `name` inside a tag; for a syntax error on the template's line `line`, the
    start of that line in a literal block (`|`), else the first line of a block's text (not its
    `|`/`>` indicator). None when the value is not a string or the place is not found (the value's
    own place stands)."""
    top, starts = _composed_once(text)
    node = _node_at(top, path)
    if node is None or not isinstance(node, yaml.ScalarNode):
        return None
    begin = starts[node.start_mark.line] + node.start_mark.column
    end = starts[node.end_mark.line] + node.end_mark.column if node.end_mark.line < len(starts) else len(text)
    at: int | None = None
    if name is not None:
        found = re.search(r"(?:\{\{|\{%)[^}%]*?(?<![\w.])" + re.escape(name) + r"(?!\w)", text[begin:end])
        if found is not None:
            at = begin + found.end() - len(name)
    elif line is not None and node.style in ("|", ">"):
        content = node.start_mark.line + 1      # the line after the indicator
        if node.style == "|":
            content += line - 1
        if content < len(starts) and starts[content] < end:
            first = text[starts[content]:end].split("\n", 1)[0]
            at = starts[content] + len(first) - len(first.lstrip(" "))
    if at is None:
        return None
    row = bisect.bisect_right(starts, at) - 1
    return row + 1, at - starts[row] + 1


@functools.lru_cache(maxsize=2)
def _composed_once(text: str) -> tuple[yaml.Node | None, list[int]]:
    """The file's node tree and where each of its lines starts (a matrix whose template fails
    places its error once per variant)."""
    starts = [0, *(m.end() for m in re.finditer("\n", text))]
    try:
        return yaml.compose(text, Loader=_Loader), starts
    except yaml.YAMLError:
        return None, starts


def _node_at(node: yaml.Node | None, path: Path_) -> yaml.Node | None:
    for step in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value
                         if isinstance(k, yaml.ScalarNode) and k.value == step), None)
        elif isinstance(node, yaml.SequenceNode) and type(step) is int and 0 <= step < len(node.value):
            node = node.value[step]
        else:
            return None
        if node is None:
            return None
    return node
