"""The JSON Schema files in schema/ are the ones the package validates with and prints."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from assetgen import cli
from assetgen.recipe import schema, yamlpos

REPO = Path(__file__).parent.parent


@pytest.mark.parametrize("name", ["recipe.schema.json", "project.schema.json"])
def test_package_uses_exactly_the_files_in_schema(name: str) -> None:
    assert schema.schema_text(name) == (REPO / "schema" / name).read_text(encoding="utf-8")
    jsonschema.Draft202012Validator.check_schema(json.loads(schema.schema_text(name)))


def test_assetgen_schema_prints_the_recipe_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema"]) == 0
    assert capsys.readouterr().out == (REPO / "schema" / "recipe.schema.json").read_text(encoding="utf-8")


def test_every_request_parameter_is_in_the_schema() -> None:
    from assetgen.catalog import REQUEST_PARAMS

    defs = json.loads(schema.recipe_schema_text())["$defs"]
    for where in ("params", "asset", "step"):
        assert set(REQUEST_PARAMS) <= set(defs[where]["properties"]), where


def test_example_recipes_validate() -> None:
    for path in sorted((REPO / "recipes" / "recipes").glob("*.yaml")):
        doc = yamlpos.load(path.read_text(encoding="utf-8"), path.name)
        assert schema.validate(doc.data, doc.positions) == [], path


def _messages(text: str) -> list[str]:
    doc = yamlpos.load(text, "r.yaml")
    return [str(d) for d in schema.validate(doc.data, doc.positions)]


def test_messages_name_the_key_path_and_what_was_expected() -> None:
    text = "assets:\n  x:\n    prompt: hi\n    n: 11\n    outputs:\n      - {path: a.png, fit: crop}\n"
    assert _messages(text) == [
        "r.yaml:4:5: error: invalid value for 'assets.x.n': expected at most 10, got 11",
        "r.yaml:6:23: error: invalid value for 'assets.x.outputs[0].fit': expected one of 'contain', "
        "'cover', 'stretch', got 'crop'",
    ]


def test_unknown_key_without_a_close_match() -> None:
    assert _messages("assets: {}\nzzz: 1\n") == ["r.yaml:2:1: error: unknown key 'zzz' at top level"]


def test_image_ref_shape() -> None:
    assert _messages("assets:\n  x:\n    steps:\n      - edit: e\n        image: {file: a.png}\n") == [
        "r.yaml:5:9: error: invalid value for 'assets.x.steps[0].image': expected a path or {asset: NAME}, "
        "got a mapping"]


def test_document_must_be_a_mapping() -> None:
    assert _messages("- a\n- b\n") == [
        "r.yaml:1:1: error: invalid value for 'document': expected a mapping, got a list"]


def test_assetgen_schema_project_prints_the_project_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema", "--project"]) == 0
    assert capsys.readouterr().out == (REPO / "schema" / "project.schema.json").read_text(encoding="utf-8")
