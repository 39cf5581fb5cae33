"""What the rules engine reports. Shared by the engine, the analysis layer and the UI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from apps.core.vocabulary import EvidenceRef, Severity


@dataclass(slots=True)
class Finding:
    rule_id: str  # e.g. "db-too-many-connections.postgres"
    category: str  # slug from the catalogue, e.g. "db-too-many-connections"
    severity: Severity
    title: str
    explanation: str
    remediation: str
    evidence: list[EvidenceRef] = field(default_factory=list)  # ordered; [0] is the trigger
    trigger: EvidenceRef | None = None  # first occurrence: the likely trigger
    flashpoint: EvidenceRef | None = None  # worst symptom
    count: int = 0
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    services: list[str] = field(default_factory=list)
    confidence: float = 0.5  # 0..1, raised by co-signals
    groups: list[str] = field(default_factory=list)  # error groups / templates of the evidence
    detector: bool = False  # True: from a statistical detector (detect.py), not a signature
