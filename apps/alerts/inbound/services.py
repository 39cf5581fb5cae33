"""Alerts in → incidents: open or join one for the alert's service and time, pull in the
project's stream around it, analyse it; resolve it when its alerts resolve.

- **One row per alert occurrence** (`InboundAlert`: sender, fingerprint, start). A resend (
  Alertmanager repeats every group_interval/repeat_interval, retries on errors) finds its row:
  nothing opens twice. Grafana's legacy webhook has no start: a firing row of the same
  fingerprint is the same alert.
- **Open or join**: a new firing alert joins the open incident of the project that covers its
  service around its start (opened by the stream or by another alert: both keep a
  `StreamIncident`, the stream's time range of the incident), within
  STREAM_INCIDENT_DEDUP_MINUTES; otherwise a new incident opens (`open_incident`, so the
  alert rules hear of it). The alert's labels are kept as the incident's tags; its service
  label (payloads.SERVICE_LABELS) names the service. A graver alert escalates the incident.
  The incident's range is service-wide (streams.incidents.SERVICE_WIDE): the stream's own
  alarms of the service join it instead of opening a second incident.
- **Acknowledged**: an alert joining an acknowledged incident joins it quietly: no channel is
  told (apps.alerts.services.record_match), and its row says so on the incident page.
- **Stream around it**: the incident covers the stream from STREAM_INCIDENT_LEAD_MINUTES before
  the start; the range is added at once as a source (apps.streams.incidents.grow, the upload
  path), and grows with each drain while the alert fires (every resend extends it). An alert
  that began before the range of the incident it joins widens it backwards (`widen`).
- **No data** (Grafana legacy `no_data`): recorded as a row of that status, with no incident;
  it does not change a firing row of the same rule, and its `ok` closes it.
- **Analysis**: once the incident's ingest jobs are done (the findings sink calls
  `analyse_if_ready`), or at once when nothing is being ingested, one analysis is requested
  (apps.incidents.hooks.request_analysis) for the alerts that have not had one.
- **Resolved**: the alert's row resolves; when the last firing alert of an incident that an
  alert opened resolves, the incident resolves (`update_triage`: the resolve messages follow).
  An incident the stream opened is left to people. A resolve for an alert never seen is ignored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.alerts.inbound.payloads import AlertStatus, InAlert
from apps.alerts.models import InboundAlert
from apps.incidents import hooks
from apps.incidents import services as incidents
from apps.incidents.models import Incident, Project
from apps.ingestion import services as ingestion
from apps.ingestion.models import IngestJob
from apps.jobs.models import JobStatus
from apps.streams import incidents as stream_incidents
from apps.streams.models import StreamIncident

log = logging.getLogger(__name__)

SEVERITY = {
    "critical": Incident.Severity.SEV2,
    "page": Incident.Severity.SEV2,
    "high": Incident.Severity.SEV2,
    "error": Incident.Severity.SEV2,
    "warning": Incident.Severity.SEV3,
    "warn": Incident.Severity.SEV3,
    "info": Incident.Severity.SEV4,
    "low": Incident.Severity.SEV4,
}


@dataclass(slots=True)
class Received:
    opened: list[int] = field(default_factory=list)  # incident ids
    joined: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)  # incidents resolved now
    repeated: int = 0  # resends of what we had
    ignored: int = 0  # resolves of alerts never seen
    no_data: int = 0  # Grafana legacy no_data: recorded, not firing

    def as_dict(self) -> dict:
        return {
            "opened": self.opened,
            "joined": self.joined,
            "resolved": self.resolved,
            "repeated": self.repeated,
            "ignored": self.ignored,
            "no_data": self.no_data,
        }


def _minutes(name: str, default: int) -> timedelta:
    return timedelta(minutes=getattr(settings, name, default))


def receive(
    *, project: Project, sender: str, alerts: list[InAlert], now: datetime | None = None
) -> Received:
    """Take a webhook's alerts, each in its own transaction (a resend after a failure finds
    the ones already taken)."""
    now = now or timezone.now()
    result = Received()
    to_analyse: set[int] = set()
    for alert in alerts:
        with transaction.atomic():
            lock(project, alert.service)
            if alert.status == AlertStatus.FIRING:
                incident_id = _fire(project, sender, alert, now, result)
                if incident_id is not None:
                    to_analyse.add(incident_id)
            elif alert.status == AlertStatus.NO_DATA:
                _no_data(project, sender, alert, now, result)
            else:
                _resolve(project, sender, alert, now, result)
    for incident in Incident.objects.filter(pk__in=to_analyse):
        analyse_if_ready(incident)
    return result


def lock(project: Project, service: str) -> None:
    """Serialise opening and joining for (project, service) with the stream's own alarms."""
    stream_incidents.lock_service(project.pk, service)


def _existing(project: Project, sender: str, alert: InAlert) -> InboundAlert | None:
    rows = InboundAlert.objects.select_for_update().filter(
        project=project, sender=sender, fingerprint=alert.fingerprint
    )
    if alert.starts_at is not None:
        return rows.filter(starts_at=alert.starts_at).first()
    return rows.filter(status=InboundAlert.Status.FIRING).order_by("-starts_at").first()


def _fire(
    project: Project, sender: str, alert: InAlert, now: datetime, result: Received
) -> int | None:
    """The incident to analyse when this alert is new, else None."""
    row = _existing(project, sender, alert)
    if row is not None:
        result.repeated += 1
        _count(row, now)
        if row.status == InboundAlert.Status.FIRING:
            extend_stream(row.incident_id, now, now)  # still firing: keep pulling the stream in
        return None
    at = alert.starts_at or now
    covering, created = open_or_join(
        project,
        service=alert.service,
        at=at,
        title=title_of(alert),
        severity=SEVERITY.get(alert.severity, Incident.Severity.SEV3),
        category=stream_incidents.SERVICE_WIDE,
    )
    quiet = not created and covering.incident.status == Incident.Status.ACKNOWLEDGED
    if quiet:
        log.info(
            "alert %s joined acknowledged incident %s quietly", alert.name, covering.incident_id
        )
    InboundAlert.objects.create(
        project=project,
        incident_id=covering.incident_id,
        **_as_received(sender, alert),
        starts_at=at,
        opened_incident=created,
        joined_acknowledged=quiet,
        first_received_at=now,
        last_received_at=now,
    )
    (result.opened if created else result.joined).append(covering.incident_id)
    extend_stream(covering.incident_id, now, now)  # firing: the stream up to now belongs to it
    return covering.incident_id


def open_or_join(
    project: Project, *, service: str, at: datetime, title: str, severity: str, category: str
) -> tuple[StreamIncident, bool]:
    """The open incident covering `service` around `at`, or a new one; in the caller's
    transaction, under the caller's lock for (project, service). (its stream range, opened).
    `category`: the new incident's (service-wide: streams.incidents.SERVICE_WIDE[:…]). Joining
    one whose range begins after `at` minus the lead widens the range backwards."""
    window = _minutes("STREAM_INCIDENT_DEDUP_MINUTES", 30)
    current = (
        StreamIncident.objects.select_for_update(of=("self",))
        .select_related("incident")
        .filter(
            project_id=project.pk,
            service=service,
            last_ts__gte=at - window,
            first_ts__lte=at + window,
        )
        .exclude(incident__status=Incident.Status.RESOLVED)
        .order_by("-last_ts")
        .first()
    )
    if current is not None:
        current.first_ts = min(current.first_ts, at)
        current.last_ts = max(current.last_ts, at)
        current.matches += 1
        current.save(update_fields=["first_ts", "last_ts", "matches"])
        stream_incidents.widen(current.pk, at - _minutes("STREAM_INCIDENT_LEAD_MINUTES", 10))
        incident = current.incident
        if severity < incident.severity:  # "sev2" < "sev3": graver
            incidents.update_triage(incident=incident, status=incident.status, severity=severity)
        return current, False
    incident = incidents.open_incident(project=project, title=title, severity=severity)
    start = at - _minutes("STREAM_INCIDENT_LEAD_MINUTES", 10)
    current = StreamIncident.objects.create(
        project_id=project.pk,
        incident=incident,
        category=category[:100],
        service=service[:200],
        first_ts=at,
        last_ts=at,
        matches=1,
        range_start=start,
        covered_until=start,
    )
    return current, True


def extend_stream(incident_id: int, now: datetime, until: datetime) -> None:
    """Let the incident's stream range reach `until`, and add what the stream has so far."""
    covering = StreamIncident.objects.filter(incident_id=incident_id).first()
    if covering is None:
        return
    if until > covering.last_ts:
        StreamIncident.objects.filter(pk=covering.pk).update(last_ts=until)
    try:
        stream_incidents.grow(covering.pk, now)
    except ingestion.UploadRejected as exc:  # a quota: the drain's next turn grows it
        log.warning("incident %s: the stream around the alert not added: %s", incident_id, exc)


def _no_data(project: Project, sender: str, alert: InAlert, now: datetime, result: Received):
    """Record a no_data alert (once while it lasts); no incident opens or changes."""
    result.no_data += 1
    rows = InboundAlert.objects.select_for_update().filter(
        project=project, sender=sender, fingerprint=alert.fingerprint
    )
    if alert.starts_at is not None:  # Grafana unified (DatasourceNoData): one row per start
        rows = rows.filter(starts_at=alert.starts_at)
    row = rows.filter(status=InboundAlert.Status.NO_DATA).first()
    if row is not None:
        _count(row, now)
        return
    InboundAlert.objects.create(
        project=project,
        **_as_received(sender, alert),
        status=InboundAlert.Status.NO_DATA,
        starts_at=alert.starts_at or now,
        first_received_at=now,
        last_received_at=now,
    )


def _resolve(project: Project, sender: str, alert: InAlert, now: datetime, result: Received):
    closed = 0
    if alert.starts_at is None:  # Grafana legacy "ok" also ends the rule's no_data
        closed = InboundAlert.objects.filter(
            project=project,
            sender=sender,
            fingerprint=alert.fingerprint,
            status=InboundAlert.Status.NO_DATA,
        ).update(status=InboundAlert.Status.RESOLVED, ends_at=now, last_received_at=now)
    row = _existing(project, sender, alert)
    if row is None:
        result.ignored += 0 if closed else 1
        return
    if row.status == InboundAlert.Status.RESOLVED:
        result.repeated += 1
        _count(row, now)
        return
    ends = alert.ends_at or now
    row.status, row.ends_at = InboundAlert.Status.RESOLVED, ends
    row.save(update_fields=["status", "ends_at"])
    _count(row, now)
    if row.incident_id is None:  # a no_data alert ended: no incident to touch
        return
    extend_stream(row.incident_id, now, min(ends, now))
    incident = Incident.objects.select_for_update().get(pk=row.incident_id)
    still_firing = InboundAlert.objects.filter(
        incident=incident, status=InboundAlert.Status.FIRING
    ).exists()
    opened_by_alert = InboundAlert.objects.filter(incident=incident, opened_incident=True)
    if still_firing or incident.status == Incident.Status.RESOLVED:
        return
    if opened_by_alert.exists():
        incidents.update_triage(
            incident=incident, status=Incident.Status.RESOLVED, severity=incident.severity
        )
        result.resolved.append(incident.pk)


def _count(row: InboundAlert, now: datetime) -> None:
    InboundAlert.objects.filter(pk=row.pk).update(received=F("received") + 1, last_received_at=now)


def title_of(alert: InAlert) -> str:
    where = f" in {alert.service}" if alert.service else ""
    summary = f": {alert.summary}" if alert.summary else ""
    return f"{alert.name}{where}{summary}"[:200]


def analyse_if_ready(incident: Incident, finished_job: IngestJob | None = None) -> bool:
    """Request one analysis for the incident's alerts that had none, once nothing of the
    incident is being ingested (`finished_job`: the job whose findings sink calls this)."""
    waiting = InboundAlert.objects.filter(incident=incident, analysis_requested_at__isnull=True)
    if not waiting.exists():
        return False
    pending = IngestJob.objects.filter(
        incident=incident, status__in=(JobStatus.QUEUED, JobStatus.RUNNING)
    )
    if finished_job is not None:
        pending = pending.exclude(pk=finished_job.pk)
    if pending.exists():
        return False
    with transaction.atomic():
        if not waiting.update(analysis_requested_at=timezone.now()):
            return False  # a concurrent call took them
        return hooks.request_analysis(incident)


def incident_labels(incident: Incident) -> dict[str, list[str]]:
    """The incident's tags: every label of its inbound alerts, with the values seen."""
    tags: dict[str, set[str]] = {}
    for labels in InboundAlert.objects.filter(incident=incident).values_list("labels", flat=True):
        for name, value in labels.items():
            tags.setdefault(name, set()).add(value)
    return {name: sorted(values) for name, values in sorted(tags.items())}


def _as_received(sender: str, alert) -> dict:
    """The alert's own fields, as an InboundAlert row stores them."""
    return {
        "sender": sender,
        "fingerprint": alert.fingerprint,
        "name": alert.name,
        "service": alert.service,
        "severity": alert.severity,
        "summary": alert.summary[:2000],
        "url": alert.url,
        "labels": alert.labels,
        "annotations": alert.annotations,
    }
