"""The two value types every framework-free core shares.

`Line` is one physical line after decoding (bytes → text, sanitised, bounded).
`Record` is one log event after format parsing and multi-line joining: what the
grouping miner, the rules engine, the analysis layer and the database all consume.

No Django here: these cores are tested and benchmarked alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from apps.core.vocabulary import LEVELS  # noqa: F401  (re-exported: one definition)


class Line(NamedTuple):
    number: int  # 1-based physical line number within its source
    text: str  # decoded text without the line terminator
    truncated: bool = False  # longer than the line limit; text holds the kept prefix


@dataclass(slots=True)
class Record:
    line: int  # first physical line (1-based)
    end_line: int  # last physical line (== line for single-line records)
    raw: str  # raw text of every physical line of the record, joined with "\n"
    message: str  # the content part (continuation lines included, joined with "\n")
    ts: datetime | None = None  # timezone-aware, UTC
    ts_inherited: bool = False  # no own timestamp: copied from the previous record
    level: str | None = None  # one of LEVELS, or None when unknown
    service: str | None = None
    host: str | None = None
    pid: str | None = None
    trace_id: str | None = None  # trace / request / correlation id
    attrs: dict = field(default_factory=dict)  # remaining structured fields
    fmt: str = "plain"  # name of the format that parsed the header
    parsed: bool = False  # True when a known format matched the header line
    truncated: bool = False  # a physical line of this record was truncated
    source: str = ""  # name of the source (file) the record came from; evidence = (source, line)
