"""Quiet hours: a daily span in a rule's time zone when its messages wait. A message due in
quiet hours is held and sent when they end (if its incident is still open then); resolves and
acknowledgements are not held (they close pages rather than open them)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def valid_zone(name: str) -> bool:
    return name in available_timezones() or name == "UTC"


def quiet_until(start: time | None, end: time | None, tz: str, now: datetime) -> datetime | None:
    """When quiet hours end (UTC) if `now` is inside them, else None. A span may cross
    midnight (22:00–07:00); start == end, or either unset, means no quiet hours."""
    if start is None or end is None or start == end:
        return None
    where = zone(tz)
    local = now.astimezone(where)
    at = local.time().replace(tzinfo=None)
    if start < end:
        inside, day = start <= at < end, local.date()
    else:
        inside = at >= start or at < end
        day = local.date() if at < end else local.date() + timedelta(days=1)
    if not inside:
        return None
    return datetime.combine(day, end, tzinfo=where).astimezone(UTC)
