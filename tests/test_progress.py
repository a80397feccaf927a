"""The reporters: a cause is said once, and the live display says what the calls wait for."""

from __future__ import annotations

import io

import pytest

from assetgen.run.events import Event, Kind
from assetgen.run.progress import LiveReporter, PlainReporter

MISSING = "Azure OpenAI deployment 'images-prod' does not exist at http://127.0.0.1:1"
CAUSE = "recipes/t.yaml:7: the Azure OpenAI safety system refused the prompt (content_policy_violation)"


def failed(asset: str, message: str, cause: str = "") -> Event:
    return Event(Kind.ACTION_FAILED, asset, "generate", (asset,), message, cause=cause)


def story() -> list[Event]:
    return [Event(Kind.STARTED, total=4, queued=4),
            *(Event(Kind.ACTION_START, a, "generate", (a,)) for a in ("a", "b", "c", "d")),
            failed("a", MISSING), failed("b", MISSING),
            failed("c", f'{CAUSE}: "A forbidden relic"', CAUSE),
            failed("d", f'{CAUSE}: "A forbidden key"', CAUSE)]


def test_plain_lines_say_a_cause_once_and_then_what_differs() -> None:
    stream = io.StringIO()
    reporter = PlainReporter(stream)
    for event in story():
        reporter(event)
    assert stream.getvalue().splitlines() == [
        "4 actions, 4 to run",
        f"[1/4] FAILED generate a: {MISSING}",
        "[2/4] FAILED generate b (as a)",
        f'[3/4] FAILED generate c: {CAUSE}: "A forbidden relic"',
        '[4/4] FAILED generate d (as c): "A forbidden key"',
    ]


def test_the_live_display_prints_a_cause_once_and_shows_what_calls_wait_for(
        capsys: pytest.CaptureFixture[str]) -> None:
    reporter = LiveReporter()
    try:
        reporter(Event(Kind.ACTIVITY, activity=lambda: "2 waiting for a quota slot"))
        for event in story()[:5]:
            reporter(event)
        assert str(reporter.__rich__()).endswith("\n  2 waiting for a quota slot")
        for event in story()[5:]:
            reporter(event)
        assert "\n" not in str(reporter.__rich__())      # nothing runs: nothing waits
    finally:
        reporter.close()
    err = capsys.readouterr().err
    assert "failed a: Azure OpenAI deployment 'images-prod'" in err
    assert "failed c: recipes/t.yaml:7:" in err
    assert "failed b" not in err and "failed d" not in err
    assert "failed 4" in err
