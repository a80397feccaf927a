"""The step budget of template renderings, without Jinja2 (`recipe.sandbox` charges it).

A rendering spends steps (loop turns, calls, filters; a large result a step per hundred
characters or items) and has MAX_STEPS; while `file_budget()` is active, all the renderings of one
recipe file share MAX_FILE_STEPS. Plain `{{ name }}` substitutions (`recipe.template`) spend none,
so a recipe that has only those never imports Jinja2.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from msgspec import Struct

from assetgen.recipe.limits import MAX_FILE_STEPS, MAX_STEPS, count


class Exceeded(Exception):
    """A template that would cost more than a limit allows; the message says which."""


class _Budget(Struct):
    left: int
    given: int
    whole_file: bool = False     # the file's budget, not the rendering's, is what runs out


_LEFT: contextvars.ContextVar[_Budget] = contextvars.ContextVar("steps_left")
# What all the renderings of one recipe file may still spend, while `file_budget()` is active: a
# matrix of many variants each just under a rendering's budget must not add up to minutes.
_FILE_LEFT: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("file_steps_left", default=None)


@contextlib.contextmanager
def file_budget(steps: int = MAX_FILE_STEPS) -> Iterator[None]:
    token = _FILE_LEFT.set([steps])
    try:
        yield
    finally:
        _FILE_LEFT.reset(token)


def start(steps: int = MAX_STEPS) -> contextvars.Token[_Budget]:
    """Begin a rendering with `steps` to spend (less when the file's budget has less left);
    `stop(token)` ends it and returns what is left."""
    file_left = _FILE_LEFT.get()
    if file_left is not None and file_left[0] < steps:
        return _LEFT.set(_Budget(max(0, file_left[0]), max(0, file_left[0]), whole_file=True))
    return _LEFT.set(_Budget(steps, steps))


def stop(token: contextvars.Token[_Budget]) -> int:
    budget = _LEFT.get()
    _LEFT.reset(token)
    file_left = _FILE_LEFT.get()
    if file_left is not None:
        file_left[0] -= budget.given - max(0, budget.left)
    return budget.left


def charge(steps: int = 1) -> None:
    budget = _LEFT.get(None)
    if budget is None:
        return
    budget.left -= steps
    if budget.left < 0:
        if budget.whole_file:
            raise Exceeded(f"this file's templates take more than {count(MAX_FILE_STEPS)} steps in all "
                           "(loop turns, calls and filters)")
        raise Exceeded(f"it takes more than {count(MAX_STEPS)} steps (loop turns, calls and filters)")


def charge_for(result: Any) -> Any:
    """A large result costs a step per hundred characters or items: copying it is work, and a
    rendering's budget then also bounds the memory its live results can hold."""
    if isinstance(result, (str, list, tuple, dict)) and len(result) >= 100:
        charge(len(result) // 100)
    return result
