"""Fixtures several test modules share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from object_stores import Azurite, run_azurite


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Azurite (Azure Blob) on loopback, one per test module that asks for it."""
    with run_azurite(tmp_path_factory.mktemp("azurite")) as server:
        yield server
