from __future__ import annotations

import json

import pytest

from apps.core.analysis.citations import validate_answer, validate_raw
from apps.core.analysis.schema import AnalysisAnswer, AnswerError, parse_answer
from apps.core.evidence import build_evidence_pack

from .incident import incident_pack_kwargs


@pytest.fixture(scope="module")
def pack():
    return build_evidence_pack(**incident_pack_kwargs())


def claim(text: str, ids: list, quote: str = "", kind: str = "fact") -> dict:
    return {"text": text, "kind": kind, "evidence": ids, "quote": quote}


def answer(**sections) -> AnalysisAnswer:
    return AnalysisAnswer.model_validate(sections)


def test_verified_claim_links_only_known_ids(pack) -> None:
    res = validate_answer(
        answer(summary=[claim("DB refused connections [E1].", ["E1"], "too many clients already")]),
        pack,
    )
    (c,) = res.summary
    assert c.status == "verified"
    assert [x.id for x in c.citations] == ["E1"] and c.citations[0].quoted
    assert c.citations[0].ref == pack.by_id["E1"].ref
    assert c.text == "DB refused connections."  # inline markers removed: links come from citations


def test_unknown_ids_dropped_and_partial_ids_filtered(pack) -> None:
    res = validate_answer(
        answer(
            summary=[
                claim("Made up.", ["E999"], "too many clients already"),
                claim("Half made up.", ["E1", "E999"], "too many clients already"),
            ]
        ),
        pack,
    )
    dropped, partial = res.summary
    assert dropped.status == "dropped" and not dropped.citations
    assert "unknown evidence id E999" in dropped.reasons
    assert partial.status == "verified" and [x.id for x in partial.citations] == ["E1"]
    assert "E999" not in res.linked_ids()


@pytest.mark.parametrize(
    ("quote", "reason"),
    [
        ("the database was on fire", "quote not found in the cited lines"),
        ("", "no quote"),
        ("ERROR", "quote shorter than 8 characters"),
    ],
)
def test_bad_quotes_are_unverified(pack, quote: str, reason: str) -> None:
    res = validate_answer(answer(summary=[claim("DB refused.", ["E1"], quote)]), pack)
    (c,) = res.summary
    assert c.status == "unverified" and not c.citations and reason in c.reasons


def test_quote_whitespace_and_wrapping_are_normalised(pack) -> None:
    text = pack.by_id["E1"].text
    fragment = text[text.index("too many") : text.index("too many") + 30]
    quote = '  "' + fragment.replace(" ", "   \n ") + '..."  '
    (c,) = validate_answer(answer(summary=[claim("x happened", ["E1"], quote)]), pack).summary
    assert c.status == "verified"


def test_quote_must_match_redacted_text_not_the_secret(pack) -> None:
    (c,) = validate_answer(
        answer(summary=[claim("pw leaked", ["E1"], "password=Sup3rS3cret!")]), pack
    ).summary
    assert c.status == "unverified"
    ok = validate_answer(
        answer(summary=[claim("pw leaked", ["E1"], "password=<SECRET:credential:1>")]), pack
    )
    assert ok.summary[0].status == "verified"


def test_uncited_claims_are_unverified_not_linked(pack) -> None:
    res = validate_answer(
        answer(summary=["A bare string claim."], actions=[claim("Restart", [], kind="action")]),
        pack,
    )
    assert [c.status for c in res.claims()] == ["unverified", "unverified"]
    assert res.linked_ids() == set()


def test_hypotheses_ranked_and_contradicting_checked(pack) -> None:
    res = validate_answer(
        answer(
            hypotheses=[
                {
                    "rank": 5,
                    "category": "b",
                    "confidence": "low",
                    "statement": claim("B", ["E2"], pack.by_id["E2"].text[25:60]),
                },
                {
                    "rank": 2,
                    "category": "a",
                    "confidence": 85,
                    "statement": claim("A", ["E1"], "too many clients already"),
                    "contradicting_evidence": ["E3", "E999"],
                },
            ]
        ),
        pack,
    )
    a, b = res.hypotheses
    assert (a.rank, a.category, a.confidence) == (1, "a", 0.85)
    assert (b.rank, b.category, b.confidence) == (2, "b", 0.2)
    assert a.statement.kind == "hypothesis" and a.statement.status == "verified"
    assert [c.id for c in a.contradicting] == ["E3"]
    assert "unknown contradicting evidence id E999" in a.reasons


def test_insufficient_evidence_is_an_allowed_answer(pack) -> None:
    res = validate_answer(answer(insufficient_evidence=True), pack)
    assert res.status == "insufficient_evidence" and list(res.claims()) == []


def test_markup_stays_plain_text_and_never_links(pack) -> None:
    evil = '<script>alert(1)</script> ![x](https://evil.example/p.png) <a hx-get="/admin" hx-trigger="load">x</a> [click](javascript:alert(1))'
    res = validate_answer(
        answer(
            summary=[claim(evil, ["E1"], "too many clients already")],
            actions=[claim(evil, ["E999"], "x" * 10, kind="action")],
        ),
        pack,
    )
    s, a = res.summary[0], res.actions[0]
    assert (
        s.text == evil and s.status == "verified"
    )  # kept verbatim as text; escaping is the renderer's job
    assert a.status == "dropped" and a.text == evil
    assert res.linked_ids() == {"E1"}  # the only links are pack ids, never URLs from the text


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("", "empty"),
        ("I think the database broke.", "invalid_json"),
        ('{"summary": [', "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ('{"hypotheses": [{"rank": "first", "statement": {"text": "x"}}]}', "schema"),
        ('{"summary": [{"text": "x", "kind": "opinion"}]}', "schema"),
    ],
)
def test_parse_errors_are_structured(raw: str, kind: str) -> None:
    err = parse_answer(raw)
    assert isinstance(err, AnswerError) and err.kind == kind and err.message


def test_parse_is_lenient_about_form() -> None:
    body = {
        "summary": [{"text": "x", "kind": "FACT", "evidence": ["[E1]", "e2", 3], "quote": "q"}],
        "unexpected": 1,
    }
    for raw in (
        json.dumps(body),
        f"Sure! ```json\n{json.dumps(body)}\n``` hope it helps",
        f"Here: {json.dumps(body)}",
    ):
        parsed = parse_answer(raw)
        assert isinstance(parsed, AnalysisAnswer)
        assert parsed.summary[0].evidence == ["E1", "E2", "E3"] and parsed.summary[0].kind == "fact"


def test_validate_raw(pack) -> None:
    assert isinstance(validate_raw("nope", pack), AnswerError)
    ok = validate_raw(
        json.dumps({"summary": [claim("x", ["E1"], "too many clients already")]}), pack
    )
    assert ok.counts() == {"verified": 1}
