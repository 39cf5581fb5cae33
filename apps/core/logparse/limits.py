"""Bounds on what one upload may cost us: every layer of ingestion checks one of these.

Defaults follow Grafana Loki (256 KiB lines) and the usual zip-bomb guards (ratio, total
size, entry count, nesting). The Django layer builds a `Limits` from settings; the
framework-free cores take it as an argument and never read settings themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True, slots=True)
class Limits:
    # Longer lines keep their first max_line_bytes (UTF-8) and are flagged `truncated`.
    max_line_bytes: int = 256 * KiB
    # One uploaded file (compressed size as stored on disk).
    max_upload_bytes: int = 1 * GiB
    # Files in one upload request (checked by the service, not by the cores).
    max_files_per_upload: int = 50
    # Total bytes produced by every decompression layer of one upload.
    max_decompressed_bytes: int = 2 * GiB
    # Decompressed / compressed, checked once more than ratio_grace_bytes came out, so that
    # tiny but legitimate uploads (a 2 KiB gzip of one repeated line) are not rejected.
    max_ratio: int = 200
    ratio_grace_bytes: int = 32 * MiB
    # Entries (files, directories, links) across all archives of one upload, nested included.
    max_archive_entries: int = 1000
    # Containers around a file: `a.log.gz`, `a.zip/a.log`, `a.tar.gz/a.log` are 1 deep;
    # `bundle.zip/api.log.gz` is 2 deep.
    max_nesting: int = 2
    # Read size for streaming. A tuning knob, not a limit: tests use tiny values to hit
    # every chunk-boundary case.
    read_chunk_bytes: int = 256 * KiB

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "max_nesting" else 1):
                raise ValueError(f"Limits.{name} must be a positive integer, got {value!r}")


DEFAULT_LIMITS = Limits()


def human_bytes(n: int) -> str:
    """`1536` → `"1.5 KiB"`, `2 * GiB` → `"2.0 GiB"`; for messages users read."""
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"
