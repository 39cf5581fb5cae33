"""Properties of the citation validator: whatever the model writes, a link is shown only next
to words the cited line really contains, and only for ids that were sent."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from apps.core.analysis.citations import (
    MIN_QUOTE_CHARS,
    normalise_quote,
    normalise_ws,
    validate_claim,
    validate_raw,
)
from apps.core.analysis.schema import AnswerError, Claim
from apps.core.evidence import build_evidence_pack
from conftest import examples

from .incident import incident_pack_kwargs

PACK = build_evidence_pack(**incident_pack_kwargs())
IDS = sorted(PACK.by_id)


@st.composite
def claims(draw):
    known = draw(st.lists(st.sampled_from(IDS), max_size=3))
    unknown = draw(st.lists(st.from_regex(r"E[0-9]{1,4}", fullmatch=True), max_size=2))
    ids = draw(st.permutations(known + unknown))
    if known and draw(st.booleans()):  # a real substring of a cited line, maybe re-spaced
        line = PACK.by_id[draw(st.sampled_from(known))].text
        start = draw(st.integers(0, max(0, len(line) - 1)))
        quote = line[start : start + draw(st.integers(0, 80))]
        if draw(st.booleans()):
            quote = " \n ".join(quote.split(" "))
    else:
        quote = draw(st.text(max_size=60))
    text = draw(st.text(min_size=0, max_size=60))
    return Claim(text=text, evidence=ids, quote=quote)


@pytest.mark.fuzz
@settings(max_examples=examples(500), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claims())
def test_verified_means_sent_ids_and_a_real_quote(claim):
    result = validate_claim(claim, PACK, "summary")
    quote = normalise_quote(claim.quote)
    cited_known = [i for i in dict.fromkeys(claim.evidence) if i in PACK.by_id]
    lines = {i: normalise_ws(PACK.by_id[i].text) for i in cited_known}
    if result.status == "verified":
        assert result.citations and all(c.id in PACK.by_id for c in result.citations)
        assert {c.id for c in result.citations} == set(cited_known)
        quoted = [c for c in result.citations if c.quoted]
        assert quoted and all(quote in lines[c.id] for c in quoted)
        assert len(quote) >= MIN_QUOTE_CHARS or quote in lines.values()
    else:
        assert result.citations == ()  # never a link unless verified
    # and the converse: a claim that meets the contract is verified
    meets = (
        result.text
        and cited_known
        and quote
        and any(quote in line for line in lines.values())
        and (len(quote) >= MIN_QUOTE_CHARS or quote in lines.values())
    )
    if meets:
        assert result.status == "verified", result.reasons


@pytest.mark.fuzz
@settings(max_examples=examples(300), deadline=None)
@given(
    st.one_of(
        st.text(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(["summary", "impact", "hypotheses", "actions", "text", "x"]),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=12,
        ).map(json.dumps),
    )
)
def test_any_model_output_is_parsed_or_refused_never_raises(raw):
    assume(raw is not None)
    result = validate_raw(raw, PACK)
    if isinstance(result, AnswerError):
        return
    for section in (result.summary, result.impact, result.contributing_factors, result.actions):
        for claim in section:
            assert claim.status != "verified" or all(c.id in PACK.by_id for c in claim.citations)
