"""Value types of the evidence pack: what was selected, under which id, and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from apps.core.rules.finding import EvidenceRef

Role = Literal[
    "first-error",  # earliest error of the incident window
    "root-cause",  # a line the root-cause candidate rests on
    "finding-trigger",  # a rule finding's first occurrence
    "finding-flashpoint",  # a rule finding's worst symptom
    "group-sample",  # first line / samples of a top error group
    "new-template",  # first line of a template not seen before this incident
    "context",  # a neighbour of one of the above
]
ROLES: tuple[Role, ...] = (
    "first-error",
    "root-cause",
    "finding-trigger",
    "finding-flashpoint",
    "group-sample",
    "new-template",
    "context",
)


def as_ref(value: Any) -> EvidenceRef | None:
    """An `EvidenceRef` from a ref, a ``(source, line)`` pair or a ``{"source", "line"}`` mapping."""
    if value is None or isinstance(value, EvidenceRef):
        return value
    if isinstance(value, Mapping):
        source_id = value.get("source_id")
        return EvidenceRef(
            str(value["source"]), int(value["line"]), int(source_id) if source_id else None
        )
    if isinstance(value, tuple | list) and len(value) == 2:
        return EvidenceRef(str(value[0]), int(value[1]))
    raise TypeError(f"not an evidence reference: {value!r}")


@dataclass(frozen=True, slots=True)
class GroupInput:
    """One error group / template as the pack builder needs it (plain data, no ORM)."""

    group_id: str
    template: str
    count: int = 0
    level: str | None = None
    first: EvidenceRef | None = None  # first line of the group in this incident
    samples: tuple[EvidenceRef, ...] = ()
    is_new: bool = False  # template never seen before this incident
    change: float | None = None  # count relative to the baseline (2.0 = doubled); None = unknown
    first_ts: datetime | None = None

    @classmethod
    def coerce(cls, value: Any) -> GroupInput:
        """Accept a `GroupInput`, a mapping with the brief's keys, or any object with attributes."""
        if isinstance(value, GroupInput):
            return value
        get = value.get if isinstance(value, Mapping) else (lambda k, d=None: getattr(value, k, d))
        first = get("first", None) or get("first_ref", None) or get("first_line", None)
        samples = get("samples", None) or get("sample_refs", None) or ()
        change = get("change", None)
        return cls(
            group_id=str(get("group_id")),
            template=str(get("template", "") or ""),
            count=int(get("count", 0) or 0),
            level=(str(get("level")).upper() if get("level", None) else None),
            first=as_ref(first),
            samples=tuple(r for r in (as_ref(s) for s in samples) if r is not None),
            is_new=bool(get("is_new", False)),
            change=float(change) if change is not None else None,
            first_ts=get("first_ts", None),
        )


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    id: str  # "E<n>", deterministic: assigned in priority order
    ref: EvidenceRef
    text: str  # the redacted, sanitised raw line exactly as sent; quotes are checked against it
    role: Role
    labels: tuple[str, ...] = ()  # why else it was picked: "finding:<rule_id>", "group:<id>" …


@dataclass(frozen=True, slots=True)
class EvidencePack:
    items: tuple[EvidenceItem, ...]
    facts: dict[str, Any]  # structured summary (redacted): findings, groups, root cause, timeline
    token_estimate: int  # of the whole rendered prompt (system + user messages)
    token_budget: int
    omitted: int = 0  # candidate lines left out to stay within the budget
    redactions: dict[str, int] = field(default_factory=dict)  # label → replacements made
    by_id: dict[str, EvidenceItem] = field(init=False, repr=False, compare=False)
    _by_ref: dict[EvidenceRef, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {i.id: i for i in self.items})
        object.__setattr__(self, "_by_ref", {i.ref: i.id for i in self.items})

    def id_for(self, ref: EvidenceRef) -> str | None:
        return self._by_ref.get(ref)

    def ids(self, refs: Any) -> list[str]:
        """The ids of those of ``refs`` that made it into the pack, in order, without repeats."""
        out: list[str] = []
        for r in refs or ():
            i = self._by_ref.get(as_ref(r))  # type: ignore[arg-type]
            if i is not None and i not in out:
                out.append(i)
        return out
