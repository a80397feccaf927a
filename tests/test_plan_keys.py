"""Keys and plans: stable under YAML key order, changed by every image-affecting field."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetgen.lint import load_checked
from assetgen.plan.files import FileHashes
from assetgen.plan.graph import ActionOp, build_plan
from assetgen.plan.keys import canonical, digest
from assetgen.plan.status import call_step

ASSET = {
    "prompt": "A {{ color }} gem, {{ style }}",
    "matrix": {"color": ["red", "blue"]},
    "size": "1024x1024",
    "quality": "low",
    "background": "transparent",
    "output_format": "png",
    "user": "someone",
    "outputs": [{"path": "out/{{ name }}.png"}],
}
DOC = {"version": 1, "defaults": {"model": "gpt-image-1.5"}, "vars": {"style": "flat"},
       "assets": {"gem": ASSET}}


def _shuffled(value: object, order: list[int]) -> object:
    if isinstance(value, dict):
        items = list(value.items())
        rotated = items[order[0] % len(items):] + items[: order[0] % len(items)] if items else items
        if order[1] % 2:
            rotated.reverse()
        return {k: _shuffled(v, order[1:] + order[:1]) for k, v in rotated}
    if isinstance(value, list):
        return [_shuffled(v, order) for v in value]
    return value


def _plan_keys(root: Path, doc: dict) -> tuple[list[str], list[str]]:
    (root / "recipes").mkdir(exist_ok=True)
    (root / "recipes" / "r.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    project = load_checked([], root)
    plan = build_plan(project, "local", FileHashes(root, root / ".assetgen").hash)
    ids = [a.id for a in plan.actions]
    call_keys = [call_step(a, {}).key for a in plan.actions if a.op is ActionOp.GENERATE]
    return ids, call_keys


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.lists(st.integers(min_value=0, max_value=7), min_size=3, max_size=3))
def test_keys_do_not_depend_on_yaml_key_order(tmp_path: Path, order: list[int]) -> None:
    assert _plan_keys(tmp_path, _shuffled(DOC, order)) == _plan_keys(tmp_path, DOC)  # type: ignore[arg-type]


CHANGES = {
    "prompt": "A {{ color }} jewel, {{ style }}",
    "size": "1536x1024",
    "quality": "high",
    "background": "opaque",
    "output_format": "webp",
    "model": "gpt-image-1",
    "moderation": "low",
    "n": 2,
}


def test_every_image_affecting_field_changes_the_key(tmp_path: Path) -> None:
    _, base = _plan_keys(tmp_path, DOC)
    for field, value in CHANGES.items():
        asset = {**ASSET, field: value}
        if field == "n":
            asset["outputs"] = [{"path": "out/{{ name }}-{{ index }}.png"}]
        _, changed = _plan_keys(tmp_path, {**DOC, "assets": {"gem": asset}})
        assert set(changed).isdisjoint(base), field


def test_user_does_not_change_the_key(tmp_path: Path) -> None:
    _, base = _plan_keys(tmp_path, DOC)
    _, changed = _plan_keys(tmp_path, {**DOC, "assets": {"gem": {**ASSET, "user": "someone-else"}}})
    assert changed == base


def test_a_var_change_reaches_the_key_through_the_prompt(tmp_path: Path) -> None:
    _, base = _plan_keys(tmp_path, DOC)
    _, changed = _plan_keys(tmp_path, {**DOC, "vars": {"style": "painted"}})
    assert set(changed).isdisjoint(base)


def test_the_plan_is_identical_across_runs(tmp_path: Path) -> None:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "r.yaml").write_text(yaml.safe_dump(DOC))
    plans = [build_plan(load_checked([], tmp_path), "local",
                        FileHashes(tmp_path, tmp_path / ".assetgen").hash) for _ in range(2)]
    assert plans[0] == plans[1]


@given(st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=5), st.booleans()),
                       max_size=6))
def test_digest_ignores_dict_insertion_order(value: dict) -> None:
    reordered = dict(reversed(list(value.items())))
    assert digest(value) == digest(reordered)
    assert canonical(value) == canonical(reordered)


def test_identical_requests_share_one_action(tmp_path: Path) -> None:
    doc = {"version": 1, "defaults": {"model": "gpt-image-1.5"}, "assets": {
        "a": {"prompt": "Same", "output": "out/a.png"},
        "b": {"prompt": "Same", "output": "out/b.png"}}}
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "r.yaml").write_text(yaml.safe_dump(doc))
    project = load_checked([], tmp_path)
    plan = build_plan(project, "azure", FileHashes(tmp_path, tmp_path / ".assetgen").hash)
    calls = [a for a in plan.actions if a.is_call]
    assert [(a.op, a.assets) for a in calls] == [(ActionOp.GENERATE, ("a", "b"))]
    local = build_plan(project, "local", FileHashes(tmp_path, tmp_path / ".assetgen").hash)
    assert len([a for a in local.actions if a.is_call]) == 2   # local draws the variant name
