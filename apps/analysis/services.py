"""Write side of the analysis: AI settings, *Analyze* requests and the analysis job.

The job is the only place a provider is called. One `AnalysisRun` row per request; the job claims
its row through the one job lifecycle (apps.jobs.lifecycle), so a re-delivered job (django-q2
delivers at least once) never calls the provider again once the run is done, and never creates
a row.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from aiops.outage import is_outage, retry_transient
from apps.analysis import selectors
from apps.analysis.models import AISettings, AnalysisRun
from apps.core.analysis.citations import ValidatedAnalysis
from apps.core.analysis.egress import endpoint_origin, is_public, literal_address
from apps.core.analysis.providers import (
    AnalysisProvider,
    ConnectionCheck,
    LocalProvider,
    OpenAICompatibleProvider,
    run_analysis,
)
from apps.core.analysis.redaction import Redactor
from apps.core.analysis.result import AnalysisResult
from apps.core.evidence import DEFAULT_TOKEN_BUDGET, build_evidence_pack, render_prompt
from apps.core.evidence.types import EvidencePack
from apps.core.sealing import SealError, seal, unseal
from apps.incidents.models import Incident
from apps.jobs import lifecycle
from apps.tenants.jobs import enqueue_tenant_task

log = logging.getLogger(__name__)

TASK = "apps.analysis.tasks.analyze_incident"
TOKEN_BUDGET = DEFAULT_TOKEN_BUDGET  # of the whole prompt; the preview shows the estimate


class ProviderPolicyError(Exception):
    """The configured provider may not be used (policy, or incomplete settings). Safe to show."""


# --- settings ---------------------------------------------------------------------------------


def _seal_context(base_url: str) -> str:
    """The key is bound to its tenant and to the origin (scheme, host, port) it was given for:
    a key unsealed for another host fails closed (see migration 0002 for keys sealed before)."""
    return f"analysis.api_key:{connection.schema_name}:{endpoint_origin(base_url)}"


def _secrets() -> list[str]:
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def api_key(ai: AISettings) -> str | None:
    """The unsealed API key for ``ai.base_url``, or None (none stored, stored for another host,
    or SECRET_KEY changed: ask for it again)."""
    if not ai.api_key_sealed:
        return None
    try:
        return unseal(ai.api_key_sealed, secrets=_secrets(), context=_seal_context(ai.base_url))
    except SealError:
        log.warning("the stored API key of this tenant cannot be unsealed; it must be re-entered")
        return None


def seal_api_key(key: str, base_url: str) -> str:
    """``key`` sealed for this tenant and ``base_url``'s origin (see apps/core/sealing.py)."""
    return seal(key, secret=settings.SECRET_KEY, context=_seal_context(base_url))


def kept_api_key(
    stored: AISettings, base_url: str, *, new_key: str = "", clear: bool = False
) -> str:
    """The sealed key settings for ``base_url`` carry: a new key if typed; else the stored one
    only while the origin stays the same (a key never follows its settings to another host)."""
    if new_key:
        return seal_api_key(new_key, base_url)
    if clear or not stored.api_key_sealed:
        return ""
    if endpoint_origin(stored.base_url) != endpoint_origin(base_url):
        return ""
    return stored.api_key_sealed


@transaction.atomic
def save_ai_settings(
    *,
    provider: str,
    base_url: str,
    model: str,
    timeout_seconds: int,
    max_tokens: int,
    price_per_1k_tokens: Decimal | None,
    local_endpoints_only: bool,
    new_api_key: str = "",
    clear_api_key: bool = False,
    user: Any = None,
) -> AISettings:
    """Save the tenant's settings. The key is write-only: an empty ``new_api_key`` keeps it,
    unless the base URL moves to another origin (then it is dropped: see `kept_api_key`)."""
    ai = AISettings.objects.select_for_update().filter(
        pk=AISettings.SINGLETON_PK
    ).first() or AISettings(pk=AISettings.SINGLETON_PK)
    ai.api_key_sealed = kept_api_key(ai, base_url, new_key=new_api_key, clear=clear_api_key)
    ai.provider = provider
    ai.base_url = base_url.strip()
    ai.model = model.strip()
    ai.timeout_seconds = timeout_seconds
    ai.max_tokens = max_tokens
    ai.price_per_1k_tokens = price_per_1k_tokens
    ai.local_endpoints_only = local_endpoints_only
    ai.updated_by = user if getattr(user, "pk", None) else None
    ai.save()
    return ai


LOCAL_ONLY_REFUSED = (
    "Policy: only local endpoints (loopback or private network) are allowed, and this base URL "
    "is not one."
)


def local_only_problem(base_url: str) -> str:
    """Under "only local endpoints", a base URL whose host is a public address literal is
    refused at once; a name is checked where it counts, at connect time (apps/core/analysis/egress)."""
    ip = literal_address(base_url)
    return LOCAL_ONLY_REFUSED if ip is not None and is_public(ip) else ""


def check_policy(ai: AISettings) -> None:
    """Raise `ProviderPolicyError` when ``ai`` may not be used as configured."""
    if ai.provider == AISettings.Provider.LOCAL:
        return
    if not ai.base_url or not ai.model:
        raise ProviderPolicyError("The OpenAI-compatible provider needs a base URL and a model.")
    if ai.local_endpoints_only and (problem := local_only_problem(ai.base_url)):
        raise ProviderPolicyError(problem)


def provider_for(ai: AISettings) -> AnalysisProvider:
    """The provider ``ai`` configures, after the policy check."""
    check_policy(ai)
    if ai.provider == AISettings.Provider.LOCAL:
        return LocalProvider()
    return OpenAICompatibleProvider(
        base_url=ai.base_url,
        api_key=api_key(ai),
        model=ai.model,
        timeout=float(ai.timeout_seconds),
        max_tokens=ai.max_tokens,
        egress_allow=settings.LLM_EGRESS_ALLOW,  # the operator's allow-list (env LLM_EGRESS_ALLOW)
        internal_only=ai.local_endpoints_only,
    )


def check_connection(ai: AISettings) -> ConnectionCheck:
    """The *Test connection* button: one short call, no retries; the message never has the key."""
    try:
        provider = provider_for(ai)
    except ProviderPolicyError as exc:
        return ConnectionCheck(False, str(exc))
    return provider.test_connection()


# --- evidence and preview ---------------------------------------------------------------------


def build_pack(incident: Incident) -> EvidencePack:
    """The redacted, numbered evidence pack for ``incident`` (this tenant, this incident only)."""
    return build_evidence_pack(
        redactor=Redactor(), token_budget=TOKEN_BUDGET, **selectors.evidence_inputs(incident)
    )


@dataclass(frozen=True, slots=True)
class Preview:
    provider: str
    model: str
    base_url: str
    sends_data: bool  # False for the local provider: nothing leaves the server
    body_json: str  # the request body exactly as the provider builds it (pretty-printed)
    messages: list[dict[str, str]]  # the same messages, for reading (role, content)
    token_estimate: int  # of the prompt
    max_completion_tokens: int | None
    cost_estimate: Decimal | None  # prompt + max completion tokens at the configured price
    evidence_count: int
    omitted: int
    redactions: dict[str, int]
    policy_error: str = ""


def preview(incident: Incident) -> Preview:
    """What *Analyze* would send now: the exact redacted payload, its size and cost."""
    ai = selectors.ai_settings()
    pack = build_pack(incident)
    policy_error = ""
    try:
        provider = provider_for(ai)
    except ProviderPolicyError as exc:
        policy_error = str(exc)
        provider = None
    if isinstance(provider, OpenAICompatibleProvider):
        body: dict[str, Any] = provider.request_body(pack)
        sends = True
        max_completion: int | None = ai.max_tokens
    else:
        body = {"messages": render_prompt(pack)}
        sends = False
        max_completion = None
    cost = None
    if ai.price_per_1k_tokens is not None and sends:
        tokens = pack.token_estimate + (max_completion or 0)
        cost = (Decimal(tokens) / 1000 * ai.price_per_1k_tokens).quantize(Decimal("0.0001"))
    return Preview(
        provider=ai.provider,
        model=ai.model if sends else LocalProvider.model,
        base_url=ai.base_url if sends else "",
        sends_data=sends,
        body_json=json.dumps(body, ensure_ascii=False, indent=2),
        messages=list(body["messages"]),
        token_estimate=pack.token_estimate,
        max_completion_tokens=max_completion,
        cost_estimate=cost,
        evidence_count=len(pack.items),
        omitted=pack.omitted,
        redactions=dict(pack.redactions),
        policy_error=policy_error,
    )


# --- analyze ----------------------------------------------------------------------------------


@transaction.atomic
def request_analysis(*, incident: Incident, user: Any = None) -> AnalysisRun:
    """One new run per request, queued for the worker once the row is committed."""
    run = AnalysisRun.objects.create(
        incident=incident, requested_by=user if getattr(user, "pk", None) else None
    )
    enqueue_tenant_task(
        TASK, run.pk, schema_name=connection.schema_name, task_name=f"analysis-{run.pk}"
    )
    return run


def execute_run(run_id: int) -> str:
    """The analysis job (inside the tenant's schema): the final status, or "skipped".

    Claim, heartbeat, attempts and failure are apps.jobs.lifecycle's. Database steps ride out
    a PostgreSQL restart (`retry_transient`); the provider is called once per delivery.
    """
    return lifecycle.run(AnalysisRun, run_id, _analyze)


def _analyze(claim: lifecycle.Claim) -> lifecycle.Finished:
    what = f"analysis {claim.pk}"
    run = retry_transient(
        lambda: AnalysisRun.objects.select_related("incident").get(pk=claim.pk), what=what
    )
    ai = retry_transient(selectors.ai_settings, what=what)
    try:
        provider = provider_for(ai)
        pack = retry_transient(lambda: build_pack(run.incident), what=f"{what}: evidence")
    except ProviderPolicyError as exc:
        raise lifecycle.JobFailed(str(exc), provider=ai.provider) from exc
    except Exception as exc:  # poison input must end failed, not loop
        if is_outage(exc):
            raise  # the database stayed away: not the input's fault
        log.exception("analysis %s: building the evidence pack failed", claim.pk)
        raise lifecycle.JobFailed(
            f"building the evidence pack failed ({type(exc).__name__})"
        ) from exc
    retry_transient(lambda: claim.beat(provider=provider.name, model=provider.model), what=what)
    try:
        analysis = run_analysis(pack, provider)
    except Exception as exc:  # run_analysis turns provider errors into results; this is a bug
        log.exception("analysis %s: the provider call failed unexpectedly", claim.pk)
        raise lifecycle.JobFailed(f"the analysis failed ({type(exc).__name__})") from exc
    return outcome(analysis, pack)


def outcome(analysis: ValidatedAnalysis, pack: EvidencePack) -> lifecycle.Finished:
    """A finished analysis as its run's final status and fields (stored by the lifecycle, only
    while this delivery holds the claim)."""
    prompt = [c.prompt_tokens for c in analysis.calls if c.prompt_tokens is not None]
    completion = [c.completion_tokens for c in analysis.calls if c.completion_tokens is not None]
    status = AnalysisRun.Status.FAILED if analysis.status == "failed" else AnalysisRun.Status.DONE
    error = ""
    if analysis.error is not None:
        error = f"{analysis.error.kind}: {analysis.error.message}"
    fields = {
        "provider": analysis.provider,
        "model": analysis.model,
        "result": AnalysisResult.build(analysis, pack).to_json(),
        "prompt_tokens": sum(prompt) if prompt else None,
        "completion_tokens": sum(completion) if completion else None,
        "token_estimate": pack.token_estimate,
        "latency_ms": sum(c.latency_ms for c in analysis.calls),
        "payload_sha256": analysis.payload_sha256,
        "evidence_count": len(pack.items),
        "redactions": dict(pack.redactions),
        "calls": [
            {
                "provider": c.provider,
                "model": c.model,
                "attempt": c.attempt,
                "prompt_tokens": c.prompt_tokens,
                "completion_tokens": c.completion_tokens,
                "latency_ms": c.latency_ms,
                "payload_sha256": c.payload_sha256,
                "error": c.error,
            }
            for c in analysis.calls
        ],
    }
    return lifecycle.Finished(status=status, error=error, fields=fields)
