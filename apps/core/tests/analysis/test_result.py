"""The stored analysis result: built from a validated answer, stored as JSON, read back typed."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.core.analysis.citations import validate_answer
from apps.core.analysis.result import AnalysisResult, ResultClaim
from apps.core.analysis.schema import AnalysisAnswer
from apps.core.evidence import build_evidence_pack

from .incident import incident_pack_kwargs


@pytest.fixture(scope="module")
def pack():
    # as on the database path, where a source is known by its id
    return build_evidence_pack(**incident_pack_kwargs(source_id=7))


def validated(pack):
    answer = AnalysisAnswer.model_validate(
        {
            "summary": [
                {
                    "text": "The database refused connections [E1].",
                    "kind": "fact",
                    "evidence": ["E1"],
                    "quote": "too many clients already",
                },
                {"text": "Made up.", "kind": "fact", "evidence": ["E999"], "quote": "x" * 10},
            ],
            "hypotheses": [
                {
                    "rank": 1,
                    "category": "db-too-many-connections",
                    "confidence": 0.8,
                    "statement": {
                        "text": "The pool is too small.",
                        "kind": "hypothesis",
                        "evidence": ["E1"],
                        "quote": "too many clients already",
                    },
                }
            ],
            "actions": [{"text": "Raise max_connections.", "kind": "action", "evidence": []}],
        }
    )
    return validate_answer(answer, pack)


def test_build_keeps_what_was_validated(pack) -> None:
    result = AnalysisResult.build(validated(pack), pack)
    verified, dropped = result.summary
    assert verified.verified and verified.text == "The database refused connections."
    (cited,) = verified.citations
    ref = pack.by_id["E1"].ref
    assert (cited.id, cited.source_id, cited.line) == ("E1", 7, ref.line)
    assert cited.quote == "too many clients already"
    assert dropped.status == "dropped" and not dropped.citations
    assert result.hypotheses[0].statement.verified and result.hypotheses[0].confidence == 0.8
    assert result.actions[0].status == "unverified"
    assert set(result.evidence) == {item.id for item in pack.items}
    assert result.counts == {"verified": 2, "unverified": 1, "dropped": 1}


def test_json_round_trip_is_exact(pack) -> None:
    result = AnalysisResult.build(validated(pack), pack)
    stored = json.loads(json.dumps(result.to_json()))  # what a JSONField gives back
    assert stored["version"] == 1 and stored["status"] == "ok"
    assert AnalysisResult.from_json(stored) == result


@pytest.mark.parametrize("data", [None, {}, [], "ok", {"status": "done"}, {"status": None}])
def test_no_result_reads_as_none(data) -> None:
    assert AnalysisResult.from_json(data) is None


def test_malformed_parts_are_left_out_not_fatal() -> None:
    result = AnalysisResult.from_json(
        {
            "status": "ok",
            "summary": [{"text": "kept"}, {"text": 3}, "junk", None],
            "hypotheses": [{"rank": "1", "statement": {"text": "h"}, "confidence": True}, 7],
            "evidence": {"E1": {"source_id": "3", "line": 1}, "E2": {"source_id": 3, "line": 4}},
            "counts": {"verified": 1, "dropped": "2", "odd": True},
            "repaired": "yes",
            "error": "boom",
        }
    )
    assert result is not None
    assert result.summary == (ResultClaim(text="kept", kind="", status="unverified"),)
    (hyp,) = result.hypotheses
    assert hyp.rank == 0 and hyp.confidence is None and hyp.statement.text == "h"
    assert list(result.evidence) == ["E2"]
    assert result.counts == {"verified": 1}
    assert result.repaired is False and result.error is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {"status": st.sampled_from(["ok", "failed", "insufficient_evidence"])},
        optional=dict.fromkeys(
            ("summary", "impact", "hypotheses", "actions", "evidence", "counts", "error"),
            json_values,
        ),
    )
)
def test_any_json_reads_without_raising(data) -> None:
    result = AnalysisResult.from_json(data)
    assert result is not None and result.status == data["status"]
    json.dumps(result.to_json())
