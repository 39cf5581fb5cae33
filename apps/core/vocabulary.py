"""One vocabulary for the whole product: levels, severities and the reference to a raw line.

Every other definition derives from this module: the parser's level names, the rule engine's
severities, the models' choices and the templates' colours. Orders are part of the definition:
``Level.ERROR > Level.WARN`` and ``Severity.CRITICAL.rank > Severity.ERROR.rank``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum


class Level(IntEnum):
    """A normalised log level; the value is what an event stores (``Event.level``)."""

    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4
    FATAL = 5

    @classmethod
    def named(cls, name: str | None) -> Level | None:
        """The level called ``name`` (one of ``LEVELS``), or None."""
        return cls.__members__.get(name) if name else None


# The level names in order; a parsed record's ``level`` is one of these (or None).
LEVELS: tuple[str, ...] = tuple(level.name for level in Level)
LEVEL_NUMBER: dict[str, int] = {level.name: level.value for level in Level}


class Severity(StrEnum):
    """How bad a finding is, from the rule catalogue; ordered by ``rank``."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return SEVERITY_ORDER.index(self)


SEVERITY_ORDER: tuple[Severity, ...] = (
    Severity.INFO,
    Severity.WARNING,
    Severity.ERROR,
    Severity.CRITICAL,
)


@dataclass(frozen=True, slots=True, order=True)
class EvidenceRef:
    """One raw line: the source it is in and its first physical line number (1-based).

    ``source`` is the source's name as users read it (a file or archive member, unique within
    an incident); ``source_id`` is the stored source's id once there is one (``Source.pk``),
    None where nothing is stored (the CLI, the compute process). Refs compare and hash by
    name and line only, so a ref read back from the database meets the engine's own.
    """

    source: str
    line: int
    source_id: int | None = field(default=None, compare=False)
