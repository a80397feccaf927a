"""Bounded resources: each reproduction from a hostile or mistaken recipe or project file is a
`FILE:LINE:COL` error and exit 2 from `plan` (1 from `lint`), within a memory bound, as a user runs it.

Each case runs `python -m assetgen` in a child process (so a regression that hangs or takes the
machine's memory fails the test instead of the test run): the child's peak memory is read from
`wait4`, and a generous timeout only guards the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

PEAK_KB = 300 * 1024      # the bound: no input takes more than 300 MB
GUARD_SECONDS = 120


def _assetgen(root: Path, *args: str) -> tuple[int, str, int]:
    """Exit code, stdout+stderr and peak memory (KB) of `python -m assetgen ARGS` in `root`."""
    env = {**os.environ, "AZURE_TOKEN_CREDENTIALS": "dev"}
    env.pop("AZURE_OPENAI_ENDPOINT", None)
    proc = subprocess.Popen([sys.executable, "-m", "assetgen", *args], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    guard = threading.Timer(GUARD_SECONDS, proc.kill)
    guard.start()
    assert proc.stdout is not None
    with proc.stdout:
        out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)   # the child's own peak, not the largest child's so far
    guard.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, out, usage.ru_maxrss


def _project(root: Path, recipe: str, project: str | None = None) -> Path:
    (root / "recipes").mkdir()
    (root / "recipes" / "a.yaml").write_text(recipe, encoding="utf-8")
    if project is not None:
        (root / "assetgen.yaml").write_text(project, encoding="utf-8")
    return root


def _asset(**fields: str) -> str:
    body = "".join(f"    {k}: {v}\n" for k, v in fields.items())
    return f"version: 1\ndefaults: {{model: gpt-image-1.5}}\nassets:\n  x:\n{body}"


def _check(root: Path, expected: str) -> None:
    for command, code in (("plan", 2), ("lint", 1)):
        got, out, peak = _assetgen(root, command)
        assert (got, expected in out) == (code, True), out[-2000:]
        assert "internal error" not in out
        assert peak < PEAK_KB, f"{command} peaked at {peak // 1024} MB"


def test_an_alias_inside_its_own_anchor(tmp_path: Path) -> None:
    _project(tmp_path, "version: 1\nassets: &a\n  x: *a\n")
    _check(tmp_path, "recipes/a.yaml:2:9: error: an alias refers to a node that contains it (a cycle)")


def test_a_million_variant_matrix_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    values = "[" + ",".join(str(i) for i in range(1000)) + "]"
    recipe = (f"version: 1\ndefaults: {{model: gpt-image-1.5}}\nassets:\n  x:\n    matrix:\n"
              f"      a: {values}\n      b: {values}\n"
              '    prompt: "p {{ a }} {{ b }}"\n    output: "o/{{ name }}.png"\n')
    assert len(recipe) < 8000
    _project(tmp_path, recipe)
    _check(tmp_path, "recipes/a.yaml:5:5: error: asset 'x': its matrix makes 1,000,000 combinations "
                     "(1000 × 1000); a recipe file makes at most 10,000 variants")


def test_the_root_folder_as_a_recipe_glob(tmp_path: Path) -> None:
    _project(tmp_path, _asset(prompt="p", output="x.png"), 'recipes: ["."]\n')
    _check(tmp_path, "assetgen.yaml:1:11: error: recipe glob '.' names the project folder, not recipe files")


def test_an_input_file_name_over_255_bytes(tmp_path: Path) -> None:
    recipe = ("version: 1\ndefaults: {model: gpt-image-1.5}\nassets:\n  x:\n    steps:\n"
              f"      - edit: e\n        image: {'a' * 300}.png\n    output: x.png\n")
    _project(tmp_path, recipe)
    _check(tmp_path, "has a name of 304 bytes ('aaaaaaaaaaaaaaaaaaaa...'); at most 255")


def test_a_recipe_glob_with_a_name_over_255_bytes(tmp_path: Path) -> None:
    _project(tmp_path, _asset(prompt="p", output="x.png"), f'recipes: ["{"r" * 300}/*.yaml"]\n')
    _check(tmp_path, "has a name longer than 255 bytes, which no file can have")


def test_too_many_exclude_entries(tmp_path: Path) -> None:
    entries = "".join(f"      - {{k: {i}}}\n" for i in range(1001))
    recipe = ("version: 1\ndefaults: {model: gpt-image-1.5}\nassets:\n  x:\n    matrix:\n      k: [1, 2]\n"
              f"    exclude:\n{entries}" '    prompt: "p {{ k }}"\n    output: "o/{{ name }}.png"\n')
    _project(tmp_path, recipe)
    _check(tmp_path, "recipes/a.yaml:7:5: error: asset 'x' has 1,001 exclude entries; at most 1,000")


REPLACE_CHAIN = "'ab'" + "|replace('a', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')" * 6


def test_an_integer_tower_in_a_prompt(tmp_path: Path) -> None:
    _project(tmp_path, _asset(prompt='"{{ ((9**999)**999)**999 }}"', output="x.png"))
    _check(tmp_path, "recipes/a.yaml:5:13: error: template in prompt is too costly: it would compute a "
                     "number of about 952,108 digits; at most 1,233")


def test_an_indent_of_two_billion_in_an_output_path(tmp_path: Path) -> None:
    _project(tmp_path, _asset(prompt="p", output="\"{{ 'x'|indent(2000000000) }}.png\""))
    _check(tmp_path, "recipes/a.yaml:6:13: error: template in output is too costly: indent width 2000000000 "
                     "is too large; at most 100,000")


def test_a_chain_of_replace_filters(tmp_path: Path) -> None:
    _project(tmp_path, _asset(prompt=f'"{{{{ {REPLACE_CHAIN} }}}}"', output="x.png"))
    _check(tmp_path, "recipes/a.yaml:5:13: error: template in prompt is too costly: it would build a string "
                     "of 2,560,001 characters; at most 100,000")


def test_a_short_chain_of_vars_that_doubles(tmp_path: Path) -> None:
    lines = ["version: 1", "defaults: {model: gpt-image-1.5}", "vars:", "  a0: xxxxxxxxxxxxxxxx"]
    lines += [f'  a{i}: "{{{{ a{i - 1} ~ a{i - 1} }}}}"' for i in range(1, 22)]
    lines += ["assets:", "  x:", '    prompt: "{{ a21 }}"', "    output: x.png"]
    recipe = "\n".join(lines) + "\n"
    assert len(recipe) < 700
    _project(tmp_path, recipe)
    _check(tmp_path, "recipes/a.yaml:17:8: error: template in vars.a13 is too costly: it would build a "
                     "string of 131,072 characters; at most 100,000")


def test_nested_loops_and_exponential_macros(tmp_path: Path) -> None:
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}x"
    macro = ("{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}x{{ f(40) }}")
    recipe = ("version: 1\ndefaults: {model: gpt-image-1.5}\nassets:\n"
              f"  x:\n    prompt: \"{loops}\"\n    output: x.png\n"
              f"  y:\n    prompt: \"{macro}\"\n    output: y.png\n")
    _project(tmp_path, recipe)
    steps = "is too costly: it takes more than 100,000 steps (loop turns, calls and filters)"
    _check(tmp_path, f"recipes/a.yaml:5:13: error: template in prompt {steps}")
    _check(tmp_path, f"recipes/a.yaml:8:13: error: template in prompt {steps}")


def test_a_matrix_of_costly_templates_runs_out_of_the_files_budget(tmp_path: Path) -> None:
    """Each variant's template stays just under a rendering's budget; 300 of them would take
    minutes, so all the renderings of one file share a budget too (found by bench/fuzz.py)."""
    loop = "{% for i in range(99000) %}{% endfor %}"
    recipe = ("version: 1\ndefaults: {model: gpt-image-1.5}\nassets:\n  x:\n"
              f"    matrix: {{k: [{', '.join(str(i) for i in range(300))}]}}\n"
              f"    prompt: \"{loop}x {{{{ k }}}}\"\n    output: \"x-{{{{ k }}}}.png\"\n")
    _project(tmp_path, recipe)
    _check(tmp_path, "recipes/a.yaml:6:13: error: template in prompt is too costly: this file's templates "
                     "take more than 4,000,000 steps in all (loop turns, calls and filters)")
