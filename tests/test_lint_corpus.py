"""Every bad recipe in tests/corpus/ lints to exactly its .expected text, and never crashes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assetgen import cli
from assetgen.lint import lint

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.stem for p in CORPUS.glob("*.yaml"))


def _project(tmp_path: Path, name: str) -> Path:
    (tmp_path / "recipes").mkdir()
    shutil.copy(CORPUS / f"{name}.yaml", tmp_path / "recipes" / f"{name}.yaml")
    return tmp_path


def test_the_corpus_covers_the_rules() -> None:
    assert len(CASES) >= 20
    assert all((CORPUS / f"{name}.expected").is_file() for name in CASES)


@pytest.mark.parametrize("name", CASES)
def test_corpus_messages_and_lines_are_exact(tmp_path: Path, name: str) -> None:
    root = _project(tmp_path, name)
    text = "".join(f"{d}\n" for d in lint([], root))
    assert text == (CORPUS / f"{name}.expected").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", CASES)
def test_corpus_never_reaches_the_internal_error_path(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(_project(tmp_path, name))
    for fmt in ("text", "json", "github"):
        code = cli.main(["lint", "--format", fmt])
        out, err = capsys.readouterr()
        assert code in (0, 1), err
        assert "internal error" not in err
        if fmt == "json":
            assert all(set(d) == {"file", "line", "col", "severity", "message"} for d in json.loads(out))
