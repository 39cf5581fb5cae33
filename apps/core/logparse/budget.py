"""What one upload may expand to: the bounds it is checked against while it streams, and the
report of what was found, skipped or refused.

Past a bound the whole upload is refused with `ArchiveRejected`; everything else becomes a
warning in the `ArchiveReport`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .limits import Limits, human_bytes

_MAX_WARNINGS = 50


class ArchiveRejected(Exception):
    """The whole upload is refused; `reason` is written for the user who uploaded it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class ArchiveReport:
    members: int = 0  # yielded
    skipped: int = 0
    entries: int = 0  # archive entries seen (files, dirs, links), nested included
    decompressed_bytes: int = 0
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if len(self.warnings) < _MAX_WARNINGS:
            self.warnings.append(message)
        elif len(self.warnings) == _MAX_WARNINGS:
            self.warnings.append("… more warnings were left out")

    def add(self, other: ArchiveReport) -> None:
        """Count `other` (another upload's report) into this one."""
        self.members += other.members
        self.skipped += other.skipped
        self.entries += other.entries
        self.decompressed_bytes += other.decompressed_bytes
        for warning in other.warnings:
            self.warn(warning)


class Budget:
    """Counts decompressed bytes and entries for one upload; raises when a bound is passed."""

    def __init__(self, limits: Limits, upload_size: int, report: ArchiveReport) -> None:
        self.limits = limits
        self.upload_size = max(upload_size, 1)
        self.report = report
        self.decompressed = 0
        self.entries = 0
        self.names: set[str] = set()

    def produced(self, n: int, fmt: str) -> None:
        self.decompressed += n
        self.report.decompressed_bytes = self.decompressed
        limits = self.limits
        if (
            self.decompressed > limits.ratio_grace_bytes
            and self.decompressed > limits.max_ratio * self.upload_size
        ):
            raise ArchiveRejected(
                f"{fmt} bomb: expands more than {limits.max_ratio}×"
                f" (stopped at {human_bytes(self.decompressed)})"
            )
        if self.decompressed > limits.max_decompressed_bytes:
            raise ArchiveRejected(
                f"the upload expands to more than {human_bytes(limits.max_decompressed_bytes)}"
                f" when decompressed (stopped at {human_bytes(self.decompressed)});"
                " upload fewer or smaller files"
            )

    def declared(self, total: int, fmt: str) -> None:
        """Sizes an archive announces before anything is read (zip central directory)."""
        limits = self.limits
        expected = self.decompressed + total
        if expected > limits.ratio_grace_bytes and expected > limits.max_ratio * self.upload_size:
            raise ArchiveRejected(
                f"{fmt} bomb: expands more than {limits.max_ratio}× (declares {human_bytes(total)})"
            )
        if expected > limits.max_decompressed_bytes:
            raise ArchiveRejected(
                f"the {fmt} archive declares {human_bytes(total)} of content, more than the"
                f" {human_bytes(limits.max_decompressed_bytes)} limit; upload fewer or smaller files"
            )

    def entry(self, count: int = 1) -> None:
        self.entries += count
        self.report.entries = self.entries
        if self.entries > self.limits.max_archive_entries:
            raise ArchiveRejected(
                f"the upload holds more than {self.limits.max_archive_entries:,} archive entries"
            )

    def unique(self, name: str) -> str:
        candidate, n = name, 1
        while candidate in self.names:
            n += 1
            candidate = f"{name} ({n})"
        self.names.add(candidate)
        return candidate
