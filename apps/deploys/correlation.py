"""Correlation on stored incidents: after each ingest job (an ingestion findings sink, registered
in `DeploysConfig.ready`), read deploys from the incident's logs, then order its services by
when they began failing and judge the deploys near it. The result is one row per incident
(`IncidentCorrelation`), which the incident page reads.

It reads the stored events, not the ingest stream, so it sees every upload of the incident
and the streams' incidents alike, and costs the ingest path nothing per line:

- the services and when their logs begin: the event rollup (one aggregate);
- the errors: events at ERROR and above (the partial level index), and the level-less lines
  of groups whose template says it failed (Go's `log` prints no level), by the group index;
- deploys in the logs: the events of the few groups whose template has the shape of a rollout,
  an image or a start line (`apps.core.correlate.logdeploys.hint`).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Min, Q, Sum
from django.db.models.functions import Left

from aiops.outage import is_outage
from apps.core.correlate.deploys import (
    WINDOW,
    DeployEvent,
    changed_services,
    rise_llr,
    suspects,
)
from apps.core.correlate.logdeploys import SAME_CHANGE, LogDeploy, LogDeploys, hint
from apps.core.correlate.markers import Marker
from apps.core.correlate.services import (
    MAX_BLAME_GROUPS,
    UNLEVELLED_ERROR,
    Correlation,
    Correlator,
    ErrorLine,
    ServiceErrors,
)
from apps.core.correlate.traceids import trace_id_of
from apps.core.vocabulary import EvidenceRef, Level
from apps.deploys.models import Deploy, IncidentCorrelation
from apps.deploys.selectors import deploys_between
from apps.deploys.services import record_deploy
from apps.incidents.models import Incident
from apps.ingestion.models import Event, EventRollup, GroupOccurrence

log = logging.getLogger(__name__)

MAX_ERRORS = 200_000  # error events read per incident (the earliest)
MAX_DEPLOY_LINES = 20_000  # candidate deploy lines read per incident
BUSY_GROUP = 2_000  # a group this common is traffic ("Started GET …"), not deploys
RISE = 3.0  # a service's errors "rose" after a deploy at this log-likelihood ratio (p ≈ 0.01)
NO_SERVICE = "(no service)"


def on_ingest_done(job, findings, source_ids) -> None:
    """The ingestion findings sink: refresh the job's incident. A bug here is logged, never the
    ingest job's failure."""
    try:
        refresh(job.incident)
    except Exception as exc:
        if is_outage(exc):
            raise  # the job's lifecycle resumes it
        log.exception("deploys: correlation of incident %s failed", job.incident_id)


def on_events_removed(incident: Incident) -> None:
    """The ingestion removal listener: a source deleted, read again or undone leaves the stored
    path naming lines that are gone, so compute it again from what remains. In a savepoint:
    a bug here is logged and rolled back alone, never the deletion's failure."""
    try:
        with transaction.atomic():
            refresh(incident)
    except Exception as exc:
        if is_outage(exc):
            raise
        log.exception("deploys: correlation of incident %s after a removal failed", incident.pk)


MAX_JUDGED = 20  # the latest deploys near an incident that are judged (the timeline lists 20)


def refresh(incident: Incident) -> IncidentCorrelation:
    """Deploys from the incident's logs, then its services' order and the verdicts on the
    deploys near it, stored in its one `IncidentCorrelation` row."""
    record_log_deploys(incident)
    firsts = _service_starts(incident)
    correlator = _correlator(incident, firsts)
    correlation = correlator.result()
    near = _deploys_near(incident, firsts)[-MAX_JUDGED:]
    events = [DeployEvent(d.service, d.version, d.started_at) for d in near]
    changed = changed_services(events, correlator, correlation)
    if changed:  # a failing service deployed just before: a cue for where it began
        correlation = correlator.result(changed=changed)
    verdicts = suspects(events, correlator, correlation) if events else []
    texts = _texts([s.first_error for s in correlation.services])
    row, _ = IncidentCorrelation.objects.update_or_create(
        incident=incident,
        defaults={
            "origin": correlation.origin or "",
            "confidence": correlation.confidence if correlation.services else "",
            "basis": correlation.basis,
            "services": [
                {
                    "name": s.name,
                    "role": s.role,
                    "onset": _iso(s.onset),
                    "aligned_onset": _iso(s.aligned_onset),
                    "errors": s.errors,
                    "source_id": s.first_error.source_id,
                    "line": s.first_error.line,
                    "ref": [s.first_error.source_id, s.first_error.line],
                    "text": texts.get((s.first_error.source_id, s.first_error.line), "")[:300],
                }
                for s in correlation.services
            ],
            "traces": correlation.traces,
            "deploys": [
                {
                    "deploy_id": deploy.pk,
                    "service": deploy.service,
                    "version": deploy.version,
                    "ts": _iso(deploy.started_at),
                    "source": deploy.source,
                    "suspect": v.suspect,
                    "score": v.score,
                    "errors_before": v.errors_before,
                    "errors_after": v.errors_after,
                    "new_groups": v.new_groups,
                    "reason": v.reason,
                    # the table under "errors began after deploy X": for the suspect
                    "services": per_service(deploy.started_at, correlator, correlation)
                    if v.suspect
                    else [],
                }
                for deploy, v in zip(near, verdicts, strict=True)
            ],
            "first_versions": first_versions(incident, correlator),
        },
    )
    return row


def per_service(t: datetime, correlator: Correlator, correlation: Correlation) -> list[dict]:
    """Each service's errors in the WINDOW before and after `t` (on the aligned clock), its
    error groups new after it, and whether its error rate rose (a Poisson likelihood ratio,
    so two errors then none, or none then four, are weighed as the small counts they are)."""
    out = []
    for s in correlator.services.values():
        off = correlation.offsets.get(s.name, timedelta(0))
        stamped = [(e.ts - off, e.group) for e in s.errors if e.ts is not None]
        before = sum(1 for ts, _ in stamped if t - WINDOW <= ts < t)
        after = sum(1 for ts, _ in stamped if t <= ts < t + WINDOW)
        if not before and not after:
            continue
        earlier = {g for ts, g in stamped if ts < t}
        new = {g for ts, g in stamped if t <= ts < t + WINDOW} - earlier
        watched = (t - (s.first_ts - off)).total_seconds() if s.first_ts else 0.0
        llr = rise_llr(before, after, max(min(watched, WINDOW.total_seconds()), 60.0), 1800.0)
        out.append(
            {
                "name": s.name,
                "before": before,
                "after": after,
                "new_groups": len(new),
                "rose": llr >= RISE,
            }
        )
    out.sort(key=lambda r: (not r["rose"], -r["after"], r["name"]))
    return out


def first_versions(incident: Incident, correlator: Correlator) -> dict[str, dict]:
    """Per error group of the incident: its service's version when the group was first seen in
    the project (the latest deploy of that service at or before), where a deploy is known."""
    first: dict[str, tuple[datetime, str]] = {}  # group -> (its first error here, service)
    for s in correlator.services.values():
        for e in s.errors:
            if e.ts is not None and (e.group not in first or e.ts < first[e.group][0]):
                first[e.group] = (e.ts, s.name)
    if not first:
        return {}
    seen = dict(
        GroupOccurrence.objects.filter(
            incident=incident, group__group_id__in=list(first)
        ).values_list("group__group_id", "group__first_seen")
    )
    deploys: dict[str, list[tuple[datetime, str]]] = {}
    rows = Deploy.objects.filter(project_id=incident.project_id).exclude(version="")
    for service, started, version in rows.order_by("started_at").values_list(
        "service", "started_at", "version"
    )[:10_000]:
        deploys.setdefault(service.lower(), []).append((started, version))
    out = {}
    for group, (ts, service) in first.items():
        since = min(ts, seen.get(group) or ts)
        known = [v for started, v in deploys.get(service.lower(), []) if started <= since]
        if known:
            out[group] = {"service": service, "version": known[-1]}
    return out


def _service_starts(incident: Incident) -> dict[str, tuple[int, datetime | None]]:
    """Per service: its events and when its log begins (the rollup's first 10-s bucket)."""
    rows = (
        EventRollup.objects.filter(incident=incident)
        .values("service")
        .annotate(n=Sum("count"), first=Min("bucket"))
        .order_by()
    )
    return {r["service"] or NO_SERVICE: (r["n"], r["first"]) for r in rows}


# The incident's errors: at ERROR and above (the partial level index), and level-less lines of
# groups that say they failed (the group index); two index scans, not one scan for an OR.
# Narrow rows: sorting the messages along would spill to disk.
ERRORS_SQL = """
SELECT service, ts, source_id, line, group_id FROM (
    SELECT id, service, ts, source_id, line, group_id
    FROM ingestion_event WHERE incident_id = %(incident)s AND level >= %(error)s
    UNION ALL
    SELECT id, service, ts, source_id, line, group_id
    FROM ingestion_event
    WHERE incident_id = %(incident)s AND group_id = ANY(%(quiet)s) AND level IS NULL
) AS errors
ORDER BY ts NULLS LAST, id LIMIT %(limit)s
"""
SORT_MEMORY = "SET LOCAL work_mem = '64MB'"  # the sort of a few 100,000 narrow rows, in memory
# Lines by their natural key (the unique index on source and line).
LINES_SQL = """
SELECT e.source_id, e.line, e.trace_id, left(e.message, 1000), e.attrs
FROM ingestion_event AS e
JOIN unnest(%(sources)s::bigint[], %(lines)s::bigint[]) AS k(source_id, line)
  ON e.source_id = k.source_id AND e.line = k.line
"""
TRACE_SAMPLE = 1_000  # a failing request shared by services is seen at the onset, early


def _correlator(incident: Incident, firsts: dict[str, tuple[int, datetime | None]]) -> Correlator:
    """The correlator's state, read in two queries instead of fed line by line: every error's
    time, line and group; each error group's first line (blame); and request ids from the
    first TRACE_SAMPLE errors of each service (enough to vote and to measure clock offsets)."""
    correlator = Correlator()
    for name, (n, first) in firsts.items():
        correlator.services[name] = ServiceErrors(name, records=n, first_ts=first)
    quiet = [
        gid
        for gid, template, level in GroupOccurrence.objects.filter(incident=incident).values_list(
            "group__group_id", "group__template", "group__level"
        )
        if level is None and UNLEVELLED_ERROR.search(template[:300])
    ]
    params = {
        "incident": incident.pk,
        "error": Level.ERROR.value,
        "quiet": quiet,
        "limit": MAX_ERRORS,
        "sample": TRACE_SAMPLE,
    }
    counts: dict[tuple[str, str], int] = {}
    firsts_of_groups: list[tuple[ServiceErrors, str, EvidenceRef]] = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(SORT_MEMORY)
        cursor.execute(ERRORS_SQL, params)
        for service, ts, source_id, line, group in cursor.fetchall():
            name = service or NO_SERVICE
            entry = correlator.services.get(name)
            if entry is None:
                entry = correlator.services[name] = ServiceErrors(name)
            ref = EvidenceRef(str(source_id), line, source_id)
            entry.errors.append(ErrorLine(ts, ref, group))
            seen = counts.get((name, group), 0)
            counts[name, group] = seen + 1
            if not seen:  # the group's first line in this service
                firsts_of_groups.append((entry, group, ref))
        # blame: each (service, group)'s first line, in order of first appearance (as feed())
        kept = {}
        per_service: dict[str, int] = {}
        for entry, group, ref in firsts_of_groups:
            if per_service.get(entry.name, 0) < MAX_BLAME_GROUPS:
                per_service[entry.name] = per_service.get(entry.name, 0) + 1
                kept[ref.source_id, ref.line] = (entry, group)
        # request ids: the first TRACE_SAMPLE timed errors of each service, when several fail
        sampled = []
        if sum(1 for s in correlator.services.values() if s.errors) > 1:
            for entry in correlator.services.values():
                timed = [e for e in entry.errors if e.ts is not None][:TRACE_SAMPLE]
                sampled += [(entry, e) for e in timed]
        keys = set(kept) | {(e.ref.source_id, e.ref.line) for _, e in sampled}
        lines = _lines(cursor, keys)
    for key, (entry, group) in kept.items():
        trace_id, head, attrs = lines.get(key, ("", "", None))
        entry.blame_text[group] = [head[:500].lower(), counts[entry.name, group]]
    for entry, error in sampled:
        trace_id, head, attrs = lines.get((error.ref.source_id, error.ref.line), ("", "", None))
        tid = trace_id_of(trace_id or None, attrs or {}, head)
        if tid and error.ts is not None:
            seen = correlator.traces.setdefault(tid, {})
            if entry.name not in seen or error.ts < seen[entry.name]:
                seen[entry.name] = error.ts
    return correlator


def _lines(cursor, keys) -> dict[tuple[int, int], tuple[str, str, dict | None]]:
    """(trace_id, the message's first 1,000 characters, attrs) of the events at these
    (source, line)."""
    if not keys:
        return {}
    ordered = sorted(keys)
    cursor.execute(
        LINES_SQL,
        {"sources": [k[0] for k in ordered], "lines": [k[1] for k in ordered]},
    )
    out = {}
    for source_id, line, trace_id, head, attrs in cursor.fetchall():
        attrs = json.loads(attrs) if isinstance(attrs, str) else attrs
        out[source_id, line] = (trace_id, head, attrs if isinstance(attrs, dict) else None)
    return out


def record_log_deploys(incident: Incident) -> int:
    """Store the deploys the incident's logs show (source "logs"), once each: keyed by their
    line, and left out where a sender (CI, a webhook) already recorded that change."""
    candidates = [
        gid
        for gid, template, count in GroupOccurrence.objects.filter(
            incident=incident, count__lte=BUSY_GROUP
        ).values_list("group__group_id", "group__template", "count")
        if hint(template[:400])
    ]
    if not candidates:
        return 0
    seen = LogDeploys()
    for name, (_, first) in _service_starts(incident).items():
        seen.first_seen(name, first)
    rows = (
        Event.objects.filter(incident=incident, group_id__in=candidates)
        .annotate(head=Left("message", 400))
        .order_by("ts", "id")
        .values_list("source_id", "line", "ts", "service", "head", "attrs")[:MAX_DEPLOY_LINES]
    )
    for source_id, line, ts, service, head, attrs in rows:
        seen.feed(
            service=service or NO_SERVICE,
            ts=ts,
            message=head,
            source=str(source_id),
            line=line,
            source_id=source_id,
            attrs=attrs if isinstance(attrs, dict) else None,
        )
    stored = 0
    for found in seen.result():
        if _known_elsewhere(incident.project_id, found):
            continue
        marker = Marker(
            service=found.service[:200],
            version=found.version,
            started_at=found.ts,
            description=f"read from the logs ({found.kind}): {found.text}",
            external_id=f"{found.ref.source_id}:{found.ref.line}",
        )
        stored += record_deploy(
            project=incident.project, marker=marker, source=Deploy.Source.LOGS
        ).created
    return stored


def _known_elsewhere(project_id: int, found: LogDeploy) -> bool:
    """A deploy of that service within SAME_CHANGE from a sender, or the same version read from
    another incident's logs (or another line of these), is the same change."""
    near = Deploy.objects.filter(
        project_id=project_id,
        started_at__gte=found.ts - SAME_CHANGE,
        started_at__lte=found.ts + SAME_CHANGE,
        service__iexact=found.service,
    ).exclude(external_id=f"{found.ref.source_id}:{found.ref.line}")
    return near.filter(~Q(source=Deploy.Source.LOGS) | Q(version=found.version)).exists()


def _deploys_near(incident: Incident, firsts) -> list[Deploy]:
    bounds = [f for _, f in firsts.values() if f is not None]
    last = (
        EventRollup.objects.filter(incident=incident)
        .order_by("-bucket")
        .values_list("bucket", flat=True)[:1]
    )
    if not bounds or not last:
        return []
    return deploys_between(incident.project_id, min(bounds), last[0] + timedelta(seconds=10))


def _texts(refs: list[EvidenceRef]) -> dict[tuple[int | None, int], str]:
    wanted = Q()
    for ref in refs:
        wanted |= Q(source_id=ref.source_id, line=ref.line)
    if not refs:
        return {}
    rows = Event.objects.filter(wanted).annotate(head=Left("message", 300))
    return {(s, line): h for s, line, h in rows.values_list("source_id", "line", "head")}


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts else None
