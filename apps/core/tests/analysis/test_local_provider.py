from __future__ import annotations

from apps.core.analysis.providers import LocalProvider, run_analysis
from apps.core.evidence import build_evidence_pack
from apps.core.rules.finding import EvidenceRef

from .incident import SOURCE, incident_pack_kwargs


def test_local_provider_on_synthetic_incident_is_fully_verified() -> None:
    pack = build_evidence_pack(**incident_pack_kwargs())
    res = run_analysis(pack, LocalProvider())
    assert res.status == "ok" and res.error is None
    claims = list(res.claims())
    assert len(claims) >= 6
    assert {c.status for c in claims} == {"verified"}
    assert all(c.citations for c in claims)
    top = res.hypotheses[0]
    assert top.category == "db-too-many-connections"
    assert top.statement.citations[0].ref == EvidenceRef(SOURCE, 30)  # the right first line
    assert res.actions and all(a.kind == "action" for a in res.actions)
    assert res.provider == "local" and res.calls[0].payload_sha256 == ""


def test_local_provider_is_deterministic() -> None:
    pack = build_evidence_pack(**incident_pack_kwargs())
    one, two = LocalProvider().analyze(pack), LocalProvider().analyze(pack)
    assert one.raw_text == two.raw_text


def test_local_provider_survives_a_tight_budget() -> None:
    pack = build_evidence_pack(**incident_pack_kwargs(), token_budget=1000)
    assert pack.omitted > 0
    res = run_analysis(pack, LocalProvider())
    assert {c.status for c in res.claims()} <= {"verified"}


def test_local_provider_says_insufficient_evidence() -> None:
    lines = {EvidenceRef("a.log", 1): "INFO all good"}
    groups = [
        {
            "group_id": "g",
            "template": "all good",
            "count": 1,
            "level": "INFO",
            "first": EvidenceRef("a.log", 1),
        }
    ]
    res = run_analysis(build_evidence_pack(lines=lines, groups=groups), LocalProvider())
    assert res.status == "insufficient_evidence"
    assert list(res.claims()) == []
