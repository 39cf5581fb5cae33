from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fake_llm import FakeLLM


@pytest.fixture(autouse=True)
def _public_schema_between_tests() -> Iterator[None]:
    """These cores import no Django and run with ``-p no:django``: neutralise the root conftest's
    autouse fixture of the same name, which needs a configured database connection."""
    yield


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    server = FakeLLM().start()
    try:
        yield server
    finally:
        server.stop()
