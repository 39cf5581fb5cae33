"""Log dates on pages: the year where an incident needs it, the zone they are shown in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.workspace.templatetags.workspace import day, time_zone, years_differ


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (first, last, year shown?) with "now" in 2026
YEAR_CASES = [
    ("this year", at("2026-03-01T10:00"), at("2026-03-01T11:00"), False),
    ("an earlier year", at("2024-03-01T10:00"), at("2024-03-01T11:00"), True),
    ("across new year", at("2025-12-31T23:59"), at("2026-01-01T00:10"), True),
    ("next year (a wrong clock)", at("2027-01-01T00:00"), at("2027-01-01T00:01"), True),
    ("one end known", at("2026-03-01T10:00"), None, False),
    ("no times at all", None, None, False),
]


@pytest.mark.parametrize(
    ("first", "last", "shown"), [c[1:] for c in YEAR_CASES], ids=[c[0] for c in YEAR_CASES]
)
def test_the_year_is_shown_when_the_incident_needs_it(first, last, shown):
    assert years_differ(first, last, this_year=2026) is shown


DAY_CASES = [
    (at("2025-12-31T23:59:59"), False, "12-31"),
    (at("2025-12-31T23:59:59"), True, "2025-12-31"),
    (None, True, ""),
]


@pytest.mark.parametrize(("value", "year", "text"), DAY_CASES)
def test_day(value, year, text):
    assert day(value, year) == text


def test_times_are_shown_in_utc():
    assert time_zone() == "UTC"
