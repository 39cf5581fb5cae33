"""Read side of the analysis app: runs, history and the tenant's AI settings."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from apps.analysis.models import AISettings, AnalysisRun
from apps.incidents.models import Incident

HISTORY_LIMIT = 20

# Everything a history row shows; the big JSON columns are loaded only for the run displayed.
_HISTORY_FIELDS = (
    "id",
    "incident_id",
    "status",
    "provider",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "token_estimate",
    "latency_ms",
    "payload_sha256",
    "evidence_count",
    "error",
    "created_at",
    "finished_at",
)


def latest_analysis(incident: Incident) -> AnalysisRun | None:
    """The newest finished (``done``) analysis of ``incident``, or None.

    Its ``result`` follows the shape documented in `apps.analysis.models`. Runs that failed or
    are still queued/running are skipped, so a postmortem always gets a usable result.
    """
    return (
        AnalysisRun.objects.filter(incident=incident, status=AnalysisRun.Status.DONE)
        .order_by("-created_at", "-id")
        .first()
    )


def run_history(incident: Incident, limit: int = HISTORY_LIMIT) -> list[AnalysisRun]:
    """Earlier runs for the history table, newest first, without their result JSON."""
    return list(
        AnalysisRun.objects.filter(incident=incident)
        .only(*_HISTORY_FIELDS)
        .order_by("-created_at", "-id")[:limit]
    )


def run_for_display(incident: Incident, run_id: str | None) -> AnalysisRun | None:
    """The run asked for with ``?run=<id>`` (404 when it is not this incident's), else the newest."""
    runs: QuerySet[AnalysisRun] = AnalysisRun.objects.filter(incident=incident)
    if run_id:
        try:
            pk = int(run_id)
        except ValueError:
            raise Http404("No such analysis") from None
        run = runs.filter(pk=pk).first()
        if run is None:
            raise Http404("No such analysis")
        return run
    return runs.order_by("-created_at", "-id").first()


def ai_settings() -> AISettings:
    """The tenant's settings row (defaults when never saved; not written by reading)."""
    return AISettings.objects.filter(pk=AISettings.SINGLETON_PK).first() or AISettings(
        pk=AISettings.SINGLETON_PK
    )
