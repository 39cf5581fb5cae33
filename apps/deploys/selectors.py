"""Read deploys: those around an incident's time range (timeline markers, "what changed"), and
an incident's stored correlation."""

from __future__ import annotations

from datetime import datetime, timedelta

from apps.deploys.models import Deploy, IncidentCorrelation

LEAD = timedelta(hours=2)  # deploys this long before an incident's first event still matter


def deploys_between(project_id: int, start: datetime, end: datetime, *, lead=LEAD) -> list[Deploy]:
    """A project's deploys that started from `lead` before `start` up to `end`, oldest first."""
    return list(
        Deploy.objects.filter(
            project_id=project_id, started_at__gte=start - lead, started_at__lte=end
        ).order_by("started_at", "pk")[:200]
    )


def correlation_of(incident_id: int) -> IncidentCorrelation | None:
    """The incident's stored correlation (None before its first ingest job ends)."""
    return IncidentCorrelation.objects.filter(incident_id=incident_id).first()


def markers(project_id: int, start: datetime, end: datetime, *, width: float = 1000.0) -> list:
    """The project's deploys in [start, end] with their x on a chart `width` wide (the stream
    page's histogram): one query."""
    span = max((end - start).total_seconds(), 1.0)
    return [
        {"deploy": d, "x": round((d.started_at - start).total_seconds() / span * width, 1)}
        for d in deploys_between(project_id, start, end, lead=timedelta(0))
    ]
