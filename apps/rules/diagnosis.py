"""Persist the engine's findings for one ingest job and re-read the whole incident.

The engine runs inside the ingest job over that job's records; the incident's diagnosis
(windows, ranked root causes) is recomputed from every job's findings, so adding logs later
or deleting a source changes the answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from django.db import transaction
from django.db.models import Q

from apps.core.rules.catalogue import SEVERITY_RANK
from apps.core.rules.finding import EvidenceRef, Severity
from apps.core.rules.finding import Finding as EngineFinding
from apps.core.rules.impact import Assessment, assess
from apps.core.rules.incidents import Incident as Window
from apps.core.rules.incidents import RootCause, build_incidents, rank_root_causes
from apps.core.rules.story import merge_findings, symptoms_of
from apps.core.triage import find_trigger
from apps.incidents.models import Incident
from apps.ingestion.models import Event, EventRollup, Source
from apps.rules.models import Diagnosis, Finding

MAX_EVIDENCE = 50


def _pair(ref: EvidenceRef | None, source_ids: Mapping[str, int]) -> list[int] | None:
    if ref is None or ref.source not in source_ids:
        return None
    return [source_ids[ref.source], ref.line]


@transaction.atomic
def save_job_findings(job, findings: list[EngineFinding], source_ids: Mapping[str, int]) -> None:
    """Replace this job's findings (idempotent when the job runs again)."""
    Finding.objects.filter(job=job).delete()
    rows = []
    for f in findings:
        evidence = [p for p in (_pair(r, source_ids) for r in f.evidence[:MAX_EVIDENCE]) if p]
        rows.append(
            Finding(
                incident_id=job.incident_id,
                job=job,
                rule_id=f.rule_id[:120],
                category=f.category[:60],
                severity=str(f.severity),
                title=f.title[:300],
                explanation=f.explanation,
                remediation=f.remediation,
                count=f.count,
                first_ts=f.first_ts,
                last_ts=f.last_ts,
                services=list(f.services)[:20],
                groups=list(f.groups)[:20],
                confidence=f.confidence,
                detector=f.detector,
                evidence=evidence,
                trigger=_pair(f.trigger, source_ids),
                flashpoint=_pair(f.flashpoint, source_ids),
            )
        )
    Finding.objects.bulk_create(rows)


class SourceNames:
    """Stored [source_id, line] pairs ↔ engine refs: each ref named as users read the source
    (`postgresql.log`, unique within the incident) and carrying the source's id."""

    def __init__(self, incident: Incident | None) -> None:
        rows = []
        if incident is not None:
            rows = list(Source.objects.filter(incident=incident).values_list("pk", "member"))
        taken = Counter(member for _, member in rows)
        self.name = {pk: member if taken[member] == 1 else f"{member}#{pk}" for pk, member in rows}
        self.pk = {name: pk for pk, name in self.name.items()}

    def at(self, source_id: int, line: int) -> EvidenceRef:
        return EvidenceRef(self.name.get(source_id, str(source_id)), line, source_id)

    def ref(self, pair) -> EvidenceRef | None:
        if not pair or len(pair) != 2:
            return None
        try:
            return self.at(int(pair[0]), int(pair[1]))
        except (TypeError, ValueError):
            return None

    def pairs(self, refs) -> list[list[int]]:
        out = []
        for r in refs:
            source_id = r.source_id if r.source_id is not None else self.pk.get(r.source)
            if source_id is not None:
                out.append([source_id, r.line])
        return out


def engine_findings(incident: Incident, names: SourceNames | None = None) -> list[EngineFinding]:
    """The incident's stored findings as engine objects, one per fact (each upload ran its own
    engine: the same rule firing in two uploads is one finding here); sources named as users
    read them."""
    names = names or SourceNames(incident)
    rows = Finding.objects.filter(incident=incident).order_by("id")
    return merge_findings([_engine_finding(f, names) for f in rows])


@transaction.atomic
def refresh_diagnosis(incident: Incident) -> Diagnosis:
    names = SourceNames(incident)
    findings = engine_findings(incident, names)
    _refs = names.pairs
    ranked = rank_root_causes(findings)
    windows = build_incidents(findings)
    top = ranked[0] if ranked else None
    values = {
        "root_category": top.category if top else "",
        "root_title": (top.title if top else "")[:300],
        "root_summary": top.summary if top else "",
        "root_confidence": top.confidence if top else 0.0,
        "root_evidence": _refs(([top.trigger] if top.trigger else []) + top.evidence)
        if top
        else [],
        "candidates": [
            {
                "category": c.category,
                "title": c.title,
                "summary": c.summary,
                "confidence": c.confidence,
                "services": c.services,
                "first_ts": c.first_ts.isoformat() if c.first_ts else None,
                "evidence": _refs(c.evidence[:5]),
                "explains": c.explains,
            }
            for c in ranked[:5]
        ],
        "windows": [
            {
                "start": w.start.isoformat() if w.start else None,
                "end": w.end.isoformat() if w.end else None,
                "services": w.services,
                "first": (_refs([w.first_event]) or [None])[0] if w.first_event else None,
                "first_category": w.first_category,
                "severity": str(w.max_severity),
            }
            for w in windows
        ],
    }
    window = _window_of(windows, top)
    values["onset"] = (
        min(top.first_ts, window.start)
        if top and top.first_ts and window and window.start
        else (top.first_ts if top else None)
    )
    values["ended"] = window.end if window else None
    values["trigger"] = _trigger(incident, findings, windows, top, names)
    assessment = _impact(incident, findings, windows, top)
    values["severity"] = assessment.level.value
    values["severity_reasons"] = ", ".join(assessment.reasons)[:300]
    previous = Diagnosis.objects.filter(incident=incident).values_list("severity", flat=True)
    suggested_before = next(iter(previous), "") or Incident.Severity.SEV3
    diagnosis, _ = Diagnosis.objects.update_or_create(incident=incident, defaults=values)
    # The incident's severity follows the suggestion until someone sets it by hand.
    Incident.objects.filter(pk=incident.pk, severity=suggested_before).update(
        severity=assessment.level.value
    )
    return diagnosis


def _window_of(windows: list[Window], top: RootCause | None) -> Window | None:
    """The incident window holding the root cause's first line."""
    if top is None or top.first_ts is None:
        return None
    return next(
        (w for w in windows if w.start and w.end and w.start <= top.first_ts <= w.end), None
    )


def _trigger(
    incident: Incident,
    findings: list[EngineFinding],
    windows: list[Window],
    top: RootCause | None,
    names: SourceNames,
) -> dict | None:
    """The likely trigger, as the CLI's triage finds it, with its evidence as stored pairs."""
    if top is None:
        return None
    refs = ([top.trigger] if top.trigger else []) + top.evidence[:3]
    keyed = {ref: tuple(pair[0]) for ref in refs if (pair := names.pairs([ref]))}
    raw: dict[tuple[int, ...], str] = {}
    if keyed:
        rows = Event.objects.filter(incident=incident).filter(_any_of(list(keyed.values())))
        raw = {(r.source_id, r.line): r.raw for r in rows.only("source_id", "line", "raw")}
    lines = {ref: raw[key] for ref, key in keyed.items() if key in raw}
    trigger = find_trigger(findings, windows, top, lines)
    if trigger is None:
        return None
    return {
        "summary": trigger.summary[:300],
        "kind": trigger.kind,
        "at": trigger.at.isoformat() if trigger.at else None,
        "evidence": names.pairs(trigger.evidence[:5]),
    }


def _any_of(pairs: list[tuple[int, ...]]) -> Q:
    query = Q()
    for source_id, line in pairs:
        query |= Q(source_id=source_id, line=line)
    return query


def _impact(incident: Incident, findings, windows, top) -> Assessment:
    """Severity of the window holding the root cause (else the most severe window)."""

    window = _window_of(windows, top)
    if window is None and windows:
        window = max(windows, key=lambda w: SEVERITY_RANK[w.max_severity])
    rows = EventRollup.objects.filter(incident=incident).values_list(
        "bucket", "level", "service", "count"
    )
    if window is None:
        return assess(rows, findings, None, None)
    return assess(rows, window.findings, window.start, window.end)


def story_findings(rows: list[Finding], root_category: str = "") -> list[Finding]:
    """Stored finding rows as the incident page tells them: one row per fact (rows of several
    uploads folded into the primary's row, unsaved), the root cause first with the symptoms it
    explains after it (`role` "cause" / "symptom", `symptom_of` its title), then the rest,
    most severe first. Rows keep their pk: evidence links and zooming work as before."""
    names = SourceNames(None)  # refs by source id: merged here, turned back into pairs
    engine = [_engine_finding(row, names) for row in rows]
    row_of: dict[tuple, Finding] = {}
    for f, row in zip(engine, rows, strict=True):
        row_of.setdefault((f.rule_id, f.trigger), row)
    merged = merge_findings(engine)
    out: list[Finding] = []
    for f in merged:
        row = row_of.get((f.rule_id, f.trigger))
        if row is None:
            continue
        if (f.count, f.first_ts, f.last_ts, len(f.evidence)) != (
            row.count,
            row.first_ts,
            row.last_ts,
            len(row.evidence),
        ):
            row.count, row.first_ts, row.last_ts = f.count, f.first_ts, f.last_ts
            row.services = list(f.services)[:20]
            row.evidence = names.pairs(f.evidence)[:MAX_EVIDENCE]
        row.story_key = f
        row.role, row.symptom_of = "", ""
        out.append(row)
    by_key = {id(row.story_key): row for row in out}
    cause = next((r for r in out if r.category == root_category and not r.detector), None)
    story: list[Finding] = []
    if cause is not None:
        cause.role = "cause"
        story.append(cause)
        for s in symptoms_of(cause.story_key, [r.story_key for r in out]):
            row = by_key[id(s)]
            row.role, row.symptom_of = "symptom", cause.title
            story.append(row)
        cause.symptoms = [r.category for r in story[1:]]
    rest = [r for r in out if not r.role]
    rest.sort(key=lambda r: (-r.severity_rank, r.first_ts is None, r.first_ts or 0, r.pk or 0))
    return story + rest


def _engine_finding(f: Finding, names: SourceNames) -> EngineFinding:
    return EngineFinding(
        rule_id=f.rule_id,
        category=f.category,
        severity=Severity(f.severity),
        title=f.title,
        explanation=f.explanation,
        remediation=f.remediation,
        evidence=[r for r in (names.ref(pair) for pair in f.evidence) if r is not None],
        trigger=names.ref(f.trigger),
        flashpoint=names.ref(f.flashpoint),
        count=f.count,
        first_ts=f.first_ts,
        last_ts=f.last_ts,
        services=list(f.services),
        confidence=f.confidence,
        groups=list(f.groups),
        detector=f.detector,
    )
