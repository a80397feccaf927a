"""`lint` after a change to a few recipe files: check those files, take the rest from the last lint.

A full lint keeps, per recipe file, in `.assetgen/lint-cache.json`: the file's stat and content
hash, the diagnostics it gave in each per-file check (loading, models, input files, `pick` within
a variant, outputs), its names (variants, assets, matrix assets, names dropped for errors), the
assets it refers to, its output paths, and its input files with their stat; and the stat of every
folder its recipe globs search (a new or removed recipe file changes its folder). The next lint
stats the folders, the recipe files and their inputs; a file whose bytes changed (or whose inputs
did, or that had errors when loaded: those may come from the file system) is loaded afresh, with
the files that refer to it or that it refers to (now or before the change), and checked with
every check; the rest's diagnostics are taken as they were. A changed file with a large matrix
that the last lint found clean is loaded in part: only the variants of new values are built and
checked (`lint.matrix`). The project-wide checks between the loaded files
and the rest are done by names and paths (a variant name or asset key, an output path in any case,
an output over an input or a recipe file): anything they find goes to the full lint, which names
both places. So does anything else the stored data cannot answer exactly: a
diagnostic of a project-wide check (duplicates, references, cycles, unused variants, output
targets) anywhere, a diagnostic outside a recipe file, many files to load.

The output is the full lint's, diagnostic for diagnostic and in its order. Everything besides
the files that can change a diagnostic is in the fingerprint (`filecache.environment`: assetgen's
code and data, the libraries, the project file; plus Pillow and the date, which retires models).

Like every state file it is untrusted: its first line is the sha256 of the rest, its shape is
checked, its paths are only stat'ed and read as recipe files below the project; anything wrong
means the full lint. Nothing heavy is imported unless a file changed, and JSON Schema only when
a file is loaded whole (the project file passed it when the cache was written).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct, field

from assetgen import statefiles
from assetgen.errors import Diagnostic, Location, Severity
from assetgen.lint import matrix

if TYPE_CHECKING:
    from assetgen.recipe.convert import FileResult, Params
    from assetgen.recipe.model import Project, Variant

CACHE_FILE = "lint-cache.json"
CHANGES_FILE = "lint-cache-changes.json"    # the entries that changed since: small, written each time
FORMAT = 2
MAX_FILES = 200             # files to load again: beyond this the full lint is as quick
RACY_NS = 50_000_000        # a stat this close to the run's start may hide a change in the same tick
PROJECT_FILE = "assetgen.yaml"
PHASES = ("load", "models", "files", "pick", "outputs")     # the per-file checks, in the full lint's order
_HERE = Path(__file__).resolve().parent
_PACKAGE = _HERE.parent
# the code whose behaviour the stored diagnostics record (a development install keeps its version)
_CODE = (*sorted(_HERE.glob("*.py")), *sorted((_PACKAGE / "recipe").glob("*.py")), _PACKAGE / "errors.py",
         _PACKAGE / "catalog.py", _PACKAGE / "project.py", *sorted((_PACKAGE / "data").glob("**/*.json")))
_LIBRARIES = ("yaml", "jinja2", "jsonschema", "PIL")
REWRITE_AFTER = 100         # entries in the changes file: beyond this the cache file is written again


def lint_project(paths: Sequence[str | Path] = (), cwd: Path | None = None) -> tuple[Path, list[Diagnostic]]:
    """What `lint.run.lint_project` gives: the project root and every diagnostic, in order. From
    the lint cache when only a few recipe files changed since the last lint; the cache is kept
    up to date (best effort)."""
    cwd = (cwd or Path.cwd()).resolve()
    root = _root(paths, cwd)
    if root is not None:
        found = Quick(root).run()
        if found is not None:
            return root, found
    return full(paths, cwd, root)


def _root(paths: Sequence[str | Path], cwd: Path) -> Path | None:
    """The project root, when the lint is of a whole project that has a project file."""
    if len(paths) > 1:
        return None
    start = (cwd / paths[0]).resolve() if paths else cwd
    if paths and not start.is_dir():
        return None
    for folder in (start, *start.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder if (not paths or folder == start) else None
    return None


# -- the stored data -----------------------------------------------------------------------

class Entry(Struct):
    """One recipe file as the last lint saw it."""

    stamp: list[int] | None         # stat before reading; None: read it again next time
    sha: str | None
    reload: bool                    # had load errors: loaded afresh each time
    variants: list[str]             # as loaded, before references were resolved
    assets: dict[str, list[str]]
    matrix: list[str]
    skipped: list[str]              # dropped for their own errors (the loader's)
    gone: list[str]                 # variants not in the project (dropped for references)
    refs: list[str]                 # asset names its variants refer to
    outputs: list[str]              # of the variants in the project
    inputs: list[list[Any]]         # [path, stat] of the files its variants read
    diags: list[list[Any]]          # [phase, file, line, col, severity, message]
    part: list[Any] | None = None   # a large matrix file's record (`lint.matrix`), to lint it in part

    def to_json(self) -> list[Any]:
        return [self.stamp, self.sha, self.reload, self.variants, self.assets, self.matrix, self.skipped,
                self.gone, self.refs, self.outputs, self.inputs, self.diags, self.part]

    @classmethod
    def from_json(cls, raw: Any) -> Entry | None:
        """The entry when it has its shape at the top; its fields are checked where they are used
        (the file's first line, the checksum, already rules out damage: this guards against a
        file written by hand)."""
        if type(raw) is not list or len(raw) != 13:
            return None
        return cls(*raw)


def _ints(value: Any) -> bool:
    return type(value) is list and all(type(v) is int for v in value)


def _strings(value: Any) -> bool:
    return type(value) is list and all(type(v) is str for v in value)


class State(Struct):
    env: str
    head: list[list[Any]]                   # the project file's diagnostics: [file, line, col, sev, msg]
    folders: dict[str, list[Any]]           # folder -> [mtime_ns (-2: list it), ino, names]
    files: dict[str, Entry] = field(default_factory=dict)   # in the project's order
    base: str = ""                          # the checksum of the cache file these came from
    newer: set[str] = field(default_factory=set)            # files whose entry is the changes file's
    newer_folders: set[str] = field(default_factory=set)

    def encode(self) -> bytes:
        body = {"format": FORMAT, "environment": self.env, "head": self.head, "folders": self.folders,
                "files": [[rel, e.to_json()] for rel, e in self.files.items()]}
        return statefiles.with_checksum(body)

    def encode_changes(self) -> bytes:
        body = {"format": FORMAT, "base": self.base,
                "folders": {f: self.folders[f] for f in self.newer_folders},
                "files": {rel: self.files[rel].to_json() for rel in self.newer}}
        return statefiles.with_checksum(body)


def environment(root: Path) -> str | None:
    """Everything besides the recipe files and their inputs that can change lint's diagnostics:
    assetgen's version, code and data, the libraries that read recipes and images (told by their
    files, found without importing them), the project file, the date (models retire)."""
    import datetime
    import importlib.util
    import sys

    from assetgen import __version__

    try:
        project_bytes = (root / PROJECT_FILE).read_bytes()
    except OSError:
        return None
    parts: list[Any] = [FORMAT, __version__, sys.version, hashlib.sha256(project_bytes).hexdigest(),
                        datetime.date.today().isoformat()]
    for path in _CODE:
        parts.append(_code_stat(path))
    for name in _LIBRARIES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        parts.append(_code_stat(Path(spec.origin)) if spec is not None and spec.origin else None)
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()


def _code_stat(path: Path) -> list[Any] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [str(path), st.st_size, st.st_mtime_ns]


def _read(root: Path, env: str) -> State | None:
    state_dir = root / ".assetgen"
    if state_dir.is_symlink():
        return None
    found = statefiles.read_checksummed(state_dir / CACHE_FILE)
    if found is None:
        return None
    base, body = found
    if not (isinstance(body, dict) and body.get("format") == FORMAT and body.get("environment") == env
            and type(body.get("head")) is list and type(body.get("folders")) is dict
            and type(body.get("files")) is list):
        return None
    state = State(env, body["head"], body["folders"], base=base)
    if not all(type(d) is list and len(d) == 5 and type(d[0]) is str and type(d[1]) is int
               and type(d[2]) is int and d[3] == "warning" and type(d[4]) is str for d in state.head):
        return None
    if not all(map(_folder_ok, state.folders.keys(), state.folders.values())):
        return None
    for item in body["files"]:
        if type(item) is not list or len(item) != 2 or type(item[0]) is not str:
            return None
        entry = Entry.from_json(item[1])
        if entry is None or item[0] in state.files:
            return None
        state.files[item[0]] = entry
    if not statefiles.all_relative(state.files):
        return None
    _read_changes(state_dir / CHANGES_FILE, state)
    return state


def _folder_ok(folder: Any, raw: Any) -> bool:
    return ((folder == "." or statefiles.is_relative(folder)) and type(raw) is list and len(raw) == 3
            and type(raw[0]) is int and type(raw[1]) is int and _strings(raw[2]))


def _read_changes(file: Path, state: State) -> None:
    """The entries that changed since the cache file was written, when they belong to it."""
    found = statefiles.read_checksummed(file)
    if found is None:
        return
    body = found[1]
    if not (isinstance(body, dict) and body.get("format") == FORMAT and body.get("base") == state.base
            and type(body.get("files")) is dict and type(body.get("folders")) is dict):
        return
    files = {rel: Entry.from_json(raw) for rel, raw in body["files"].items()}
    folders = body["folders"]
    if not (files.keys() <= state.files.keys() and None not in files.values()
            and folders.keys() <= state.folders.keys()
            and all(map(_folder_ok, folders.keys(), folders.values()))):
        return
    for rel, entry in files.items():
        assert entry is not None
        state.files[rel] = entry
    state.folders.update(folders)
    state.newer = set(files)
    state.newer_folders = set(folders)


def _write(root: Path, state: State, changes_only: bool = False) -> None:
    """The cache file (and no changes file), or only the changes file. Best effort: a read-only
    project still lints, only not incrementally."""
    from assetgen.atomic import write_atomic

    state_dir = root / ".assetgen"
    if any(p.is_symlink() for p in (state_dir, state_dir / CACHE_FILE, state_dir / CHANGES_FILE)):
        return
    try:
        state_dir.mkdir(exist_ok=True)
        if changes_only:
            write_atomic(state_dir / CHANGES_FILE, state.encode_changes())
        else:
            (state_dir / CHANGES_FILE).unlink(missing_ok=True)
            write_atomic(state_dir / CACHE_FILE, state.encode())
    except OSError:
        return


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]


def _input_stat(path: str | Path) -> list[int] | None:
    """What lint's file checks see of an input: kind (file or folder), size, times, inode."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [stat.S_IFMT(st.st_mode), *_stamp(st)]


def _racy(values: Iterable[list[int] | None], start: int) -> bool:
    """A stat whose ctime is this close to the start could miss a change made in the same tick."""
    return any(v is not None and v[-1] >= start - RACY_NS for v in values)


def _dedupe(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """As `recipe.load.dedupe` (not imported: it pulls in the loader)."""
    unique = dict.fromkeys(diags)
    return sorted(unique, key=lambda d: (d.location.file, d.location.line, d.location.col))


# -- the full lint, remembered -------------------------------------------------------------

class _Seen:
    """Each file's load result, as the loader reports them."""

    def __init__(self) -> None:
        self.results: dict[str, tuple[FileResult, list[Diagnostic], set[str]]] = {}

    def __call__(self, rel: str, result: FileResult, ref_diags: list[Diagnostic], dropped: set[str]) -> None:
        self.results[rel] = (result, ref_diags, dropped)


def full(paths: Sequence[str | Path], cwd: Path, root: Path | None) -> tuple[Path, list[Diagnostic]]:
    """The full lint (`lint.run.lint_project`), and the lint cache when `root` is given."""
    from assetgen.lint import run
    from assetgen.lint.files import check_files
    from assetgen.lint.graph import (
        check_cycles,
        check_duplicates,
        check_pick,
        check_pick_refs,
        check_pick_steps,
        check_unused,
    )
    from assetgen.lint.models import check_models
    from assetgen.lint.outputs import check_output_targets, check_outputs
    from assetgen.recipe.load import dedupe, load_project

    known = (check_models, check_files, check_duplicates, check_pick, check_cycles, check_unused,
             check_outputs, check_output_targets)
    if tuple(run.CHECKS) != known:      # checks this module does not know how to keep per file
        return run.lint_project(paths, cwd)
    start = time.time_ns()
    seen = _Seen()
    result = load_project(paths, cwd, on_file=seen if root is not None else None)
    project = result.project
    local = [check_models(project), check_files(project), check_pick_steps(project), check_outputs(project)]
    wide = [check_duplicates(project), check_pick_refs(project), check_cycles(project), check_unused(project),
            check_output_targets(project)]
    models, files, steps, outputs = local
    duplicates, picks, cycles, unused, targets = wide
    diags = dedupe([*result.diagnostics, *models, *files, *duplicates, *steps, *picks, *cycles, *unused,
                    *outputs, *targets])
    if root is not None and project.root == root:
        env = environment(root)
        state = None
        if env is not None and not any(wide):
            state = _remember(project, result.diagnostics, seen, local, start, env)
        if state is not None:
            _write(root, state)
        elif not (root / ".assetgen").is_symlink():     # a stale cache must not answer the next lint
            for name in (CACHE_FILE, CHANGES_FILE):
                try:
                    (root / ".assetgen" / name).unlink()
                except OSError:
                    pass
    return project.root, diags


def _remember(project: Project, load_diags: Sequence[Diagnostic], seen: _Seen, local: list[list[Diagnostic]],
              start: int, env: str) -> State | None:
    """The lint cache of a full lint whose project-wide checks found nothing; None when the
    stored data could not answer a later lint exactly (a diagnostic outside a recipe file,
    references that did not resolve)."""
    root = project.root
    recipes = {r.path: r for r in project.recipes}
    if list(recipes) != list(seen.results):
        return None
    per_file: dict[str, list[list[Any]]] = {rel: [] for rel in recipes}
    for rel, (result, ref_diags, _) in seen.results.items():
        if ref_diags:       # "did you mean" hints draw on every file's names
            return None
        for d in result.diagnostics:
            if d.location.file != rel:
                return None
            per_file[rel].append(_row(0, d))
    head = []
    for d in load_diags:
        if d.location.file not in recipes:
            if d.severity is not Severity.WARNING:
                return None
            head.append([d.location.file, d.location.line, d.location.col, d.severity.value, d.message])
    for phase, found in enumerate(local, start=1):
        for d in found:
            if d.location.file not in per_file:
                return None
            per_file[d.location.file].append(_row(phase, d))
    folders = _folders(root, project.config.recipes, start)
    if folders is None:
        return None
    state = State(env, head, folders)
    for rel, recipe in recipes.items():
        result, _, dropped = seen.results[rel]
        entry = _entry(root, rel, result, dropped, recipe.variants, per_file[rel], start)
        if entry is None:
            return None
        state.files[rel] = entry
    return state


def _row(phase: int, d: Diagnostic) -> list[Any]:
    return [phase, d.location.file, d.location.line, d.location.col, d.severity.value, d.message]


def _entry(root: Path, rel: str, result: FileResult, dropped: set[str], variants: Sequence[Variant],
           diags: list[list[Any]], start: int) -> Entry | None:
    try:
        st = os.stat(root / rel)
        data = (root / rel).read_bytes()
    except OSError:
        return None
    sha = hashlib.sha256(data).hexdigest()
    entry = _entry_of(root, result, dropped, variants, diags, _stamp(st), sha, start)
    if _clean(entry):
        entry.part = matrix.record(result.definition, variants)
    return entry


def _clean(entry: Entry) -> bool:
    """A file whose variants all made it into the project without a diagnostic or a reference
    (what a record of its variants, `lint.matrix`, stands for)."""
    return not (entry.diags or entry.refs or entry.gone or entry.skipped or entry.reload)


def _folders(root: Path, globs: Sequence[str], start: int) -> dict[str, list[Any]] | None:
    """Every folder below the fixed part of each recipe glob (a new recipe file changes one of
    them), with its mtime and inode; the names in it when the mtime is too recent to trust. None
    when a glob reaches out (`..`) or a folder holds a symbolic link (followed or not by a glob)."""
    found: dict[str, list[Any]] = {}
    for pattern in globs:
        parts = [p for p in pattern.replace("\\", "/").split("/") if p not in ("", ".")]
        if ".." in parts or not parts:
            return None
        fixed = []
        for part in parts[:-1]:
            if any(c in part for c in "*?["):
                break
            fixed.append(part)
        todo = ["/".join(fixed) or "."]
        while todo:
            folder = todo.pop()
            if folder in found:
                continue
            full = root / folder
            try:
                st = os.lstat(full)
            except FileNotFoundError:
                found[folder] = [-1, -1, None]
                continue
            except OSError:
                return None
            try:
                if stat.S_ISLNK(st.st_mode):
                    return None
                if not stat.S_ISDIR(st.st_mode):
                    continue
                names = []
                with os.scandir(full) as entries:
                    for item in entries:
                        if item.is_symlink():
                            return None
                        names.append(item.name)
                        if folder == ".":
                            if item.name != ".assetgen" and item.is_dir(follow_symlinks=False):
                                todo.append(item.name)
                        elif item.is_dir(follow_symlinks=False):
                            todo.append(f"{folder}/{item.name}")
            except OSError:
                return None
            racy = st.st_ctime_ns >= start - RACY_NS     # then listed each time
            found[folder] = [-2 if racy else st.st_mtime_ns, st.st_ino, sorted(names)]
    return found


# -- the quick lint ------------------------------------------------------------------------

class Quick:
    """The lint from the cache and the changed files; None from `run` when it cannot say exactly."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.start = time.time_ns()
        self.touched = False        # an entry or a folder's stamp to write
        self.whole: set[str] = set()    # files to load whole: an input changed, or a path left
        self.parts: dict[str, matrix.Partly] = {}       # of the files loaded in part

    def run(self) -> list[Diagnostic] | None:
        env = environment(self.root)
        state = _read(self.root, env) if env is not None else None
        if state is None:
            return None
        try:
            if not self._same_folders(state):
                return None
            changed = self._changed(state)
            if changed is None:
                return None
            if changed and not self._relint(state, changed):
                return None
            found = _assemble(state)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError):
            return None     # stored data of the right shape at the top that does not fit together
        if self.touched:    # what changed goes to the changes file, until it grows large
            few = len(state.newer) + len(state.newer_folders) <= REWRITE_AFTER
            _write(self.root, state, changes_only=few)
        return found

    def _same_folders(self, state: State) -> bool:
        """Whether the recipe folders hold the names they held (an editor that saves by renaming
        changes its folder's mtime, not its names)."""
        for folder, raw in state.folders.items():
            mtime, ino, names = raw
            try:
                st = os.lstat(self.root / folder)
            except FileNotFoundError:
                if mtime == -1:     # missing then, missing now
                    continue
                return False
            except OSError:
                return False
            if not stat.S_ISDIR(st.st_mode) or st.st_ino != ino:
                return False
            if st.st_mtime_ns == mtime:
                continue
            try:
                with os.scandir(self.root / folder) as entries:
                    now = []
                    for item in entries:
                        if item.is_symlink():
                            return False
                        now.append(item.name)
            except OSError:
                return False
            if sorted(now) != names:
                return False
            raw[0] = -2 if st.st_ctime_ns >= self.start - RACY_NS else st.st_mtime_ns
            state.newer_folders.add(folder)
            self.touched = True
        return True

    def _changed(self, state: State) -> set[str] | None:
        """The recipe files to load again; None when the cache cannot be used."""
        from assetgen.recipe.paths import clear_cache, escaped

        clear_cache()       # folders resolved by an earlier run in this process
        root = str(self.root)
        changed = set()
        for rel, entry in state.files.items():
            full = os.path.join(root, rel)
            try:
                st = os.stat(full)
            except OSError:
                return None
            for path, was in entry.inputs:
                if not statefiles.is_relative(path):
                    return None
                if _input_stat(os.path.join(root, path)) != was:
                    changed.add(rel)
                    self.whole.add(rel)
            if entry.reload or entry.sha is None:
                changed.add(rel)
                continue
            stamp = _stamp(st)
            if rel not in changed and stamp != entry.stamp:
                try:
                    with open(full, "rb") as f:
                        same = hashlib.sha256(f.read()).hexdigest() == entry.sha
                except OSError:
                    return None
                if not same:
                    changed.add(rel)
                    continue
                entry.stamp = None if _racy([stamp], self.start) else stamp
                state.newer.add(rel)
                self.touched = True
        # as the recipe cache checks a stored result: a folder may have become a symlink (the paths
        # of a changed file too, which may keep most of its variants: `lint.matrix`)
        paths = {rel: [*e.outputs, *(i[0] for i in e.inputs)] for rel, e in state.files.items()}
        gone = escaped(self.root, (p for found in paths.values() for p in found))
        if gone:
            self.whole.update(rel for rel, found in paths.items() if not gone.isdisjoint(found))
            changed |= self.whole
        return changed

    def _relint(self, state: State, changed: set[str]) -> bool:
        from assetgen import project as project_file
        from assetgen.recipe import limits
        from assetgen.recipe.convert import params_from
        from assetgen.recipe.load import load_file

        # the lint that wrote the cache found no error in the project file, whose bytes are in the
        # fingerprint: it passed the schema (nor is JSON Schema imported)
        cfg = project_file.read_config(self.root, checked=True)
        if cfg.diagnostics:
            return False
        params = params_from(dict(cfg.config.defaults), cfg.positions, ("defaults",))
        loaded: dict[str, tuple[FileResult, list[int] | None, str | None]] = {}
        owner: dict[str, str] = {}
        for rel, entry in state.files.items():
            for name in (*entry.variants, *entry.assets):
                owner.setdefault(name, rel)
        referred = {n for e in state.files.values() for n in e.refs}

        def load(files: set[str], whole: bool = False) -> bool:
            for rel in sorted(files - loaded.keys()):
                if len(loaded) >= MAX_FILES:
                    return False
                try:
                    st = os.stat(self.root / rel)
                    data = (self.root / rel).read_bytes()
                except OSError:
                    return False
                entry = state.files[rel]
                in_part = not whole and entry.part is not None and rel not in self.whole \
                    and not entry.refs and referred.isdisjoint((*entry.variants, *entry.assets))
                stamp: list[int] | None = _stamp(st)
                if len(data) <= limits.MAX_FILE_BYTES:     # else the loader's message, as it reads it
                    result = self._load(rel, data, params, entry if in_part else None)
                else:
                    result = load_file(self.root, rel, params)
                    # the loader reads the file itself: the stamp and hash count only if it did not change
                    try:
                        same = _stamp(os.stat(self.root / rel)) == _stamp(st)
                    except OSError:
                        same = False
                    stamp = _stamp(st) if same else None
                loaded[rel] = (result, stamp, hashlib.sha256(data).hexdigest())
            return True

        def names_of(rel: str) -> set[str]:
            entry = state.files[rel]
            result = loaded[rel][0]
            return {*entry.variants, *entry.assets, *(v.name for v in result.variants), *result.assets}

        todo = set(changed)
        while todo:     # the changed files, and every file that refers to a name of a loaded one
            if not load(todo):
                return False
            names = set().union(*(names_of(rel) for rel in todo))
            todo = {rel for rel, e in state.files.items()
                    if rel not in loaded and not names.isdisjoint(e.refs)}
        todo = self._upstream(state, loaded, owner, set(loaded))
        while todo:     # and every file a loaded one refers to (or a changed one referred to)
            if not load(todo):
                return False
            todo = self._upstream(state, loaded, owner, todo)
        if self.parts and len(loaded) > 1:     # the checks across files need every variant
            for rel in list(self.parts):
                del loaded[rel], self.parts[rel]
                if not load({rel}, whole=True):
                    return False
        return self._check(state, cfg.config, loaded)

    def _load(self, rel: str, data: bytes, params: Params, entry: Entry | None) -> FileResult:
        """The file from `data`, in part when `entry` (its last lint) allows (`lint.matrix`)."""
        from assetgen.recipe.convert import FileResult
        from assetgen.recipe.load import convert_doc, read_doc

        doc = read_doc(self.root, rel, data)
        if isinstance(doc, FileResult):
            return doc      # the problem that stops it
        if entry is not None:
            part = matrix.load(self.root, doc, params, entry.part, entry.variants, entry.outputs,
                               entry.assets)
            if part is not None:
                self.parts[rel] = part
                return part.result
        return convert_doc(self.root, doc, params)

    @staticmethod
    def _upstream(state: State, loaded: dict, owner: dict[str, str], files: Iterable[str]) -> set[str]:
        from assetgen.recipe.refs import refs_of

        wanted: set[str] = set()
        for rel in files:
            wanted.update(state.files[rel].refs)
            wanted.update(r.asset for v in loaded[rel][0].variants for r in refs_of(v) if r.asset)
        return {owner[n] for n in wanted if n in owner and owner[n] not in loaded}

    def _check(self, state: State, config: Any, loaded: dict) -> bool:
        """Check the loaded files and put their entries in `state`; False when the full lint
        must say."""
        from assetgen.lint.files import check_files
        from assetgen.lint.graph import (
            check_cycles,
            check_duplicates,
            check_pick_refs,
            check_pick_steps,
            check_unused,
        )
        from assetgen.lint.models import check_models
        from assetgen.lint.outputs import check_output_targets, check_outputs
        from assetgen.recipe import refs
        from assetgen.recipe.model import Project, Recipe

        rest = {rel: e for rel, e in state.files.items() if rel not in loaded}
        order = [rel for rel in state.files if rel in loaded]
        # the variants of a file loaded in part that were not built count as another file's
        variants = {n for e in rest.values() for n in e.variants} | {
            n for part in self.parts.values() for n in part.kept_names}
        assets: dict[str, list[str]] = {}
        for e in rest.values():
            assets.update(e.assets)
        for rel in order:
            result = loaded[rel][0]
            if not variants.isdisjoint(v.name for v in result.variants) or not assets.keys().isdisjoint(
                    result.assets):
                return False     # a name another file has: the full lint says where
        for rel in state.files:     # in the project's order, as the loader builds its names
            if rel in loaded:
                variants.update(v.name for v in loaded[rel][0].variants)
                assets.update(self.parts[rel].assets if rel in self.parts else loaded[rel][0].assets)
        matrix_assets = {k for e in rest.values() for k in e.matrix}
        skipped = {k for e in rest.values() for k in e.skipped}
        for rel in order:
            matrix_assets.update(loaded[rel][0].matrix_assets)
            skipped.update(loaded[rel][0].skipped)
        names = refs.Names(frozenset(variants), assets, frozenset(matrix_assets), frozenset(skipped))
        gone = set(skipped) | {k for e in rest.values() for k in e.gone}
        recipes = []
        dropped_by: dict[str, set[str]] = {}
        for rel in order:
            resolved, ref_diags, dropped = refs.resolve(loaded[rel][0].variants, names)
            if ref_diags:
                return False
            gone |= dropped
            dropped_by[rel] = dropped
            recipes.append(Recipe(rel, tuple(resolved)))
        while True:     # as the loader: a variant that leans on a dropped one goes too
            leaning = {v.name for r in recipes for v in r.variants
                       if any(x.asset in gone for x in refs.refs_of(v))}
            if not leaning:
                break
            gone |= leaning
            recipes = [Recipe(r.path, tuple(v for v in r.variants if v.name not in leaning)) for r in recipes]
        project = Project(root=self.root, config=config, recipes=tuple(recipes))
        for check in (check_duplicates, check_pick_refs, check_cycles, check_unused, check_output_targets):
            if check(project):
                return False
        if not _fits(project, rest, {rel: (p, state.files[rel]) for rel, p in self.parts.items()}):
            return False
        per_file: dict[str, list[list[Any]]] = {rel: [] for rel in order}
        for rel in order:
            for d in loaded[rel][0].diagnostics:
                if d.location.file != rel:
                    return False
                per_file[rel].append(_row(0, d))
        for phase, check in enumerate((check_models, check_files, check_pick_steps, check_outputs), start=1):
            for d in check(project):
                if d.location.file not in per_file:
                    return False
                per_file[d.location.file].append(_row(phase, d))
        for recipe in recipes:
            result, stamp, sha = loaded[recipe.path]
            part = self.parts.get(recipe.path)
            entry = _entry_of(self.root, result, dropped_by[recipe.path], recipe.variants,
                              per_file[recipe.path], stamp, sha, self.start,
                              (part, state.files[recipe.path]) if part is not None else None)
            if _clean(entry):
                entry.part = part.record if part is not None else matrix.record(result.definition,
                                                                                recipe.variants)
            state.files[recipe.path] = entry
            state.newer.add(recipe.path)
            self.touched = True
        return True


def _entry_of(root: Path, result: FileResult, dropped: set[str], variants: Sequence[Variant],
              diags: list[list[Any]], stamp: list[int] | None, sha: str | None, start: int,
              in_part: tuple[matrix.Partly, Entry] | None = None) -> Entry:
    """`in_part`: the file was loaded in part (`variants` are the new ones), and its last entry."""
    from assetgen.recipe.refs import refs_of

    # the inputs of the variants not built: those of the last entry (a few more, at most)
    inputs: dict[str, list[int] | None] = {p: s for p, s in in_part[1].inputs} if in_part else {}
    for v in variants:
        for step in v.steps:
            for ref in (step.image, step.mask, *step.images):
                if ref is not None and ref.path is not None and ref.path not in inputs:
                    inputs[ref.path] = _input_stat(root / ref.path)
    if stamp is None or _racy([stamp, *inputs.values()], start):
        stamp = sha = None
    kept = {v.name for v in variants}
    names = in_part[0].names if in_part else [v.name for v in result.variants]
    assets = in_part[0].assets if in_part else result.assets
    return Entry(
        stamp=stamp, sha=sha, reload=any(d.severity is Severity.ERROR for d in result.diagnostics),
        variants=names, assets={k: list(n) for k, n in assets.items()},
        matrix=sorted(result.matrix_assets), skipped=sorted(result.skipped),
        gone=sorted({v.name for v in result.variants} - kept | dropped),
        refs=sorted({r.asset for v in result.variants for r in refs_of(v) if r.asset}),
        outputs=in_part[0].outputs if in_part else [o.path for v in variants for o in v.outputs],
        inputs=[[p, s] for p, s in inputs.items()], diags=diags)


def _fits(project: Project, rest: dict[str, Entry], parts: dict[str, tuple[matrix.Partly, Entry]]) -> bool:
    """The project-wide checks between the loaded files and the rest, by names and paths: an
    output path another file writes or reads, or a recipe file's, in any case; an input another
    file writes. The variants of a file loaded in part that were not built count as another
    file's (their inputs: those of the file's last entry)."""
    from assetgen.lint.outputs import clear_of

    outputs = {p.casefold() for e in rest.values() for p in e.outputs}
    inputs = {i[0].casefold() for e in rest.values() for i in e.inputs}
    for part, last in parts.values():
        outputs.update(p.casefold() for p in part.kept_outputs)
        inputs.update(i[0].casefold() for i in last.inputs)
    return clear_of(project, outputs, inputs, {rel.casefold() for rel in rest})


def _assemble(state: State) -> list[Diagnostic]:
    """Every diagnostic in the full lint's order: the project file's, each file's loading, then
    each check over every file. ValueError for a stored row of the wrong shape."""
    head = [_diagnostic(None, *d) for d in state.head]
    rows = [row for e in state.files.values() for row in e.diags]
    rows.sort(key=lambda r: r[0])   # stable: phase by phase, each in the project's file order
    return _dedupe([*head, *(_diagnostic(*r) for r in rows)])


def _diagnostic(phase: int | None, file: str, line: int, col: int, severity: str, message: str) -> Diagnostic:
    if not (type(file) is str and type(line) is int and type(col) is int and type(message) is str
            and (phase is None or type(phase) is int and 0 <= phase < len(PHASES))):
        raise ValueError("a stored diagnostic of the wrong shape")
    return Diagnostic(Location(file, line, col), Severity(severity), message)
