"""These tests are framework-free (run them with `-p no:django`): no database, no schema."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _public_schema_between_tests():
    """Overrides the root conftest's fixture, which needs Django settings and a database."""
    yield
