from __future__ import annotations

from apps.core.logparse import levels, record
from apps.core.rules import finding
from apps.core.vocabulary import LEVEL_NUMBER, LEVELS, SEVERITY_ORDER, Level, Severity


def test_levels_are_ordered_and_numbered_by_their_stored_value() -> None:
    assert LEVELS == ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
    assert [LEVEL_NUMBER[name] for name in LEVELS] == list(range(6))
    assert Level.ERROR > Level.WARN
    assert Level.named("FATAL") is Level.FATAL
    assert Level.named("fatal") is None
    assert Level.named(None) is None


def test_severity_order() -> None:
    assert [s.rank for s in SEVERITY_ORDER] == [0, 1, 2, 3]
    assert Severity.CRITICAL.rank > Severity.ERROR.rank > Severity.WARNING.rank
    assert max(Severity, key=lambda s: s.rank) is Severity.CRITICAL


def test_the_cores_use_the_one_definition() -> None:
    assert levels.LEVELS is LEVELS
    assert record.LEVELS is LEVELS
    assert finding.Severity is Severity


def test_an_evidence_ref_names_its_source_and_carries_its_id_apart() -> None:
    from apps.core.vocabulary import EvidenceRef

    stored = EvidenceRef("api.log", 12, source_id=7)
    engine = EvidenceRef("api.log", 12)  # the engine knows names only
    assert stored == engine and hash(stored) == hash(engine)  # they meet in dicts and sets
    assert {engine: "raw"}[stored] == "raw"
    assert stored.source_id == 7 and engine.source_id is None
    assert sorted([EvidenceRef("b.log", 1), EvidenceRef("a.log", 9), EvidenceRef("a.log", 2)]) == [
        EvidenceRef("a.log", 2),
        EvidenceRef("a.log", 9),
        EvidenceRef("b.log", 1),
    ]
    assert finding.EvidenceRef is EvidenceRef
