"""The structured answer every provider returns (pydantic), and lenient parsing of model output.

Every statement is a `Claim`: its text, its kind (fact / hypothesis / action), the evidence ids
it rests on (``E12`` …, ids of the evidence pack) and a short verbatim quote from one of those
lines. Whether the ids and quotes are real is `citations.py`'s job; this module only checks shape.

Parsing is forgiving about form (code fences, prose around the JSON object, ``"[E12]"`` or ``12``
for an id, ``"high"`` for a confidence) and strict about substance (unknown fields are ignored,
wrong types are schema errors that the orchestrator can ask the model to repair once).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

ClaimKind = Literal["fact", "hypothesis", "action"]
_ID_RE = re.compile(r"^\[?\s*[Ee]\s*(\d{1,6})\s*\]?$")
_WORD_CONFIDENCE = {"very high": 0.9, "high": 0.8, "medium": 0.5, "moderate": 0.5, "low": 0.2}
MAX_TEXT = 4000
MAX_ITEMS = 50


def normalise_evidence_id(value: Any) -> str:
    """``"E12"``, ``"[E12]"``, ``"e12"`` and ``12`` all mean ``"E12"``; anything else stays as is."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"E{value}"
    text = str(value).strip()
    m = _ID_RE.match(text)
    return f"E{int(m.group(1))}" if m else text[:64]


def _ids(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str | int):
        value = [value]
    if isinstance(value, list):
        return [normalise_evidence_id(v) for v in value[:MAX_ITEMS]]
    return value


def _kind(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _confidence(value: Any) -> Any:
    if isinstance(value, str):
        word = value.strip().lower().rstrip("%")
        if word in _WORD_CONFIDENCE:
            return _WORD_CONFIDENCE[word]
        try:
            value = float(word)
        except ValueError:
            return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 < value <= 100:
        return value / 100
    return value


def _text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:MAX_TEXT]
    return value


def _claims(value: Any) -> Any:
    """A bare string where a claim list is expected becomes one uncited claim."""
    if value is None:
        return []
    if isinstance(value, str | dict):
        value = [value]
    if isinstance(value, list):
        return [{"text": v} if isinstance(v, str) else v for v in value[:MAX_ITEMS]]
    return value


EvidenceIds = Annotated[list[str], BeforeValidator(_ids)]
Text = Annotated[str, BeforeValidator(_text)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class Claim(_Model):
    text: Text
    kind: Annotated[ClaimKind, BeforeValidator(_kind)] = "fact"
    evidence: EvidenceIds = Field(default_factory=list)
    quote: Text = ""


Claims = Annotated[list[Claim], BeforeValidator(_claims)]


class Hypothesis(_Model):
    """A ranked root-cause hypothesis; ``statement.evidence`` are the supporting ids."""

    rank: int = Field(default=1, ge=1, le=100)
    category: Text = "unknown"
    confidence: Annotated[float, BeforeValidator(_confidence), Field(ge=0, le=1)] = 0.5
    statement: Claim
    contradicting_evidence: EvidenceIds = Field(default_factory=list)

    def model_post_init(self, context: Any) -> None:
        if self.statement.kind == "fact":
            self.statement.kind = "hypothesis"


class AnalysisAnswer(_Model):
    insufficient_evidence: bool = False
    summary: Claims = Field(default_factory=list)
    impact: Claims = Field(default_factory=list)
    hypotheses: Annotated[list[Hypothesis], Field(max_length=MAX_ITEMS)] = Field(
        default_factory=list
    )
    contributing_factors: Claims = Field(default_factory=list)
    actions: Claims = Field(default_factory=list)

    def claims(self) -> list[tuple[str, Claim]]:
        """Every claim with its section name (hypotheses as ``hypotheses``)."""
        out: list[tuple[str, Claim]] = [("summary", c) for c in self.summary]
        out += [("impact", c) for c in self.impact]
        out += [("hypotheses", h.statement) for h in self.hypotheses]
        out += [("contributing_factors", c) for c in self.contributing_factors]
        out += [("actions", c) for c in self.actions]
        return out


@dataclass(frozen=True, slots=True)
class AnswerError:
    """Why raw model output is not a usable answer; ``message`` is safe to send back for repair."""

    kind: Literal["empty", "invalid_json", "schema"]
    message: str


_FENCE_RE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_json_object(raw: str) -> str | None:
    """The JSON object in ``raw``: the whole text, a fenced block, or from first ``{`` to last ``}``."""
    text = raw.strip()
    if text.startswith("{"):
        return text
    fence = _FENCE_RE.search(text)
    if fence and fence.group(1).strip().startswith("{"):
        return fence.group(1).strip()
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        return text[start : end + 1]
    return None


def parse_answer(raw: str | None) -> AnalysisAnswer | AnswerError:
    """Parse model output into an `AnalysisAnswer`, or say precisely why it is not one."""
    if raw is None or not raw.strip():
        return AnswerError("empty", "The reply was empty; a JSON object was expected.")
    candidate = extract_json_object(raw)
    if candidate is None:
        return AnswerError("invalid_json", "The reply contains no JSON object.")
    try:
        data = json.loads(candidate)
    except json.JSONDecodeError as exc:
        return AnswerError("invalid_json", f"Invalid JSON: {exc.msg} at line {exc.lineno}.")
    if not isinstance(data, dict):
        return AnswerError("schema", "The top-level JSON value must be an object.")
    try:
        return AnalysisAnswer.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:10]
        ]
        return AnswerError("schema", "Schema errors: " + "; ".join(problems))


# The shape shown to the model: small and concrete beats a full JSON Schema for most models.
ANSWER_SHAPE = """{
  "insufficient_evidence": false,
  "summary": [{"text": "...", "kind": "fact", "evidence": ["E1"], "quote": "exact words from E1"}],
  "impact": [{"text": "...", "kind": "fact", "evidence": ["E3"], "quote": "..."}],
  "hypotheses": [{"rank": 1, "category": "db-too-many-connections", "confidence": 0.7,
                  "statement": {"text": "...", "kind": "hypothesis", "evidence": ["E2", "E5"],
                                "quote": "..."},
                  "contradicting_evidence": ["E9"]}],
  "contributing_factors": [{"text": "...", "kind": "fact", "evidence": ["E4"], "quote": "..."}],
  "actions": [{"text": "...", "kind": "action", "evidence": ["E2"], "quote": "..."}]
}"""
