"""call → validate → (one repair) → validate: the only way an analysis is produced."""

from __future__ import annotations

from apps.core.analysis.citations import (
    AnalysisError,
    CallRecord,
    ValidatedAnalysis,
    validate_answer,
)
from apps.core.analysis.schema import AnalysisAnswer, AnswerError, parse_answer
from apps.core.evidence.types import EvidencePack

from .base import AnalysisProvider, ProviderError, ProviderResult, Repair


def _record(provider: AnalysisProvider, result: ProviderResult, attempt: str) -> CallRecord:
    return CallRecord(
        provider=provider.name,
        model=result.model,
        attempt=attempt,  # type: ignore[arg-type]
        prompt_tokens=result.usage.prompt_tokens,
        completion_tokens=result.usage.completion_tokens,
        latency_ms=result.latency_ms,
        payload_sha256=result.payload_sha256,
    )


def _failed(
    provider: AnalysisProvider, calls: list[CallRecord], error: AnalysisError
) -> ValidatedAnalysis:
    return ValidatedAnalysis(
        status="failed", error=error, calls=calls, provider=provider.name, model=provider.model
    )


def _call(
    provider: AnalysisProvider,
    pack: EvidencePack,
    calls: list[CallRecord],
    attempt: str,
    repair: Repair | None = None,
) -> ProviderResult | AnalysisError:
    try:
        result = provider.analyze(pack, repair=repair)
    except ProviderError as exc:
        calls.append(
            CallRecord(
                provider=provider.name,
                model=provider.model,
                attempt=attempt,  # type: ignore[arg-type]
                latency_ms=exc.latency_ms,
                payload_sha256=exc.payload_sha256,
                error=f"{exc.kind}: {exc.message}",
            )
        )
        return AnalysisError(exc.kind, exc.message, exc.retryable)
    calls.append(_record(provider, result, attempt))
    return result


def run_analysis(
    pack: EvidencePack, provider: AnalysisProvider, *, allow_repair: bool = True
) -> ValidatedAnalysis:
    """Run ``provider`` on ``pack`` and return the validated analysis. Never raises ProviderError:
    failures come back as ``status="failed"`` with a structured `AnalysisError`."""
    calls: list[CallRecord] = []
    result = _call(provider, pack, calls, "initial")
    if isinstance(result, AnalysisError):
        return _failed(provider, calls, result)
    answer: AnalysisAnswer | AnswerError = result.parsed or parse_answer(result.raw_text)
    repaired = False
    if isinstance(answer, AnswerError) and allow_repair:
        repair = Repair(previous_raw=result.raw_text, error=answer.message)
        second = _call(provider, pack, calls, "repair", repair)
        if isinstance(second, AnalysisError):
            return _failed(provider, calls, second)
        result = second
        answer = result.parsed or parse_answer(result.raw_text)
        repaired = not isinstance(answer, AnswerError)
    if isinstance(answer, AnswerError):
        return _failed(provider, calls, AnalysisError("invalid_answer", answer.message))
    analysis = validate_answer(answer, pack)
    analysis.calls = calls
    analysis.repaired = repaired
    analysis.provider = provider.name
    analysis.model = result.model
    return analysis
