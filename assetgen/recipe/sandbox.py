"""The Jinja2 sandbox recipe templates render in, with every resource bounded.

Jinja2's ImmutableSandboxedEnvironment refuses unsafe attributes and mutation of lists and
dicts; this one also bounds what a template may cost (`assetgen.recipe.limits`):

- size: every string, list and integer a template builds is measured *before* it is built
  (`'x' | indent(2000000000)`, `9 ** 999 ** 999`, `'ab' | replace(...)` chains, `a ~ a` in a
  chain of vars) and refused past MAX_TEXT characters, MAX_ITEMS items or MAX_INT_BITS bits;
- steps: loop turns, calls, filters and operators each take a step, and a big result takes a
  step per hundred characters or items; a rendering has MAX_STEPS (nested loops, recursion);
- only methods that cannot grow text unboundedly may be called on strings, numbers, lists and
  dicts (`'x'.translate`, `(1).to_bytes` are refused); recursive `for` loops are refused.

Loops and `~` are rewritten before compiling (a `for` iterates through `bounded_iter`, `~` joins
through `bounded_join`); the output of every `{{ ... }}`, macro and block goes through `concat`.
"""

from __future__ import annotations

import functools
import inspect
import re
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.runtime import Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace
from jinja2.visitor import NodeTransformer

from assetgen.recipe import budget
from assetgen.recipe.limits import MAX_INT_BITS, MAX_ITEMS, MAX_TEXT, count

MACRO_STEPS = 10     # a macro call costs about ten loop turns


Exceeded = budget.Exceeded
file_budget = budget.file_budget
start = budget.start
stop = budget.stop
_charge = budget.charge
_charge_for = budget.charge_for


# -- measuring ----------------------------------------------------------------------------------

def _digits(value: int) -> int:
    return value.bit_length() * 30103 // 100000 + 2


def text_size(value: Any, limit: int = MAX_TEXT, depth: int = 0) -> int:
    """An upper bound of len(str(value)), exact enough to refuse before converting; it stops
    counting once past `limit` (and returns a number past it)."""
    if isinstance(value, str):
        return len(value)
    if value is None or isinstance(value, (bool, float)):
        return 24
    if isinstance(value, int):
        return _digits(value)
    if depth > 32:
        return limit + 1
    items: Iterable[Any]
    if isinstance(value, Namespace):
        items = _namespace_items(value)
    elif isinstance(value, dict):
        items = (x for pair in value.items() for x in pair)
    elif isinstance(value, (list, tuple, set, frozenset, types.MappingProxyType)):
        items = value
    elif isinstance(value, (range, types.FunctionType, types.MethodType)):
        return len(repr(value))
    else:
        return 200   # jinja2's own objects (macros, loop contexts, cyclers) print a short repr
    total = 16
    for item in items:
        _charge()
        total += text_size(item, limit - total, depth + 1) + 4
        if total > limit:
            return total
    return total


def _namespace_items(ns: Namespace) -> Iterable[Any]:
    attrs = object.__getattribute__(ns, "_Namespace__attrs")
    return (x for pair in attrs.items() for x in pair)


def check_text(value: Any) -> None:
    """Refuse printing a value whose text would pass MAX_TEXT (before it is made)."""
    _text(text_size(value), "an output")


def _text(size: int, what: str = "a string") -> None:
    if size > MAX_TEXT:
        raise Exceeded(f"it would build {what} of {count(size)} characters; at most {count(MAX_TEXT)}")


def _items(size: int) -> None:
    if size > MAX_ITEMS:
        raise Exceeded(f"it would build a list of {count(size)} items; at most {count(MAX_ITEMS)}")


def _int_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        digits = bits * 30103 // 100000
        about = f"about {count(digits)}" if digits < 10**9 else "more than a billion"
        raise Exceeded(f"it would compute a number of {about} digits; at most "
                       f"{count(MAX_INT_BITS * 30103 // 100000)}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_arg(value: Any, name: str) -> None:
    """A count or width given to a filter or method: it is the size of what gets built."""
    if _is_int(value) and abs(value) > MAX_TEXT:
        raise Exceeded(f"{name} {value} is too large; at most {count(MAX_TEXT)}")


_NUMBER = re.compile(r"\d+")


def format_size(fmt: str, args: Iterable[Any]) -> int:
    """An upper bound of the length of `fmt % args` or `fmt.format(*args)`: the format, every
    width and precision written in it, every argument's text, and every number argument (a width
    given as `*` or `{:{w}}`)."""
    total = len(fmt) + sum(int(n) for n in _NUMBER.findall(fmt[:MAX_TEXT]) if len(n) < 12)
    if any(len(n) >= 12 for n in _NUMBER.findall(fmt)):
        return MAX_TEXT + 1
    for arg in args:
        total += text_size(arg)
        total += abs(arg) if _is_int(arg) else 0
        if total > MAX_TEXT:
            return total
    return total


def _format_args(value: Any) -> list[Any]:
    """The values a `%` right side or a format call hands over, one level deep."""
    if isinstance(value, tuple):
        return [*value, *(x for v in value if isinstance(v, (tuple, list)) for x in v)]
    if isinstance(value, dict):
        return [*value.values()]
    return [value]


# -- operators ----------------------------------------------------------------------------------

def check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "**" and _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
        _int_bits((left.bit_length() - 1) * right + 1)   # within a factor 2 of the result's size
    elif operator == "*":
        if _is_int(left) and _is_int(right):
            _int_bits(left.bit_length() + right.bit_length())
        else:
            _repeat(left, right)
            _repeat(right, left)
    elif operator == "+":
        if isinstance(left, str) and isinstance(right, str):
            _text(len(left) + len(right))
        elif isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
            _items(len(left) + len(right))
    elif operator == "%" and isinstance(left, str):
        _text(format_size(left, _format_args(right)))


def _repeat(seq: Any, times: Any) -> None:
    if not _is_int(times) and not isinstance(times, bool):
        return
    if isinstance(seq, str):
        _text(len(seq) * max(int(times), 0))
    elif isinstance(seq, (list, tuple)):
        _items(len(seq) * max(int(times), 0))


# -- filters ------------------------------------------------------------------------------------

def _bound(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` with a step charged, its arguments checked before and its result measured after."""
    # An async-capable filter takes an extra first argument its sync body does not see.
    body = func.__wrapped__ if getattr(func, "jinja_async_variant", False) else func   # type: ignore[attr-defined]
    skip = 1 if body is not func and getattr(body, "jinja_pass_arg", None) is None else 0
    signature = inspect.signature(body, follow_wrapped=False)
    takes_first = getattr(func, "jinja_pass_arg", None) is not None
    before = _BEFORE.get(name)

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _charge()
        value = args[1] if takes_first else (args[0] if args else None)
        if name in _TEXT_FILTERS and not isinstance(value, str):
            _text(text_size(value), "an output")
        if before is not None:
            bound = signature.bind(*args[skip:], **kwargs)
            bound.apply_defaults()
            before(bound.arguments)     # may replace an argument (a generator by a measured list)
            args, kwargs = (*args[:skip], *bound.args), bound.kwargs
        result = func(*args, **kwargs)
        if isinstance(result, str):
            _text(len(result))
        elif isinstance(result, (list, tuple)):
            _items(len(result))
        return _charge_for(result)

    return bounded


def _text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _indent(a: dict[str, Any]) -> None:
    s, width = _text_of(a["s"]), a["width"]
    _int_arg(width, "indent width")
    pad = len(width) if isinstance(width, str) else abs(width) if _is_int(width) else 8
    _text(len(s) + pad * (s.count("\n") + 1))


def _replace(a: dict[str, Any]) -> None:
    s, old, new, times = _text_of(a["s"]), str(a["old"]), str(a["new"]), a["count"]
    hits = s.count(old) if old else len(s) + 1
    if _is_int(times) and times >= 0:
        hits = min(hits, times)
    _text(len(s) + hits * max(len(new) - len(old), 0))


def _wordwrap(a: dict[str, Any]) -> None:
    s, wrap = _text_of(a["s"]), a["wrapstring"]
    _text(len(s) + (len(s) + 1) * len(str(wrap) if wrap is not None else "\n"))


def _join(a: dict[str, Any]) -> None:
    value, sep = a["value"], str(a["d"])
    if not isinstance(value, (str, list, tuple, dict, range)):
        value = a["value"] = _listed(value)
    _text(text_size(value) + len(sep) * len(value))


def _listed(iterable: Any) -> list[Any]:
    """The items of a generator (`map`, `select`), taken one step each and measured as they come."""
    out = []
    size = 0
    for item in iterable:
        _charge()
        size += text_size(item)
        _text(size)
        out.append(item)
    return out


def _fill(a: dict[str, Any]) -> None:
    for key in ("linecount", "slices"):
        if key in a:
            _int_arg(a[key], key)


def _sum(a: dict[str, Any]) -> None:
    items = a["iterable"]
    if a.get("attribute") is None and isinstance(items, (list, tuple)) and not all(
            isinstance(x, (int, float)) for x in items):
        raise Exceeded("sum adds numbers only")
    if not isinstance(a.get("start"), (int, float)):
        raise Exceeded("sum adds numbers only")


def _round(a: dict[str, Any]) -> None:
    precision = a["precision"]
    if _is_int(precision) and abs(precision) > 1000:
        raise Exceeded(f"round to {precision} digits; at most 1,000")


_BEFORE: dict[str, Callable[[dict[str, Any]], None]] = {
    "center": lambda a: _int_arg(a["width"], "center width"),
    "indent": _indent,
    "format": lambda a: _text(format_size(str(a["value"]), [*a["args"], *a["kwargs"].values()])),
    "replace": _replace,
    "wordwrap": _wordwrap,
    "join": _join,
    "batch": _fill,
    "slice": _fill,
    "sum": _sum,
    "round": _round,
    "truncate": lambda a: _int_arg(a["length"], "truncate length"),
}

# Filters that turn their input into text first: the input's text must fit before it is made.
_TEXT_FILTERS = frozenset({
    "capitalize", "center", "e", "escape", "forceescape", "format", "indent", "lower", "pprint",
    "replace", "safe", "string", "striptags", "title", "tojson", "trim", "truncate", "upper",
    "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr",
})


# -- methods ------------------------------------------------------------------------------------

# Methods of strings, numbers, lists and dicts a template may call: those whose result is at
# most a constant factor of their inputs. The growing ones are checked before the call.
_SAFE_METHODS = frozenset({
    "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha", "isascii",
    "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric", "isprintable", "isspace", "istitle",
    "isupper", "lower", "lstrip", "partition", "removeprefix", "removesuffix", "rfind", "rindex",
    "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title",
    "upper", "keys", "values", "items", "get", "copy", "bit_length", "is_integer", "conjugate",
})
_BUILTIN_VALUES = (str, bytes, int, float, complex, list, tuple, dict, set, frozenset, range)


def check_method(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    target = getattr(func, "__wrapped__", func)    # str.format arrives wrapped by the sandbox
    owner = getattr(target, "__self__", None)
    if not isinstance(owner, _BUILTIN_VALUES) and not (isinstance(owner, type)
                                                       and issubclass(owner, _BUILTIN_VALUES)):
        return
    name = getattr(target, "__name__", "")
    if name in _SAFE_METHODS:
        return
    if name in ("center", "ljust", "rjust", "zfill") and isinstance(owner, str):
        if args:
            _int_arg(args[0], f"{name} width")
        return
    if name == "expandtabs" and isinstance(owner, str):
        size = args[0] if args else kwargs.get("tabsize", 8)
        _int_arg(size, "tab size")
        _text(len(owner) + owner.count("\t") * (abs(size) if _is_int(size) else 8))
        return
    if name == "replace" and isinstance(owner, str) and len(args) >= 2:
        _replace({"s": owner, "old": args[0], "new": args[1], "count": args[2] if len(args) > 2 else -1})
        return
    if name == "join" and isinstance(owner, str) and args:
        _join({"value": args[0], "d": owner})
        return
    if name in ("format", "format_map") and isinstance(owner, str):
        values = [*args, *kwargs.values()]
        if name == "format_map" and args and isinstance(args[0], dict):
            values = [*args[0].values()]
        _text(format_size(owner, values))
        return
    raise Exceeded(f"'{type(owner).__name__}.{name}' is not available in recipe templates")


# -- the environment ------------------------------------------------------------------------------

class _Rewrite(NodeTransformer):
    """`for x in xs` iterates `bounded_iter(xs)`; `a ~ b` is `bounded_join([a, b])`."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        if node.recursive:
            raise TemplateSyntaxError("recursive loops are not available in recipe templates", node.lineno)
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.EnvironmentAttribute("bounded_iter"), [node.iter], [], None, None,
                               lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(nodes.EnvironmentAttribute("bounded_join"), [nodes.List(node.nodes)], [], None,
                          None, lineno=node.lineno)


class Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _bound(name, f) for name, f in self.filters.items()}

    def _generate(self, source: nodes.Template, name: str | None, filename: str | None,
                  defer_init: bool = False) -> str:
        _Rewrite().visit(source)
        return super()._generate(source, name, filename, defer_init)  # type: ignore[misc]

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _charge()
        check_binop(operator, left, right)
        return _charge_for(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _charge(MACRO_STEPS if isinstance(__obj, Macro) else 1)
        check_method(__obj, args, kwargs)
        return _charge_for(super().call(__context, __obj, *args, **kwargs))

    @staticmethod
    def bounded_iter(iterable: Any) -> Iterator[Any]:
        for item in iterable:
            _charge()
            yield item

    @staticmethod
    def bounded_join(values: list[Any]) -> str:
        _text(sum(text_size(v) for v in values))
        return "".join(str(v) for v in values)

    @staticmethod
    def concat(pieces: Iterable[str]) -> str:   # type: ignore[override]
        """The output of a template, macro or block: measured as it is produced."""
        out = []
        size = 0
        for piece in pieces:
            size += len(piece)
            _text(size, "an output")
            out.append(piece)
        return _charge_for("".join(out))
