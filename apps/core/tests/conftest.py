"""Core tests run without Django (``make test-core`` passes ``-p no:django``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _public_schema_between_tests() -> Iterator[None]:
    """Neutralise the root conftest's autouse fixture of the same name, which needs a database."""
    yield
