"""The stored analysis result: what an analysis run keeps and what postmortems and pages read.

`AnalysisResult.build(analysis, pack)` makes it from a validated answer; `to_json()` is what
``AnalysisRun.result`` stores (version 1) and `from_json()` reads it back, typed. Reading is
forgiving: a part that does not have the shape (an older or hand-edited row) is left out rather
than failing the page that shows it.

Only ``verified`` claims carry citations and may be rendered with links; ``unverified`` ones are
shown marked as such; ``dropped`` ones are kept for audit and not shown. A citation's
(source_id, line) is the natural key of an ingested event: the evidence view opens it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from apps.core.analysis.citations import Citation, ValidatedAnalysis, ValidatedClaim
from apps.core.evidence.types import EvidencePack

RESULT_VERSION = 1
ResultStatus = Literal["ok", "insufficient_evidence", "failed"]


@dataclass(frozen=True, slots=True)
class CitedLine:
    id: str  # "E12": the pack id the model cited
    source_id: int
    line: int
    quote: str = ""  # the claim's quote when it was found in this line, else ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "source_id": self.source_id, "line": self.line, "quote": self.quote}


@dataclass(frozen=True, slots=True)
class ResultClaim:
    text: str  # plain text, never HTML
    kind: str  # fact / hypothesis / action
    status: str  # verified / unverified / dropped
    citations: tuple[CitedLine, ...] = ()  # non-empty only when verified
    quote: str = ""
    reasons: tuple[str, ...] = ()  # why it is not verified (audit)

    @property
    def verified(self) -> bool:
        return self.status == "verified"

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "kind": self.kind,
            "status": self.status,
            "citations": [c.to_json() for c in self.citations],
            "quote": self.quote,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class ResultHypothesis:
    rank: int  # 1 = most likely
    category: str
    confidence: float | None  # 0..1
    statement: ResultClaim
    contradicting: tuple[CitedLine, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "category": self.category,
            "confidence": self.confidence,
            "statement": self.statement.to_json(),
            "contradicting": [c.to_json() for c in self.contradicting],
        }


@dataclass(frozen=True, slots=True)
class SentLine:
    """One line of the evidence pack, as it was sent (redacted)."""

    source_id: int
    line: int
    role: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "line": self.line,
            "role": self.role,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class ResultError:
    kind: str  # timeout, rate_limited, auth, invalid_answer, …
    message: str


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    status: ResultStatus
    summary: tuple[ResultClaim, ...] = ()
    impact: tuple[ResultClaim, ...] = ()
    hypotheses: tuple[ResultHypothesis, ...] = ()  # ranked
    contributing_factors: tuple[ResultClaim, ...] = ()
    actions: tuple[ResultClaim, ...] = ()
    evidence: Mapping[str, SentLine] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)  # verified / unverified / dropped
    repaired: bool = False  # one repair round was needed and worked
    error: ResultError | None = None  # set when status == "failed"
    version: int = RESULT_VERSION

    @classmethod
    def build(cls, analysis: ValidatedAnalysis, pack: EvidencePack) -> AnalysisResult:
        def claim(c: ValidatedClaim) -> ResultClaim:
            return ResultClaim(
                text=c.text,
                kind=c.kind,
                status=c.status,
                citations=tuple(_cited(x, c.quote) for x in c.citations),
                quote=c.quote,
                reasons=tuple(c.reasons),
            )

        return cls(
            status=analysis.status,
            summary=tuple(claim(c) for c in analysis.summary),
            impact=tuple(claim(c) for c in analysis.impact),
            hypotheses=tuple(
                ResultHypothesis(
                    rank=h.rank,
                    category=h.category,
                    confidence=h.confidence,
                    statement=claim(h.statement),
                    contradicting=tuple(_cited(x, "") for x in h.contradicting),
                )
                for h in analysis.hypotheses
            ),
            contributing_factors=tuple(claim(c) for c in analysis.contributing_factors),
            actions=tuple(claim(c) for c in analysis.actions),
            evidence={
                item.id: SentLine(item.ref.source_id, item.ref.line, item.role, item.text)
                for item in pack.items
                if item.ref.source_id is not None
            },
            counts=analysis.counts(),
            repaired=analysis.repaired,
            error=ResultError(analysis.error.kind, analysis.error.message)
            if analysis.error
            else None,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": self.version, "status": self.status}
        for name in ("summary", "impact"):
            out[name] = [c.to_json() for c in getattr(self, name)]
        out["hypotheses"] = [h.to_json() for h in self.hypotheses]
        for name in ("contributing_factors", "actions"):
            out[name] = [c.to_json() for c in getattr(self, name)]
        out["evidence"] = {k: v.to_json() for k, v in self.evidence.items()}
        out["counts"] = dict(self.counts)
        out["repaired"] = self.repaired
        out["error"] = (
            {"kind": self.error.kind, "message": self.error.message} if self.error else None
        )
        return out

    @classmethod
    def from_json(cls, data: object) -> AnalysisResult | None:
        """The stored result, typed; None when there is none (or it is not a result at all)."""
        if not isinstance(data, Mapping) or data.get("status") not in (
            "ok",
            "insufficient_evidence",
            "failed",
        ):
            return None
        error = data.get("error")
        return cls(
            status=data["status"],
            summary=_claims(data.get("summary")),
            impact=_claims(data.get("impact")),
            hypotheses=tuple(
                h for h in (_hypothesis(x) for x in _list(data.get("hypotheses"))) if h
            ),
            contributing_factors=_claims(data.get("contributing_factors")),
            actions=_claims(data.get("actions")),
            evidence={
                str(k): line
                for k, v in (data.get("evidence") or {}).items()
                if (line := _sent(v)) is not None
            }
            if isinstance(data.get("evidence"), Mapping)
            else {},
            counts={
                str(k): int(v)
                for k, v in (data.get("counts") or {}).items()
                if isinstance(v, int) and not isinstance(v, bool)
            }
            if isinstance(data.get("counts"), Mapping)
            else {},
            repaired=data.get("repaired") is True,
            error=ResultError(str(error.get("kind", "")), str(error.get("message", "")))
            if isinstance(error, Mapping)
            else None,
            version=data["version"] if isinstance(data.get("version"), int) else RESULT_VERSION,
        )


def _cited(c: Citation, quote: str) -> CitedLine:
    """A citation of a stored line (the database path: every ref there has its source id)."""
    if c.ref.source_id is None:
        raise ValueError(f"{c.ref} has no source id: only stored lines can be cited")
    return CitedLine(c.id, c.ref.source_id, c.ref.line, quote if c.quoted else "")


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _citation(value: object) -> CitedLine | None:
    if not isinstance(value, Mapping):
        return None
    source_id, line = _int(value.get("source_id")), _int(value.get("line"))
    if source_id is None or line is None:
        return None
    return CitedLine(str(value.get("id") or ""), source_id, line, str(value.get("quote") or ""))


def _claim(value: object) -> ResultClaim | None:
    if not isinstance(value, Mapping) or not isinstance(value.get("text"), str):
        return None
    return ResultClaim(
        text=value["text"],
        kind=str(value.get("kind") or ""),
        status=str(value.get("status") or "unverified"),
        citations=tuple(c for c in map(_citation, _list(value.get("citations"))) if c),
        quote=str(value.get("quote") or ""),
        reasons=tuple(str(r) for r in _list(value.get("reasons"))),
    )


def _claims(value: object) -> tuple[ResultClaim, ...]:
    return tuple(c for c in map(_claim, _list(value)) if c)


def _hypothesis(value: object) -> ResultHypothesis | None:
    if not isinstance(value, Mapping):
        return None
    statement = _claim(value.get("statement"))
    if statement is None:
        return None
    confidence = value.get("confidence")
    return ResultHypothesis(
        rank=_int(value.get("rank")) or 0,
        category=str(value.get("category") or ""),
        confidence=float(confidence)
        if isinstance(confidence, int | float) and not isinstance(confidence, bool)
        else None,
        statement=statement,
        contradicting=tuple(c for c in map(_citation, _list(value.get("contradicting"))) if c),
    )


def _sent(value: object) -> SentLine | None:
    if not isinstance(value, Mapping):
        return None
    source_id, line = _int(value.get("source_id")), _int(value.get("line"))
    if source_id is None or line is None:
        return None
    return SentLine(source_id, line, str(value.get("role") or ""), str(value.get("text") or ""))
