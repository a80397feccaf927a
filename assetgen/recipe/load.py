"""Files on disk -> a validated, rendered, expanded Project, with diagnostics.

`load_project` never raises for bad recipe content: problems are diagnostics, and a variant
whose recipe has errors is dropped from the project. It raises UserError only for bad usage
(a path that does not exist, paths from two projects).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from msgspec import Struct

from assetgen import project as project_file
from assetgen.errors import Diagnostic, Location, Severity, UserError
from assetgen.recipe import filecache, limits, refs, reuse
from assetgen.recipe import paths as path_rules
from assetgen.recipe.convert import FileResult, Params, Wanted, clear_shared
from assetgen.recipe.model import Project, Recipe

if TYPE_CHECKING:
    from assetgen.recipe import yamlpos


class Loaded:
    """Recipe files loaded already (`run.parts`), and the recipe cache they were loaded through:
    handed over once (`take` forgets them, so that the loaded project alone holds them)."""

    def __init__(self, results: dict[str, FileResult], cache: filecache.RecipeCache) -> None:
        self._held: tuple[dict[str, FileResult], filecache.RecipeCache] | None = (results, cache)

    def take(self) -> tuple[dict[str, FileResult], filecache.RecipeCache]:
        held, self._held = self._held, None
        assert held is not None, "taken twice"
        return held


class LoadResult(Struct, frozen=True):
    project: Project                      # fully rendered and expanded; variants with errors are dropped
    diagnostics: tuple[Diagnostic, ...]   # errors and warnings found while loading, sorted by location
    skipped: frozenset[str] = frozenset()  # asset keys and variant names dropped for errors


OnFile = Callable[[str, FileResult, list[Diagnostic], set[str]], None]


def load_project(paths: Sequence[str | Path] = (), cwd: Path | None = None, *,
                 remember: bool = True, on_file: OnFile | None = None,
                 loaded: Loaded | None = None) -> LoadResult:
    """`remember`: keep what the recipes loaded to in the recipe cache (not under `--frozen`,
    which writes nothing). `on_file`: told each file's result, its reference diagnostics and the
    variants dropped for them (what `lint.incremental` keeps per file). `loaded`: files loaded
    already (through the recipe cache), taken as they are."""
    cwd = (cwd or Path.cwd()).resolve()
    root, named = targets(paths, cwd)
    path_rules.clear_cache()
    cfg = project_file.read_config(root)
    diags: list[Diagnostic] = list(cfg.diagnostics)
    files, unmatched = recipe_files(root, cfg.config.recipes)
    if named is not None:   # named files are read with the rest, so references across files resolve
        files = list(dict.fromkeys([*files, *named]))
    elif cfg.diagnostics:
        pass    # the project file has errors: its globs were not read, so none is judged
    elif not files:
        where = cfg.positions.value(("recipes", 0)) if cfg.positions else Location(cfg.config.file or ".")
        diags.append(Diagnostic.warning(where, f"no recipe files match {', '.join(cfg.config.recipes)}"))
    else:
        for i, pattern in enumerate(cfg.config.recipes):
            if pattern in unmatched:
                where = (cfg.positions.value(("recipes", i)) if cfg.positions
                         else Location(project_file.PROJECT_FILE))
                diags.append(Diagnostic.warning(where, f"recipe glob '{pattern}' matches no file"))
    results = _load_files(root, files, cfg, remember, loaded)
    clear_shared()
    names = refs.Names(
        variants=frozenset(v.name for _, r in results for v in r.variants),
        assets={k: n for _, r in results for k, n in r.assets.items()},
        matrix_assets=frozenset(k for _, r in results for k in r.matrix_assets),
        skipped=frozenset(s for _, r in results for s in r.skipped),
    )
    recipes = []
    skipped = set(names.skipped)
    for rel, result in results:
        diags += result.diagnostics
        variants, ref_diags, dropped = refs.resolve(result.variants, names)
        diags += ref_diags
        if on_file is not None:
            on_file(rel, result, ref_diags, dropped)
        skipped |= dropped
        recipes.append(Recipe(path=rel, variants=tuple(variants), definition=result.definition))
    recipes = _drop_leaning(recipes, skipped)
    if named is not None:
        recipes, diags = _only(named, recipes, diags)
    project = Project(root=root, config=cfg.config, recipes=tuple(recipes), unmatched_globs=unmatched)
    return LoadResult(project, tuple(dedupe(diags)), frozenset(skipped))


def _only(
    named: list[str], recipes: list[Recipe], diags: list[Diagnostic],
) -> tuple[list[Recipe], list[Diagnostic]]:
    """The named recipe files and the files they reference (transitively), with their diagnostics."""
    home = {v.name: r.path for r in recipes for v in r.variants}
    by_path = {r.path: r for r in recipes}
    chosen: set[str] = set()
    todo = list(named)
    while todo:
        path = todo.pop()
        if path in chosen:
            continue
        chosen.add(path)
        todo += [home[ref.asset] for v in by_path[path].variants
                 for ref in refs.refs_of(v) if ref.asset in home]
    other_recipes = set(by_path) - chosen
    return ([r for r in recipes if r.path in chosen],
            [d for d in diags if d.location.file not in other_recipes])


def dedupe(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Each (location, severity, message) once, sorted by location, first-seen order otherwise."""
    unique = dict.fromkeys(diags)
    return sorted(unique, key=lambda d: (d.location.file, d.location.line, d.location.col))


def _drop_leaning(recipes: list[Recipe], skipped: set[str]) -> list[Recipe]:
    """Drop variants that refer to a variant dropped in another file (until nothing changes)."""
    while True:
        gone = {v.name for r in recipes for v in r.variants
                if any(ref.asset in skipped for ref in refs.refs_of(v))}
        if not gone:
            return recipes
        skipped |= gone
        recipes = [Recipe(r.path, tuple(v for v in r.variants if v.name not in gone)) for r in recipes]


def recipe_files(root: Path, patterns: Iterable[str]) -> tuple[list[str], tuple[str, ...]]:
    """The project's recipe files (each once, in order), and the globs that match none."""
    each = _glob_each(root, patterns)
    return list(dict.fromkeys(f for found in each.values() for f in found)), \
        tuple(p for p, found in each.items() if not found)


def targets(paths: Sequence[str | Path], cwd: Path) -> tuple[Path, list[str] | None]:
    """The project root, and the recipe files named (None: the project's recipe globs)."""
    if not paths:
        return project_file.root_for(None, cwd), None
    roots: set[Path] = set()
    files: list[str] = []
    whole = False
    for raw in paths:
        try:
            full = (cwd / raw).resolve()
            if not full.exists():
                raise UserError(f"{raw}: no such file or folder")
        except OSError as exc:
            raise UserError(f"{raw}: {exc.strerror or exc}") from None
        root = project_file.root_for(full, cwd)
        roots.add(root)
        if full.is_dir():
            whole = True
        else:
            files.append(_relative(full, root, raw))
    if len(roots) > 1:
        raise UserError("the paths belong to different projects: " + ", ".join(sorted(map(str, roots))))
    return roots.pop(), None if whole else sorted(dict.fromkeys(files))


def _relative(full: Path, root: Path, raw: str | Path) -> str:
    try:
        return full.relative_to(root).as_posix()
    except ValueError:
        raise UserError(f"{raw}: the recipe file is outside the project root {root}") from None


def _glob_each(root: Path, patterns: Iterable[str]) -> dict[str, list[str]]:
    """The recipe files each glob matches (project-relative, in order)."""
    each: dict[str, list[str]] = {}
    real_root = os.path.realpath(root)
    real_dirs: dict[str, str] = {}
    for pattern in patterns:
        try:
            matches = sorted(root.glob(pattern))
        except (ValueError, NotImplementedError, OSError):
            matches = []
        found = []
        for path in matches:
            rel = path.relative_to(root).as_posix()
            if path.name != project_file.PROJECT_FILE and _within(str(path), rel, real_root, real_dirs) \
                    and path.is_file():
                found.append(rel)
        each[pattern] = found
    return each


def _within(full: str, rel: str, real_root: str, real_dirs: dict[str, str]) -> bool:
    """A recipe glob never reaches outside the project (through `..` or a symlink). Each folder is
    resolved once: a file that is no symlink lies where its folder does."""
    if ".." in rel.split("/"):
        return False
    folder, name = os.path.split(full)
    real_dir = real_dirs.get(folder)
    if real_dir is None:
        real_dir = real_dirs[folder] = os.path.realpath(folder)
    real = os.path.realpath(full) if os.path.islink(full) else os.path.join(real_dir, name)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _load_files(root: Path, files: list[str], cfg: project_file.ConfigResult,
                remember: bool, loaded: Loaded | None = None) -> list[tuple[str, FileResult]]:
    """Each recipe file's result: reused from the recipe cache when its bytes are unchanged,
    loaded (and stored) otherwise."""
    params: list[Params] = []      # the project's defaults, worked out once a file needs them
    results = []
    gc.disable()    # reading and rebuilding stored results makes many objects that all live on
    try:
        done, cache = loaded.take() if loaded is not None else ({}, recipe_cache(root))
        for rel in files:
            result = done.pop(rel, None)
            if result is None:
                result = load_cached(root, rel, cfg, cache, params)
            results.append((rel, result))
    finally:
        gc.enable()
    if remember:
        cache.save()
    return results


def recipe_cache(root: Path, held: dict[str, str] | None = None) -> filecache.RecipeCache:
    """The project's recipe cache (`held`: with those entries, not read from its file)."""
    try:
        project_bytes: bytes | None = (root / project_file.PROJECT_FILE).read_bytes()
    except OSError:
        project_bytes = None
    return filecache.RecipeCache(root / ".assetgen", filecache.environment(project_bytes), held)


def load_cached(root: Path, rel: str, cfg: project_file.ConfigResult, cache: filecache.RecipeCache,
                params: list[Params]) -> FileResult:
    """One recipe file, references not resolved: from `cache` when its bytes are unchanged, else
    loaded and stored there. `params`: the project's defaults, once worked out (else empty)."""
    stored, data = cache.lookup(root, rel, limits.MAX_FILE_BYTES)
    result = _reuse(root, stored) if stored is not None else None
    if result is None:
        if stored is not None:
            cache.forget(rel)
        if not params:
            from assetgen.recipe.convert import params_from

            params.append(params_from(dict(cfg.config.defaults), cfg.positions, ("defaults",)))
        result = _load_file(root, rel, params[0], data)
        # A file with errors is loaded afresh each time: an error may come from the file system
        # (a path that escapes through a symlink), which can be fixed without touching the file.
        if data is not None and not any(d.severity is Severity.ERROR for d in result.diagnostics):
            cache.store(rel, data, filecache.encode(
                result.variants, result.diagnostics, result.assets, result.matrix_assets, result.skipped,
                result.definition))
    return result


def _reuse(root: Path, stored: dict) -> FileResult | None:
    """A stored result, when it decodes and its paths still stay inside the project."""
    decoded = filecache.decode(stored)
    if decoded is None:
        return None
    for variant in decoded.variants:
        paths = [o.path for o in variant.outputs]
        paths += [r.path for s in variant.steps for r in (s.image, s.mask, *s.images)
                  if r is not None and r.path]
        for path in paths:
            try:
                if path_rules.project_path(root, path) != path:
                    return None
            except path_rules.PathEscape:
                return None
    return FileResult(variants=decoded.variants, diagnostics=decoded.diagnostics, assets=decoded.assets,
                      matrix_assets=decoded.matrix_assets, skipped=decoded.skipped,
                      definition=decoded.definition)


def load_file(root: Path, rel: str, project_params: Params) -> FileResult:
    """One recipe file, loaded afresh (not through the recipe cache); references not resolved."""
    return _load_file(root, rel, project_params)


def _load_file(root: Path, rel: str, project_params: Params, data: bytes | None = None) -> FileResult:
    doc = read_doc(root, rel, data)
    if isinstance(doc, FileResult):
        return doc
    return convert_doc(root, doc, project_params)


def read_doc(root: Path, rel: str, data: bytes | None = None) -> yamlpos.Document | FileResult:
    """The file's YAML document (`data`: its bytes, when already read), or the FileResult of the
    error that stops it there (unreadable, too big, not UTF-8, not YAML, empty)."""
    try:
        if data is None:
            size = (root / rel).stat().st_size
            if size > limits.MAX_FILE_BYTES:
                return FileResult(diagnostics=[Diagnostic.error(Location(rel), _too_big(size))])
            data = (root / rel).read_bytes()
        text = data.decode("utf-8")
    except OSError as exc:
        return FileResult(diagnostics=[Diagnostic.error(Location(rel), f"cannot read recipe: {exc}")])
    except UnicodeDecodeError as exc:
        assert data is not None
        return FileResult(diagnostics=[_not_utf8(rel, data, exc)])
    from assetgen.recipe import yamlpos

    doc = yamlpos.load(text, rel)
    if doc.diagnostics:
        return FileResult(diagnostics=list(doc.diagnostics))
    if doc.data is None:
        empty = Diagnostic.error(Location(rel), "the recipe is empty: it needs 'assets'")
        return FileResult(diagnostics=[empty])
    return doc


def convert_doc(root: Path, doc: yamlpos.Document, project_params: Params, wanted: Wanted | None = None,
                checked: bool = False) -> FileResult:
    """The document's variants, after the schema (`checked`: the caller knows the document passes
    it). `wanted`: build only the variants it accepts (`convert.convert_file`)."""
    from assetgen.recipe.convert import convert_file

    result = FileResult()
    problems = [] if checked else _schema_errors(doc)
    result.diagnostics += [d for _, d in problems]
    bad_assets = {str(p[1]) for p, _ in problems if len(p) >= 2 and p[0] == "assets"}
    if any(len(p) < 2 or p[0] != "assets" for p, _ in problems) or not isinstance(doc.data, dict):
        assets = doc.data.get("assets") if isinstance(doc.data, dict) else None
        result.skipped |= set(assets) if isinstance(assets, dict) else set()
        return result
    converted = convert_file(root, doc.data, doc.positions, project_params, bad_assets, wanted)
    converted.diagnostics[:0] = result.diagnostics
    if wanted is None and converted.matrix_assets and len(converted.variants) >= reuse.MIN_VARIANTS:
        converted.definition = reuse.definition(doc.data)     # kept with the result (`lint.matrix`)
    return converted


def _schema_errors(doc: yamlpos.Document) -> list[tuple[yamlpos.Path_, Diagnostic]]:
    from assetgen.recipe import schema

    return schema.errors(doc.data, doc.positions)


def _too_big(size: int) -> str:
    most = limits.count(limits.MAX_FILE_BYTES)
    return f"the file is {limits.count(size)} bytes; a recipe file has at most {most}"


def _not_utf8(rel: str, data: bytes, exc: UnicodeDecodeError) -> Diagnostic:
    """At the line and column of the first byte that is not UTF-8 (a file saved as Latin-1)."""
    line_start = data.rfind(b"\n", 0, exc.start) + 1
    line = data.count(b"\n", 0, exc.start) + 1
    col = len(data[line_start:exc.start].decode("utf-8", errors="replace")) + 1
    return Diagnostic.error(Location(rel, line, col), f"cannot read recipe: byte 0x{data[exc.start]:02x} is "
                                                      "not UTF-8; save the file as UTF-8")
