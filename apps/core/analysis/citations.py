"""Validate an answer against the evidence pack it was produced from.

The contract: a claim is shown with links only when it is ``verified``, and it is verified only
when (a) it cites at least one id that was in the pack and (b) its quote, whitespace-normalised,
is a substring of one of those cited lines as stored (redacted) in the pack. So every displayed
link points at a line that was sent, next to words that line really contains: citation validity
of linked claims is 100 % by construction, whatever the model wrote.

Everything else is kept for transparency but never linked:
- ``unverified``: no citation, no/short/wrong quote, or only some ids known;
- ``dropped``: empty, or every cited id is unknown (fabricated ids, other incidents, injection).
Bracketed ``[E12]`` markers are removed from claim text: citations live in ``citations`` only.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from apps.core.analysis.schema import AnalysisAnswer, AnswerError, Claim, ClaimKind, parse_answer
from apps.core.evidence.types import EvidencePack
from apps.core.rules.finding import EvidenceRef

ClaimStatus = Literal["verified", "unverified", "dropped"]
AnalysisStatus = Literal["ok", "insufficient_evidence", "failed"]
MIN_QUOTE_CHARS = 8

_INLINE_MARKER_RE = re.compile(r"\s?[\[(]\s?E\d{1,6}(?:\s?[,;]\s?E?\d{1,6}){0,20}\s?[\])]")
_LABEL_PREFIX_RE = re.compile(r"^\[E\d{1,6}\]\s*")
_WRAPPING = "\"'`“”‘’ "


def normalise_ws(text: str) -> str:
    return " ".join(text.split())


def normalise_quote(quote: str) -> str:
    """Whitespace collapsed; wrapping quotes, a leading ``[E12]`` label and edge ellipses removed."""
    q = normalise_ws(quote).strip(_WRAPPING)
    q = _LABEL_PREFIX_RE.sub("", q)
    for ellipsis in ("...", "…"):
        q = q.removeprefix(ellipsis).removesuffix(ellipsis)
    return q.strip(_WRAPPING)


@dataclass(frozen=True, slots=True)
class Citation:
    id: str  # "E12": an id of the pack
    ref: EvidenceRef  # the raw line it opens in the evidence view
    quoted: bool  # the claim's quote was found in this line


@dataclass(frozen=True, slots=True)
class ValidatedClaim:
    section: str
    text: str  # plain text (never HTML); inline [E..] markers removed
    kind: ClaimKind
    status: ClaimStatus
    citations: tuple[Citation, ...] = ()  # non-empty only when verified
    quote: str = ""
    reasons: tuple[str, ...] = ()  # why it is not verified / what was removed
    cited_ids: tuple[str, ...] = ()  # the ids the model gave, for audit


@dataclass(frozen=True, slots=True)
class ValidatedHypothesis:
    rank: int
    category: str
    confidence: float
    statement: ValidatedClaim
    contradicting: tuple[Citation, ...] = ()
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One provider call, for the analysis history."""

    provider: str
    model: str
    attempt: Literal["initial", "repair"]
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: int = 0
    payload_sha256: str = ""  # of the exact request body sent (empty for the local provider)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AnalysisError:
    kind: (
        str  # timeout, rate_limited, server_error, connection, auth, bad_request, invalid_answer …
    )
    message: str
    retryable: bool = False


@dataclass(slots=True)
class ValidatedAnalysis:
    status: AnalysisStatus
    summary: list[ValidatedClaim] = field(default_factory=list)
    impact: list[ValidatedClaim] = field(default_factory=list)
    hypotheses: list[ValidatedHypothesis] = field(default_factory=list)
    contributing_factors: list[ValidatedClaim] = field(default_factory=list)
    actions: list[ValidatedClaim] = field(default_factory=list)
    error: AnalysisError | None = None
    calls: list[CallRecord] = field(default_factory=list)
    repaired: bool = False  # the answer needed (and got) one repair round
    provider: str = ""
    model: str = ""

    @property
    def payload_sha256(self) -> str:
        """Hash of the last request body sent (the history's payload hash)."""
        return self.calls[-1].payload_sha256 if self.calls else ""

    def claims(self) -> Iterator[ValidatedClaim]:
        yield from self.summary
        yield from self.impact
        yield from (h.statement for h in self.hypotheses)
        yield from self.contributing_factors
        yield from self.actions

    def counts(self) -> dict[str, int]:
        return dict(Counter(c.status for c in self.claims()))

    def linked_ids(self) -> set[str]:
        """Every id rendered as a link: citations of verified claims and contradicting ids."""
        ids = {c.id for claim in self.claims() for c in claim.citations}
        ids |= {c.id for h in self.hypotheses for c in h.contradicting}
        return ids


def validate_claim(claim: Claim, pack: EvidencePack, section: str) -> ValidatedClaim:
    reasons: list[str] = []
    cited = tuple(dict.fromkeys(claim.evidence))
    known = [i for i in cited if i in pack.by_id]
    reasons += [f"unknown evidence id {i}" for i in cited if i not in pack.by_id]
    text, removed = _INLINE_MARKER_RE.subn("", claim.text)
    text = text.strip()
    if removed:
        reasons.append("inline citation markers removed from text")
    quote = normalise_quote(claim.quote)

    def result(status: ClaimStatus, citations: tuple[Citation, ...] = ()) -> ValidatedClaim:
        return ValidatedClaim(
            section, text, claim.kind, status, citations, claim.quote, tuple(reasons), cited
        )

    if not text:
        reasons.append("empty claim")
        return result("dropped")
    if cited and not known:
        reasons.append("cites only evidence that was not in the pack")
        return result("dropped")
    if not known:
        reasons.append("no citation")
        return result("unverified")
    if not quote:
        reasons.append("no quote")
        return result("unverified")
    lines = {i: normalise_ws(pack.by_id[i].text) for i in known}
    if len(quote) < MIN_QUOTE_CHARS and quote not in lines.values():
        reasons.append(f"quote shorter than {MIN_QUOTE_CHARS} characters")
        return result("unverified")
    quoted = {i for i, line in lines.items() if quote in line}
    if not quoted:
        reasons.append("quote not found in the cited lines")
        return result("unverified")
    return result("verified", tuple(Citation(i, pack.by_id[i].ref, i in quoted) for i in known))


def validate_answer(answer: AnalysisAnswer, pack: EvidencePack) -> ValidatedAnalysis:
    """Check every claim of ``answer`` against ``pack``."""

    def section(name: str, claims: list[Claim]) -> list[ValidatedClaim]:
        return [validate_claim(c, pack, name) for c in claims]

    hypotheses: list[ValidatedHypothesis] = []
    ordered = sorted(enumerate(answer.hypotheses), key=lambda p: (p[1].rank, p[0]))
    for rank, (_, h) in enumerate(ordered, 1):
        reasons = [
            f"unknown contradicting evidence id {i}"
            for i in h.contradicting_evidence
            if i not in pack.by_id
        ]
        contradicting = tuple(
            Citation(i, pack.by_id[i].ref, False)
            for i in dict.fromkeys(h.contradicting_evidence)
            if i in pack.by_id
        )
        hypotheses.append(
            ValidatedHypothesis(
                rank=rank,
                category=h.category,
                confidence=h.confidence,
                statement=validate_claim(h.statement, pack, "hypotheses"),
                contradicting=contradicting,
                reasons=tuple(reasons),
            )
        )
    return ValidatedAnalysis(
        status="insufficient_evidence" if answer.insufficient_evidence else "ok",
        summary=section("summary", answer.summary),
        impact=section("impact", answer.impact),
        hypotheses=hypotheses,
        contributing_factors=section("contributing_factors", answer.contributing_factors),
        actions=section("actions", answer.actions),
    )


def validate_raw(raw: str | None, pack: EvidencePack) -> ValidatedAnalysis | AnswerError:
    """Parse and validate raw model output; an `AnswerError` means a repair round may help."""
    parsed = parse_answer(raw)
    if isinstance(parsed, AnswerError):
        return parsed
    return validate_answer(parsed, pack)
