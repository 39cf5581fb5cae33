"""Read side of alerts in, for the incident page (apps.workspace sits above alerts)."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.alerts.models import InboundAlert
from apps.incidents.models import Incident

SHOWN = 10


def incident_alerts(incident: Incident) -> QuerySet[InboundAlert]:
    """The alerts that opened or joined the incident, newest first (lazy: one query, run
    only where a page shows them). Their labels are the incident's tags."""
    return InboundAlert.objects.filter(incident=incident).order_by("-starts_at", "-pk")[:SHOWN]
