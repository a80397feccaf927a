"""Helpers for the review, diff, show and init tests: a small project in a real git repository."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

RECIPE = """\
# yaml-language-server: $schema=../schema/recipe.schema.json
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}   # cheap while drafting

assets:
  icon:
    matrix:
      kind: [sword, shield]
    name: "icon-{{ kind }}"
    prompt: "A {{ kind }}, flat game icon"
    output: "out/{{ name }}.png"

  banner:
    size: 1536x1024
    steps:
      - generate: 'A knight on a cliff'
      - edit: "Add a storm"
    output: out/banner.jpg
"""

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_CONFIG_NOSYSTEM": "1"}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout


def project(root: Path, recipe: str = RECIPE) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "a.yaml").write_text(recipe, encoding="utf-8")
    return root / "recipes" / "a.yaml"


def commit_all(root: Path, message: str = "snapshot") -> None:
    if not (root / ".git").exists():
        git(root, "init", "-q", "-b", "main")
        (root / ".gitignore").write_text(".assetgen/\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
