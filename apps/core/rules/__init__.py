"""Framework-free rules engine: catalogue (data) → compiled rules → streaming matcher → findings,
plus statistical detectors and incident / root-cause ranking. No Django imports here."""

from .catalogue import Catalogue, CatalogueError, Example, Rule, Threshold, build_user_rule
from .engine import DryRun, DryRunSample, Engine, dry_run
from .finding import EvidenceRef, Finding, Severity
from .incidents import (
    CAUSAL_TIER,
    Incident,
    RootCause,
    Tier,
    build_incidents,
    rank_root_causes,
    root_cause,
    tier_of,
)
from .patterns import derive_keywords, validate_user_pattern

__all__ = [
    "CAUSAL_TIER",
    "Catalogue",
    "CatalogueError",
    "DryRun",
    "DryRunSample",
    "Engine",
    "EvidenceRef",
    "Example",
    "Finding",
    "Incident",
    "RootCause",
    "Rule",
    "Severity",
    "Threshold",
    "Tier",
    "build_incidents",
    "build_user_rule",
    "derive_keywords",
    "dry_run",
    "rank_root_causes",
    "root_cause",
    "tier_of",
    "validate_user_pattern",
]
