"""Unknown models are errors with a "did you mean"; a project declares the models the catalog lacks
under `models:` in assetgen.yaml; plan never prices a paid call at $0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assetgen import cli
from assetgen.lint import lint

RECIPE = """\
version: 1
defaults: {model: MODEL, size: 1024x1024, quality: low}
assets:
  x:
    prompt: a cat
    output: x.png
"""


def _project(root: Path, model: str, project: str = "provider: azure\n") -> Path:
    (root / "recipes").mkdir()
    (root / "recipes" / "a.yaml").write_text(RECIPE.replace("MODEL", model), encoding="utf-8")
    (root / "assetgen.yaml").write_text(project, encoding="utf-8")
    return root


def _run(root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
         *args: str) -> tuple[int, str, str]:
    monkeypatch.chdir(root)
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "dev")
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_typo_in_a_model_name_is_an_error_with_the_nearest_name(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path, "gpt-image-15")
    message = ("recipes/a.yaml:2:12: error: unknown model 'gpt-image-15'; did you mean 'gpt-image-1.5'? "
               "(a model the catalog lacks can be declared under 'models:' in assetgen.yaml)")
    assert [str(d) for d in lint([], root)] == [message]
    code, _, err = _run(root, capsys, monkeypatch, "plan", "--json")
    assert (code, err.strip()) == (2, message)     # so --max-cost never sees it priced at $0
    code, _, err = _run(root, capsys, monkeypatch, "build", "--max-cost", "0.01")
    assert (code, message in err) == (2, True)


def test_a_declared_model_lints_and_is_priced_like_its_base(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    project = ("provider: azure\nmodels:\n  studio-image-1:\n    like: gpt-image-1.5\n"
               "    price_per_mtok: {text_in: 5, image_in: 8, image_out: 64}\n")
    root = _project(tmp_path, "studio-image-1", project)
    assert lint([], root) == []
    code, out, _ = _run(root, capsys, monkeypatch, "plan", "--json")
    own = json.loads(out)["est_cost_usd"]
    (root / "recipes" / "a.yaml").write_text(RECIPE.replace("MODEL", "gpt-image-1.5"), encoding="utf-8")
    code, out, _ = _run(root, capsys, monkeypatch, "plan", "--json")
    base = json.loads(out)["est_cost_usd"]
    assert code == 0 and base > 0 and own == pytest.approx(2 * base, rel=0.05)


def test_a_declared_model_is_checked_like_a_catalog_one(tmp_path: Path) -> None:
    project = "models:\n  tiny:\n    like: dall-e-2\n"
    root = _project(tmp_path, "tiny", project)
    (root / "recipes" / "a.yaml").write_text(RECIPE.replace("MODEL", "tiny"), encoding="utf-8")
    messages = [d.message for d in lint([], root)]
    assert messages and all("dall-e-2" not in m for m in messages)   # named as the project's model
    assert messages == ["model 'tiny' does not take 'quality' for generate"]


@pytest.mark.parametrize(("project", "message"), [
    ("models:\n  m:\n    like: gpt-image-15\n",
     "assetgen.yaml:3:11: error: models.m.like: unknown model 'gpt-image-15'; did you mean 'gpt-image-1.5'?"),
    ("models:\n  m:\n    like: gpt-image-1\n    price_per_mtok: null\n    price_per_image: null\n",
     "assetgen.yaml:2:3: error: models.m needs a price (price_per_image or price_per_mtok): a paid call is "
     "never estimated at $0"),
    ("models:\n  m:\n    family: gpt-image\n",
     "assetgen.yaml:2:3: error: missing required key 'sizes' in 'models.m'"),
    ("models:\n  m:\n    like: gpt-image-1\n    max_n: many\n",
     "assetgen.yaml:4:5: error: invalid value for 'models.m.max_n': expected an integer, got 'many'"),
    ("models:\n  m:\n    like: gpt-image-1\n    sizse: [1024x1024]\n",
     "assetgen.yaml:4:5: error: unknown key 'sizse' in 'models.m'; did you mean 'sizes'?"),
])
def test_a_declared_model_row_is_validated(tmp_path: Path, project: str, message: str) -> None:
    root = _project(tmp_path, "gpt-image-1", project)
    messages = [str(d) for d in lint([], root)]
    assert any(m.startswith(message) for m in messages), messages
