"""`assetgen init`: a new project in one command, which lints and builds offline as it is."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from msgspec import Struct

from assetgen.atomic import write_atomic
from assetgen.errors import UserError
from assetgen.recipe import schema

IGNORE_LINE = ".assetgen/"


class Scaffolded(Struct, frozen=True):
    written: tuple[str, ...]        # project-relative paths created
    gitignore: str                  # "created", "appended" or "kept" (it had the line)


def _scaffold(name: str) -> str:
    return resources.files("assetgen.review").joinpath("scaffold", name).read_text(encoding="utf-8")


def files() -> dict[str, str]:
    """Project-relative path -> text of each file `init` writes."""
    return {
        "assetgen.yaml": _scaffold("assetgen.yaml"),
        "recipes/example.yaml": _scaffold("example.yaml"),
        f"schema/{schema.RECIPE}": schema.schema_text(schema.RECIPE),
        f"schema/{schema.PROJECT}": schema.schema_text(schema.PROJECT),
    }


def _ignores(text: str) -> bool:
    return any(line.strip() in (IGNORE_LINE, IGNORE_LINE.rstrip("/"), "/" + IGNORE_LINE,
                                "/" + IGNORE_LINE.rstrip("/")) for line in text.splitlines())


def init(root: Path) -> Scaffolded:
    """Write the scaffold into `root`; UserError, writing nothing, when any of its files exists."""
    if root.exists() and not root.is_dir():
        raise UserError(f"{root} is a file, not a folder")
    wanted = files()
    existing = [p for p in wanted if (root / p).exists() or (root / p).is_symlink()]
    if existing:
        them = "them" if len(existing) > 1 else "it"
        raise UserError(f"not overwriting {', '.join(existing)} in {root}: "
                        f"init starts a new project; remove {them} or choose another folder")
    for rel, text in wanted.items():
        write_atomic(root / rel, text.encode("utf-8"))
    ignore = root / ".gitignore"
    if not ignore.exists():
        write_atomic(ignore, (IGNORE_LINE + "\n").encode("utf-8"))
        state = "created"
    else:
        text = ignore.read_text(encoding="utf-8")
        if _ignores(text):
            state = "kept"
        else:
            sep = "" if not text or text.endswith("\n") else "\n"
            with ignore.open("a", encoding="utf-8") as f:
                f.write(f"{sep}{IGNORE_LINE}\n")
            state = "appended"
    return Scaffolded(tuple(wanted), state)
