"""Extension points of an incident's life: opened, escalated, resolved.

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
    RESOLVED = "resolved"


Listener = Callable[["Incident", IncidentEvent], None]

_listeners: dict[str, Listener] = {}


def register(name: str, listener: Listener) -> None:
    """Add a listener under `name` (registering a name again replaces it)."""
    _listeners[name] = listener


def emit(incident: Incident, event: IncidentEvent) -> None:
    """Tell every listener, in registration order; one failing does not stop the others."""
    for name, listener in _listeners.items():
        try:
            with transaction.atomic():
                listener(incident, event)
        except Exception:
            log.exception(
                "incident listener %s failed on %s of incident %s", name, event, incident.pk
            )
