"""Framework-free tests (run with `-p no:django`): no settings, no database."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.core.logparse.parser import lines_from_text, parse_lines
from apps.core.logparse.record import Record

LOGHUB = Path(__file__).resolve().parents[5] / "shared" / "data" / "loghub"


@pytest.fixture(autouse=True)
def _public_schema_between_tests():
    """Overrides the root conftest's fixture, which needs Django settings and a database."""
    yield


def parse(text: str, **kwargs) -> list[Record]:
    kwargs.setdefault("default_year", 2024)
    return list(parse_lines(lines_from_text(text), **kwargs))


def one(text: str, **kwargs) -> Record:
    records = parse(text, **kwargs)
    assert len(records) == 1, records
    return records[0]
