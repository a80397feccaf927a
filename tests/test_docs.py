"""The README cannot drift from the CLI and CI: every command and option is documented, the test
command is the one `.ci/run` runs, and the schema line it shows points at a real file."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from assetgen.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def options() -> list[tuple[str, str]]:
    return [(name, flag) for name, sub in subcommands().items() for action in sub._actions
            for flag in action.option_strings if flag not in ("-h", "--help")]


def test_the_cli_has_the_commands_of_the_contract():
    assert set(subcommands()) == {"build", "plan", "lint", "schema", "emulator", "gc",
                                 "review", "diff", "show", "init"}


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_command_has_a_readme_section(command):
    assert f"**`assetgen {command}`**" in README


@pytest.mark.parametrize(("command", "flag"), options())
def test_every_option_is_in_the_readme(command, flag):
    assert re.search(rf"`{re.escape(flag)}[ `,]", README), f"assetgen {command} {flag} is not documented"


def test_the_readme_starts_with_the_build_and_the_ci_command():
    block = README.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert block[0].endswith("assetgen build recipes/")
    assert block[1] == ci


def test_the_readme_and_the_example_recipes_carry_the_schema_line():
    assert "# yaml-language-server: $schema=../schema/recipe.schema.json" in README
    for recipe in (ROOT / "recipes" / "recipes").glob("*.yaml"):
        first = recipe.read_text(encoding="utf-8").splitlines()[0]
        target = first.removeprefix("# yaml-language-server: $schema=")
        assert (recipe.parent / target).resolve() == ROOT / "schema" / "recipe.schema.json", recipe


def test_the_pre_commit_hook_runs_assetgen_lint_on_the_example_project():
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["entry"].split()[:2] == ["assetgen", "lint"] and hook["pass_filenames"] is False
    assert f"id: {hook['id']}" in README
    changed = ["recipes/icons.yaml", "assetgen.yml", "masks/sky.png", "brand/logo.jpeg", "a.webp"]
    assert all(re.search(hook["files"], path) for path in changed)
    assert not re.search(hook["files"], "README.md")
    argv = [sys.executable, "-m", "assetgen", *hook["entry"].split()[1:]]
    done = subprocess.run(argv, cwd=ROOT / "recipes", capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
