"""The incident corpus: real log excerpts from public threads, labelled in `incidents.toml`.

`load()` reads the index; `judge()` runs the offline triage (the code behind
`manage.py triage FILE --json`) on one excerpt and says what it got right. Shared by
`test_incident_corpus.py` and `bench/incident_bench.py`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from apps.core.triage import to_json, triage

CORPUS = Path(__file__).resolve().parent
LOUD = frozenset({"error", "critical"})


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    source: str
    category: str
    root_cause_lines: tuple[int, ...]
    healthy: bool
    fresh: bool = False  # held out: collected after the rules it is measured against

    @property
    def path(self) -> Path:
        return CORPUS / f"{self.id}.log"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What triage said about one excerpt, next to what the label says."""

    incident: Incident
    root_category: str | None  # the top-1 root cause's category, None when none was named
    root_lines: tuple[int, ...]  # the lines the root cause cites (trigger first)
    finding_categories: frozenset[str]
    loud: tuple[str, ...]  # rule ids of findings at error or worse

    @property
    def top1(self) -> bool:
        return self.root_category == self.incident.category

    @property
    def among_findings(self) -> bool:
        return self.incident.category in self.finding_categories

    @property
    def cited(self) -> bool:
        """Right category, and the root cause cites one of the labelled root-cause lines."""
        return self.top1 and bool(set(self.root_lines) & set(self.incident.root_cause_lines))

    @property
    def quiet(self) -> bool:
        """Nothing loud: no finding at error or worse, and no root cause named."""
        return not self.loud and self.root_category is None


def load() -> list[Incident]:
    index = tomllib.loads((CORPUS / "incidents.toml").read_text(encoding="utf-8"))
    return [
        Incident(
            id=row["id"],
            source=row["source"],
            category=row["category"],
            root_cause_lines=tuple(row["root_cause_lines"]),
            healthy=row.get("healthy", False),
            fresh=row.get("fresh", False),
        )
        for row in index["incident"]
    ]


def judge(incident: Incident) -> Verdict:
    doc = to_json(triage([incident.path], analyze=False))
    root = doc["root_cause"]
    return Verdict(
        incident=incident,
        root_category=root["category"] if root else None,
        root_lines=tuple(root["lines"]) if root else (),
        finding_categories=frozenset(f["category"] for f in doc["findings"]),
        loud=tuple(f["rule"] for f in doc["findings"] if f["severity"] in LOUD),
    )
