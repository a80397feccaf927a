"""A project on the azure provider pointed at an emulator: the project file, and the environment
of one test (endpoint, key, and a credential chain that never probes managed identity)."""

from __future__ import annotations

import pytest

from assetgen.emulator.testing import EmulatorHandle

# gpt-image-1.5 at a quota the emulator admits, so no test waits out the model's default rpm
PROJECT = """\
provider: azure
defaults: {model: gpt-image-1.5}
providers: {azure: {rpm: {gpt-image-1.5: 60000}}}
"""


def point_at(emu: EmulatorHandle, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", emu.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", key)
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "dev")
