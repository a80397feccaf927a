"""`assetgen diff [REV]`: outputs changed, added and removed since a git revision."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from reviewkit import commit_all, git, project

from assetgen.cli import main


def _built(tmp_path: Path, capsys) -> Path:
    recipe = project(tmp_path)
    assert main(["build", str(tmp_path)]) == 0
    commit_all(tmp_path)
    capsys.readouterr()
    return recipe


def _json(tmp_path: Path, capsys, *args: str) -> dict:
    assert main(["diff", *args, str(tmp_path), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_one_prompt_change_lists_exactly_that_variant(tmp_path: Path, capsys) -> None:
    recipe = _built(tmp_path, capsys)
    before = json.loads((tmp_path / "assetgen.lock").read_text())["assets"]["banner"]["outputs"]
    recipe.write_text(recipe.read_text().replace("Add a storm", "Add a blizzard"), encoding="utf-8")
    assert main(["build", str(tmp_path)]) == 0
    capsys.readouterr()
    data = _json(tmp_path, capsys, "HEAD")
    after = json.loads((tmp_path / "assetgen.lock").read_text())["assets"]["banner"]["outputs"]
    assert data == {"rev": "HEAD", "assets": [{"variant": "banner", "status": "changed", "outputs": [
        {"path": "out/banner.jpg", "before": before["out/banner.jpg"]["sha256"],
         "after": after["out/banner.jpg"]["sha256"]}]}]}


def test_a_prompt_changed_but_not_built_yet_is_listed_with_why(tmp_path: Path, capsys) -> None:
    recipe = _built(tmp_path, capsys)
    recipe.write_text(recipe.read_text().replace("A knight", "A queen"), encoding="utf-8")
    data = _json(tmp_path, capsys)
    assert [(a["variant"], a["status"]) for a in data["assets"]] == [("banner", "changed")]
    assert main(["diff", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "changed  banner  (not built yet: prompt changed)"


def test_a_rendition_changed_but_not_built_yet_is_listed_with_why(tmp_path: Path, capsys) -> None:
    # no call changes, only what is encoded from its image: the output will still differ
    recipe = _built(tmp_path, capsys)
    recipe.write_text(recipe.read_text().replace("output: out/banner.jpg", "outputs: [{path: out/banner.jpg, "
                                                 "quality: 60}]"), encoding="utf-8")
    assert main(["diff", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "changed  banner  (not built yet: parameter quality changed (unset -> 60))")


def test_a_pick_changed_but_not_built_yet_is_listed_with_why(tmp_path: Path, capsys) -> None:
    recipe = project(tmp_path, "version: 1\nassets:\n  orb:\n    prompt: An orb\n    n: 2\n    pick: 0\n"
                               "    output: out/orb.png\n")
    assert main(["build", str(tmp_path)]) == 0
    commit_all(tmp_path)
    recipe.write_text(recipe.read_text().replace("pick: 0", "pick: 1"), encoding="utf-8")
    capsys.readouterr()
    assert main(["diff", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "changed  orb  (not built yet: pick changed (0 -> 1))"


def test_added_and_removed_variants(tmp_path: Path, capsys) -> None:
    recipe = _built(tmp_path, capsys)
    recipe.write_text(recipe.read_text().replace("[sword, shield]", "[sword, bow]"), encoding="utf-8")
    assert main(["build", str(tmp_path)]) == 0
    capsys.readouterr()
    data = _json(tmp_path, capsys)
    status = {a["variant"]: (a["status"], a["outputs"]) for a in data["assets"]}
    assert set(status) == {"icon-bow", "icon-shield"}
    assert status["icon-bow"][0] == "added" and status["icon-bow"][1][0]["before"] is None
    assert status["icon-shield"] == ("removed", [
        {"path": "out/icon-shield.png", "before": status["icon-shield"][1][0]["before"], "after": None}])


def test_nothing_changed_prints_no_markdown(tmp_path: Path, capsys) -> None:
    _built(tmp_path, capsys)
    assert main(["diff", str(tmp_path), "--format", "markdown"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["diff", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "no output differs from HEAD\n"


def test_markdown_with_out_writes_thumbnails_beside_it(tmp_path: Path, capsys) -> None:
    recipe = _built(tmp_path, capsys)
    recipe.write_text(recipe.read_text().replace("A knight", "A queen"), encoding="utf-8")
    assert main(["build", str(tmp_path)]) == 0
    capsys.readouterr()
    out = tmp_path / "report"
    assert main(["diff", "HEAD", str(tmp_path), "--format", "markdown", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text == (out / "diff.md").read_text(encoding="utf-8")
    assert text.startswith("### assetgen: 1 variant differs from HEAD: 1 changed\n")
    images = sorted((out / "img").iterdir())
    assert len(images) == 2 and all(f'src="img/{p.name}"' in text for p in images)
    for p in images:
        with Image.open(p) as img:
            assert img.format == "WEBP" and max(img.size) == 512


def test_html_shows_before_and_after(tmp_path: Path, capsys) -> None:
    recipe = _built(tmp_path, capsys)
    recipe.write_text(recipe.read_text().replace("A knight", "A queen"), encoding="utf-8")
    assert main(["build", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["diff", str(tmp_path), "--format", "html"]) == 0
    page = capsys.readouterr().out
    assert page.count('src="data:image/webp;base64,') == 4      # side by side, and the slider
    assert "before (HEAD)" in page and "after (working tree)" in page


def test_diff_against_an_older_revision_and_bad_revisions(tmp_path: Path, capsys) -> None:
    recipe = _built(tmp_path, capsys)
    recipe.write_text(recipe.read_text().replace("A knight", "A queen"), encoding="utf-8")
    assert main(["build", str(tmp_path)]) == 0
    commit_all(tmp_path)
    capsys.readouterr()
    assert _json(tmp_path, capsys, "HEAD")["assets"] == []
    assert [a["variant"] for a in _json(tmp_path, capsys, "HEAD~1")["assets"]] == ["banner"]
    assert main(["diff", "no-such-rev", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "unknown git revision 'no-such-rev'\n"
    git(tmp_path, "rm", "-q", "--cached", "assetgen.lock")
    git(tmp_path, "commit", "-q", "-m", "no lock")
    assert {a["status"] for a in _json(tmp_path, capsys, "HEAD")["assets"]} == {"added"}


def test_outside_a_git_repository_is_a_usage_error(tmp_path: Path, capsys) -> None:
    project(tmp_path)
    assert main(["diff", str(tmp_path)]) == 2
    assert "is not in a git repository" in capsys.readouterr().err


def test_a_lock_file_at_the_revision_that_cannot_be_read_is_an_error_not_all_added(
        tmp_path: Path, capsys) -> None:
    _built(tmp_path, capsys)
    git(tmp_path, "checkout", "-q", "-b", "broken")
    lock = tmp_path / "assetgen.lock"
    good = lock.read_bytes()
    lock.write_bytes(good[:len(good) // 2])         # committed cut short
    commit_all(tmp_path)
    git(tmp_path, "checkout", "-q", "-")
    assert lock.read_bytes() == good
    capsys.readouterr()
    assert main(["diff", "broken", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "assetgen.lock at broken: error: cannot read the lock file there: it is not JSON" in captured.err
    assert main(["review", str(tmp_path)]) == 0     # the gallery against HEAD is unaffected


def test_out_never_replaces_a_report_assetgen_did_not_write(tmp_path: Path, capsys) -> None:
    recipe = _built(tmp_path, capsys)
    recipe.write_text(recipe.read_text().replace("A knight", "A queen"), encoding="utf-8")
    out = tmp_path / "report"
    out.mkdir()
    (out / "diff.md").write_text("# Release notes\n", encoding="utf-8")
    assert main(["diff", str(tmp_path), "--format", "markdown", "--out", str(out)]) == 2
    assert "a file assetgen did not write is there" in capsys.readouterr().err
    assert (out / "diff.md").read_text(encoding="utf-8") == "# Release notes\n" and not (out / "img").exists()
    for fmt in ("markdown", "json", "text", "html"):     # each report replaces its own last one
        for _ in range(2):
            assert main(["diff", str(tmp_path), "--format", fmt, "--out", str(tmp_path / "ours")]) == 0
