"""Project-wide checks: duplicate variant names and output paths, cycles, `pick` after `n` > 1."""

from __future__ import annotations

from assetgen.errors import Diagnostic, Location
from assetgen.recipe.model import Output, Project, Step, Variant
from assetgen.recipe.refs import refs_of


def check_duplicates(project: Project) -> list[Diagnostic]:
    """Two variants with one name, or two outputs with one path: an error naming both places."""
    out: list[Diagnostic] = []
    names: dict[str, Variant] = {}
    paths: dict[str, tuple[Variant, Output]] = {}
    folded: dict[str, tuple[Variant, Output]] = {}
    for variant in project.variants():
        first = names.setdefault(variant.name, variant)
        if first is not variant:
            out.append(Diagnostic.error(variant.location, _duplicate_name(first, variant)))
        for output in variant.outputs:
            owner, other = paths.setdefault(output.path, (variant, output))
            if other is not output and not _same_place(owner, other, variant, output):
                out.append(Diagnostic.error(output.location, _duplicate_path(owner, other, variant, output)))
                continue
            owner, other = folded.setdefault(output.path.casefold(), (variant, output))
            if other.path != output.path:
                out.append(Diagnostic.error(output.location, (
                    f"output paths '{output.path}' (variant '{variant.name}') and '{other.path}' (variant "
                    f"'{owner.name}' at {other.location}) differ only in case: on macOS and Windows "
                    "they are one file")))
    return out


def _duplicate_path(first: Variant, first_output: Output, second: Variant, second_output: Output) -> str:
    text = f"duplicate output path '{second_output.path}': "
    if first_output.location == second_output.location and first.asset == second.asset:
        return (text + f"variants '{first.name}' and '{second.name}' of asset '{second.asset}' both write "
                "it; put {{ name }} or a matrix value in the path")
    return text + f"variant '{second.name}' here and variant '{first.name}' at {first_output.location}"


def _same_place(first: Variant, first_output: Output, second: Variant, second_output: Output) -> bool:
    """One output line of two same-named combinations: the duplicate name says it already."""
    return first.name == second.name and first_output.location == second_output.location


def _duplicate_name(first: Variant, second: Variant) -> str:
    if first.location != second.location:
        return f"duplicate variant name '{second.name}' (also at {first.location})"
    return (f"duplicate variant name '{second.name}' from two combinations of asset '{second.asset}': "
            f"{_values(first)} and {_values(second)}")


def _values(variant: Variant) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in variant.values) + "}"


def check_unused(project: Project) -> list[Diagnostic]:
    """A variant that writes no output and that no other variant uses would be paid for in vain."""
    used = {ref.asset for v in project.variants() for ref in refs_of(v)}
    return [Diagnostic.warning(v.location, f"variant '{v.name}' writes no output and no asset uses it")
            for v in project.variants() if not v.outputs and v.name not in used]


def check_pick(project: Project) -> list[Diagnostic]:
    """A step with n > 1 followed by more steps, or by another asset's reference, needs `pick` (the
    range of a pick is checked where the variant is built)."""
    return check_pick_steps(project) + check_pick_refs(project)


def check_pick_steps(project: Project) -> list[Diagnostic]:
    """A step with n > 1 followed by more steps of its own variant needs `pick`."""
    out: list[Diagnostic] = []
    for variant in project.variants():
        last = len(variant.steps) - 1
        for i, step in enumerate(variant.steps):
            if step.n > 1 and i < last and step.pick is None:
                message = (f"steps[{i}] makes {step.n} candidates and more steps follow: "
                           f"set 'pick' to the one that continues{_unmapped(step, variant.name)}")
                out.append(Diagnostic.error(step.location, message))
    return out


def _unmapped(step: Step, variant: str) -> str:
    return f" (variant '{variant}' has no entry in its mapping)" if step.pick_missing else ""


def check_pick_refs(project: Project) -> list[Diagnostic]:
    """A reference to a variant whose last step makes n > 1 images needs that step's `pick`."""
    by_name = {v.name: v for v in project.variants()}
    out: list[Diagnostic] = []
    for variant in project.variants():
        for ref in refs_of(variant):
            upstream = by_name.get(ref.asset or "")
            if upstream is None:
                continue
            final = upstream.steps[-1]
            if final.n > 1 and final.pick is None:
                where = "beside its 'prompt'" if final.shorthand else "on its last step"
                out.append(Diagnostic.error(ref.location, (
                    f"{{asset: {ref.asset}}} makes {final.n} candidates: set 'pick' {where} "
                    f"(at {final.location}) to the one that continues{_unmapped(final, upstream.name)}")))
    return out


def check_cycles(project: Project) -> list[Diagnostic]:
    """Every reference cycle once, printed as `a -> b -> a`, at the first variant's reference."""
    variants = {v.name: v for v in project.variants()}
    edges = {name: [r for r in refs_of(v) if r.asset in variants] for name, v in variants.items()}
    state: dict[str, int] = {}          # 1: on the current path, 2: done
    seen_cycles: set[tuple[str, ...]] = set()
    out: list[Diagnostic] = []
    for start in variants:
        if state.get(start):
            continue
        _walk(start, edges, state, seen_cycles, out)
    return out


def _walk(start: str, edges: dict, state: dict[str, int], seen: set[tuple[str, ...]],
          out: list[Diagnostic]) -> None:
    """Iterative depth-first search (a 10,000-long chain must not hit the recursion limit)."""
    path: list[str] = [start]
    stack = [iter(edges[start])]
    state[start] = 1
    while stack:
        ref = next(stack[-1], None)
        if ref is None:
            state[path.pop()] = 2
            stack.pop()
            continue
        target = ref.asset
        if state.get(target) == 1:
            _report(path[path.index(target):], ref.location, seen, out)
        elif not state.get(target):
            state[target] = 1
            path.append(target)
            stack.append(iter(edges[target]))


def _report(cycle: list[str], where: Location, seen: set[tuple[str, ...]], out: list[Diagnostic]) -> None:
    k = cycle.index(min(cycle))
    canonical = tuple(cycle[k:] + cycle[:k])
    if canonical in seen:
        return
    seen.add(canonical)
    out.append(Diagnostic.error(where, "reference cycle: " + " -> ".join([*cycle, cycle[0]])))
