"""Read side of the analysis app: runs, history and the tenant's AI settings."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Count, F, Q, QuerySet
from django.http import Http404

from apps.analysis.models import AISettings, AnalysisRun
from apps.core.evidence.types import GroupInput
from apps.core.rules.finding import EvidenceRef
from apps.core.rules.finding import Finding as EngineFinding
from apps.core.rules.incidents import root_cause
from apps.incidents.models import Incident
from apps.ingestion.models import LEVEL_NUMBER, LEVELS, Event, GroupOccurrence, Source
from apps.rules.diagnosis import SourceNames, engine_findings
from apps.rules.models import Diagnosis

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


# --- evidence pack inputs: one tenant (the schema selected), one incident -----------------------

MAX_GROUPS = 10
SAMPLES_PER_GROUP = 2
CONTEXT_LINES = 2
ROOT_EVIDENCE = 5  # lines of the root-cause candidate worth sending (they repeat one message)


def _refs(incident: Incident, pairs: Any) -> list[EvidenceRef]:
    """``[source_id, line]`` pairs as stored by the rules app → `EvidenceRef`s."""

    names = SourceNames(incident)
    return [r for r in (names.ref(p) for p in pairs or ()) if r is not None]


def incident_findings(incident: Incident) -> list[EngineFinding]:
    """The incident's stored rule findings as the engine's value objects."""

    return engine_findings(incident, SourceNames(incident))


def incident_root_cause(incident: Incident, findings: list[EngineFinding]) -> dict | None:
    """The stored diagnosis' root cause; computed from the findings when none is stored yet."""

    diagnosis = Diagnosis.objects.filter(incident=incident).first()
    if diagnosis is not None:
        if not diagnosis.root_category:
            return None  # the rules engine says: insufficient evidence
        return {
            "category": diagnosis.root_category,
            "summary": diagnosis.root_summary or diagnosis.root_title,
            "evidence": list(dict.fromkeys(_refs(incident, diagnosis.root_evidence)))[
                :ROOT_EVIDENCE
            ],
            "confidence": diagnosis.root_confidence,
        }
    top = root_cause(findings) if findings else None
    if top is None:
        return None
    evidence = ([top.trigger] if top.trigger else []) + [
        e for e in top.evidence if e != top.trigger
    ]
    return {
        "category": top.category,
        "summary": top.summary,
        "evidence": evidence,
        "confidence": top.confidence,
    }


def incident_groups(incident: Incident) -> list[GroupInput]:
    """The top error groups of the incident with their first line and a few samples (3 queries)."""

    occurrences = list(
        GroupOccurrence.objects.filter(incident=incident)
        .select_related("group")
        .annotate(seen_in=Count("group__occurrences"))
        .order_by(F("group__level").desc(nulls_last=True), "-count", "group__group_id")[:MAX_GROUPS]
    )
    if not occurrences:
        return []
    names = SourceNames(incident)
    first_ids = [o.first_event_id for o in occurrences if o.first_event_id]
    firsts = {
        pk: names.at(source_id, line)
        for pk, source_id, line in Event.objects.filter(
            incident=incident, pk__in=first_ids
        ).values_list("id", "source_id", "line")
    }
    group_ids = [o.group.group_id for o in occurrences]
    samples: dict[str, list[EvidenceRef]] = {}
    with connection.cursor() as cursor:
        # A few rows per group without sorting a group's (possibly huge) set of events.
        cursor.execute(
            f"""
            SELECT g.gid, e.source_id, e.line
            FROM unnest(%s::text[]) AS g(gid)
            CROSS JOIN LATERAL (
                SELECT source_id, line FROM {Event._meta.db_table}
                WHERE incident_id = %s AND group_id = g.gid
                LIMIT %s
            ) AS e
            """,  # noqa: S608 - the table name is ours; values are parameters
            [group_ids, incident.pk, SAMPLES_PER_GROUP + 1],
        )
        for gid, source_id, line in cursor.fetchall():
            samples.setdefault(gid, []).append(names.at(source_id, line))
    out = []
    for o in occurrences:
        g = o.group
        first = firsts.get(o.first_event_id) if o.first_event_id else None
        extra = sorted(r for r in samples.get(g.group_id, []) if r != first)
        out.append(
            GroupInput(
                group_id=g.group_id,
                template=g.template,
                count=o.count,
                level=LEVELS[g.level] if g.level is not None else None,
                first=first or (extra[0] if extra else None),
                samples=tuple(extra[:SAMPLES_PER_GROUP]),
                is_new=o.seen_in <= 1,
                first_ts=o.first_ts,
            )
        )
    return out


def incident_first_error(incident: Incident) -> EvidenceRef | None:
    """The earliest ERROR/FATAL event by timestamp (one indexed LIMIT 1 query per level)."""

    found = []
    for level in (LEVEL_NUMBER["ERROR"], LEVEL_NUMBER["FATAL"]):
        row = (
            Event.objects.filter(incident=incident, level=level, ts__isnull=False)
            .order_by("ts", "id")
            .values_list("ts", "source_id", "line")
            .first()
        )
        if row:
            found.append(row)
    if not found:
        return None
    _, source_id, line = min(found)
    return SourceNames(incident).at(source_id, line)


def incident_timeline(incident: Incident) -> dict[str, Any]:
    """A small, factual outline: the sources, their spans, the rules engine's windows."""

    sources = list(
        Source.objects.filter(incident=incident)
        .order_by("id")
        .values("member", "line_count", "event_count", "first_ts", "last_ts")[:50]
    )
    windows = (
        Diagnosis.objects.filter(incident=incident).values_list("windows", flat=True).first() or []
    )
    return {
        "sources": [
            {
                "name": s["member"],
                "lines": s["line_count"],
                "events": s["event_count"],
                "first_ts": s["first_ts"].isoformat() if s["first_ts"] else None,
                "last_ts": s["last_ts"].isoformat() if s["last_ts"] else None,
            }
            for s in sources
        ],
        "windows": [
            {k: w.get(k) for k in ("start", "end", "services", "severity")} for w in windows[:5]
        ],
    }


def incident_lines(
    incident: Incident, refs: list[EvidenceRef], context: int = CONTEXT_LINES
) -> dict[EvidenceRef, str]:
    """Raw text of ``refs`` and their ±``context`` neighbours, in one query, this incident only.

    A ref is the natural key of an event: (source id, first physical line). Lines inside a
    multi-line event are not refs of their own and are simply absent.
    """

    names = SourceNames(incident)
    wanted: dict[int, set[int]] = {}
    for ref in refs:
        source_id = ref.source_id if ref.source_id is not None else names.pk.get(ref.source)
        if source_id is None:
            continue
        lines = wanted.setdefault(source_id, set())
        lines.update(n for n in range(ref.line - context, ref.line + context + 1) if n >= 1)
    if not wanted:
        return {}
    query = Q()
    for source_id, lines in wanted.items():
        query |= Q(source_id=source_id, line__in=sorted(lines))
    rows = Event.objects.filter(query, incident=incident).values_list("source_id", "line", "raw")
    return {names.at(source_id, line): raw for source_id, line, raw in rows}


def evidence_inputs(incident: Incident) -> dict[str, Any]:
    """Keyword arguments for `build_evidence_pack` (minus redactor and budget) for ``incident``."""
    findings = incident_findings(incident)
    groups = incident_groups(incident)
    root = incident_root_cause(incident, findings)
    refs: list[EvidenceRef] = []
    for f in findings:
        refs += [r for r in (f.trigger, f.flashpoint) if r] + f.evidence[:10]
    for g in groups:
        refs += ([g.first] if g.first else []) + list(g.samples)
    if root:
        refs += root["evidence"]
    first_error = incident_first_error(incident)
    if first_error:
        refs.append(first_error)
    return {
        "lines": incident_lines(incident, refs),
        "first_error": first_error,
        "findings": findings,
        "groups": groups,
        "root_cause": root,
        "timeline": incident_timeline(incident),
        "context_lines": CONTEXT_LINES,
    }
