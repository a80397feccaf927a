from __future__ import annotations

import json
from importlib import resources

import pytest

from assetgen import catalog


def test_every_model_the_product_names_is_in_the_table() -> None:
    named = {"gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2", "dall-e-3"}
    assert named <= set(catalog.models())


def test_unknown_model_has_no_spec() -> None:
    assert catalog.get("sdxl-turbo") is None
    assert catalog.get(None) is None


@pytest.mark.parametrize(
    ("size", "ok"),
    [
        ("1024x1024", True),
        ("auto", True),
        ("2048x1152", True),     # multiples of 16, 16:9
        ("3840x2160", True),     # the largest
        ("3840x1280", True),     # exactly 3:1
        ("3856x1280", False),    # longer than 3840
        ("4000x1000", False),    # more than 3:1 and too long
        ("1000x1000", False),    # not a multiple of 16
        ("2160x3840", True),     # portrait
        ("big", False),
    ],
)
def test_gpt_image_2_free_sizes(size: str, ok: bool) -> None:
    assert catalog.get("gpt-image-2").size_ok(size) is ok


def test_fixed_size_models_take_only_their_sizes() -> None:
    spec = catalog.get("gpt-image-1.5")
    assert spec.size_ok("1536x1024")
    assert not spec.size_ok("1792x1024")
    assert not spec.size_ok("2048x1152")
    assert catalog.get("dall-e-3").size_ok("1792x1024")


def test_token_table_matches_the_published_gpt_image_1_figures() -> None:
    spec = catalog.get("gpt-image-1")
    assert spec.output_tokens("1024x1024", "low") == 272
    assert spec.output_tokens("1536x1024", "medium") == 1568
    assert spec.output_tokens("1024x1536", "high") == 6240
    assert spec.output_tokens("auto", "auto") == 4160   # auto resolves to 1024x1024, high


def test_free_size_tokens_scale_by_area() -> None:
    assert catalog.get("gpt-image-2").output_tokens("2048x1024", "high") == 2 * 7033


def test_cost_per_token_and_per_image() -> None:
    assert catalog.get("gpt-image-1.5").estimate_cost("1024x1024", "high") == pytest.approx(4160 * 32 / 1e6)
    three_low = catalog.get("gpt-image-1").estimate_cost("1024x1024", "low", n=3)
    assert three_low == pytest.approx(3 * 272 * 40 / 1e6)
    assert catalog.get("dall-e-3").estimate_cost("1792x1024", "hd") == pytest.approx(0.12)


def test_pricing_override_replaces_the_rates() -> None:
    spec = catalog.get("gpt-image-1.5")
    assert spec.estimate_cost("1024x1024", "low", pricing={"per_mtok": {"image_out": 100}}) == pytest.approx(
        272 * 100 / 1e6
    )


def test_edit_and_parameter_capabilities() -> None:
    assert not catalog.get("dall-e-3").edit
    assert catalog.get("gpt-image-1-mini").edit
    assert "input_fidelity" not in catalog.get("gpt-image-1-mini").params_for("edit")
    assert "input_fidelity" in catalog.get("gpt-image-1").params_for("edit")
    assert "input_fidelity" not in catalog.get("gpt-image-1").params_for("generate")
    assert "style" in catalog.get("dall-e-3").params_for("generate")
    assert catalog.get("dall-e-3").max_n == 1
    assert catalog.get("gpt-image-1").output_formats["azure"] == ("png", "jpeg")


def test_every_row_has_the_same_fields() -> None:
    text = resources.files("assetgen").joinpath("data/models.json").read_text()
    rows = json.loads(text)["models"].values()
    keys = [set(row) for row in rows]
    assert all(k == keys[0] for k in keys)
