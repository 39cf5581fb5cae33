"""Extension points of an incident's life: opened, escalated, acknowledged, resolved; and the
analyser (`request_analysis`), which apps.analysis fills in.

`apps.incidents` sits low on the ladder; the apps that react to an incident's life (alerts)
sit above it and cannot be imported from here. They register a listener in their
`AppConfig.ready()`; the services that open or change an incident
(`apps.incidents.services.open_incident`, `update_triage`) call `emit`.

A listener runs inside the caller's transaction, under a savepoint of its own: what it writes
commits with the incident, and a listener that fails is logged and rolled back alone, never
taking the upload or the stream drain with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING

from django.db import transaction

if TYPE_CHECKING:
    from apps.incidents.models import Incident

log = logging.getLogger(__name__)


class IncidentEvent(StrEnum):
    OPENED = "opened"
    ESCALATED = "escalated"  # severity raised (sev3 → sev2)
    ACKNOWLEDGED = "acknowledged"  # someone took it (status investigating → acknowledged)
    RESOLVED = "resolved"


# (incident, event, by): `by` names who did it (a person's name for a triage change), or "".
Listener = Callable[["Incident", IncidentEvent, str], None]

_listeners: dict[str, Listener] = {}


def register(name: str, listener: Listener) -> None:
    """Add a listener under `name` (registering a name again replaces it)."""
    _listeners[name] = listener


Analyser = Callable[["Incident"], None]
_analysers: dict[str, Analyser] = {}


def register_analyser(analyser: Analyser) -> None:
    """Set the one analyser (apps.analysis: queue an analysis run for an incident)."""
    _analysers["analysis"] = analyser


def request_analysis(incident: Incident) -> bool:
    """Queue an analysis of `incident` for apps above the analyser's rung or beside it (an
    incident opened by an alert). False when no analyser is registered."""
    analyser = _analysers.get("analysis")
    if analyser is None:
        return False
    analyser(incident)
    return True


def emit(incident: Incident, event: IncidentEvent, *, by: str = "") -> None:
    """Tell every listener, in registration order; one failing does not stop the others.
    `by`: who did it, for the messages ("acknowledged by …"); "" when no person did."""
    for name, listener in _listeners.items():
        try:
            with transaction.atomic():
                listener(incident, event, by)
        except Exception:
            log.exception(
                "incident listener %s failed on %s of incident %s", name, event, incident.pk
            )
