"""Cases bench/fuzz.py found: each lints and plans to diagnostics, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetgen import cli
from assetgen.lint import lint


def _project(root: Path, asset: str) -> Path:
    (root / "recipes").mkdir()
    (root / "recipes" / "a.yaml").write_text(f"version: 1\nassets:\n  x:\n{asset}", encoding="utf-8")
    return root


@pytest.mark.parametrize(("asset", "message"), [
    ("    model: gpt-image-1\n    prompt: p\n    outputs:\n      - path: x.png\n        resize: "
     + "9" * 5000 + "x1\n",
     "invalid resize '" + "9" * 5000 + "x1' in outputs[0].resize: expected WIDTHxHEIGHT"),
    ("    model: gpt-image-1\n    prompt: p\n    outputs:\n      - path: x.png\n        resize: ²x²\n",
     "invalid resize '²x²' in outputs[0].resize: expected WIDTHxHEIGHT"),
    ("    model: gpt-image-1\n    prompt: p\n    output: \"{{ " + "9" * 5000 + " }}.png\"\n",
     "template syntax error in output: a number in it is too long"),
])
def test_found_by_fuzzing(tmp_path: Path, asset: str, message: str) -> None:
    assert message in [d.message for d in lint([], _project(tmp_path, asset))]


def test_a_step_without_a_model_plans_on_a_paid_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path, "    prompt: p\n    output: x.png\n")
    (root / "assetgen.yaml").write_text("provider: azure\n", encoding="utf-8")
    monkeypatch.chdir(root)
    assert cli.main(["plan", "--json"]) == 0, capsys.readouterr().err


def test_thousands_of_unknown_references_get_bounded_hints(tmp_path: Path) -> None:
    values = ", ".join(str(i) for i in range(2000))
    asset = (f"    model: gpt-image-1\n    matrix: {{i: [{values}]}}\n    steps:\n      - edit: e\n"
             "        image: {asset: \"y-{{ i }}\"}\n    output: \"o/{{ name }}.png\"\n")
    messages = [d.message for d in lint([], _project(tmp_path, asset)) if "unknown asset" in d.message]
    assert len(messages) == 2000
    assert 0 < sum("did you mean" in m for m in messages) < 20   # 20,000 comparisons, then plain
