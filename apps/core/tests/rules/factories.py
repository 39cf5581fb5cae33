"""Record builders for the rules tests (the parser is somebody else's: build Records directly)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apps.core.logparse.record import Record

T0 = datetime(2024, 3, 1, 10, 0, 0, tzinfo=UTC)


def rec(
    message: str,
    line: int = 1,
    *,
    at: float | None = None,
    level: str | None = None,
    service: str | None = None,
    source: str = "app.log",
    attrs: dict | None = None,
) -> Record:
    """A one-line record; `at` = seconds after T0 (None: no timestamp)."""
    return Record(
        line=line,
        end_line=line + message.count("\n"),
        raw=message,
        message=message,
        ts=None if at is None else T0 + timedelta(seconds=at),
        level=level,
        service=service,
        attrs=attrs or {},
        source=source,
    )
