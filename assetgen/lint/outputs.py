"""Output checks: renditions that lose what the recipe asked for, and paths that would overwrite
what the build reads or keeps."""

from __future__ import annotations

import fnmatch

from assetgen.errors import Diagnostic, Location
from assetgen.recipe.model import Project

_NO_ALPHA = frozenset({"jpeg", "bmp"})
_LOSSY = frozenset({"jpeg", "webp", "avif"})


def check_outputs(project: Project) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for variant in project.variants():
        transparent = variant.steps[-1].param("background") == "transparent"
        for output in variant.outputs:
            if transparent and output.format in _NO_ALPHA:
                out.append(Diagnostic.warning(output.location, f"output '{output.path}' is {output.format}: "
                                                               "the transparent background becomes opaque"))
            if output.quality is not None and output.format not in _LOSSY:
                out.append(Diagnostic.warning(output.location, f"'quality' has no effect on {output.format} "
                                                               f"output '{output.path}'"))
    return out


_KEPT = {"assetgen.yaml": "the project file", "assetgen.lock": "the lock file"}
_STATE = ".assetgen"


def check_output_targets(project: Project) -> list[Diagnostic]:
    """An output may not replace a recipe, the project or lock file, state, or an input image, nor
    be a file a recipe glob matches."""
    recipes = {r.path for r in project.recipes}
    inputs: dict[str, tuple[str, Location]] = {}
    for variant in project.variants():
        for step in variant.steps:
            for ref in (step.image, step.mask, *step.images):
                if ref is not None and ref.path is not None:
                    inputs.setdefault(ref.path, (variant.name, ref.location))
    folded = _folded_index(recipes, inputs)
    globs = [(g, glob_parts(g)) for g in project.config.recipes]
    out: list[Diagnostic] = []
    for variant in project.variants():
        for output in variant.outputs:
            problem = _target_problem(output.path, recipes, inputs, folded) or _in_recipes(output.path, globs)
            if problem:
                out.append(Diagnostic.error(output.location, f"output '{output.path}' {problem}"))
    return out


def _in_recipes(path: str, globs: list[tuple[str, list[str]]]) -> str | None:
    """An output a recipe glob matches would be read as a recipe by the next lint or build."""
    parts = path.split("/")
    for pattern, pattern_parts in globs:
        if glob_match(pattern_parts, parts):
            return (f"is matched by the recipe glob '{pattern}': the next lint would read the image as a "
                    "recipe; write outputs outside the recipe folders")
    return None


def glob_parts(pattern: str) -> list[str]:
    return [p for p in pattern.replace("\\", "/").split("/") if p not in ("", ".")]


def glob_match(pattern: list[str], parts: list[str]) -> bool:
    """Whether the project-relative file `parts` is one that `Path.glob(pattern)` finds: `**` is any
    number of folders (a trailing `**` finds folders, never a file), other parts match one name."""
    if not pattern:
        return not parts
    if pattern == ["**"]:
        return False
    if pattern[0] == "**":
        return any(glob_match(pattern[1:], parts[i:]) for i in range(len(parts)))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and glob_match(pattern[1:], parts[1:])


def _folded_index(recipes: set[str], inputs: dict[str, tuple[str, Location]]) -> dict[str, str]:
    """Case-folded path -> the first kept file, recipe or input with that folding (built once: a
    lookup per output, not a scan of every path for every output)."""
    index: dict[str, str] = {}
    for path in (*_KEPT, *sorted(recipes), *inputs):
        index.setdefault(path.casefold(), path)
    return index


def _target_problem(path: str, recipes: set[str], inputs: dict[str, tuple[str, Location]],
                    folded_index: dict[str, str]) -> str | None:
    problem = _exact_problem(path, recipes, inputs)
    if problem is not None:
        return problem
    # On macOS and Windows a path that differs only in case is the same file.
    folded = path.casefold()
    same = folded_index.get(folded)
    if same is None and folded.split("/", 1)[0] == _STATE:
        same = _STATE + path[len(_STATE):]
    if same is None:
        return None
    problem = _exact_problem(same, recipes, inputs)
    assert problem is not None
    return f"is '{same}' on macOS and Windows (paths that differ only in case are one file): it {problem}"


def _exact_problem(path: str, recipes: set[str], inputs: dict[str, tuple[str, Location]]) -> str | None:
    if path in _KEPT:
        return f"would overwrite {_KEPT[path]}"
    if path == _STATE or path.startswith(_STATE + "/"):
        return f"would write into assetgen's state folder {_STATE}/"
    if path in recipes:
        return "would overwrite a recipe file"
    if path in inputs:
        name, where = inputs[path]
        return (f"would overwrite an input of variant '{name}' at {where}; "
                "to use another asset's image, refer to it with {asset: NAME}")
    return None


def clear_of(project: Project, outputs: set[str], inputs: set[str], recipes: set[str]) -> bool:
    """Whether the project's variants stay clear of the rest of a project, given by its paths
    case-folded: no output another file writes or reads, or a recipe file's path; no input another
    file writes. (The checks an incremental build or lint makes by index instead of rescanning.)"""
    for variant in project.variants():
        for out in variant.outputs:
            folded = out.path.casefold()
            if folded in outputs or folded in inputs or folded in recipes:
                return False
        for step in variant.steps:
            for ref in (step.image, step.mask, *step.images):
                if ref is not None and ref.path is not None and ref.path.casefold() in outputs:
                    return False
    return True
