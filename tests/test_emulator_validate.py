"""Per-model validation, directly: resolved values, form coercion, and never a crash."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetgen import catalog
from assetgen.emulator.errors import ApiError, Mode
from assetgen.emulator.validate import ImageCall, all_known_params, validate
from assetgen.recipe.model import Op


def spec(name: str) -> catalog.ModelSpec:
    found = catalog.get(name)
    assert found is not None
    return found


def test_defaults_resolve_from_the_catalog() -> None:
    call = validate(Op.GENERATE, spec("gpt-image-1-mini"), {"prompt": "p"}, Mode.AZURE)
    assert call == ImageCall(op=Op.GENERATE, model="gpt-image-1-mini", prompt="p", size="1024x1024",
                             quality="medium", n=1, output_format="png", compression=None, transparent=False,
                             response_format="b64_json", stream=False, partial_images=0, input_fidelity="low")


def test_dall_e_3_defaults_to_url_results() -> None:
    call = validate(Op.GENERATE, spec("dall-e-3"), {"prompt": "p", "quality": "hd"}, Mode.AZURE)
    assert (call.response_format, call.quality, call.output_format) == ("url", "hd", "png")


def test_edit_with_auto_size_leaves_size_to_the_input() -> None:
    assert validate(Op.EDIT, spec("gpt-image-1"), {"prompt": "p", "size": "auto"}, Mode.AZURE).size is None
    assert validate(Op.EDIT, spec("gpt-image-1"), {"prompt": "p"}, Mode.AZURE).size is None
    assert validate(Op.GENERATE, spec("gpt-image-1"), {"prompt": "p", "size": "auto"}, Mode.AZURE).size == \
        "1024x1024"


def test_form_text_values_are_coerced() -> None:
    fields = {"prompt": "p", "n": "2", "stream": "true", "partial_images": "3", "output_format": "jpeg",
              "output_compression": "40", "input_fidelity": "high"}
    call = validate(Op.EDIT, spec("gpt-image-1.5"), fields, Mode.AZURE, form=True)
    assert (call.n, call.stream, call.partial_images, call.compression, call.input_fidelity) == (
        2, True, 3, 40, "high")


def test_json_string_for_an_integer_is_a_type_error() -> None:
    with pytest.raises(ApiError) as info:
        validate(Op.GENERATE, spec("gpt-image-1"), {"prompt": "p", "n": "2"}, Mode.AZURE)
    assert info.value.body["error"]["message"] == (
        "Invalid type for 'n': expected an integer, but got a string instead.")


def test_free_sizes_for_gpt_image_2() -> None:
    fields = {"prompt": "p", "size": "2048x1152"}
    assert validate(Op.GENERATE, spec("gpt-image-2"), fields, Mode.OPENAI).size == "2048x1152"
    with pytest.raises(ApiError) as info:
        validate(Op.GENERATE, spec("gpt-image-2"), {"prompt": "p", "size": "1000x1000"}, Mode.OPENAI)
    assert info.value.body["error"]["param"] == "size"


def test_unknown_fields_are_refused_on_azure_only() -> None:
    fields = {"prompt": "p", "safety_identifier": "u1"}
    assert validate(Op.GENERATE, spec("gpt-image-1"), fields, Mode.OPENAI).prompt == "p"
    with pytest.raises(ApiError) as info:
        validate(Op.GENERATE, spec("gpt-image-1"), fields, Mode.AZURE)
    assert info.value.body["error"]["message"] == "Unknown parameter: 'safety_identifier'."


def test_moderation_is_a_generation_parameter_only() -> None:
    assert validate(Op.GENERATE, spec("gpt-image-1"), {"prompt": "p", "moderation": "low"}, Mode.AZURE)
    with pytest.raises(ApiError) as info:
        validate(Op.EDIT, spec("gpt-image-1"), {"prompt": "p", "moderation": "low"}, Mode.OPENAI)
    assert info.value.code == "unknown_parameter"


def test_edit_on_dall_e_3_in_openai_mode_names_the_model_param() -> None:
    with pytest.raises(ApiError) as info:
        validate(Op.EDIT, spec("dall-e-3"), {"prompt": "p"}, Mode.OPENAI)
    assert info.value.body["error"]["param"] == "model"
    assert info.value.body["error"]["message"].startswith(
        "Invalid value: 'dall-e-3'. Supported values are: 'gpt-image-1', 'gpt-image-1-mini', "
        "'gpt-image-1.5', ")


def test_a_form_count_of_unicode_digits_is_a_400_not_a_crash() -> None:
    """'¹'.isdigit() is true, int('¹') fails."""
    with pytest.raises(ApiError) as info:
        validate(Op.GENERATE, spec("gpt-image-1"), {"prompt": "p", "n": "\u00b9"}, Mode.AZURE, form=True)
    assert info.value.status == 400


VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 40), st.text(max_size=12),
                   st.sampled_from(["1024x1024", "auto", "low", "high", "png", "jpeg", "webp", "transparent",
                                    "url", "b64_json", "vivid", "true", "3"]),
                   st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                        max_size=2))
NAMES = st.sampled_from(sorted(all_known_params() | {"extra", "image"}))


@settings(max_examples=300, deadline=None)
@given(model=st.sampled_from(sorted(catalog.models())), op=st.sampled_from(list(Op)),
       mode=st.sampled_from(list(Mode)), form=st.booleans(),
       fields=st.dictionaries(NAMES, VALUES, max_size=6),
       prompt=st.one_of(st.none(), st.text(max_size=20)))
def test_validation_never_crashes(model: str, op: Op, mode: Mode, form: bool, fields: dict[str, Any],
                                  prompt: str | None) -> None:
    if prompt is not None:
        fields["prompt"] = prompt
    try:
        call = validate(op, spec(model), fields, mode, form=form)
    except ApiError as exc:
        assert exc.status == 400
        assert isinstance(exc.body["error"]["message"], str) and exc.body["error"]["message"]
        return
    assert call.model == model and 1 <= call.n <= spec(model).max_n
    assert call.output_format in ("png", "jpeg", "webp")
