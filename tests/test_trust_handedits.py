"""Hand-edited outputs are kept: build never overwrites an output changed since assetgen wrote it;
`--overwrite` replaces it, `--adopt` makes the retouch the output."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from assetgen.cli import main

RECIPE = """\
version: 1
defaults: {model: gpt-image-1.5, size: 1024x1024, quality: low}
assets:
  title:
    prompt: "A title card"
    outputs:
      - path: marketing/title.png
      - path: marketing/title-small.jpg
        resize: 256x256
        quality: 80
  icon:
    prompt: "An icon"
    output: icons/icon.png
"""
KEPT = "kept marketing/title.png: changed since assetgen wrote it (--overwrite replaces it)"


def _project(root: Path) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "a.yaml").write_text(RECIPE, encoding="utf-8")
    return root


def _run(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> tuple[str, str]:
    capsys.readouterr()
    assert main(list(argv)) == code
    return capsys.readouterr()


def _retouch(path: Path) -> bytes:
    """Paint over the image, as someone would in an editor."""
    with Image.open(path) as img:
        painted = img.convert("RGBA")
    painted.paste((200, 30, 30, 255), (0, 0, 300, 300))
    buf = io.BytesIO()
    painted.save(buf, "PNG")
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


def _lock(root: Path) -> dict:
    return json.loads((root / "assetgen.lock").read_text(encoding="utf-8"))


def test_a_retouched_output_is_kept_and_the_rest_is_written(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    _run(capsys, "build", str(root))
    retouch = _retouch(root / "marketing/title.png")
    lock = (root / "assetgen.lock").read_text()
    (root / "icons/icon.png").unlink()
    out, _ = _run(capsys, "build", str(root), code=1)
    assert f"{KEPT}\n" in out
    assert "wrote marketing/title.png" not in out
    assert (root / "marketing/title.png").read_bytes() == retouch
    assert (root / "icons/icon.png").is_file()      # everything else is written
    assert (root / "assetgen.lock").read_text() == lock
    assert out.splitlines()[-1].endswith("1 output written, 1 output kept, 0 failed; 0 requests")
    # and again: still kept, still exit 1, never stamped as built
    out, _ = _run(capsys, "build", str(root), code=1)
    assert f"{KEPT}\n" in out
    assert (root / "marketing/title.png").read_bytes() == retouch


def test_plan_says_a_build_keeps_it(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    _run(capsys, "build", str(root))
    _retouch(root / "marketing/title.png")
    out, _ = _run(capsys, "plan", str(root))
    assert ("run     render   marketing/title.png  (output marketing/title.png changed since assetgen "
            "wrote it (build keeps it; --overwrite restores it from cache))\n") in out


def test_json_lists_each_kept_file_as_a_failure(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    _run(capsys, "build", str(root))
    _retouch(root / "marketing/title.png")
    (root / "marketing/title-small.jpg").write_bytes(b"my own jpeg")
    out, err = _run(capsys, "build", str(root), "--json", code=1)
    result = json.loads(out)
    assert result["kept"] == ["marketing/title-small.jpg", "marketing/title.png"]
    assert result["failures"] == [
        {"asset": "title", "message": "kept marketing/title-small.jpg: changed since assetgen wrote it "
                                      "(--overwrite replaces it)"},
        {"asset": "title", "message": KEPT}]
    assert result["outputs_written"] == 0
    assert f"{KEPT}\n" in err


def test_overwrite_replaces_it(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    _run(capsys, "build", str(root))
    original = (root / "marketing/title.png").read_bytes()
    _retouch(root / "marketing/title.png")
    out, _ = _run(capsys, "build", str(root), "--overwrite")
    assert "wrote marketing/title.png" in out
    assert (root / "marketing/title.png").read_bytes() == original
    _run(capsys, "build", str(root))


def test_a_recipe_change_does_not_overwrite_a_retouch_either(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    _run(capsys, "build", str(root))
    retouch = _retouch(root / "marketing/title.png")
    recipe = root / "recipes" / "a.yaml"
    recipe.write_text(RECIPE.replace("A title card", "A new title card"), encoding="utf-8")
    out, _ = _run(capsys, "plan", str(root))
    assert "(build keeps it; --overwrite replaces it)" in out
    out, _ = _run(capsys, "build", str(root), code=1)
    assert f"{KEPT}\n" in out
    assert "wrote marketing/title-small.jpg" in out
    assert (root / "marketing/title.png").read_bytes() == retouch


def test_a_file_assetgen_never_wrote_is_kept(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    (root / "icons").mkdir()
    (root / "icons/icon.png").write_bytes(b"someone's own icon")
    out, _ = _run(capsys, "build", str(root), code=1)
    assert "kept icons/icon.png: assetgen did not write it (--overwrite replaces it)\n" in out
    assert (root / "icons/icon.png").read_bytes() == b"someone's own icon"


def test_an_adopted_retouch_is_recorded_and_left_alone(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    _run(capsys, "build", str(root))
    retouch = _retouch(root / "marketing/title.png")
    out, _ = _run(capsys, "build", str(root), "--adopt", "marketing/title.png")
    assert "kept" not in out
    entry = _lock(root)["assets"]["title"]["outputs"]["marketing/title.png"]
    assert entry["adopted"] is True
    import hashlib
    assert entry["sha256"] == hashlib.sha256(retouch).hexdigest()
    # later builds neither report nor replace it, and --frozen is satisfied
    out, _ = _run(capsys, "build", str(root))
    assert "kept" not in out
    (root / "icons/icon.png").unlink()
    out, _ = _run(capsys, "build", str(root))
    assert "kept" not in out and "wrote icons/icon.png" in out
    _run(capsys, "build", str(root), "--frozen")
    assert (root / "marketing/title.png").read_bytes() == retouch
    # a recipe change that would replace it says so and needs --overwrite
    recipe = root / "recipes" / "a.yaml"
    recipe.write_text(RECIPE.replace("A title card", "A new title card"), encoding="utf-8")
    out, _ = _run(capsys, "build", str(root), code=1)
    assert ("kept marketing/title.png: adopted as it is, and the recipe now renders it differently "
            "(--overwrite replaces it)\n") in out
    assert (root / "marketing/title.png").read_bytes() == retouch
    out, _ = _run(capsys, "build", str(root), "--overwrite")
    assert (root / "marketing/title.png").read_bytes() != retouch
    assert "adopted" not in _lock(root)["assets"]["title"]["outputs"]["marketing/title.png"]


def test_adopt_names_an_output(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    _, err = _run(capsys, "build", str(root), "--adopt", "marketing/nope.png", code=2)
    assert err == "--adopt marketing/nope.png: no recipe in this build writes that output\n"


def test_adopt_of_an_output_that_is_not_there_is_a_usage_error(tmp_path: Path, capsys) -> None:
    root = _project(tmp_path)
    _run(capsys, "build", str(root))
    (root / "icons" / "icon.png").unlink()
    before = (root / "assetgen.lock").read_bytes()
    _, err = _run(capsys, "build", str(root), "--adopt", "icons/icon.png", code=2)
    assert err == ("--adopt icons/icon.png: there is no file there to adopt (a build writes it anew "
                   "without --adopt)\n")
    assert not (root / "icons" / "icon.png").exists() and (root / "assetgen.lock").read_bytes() == before
