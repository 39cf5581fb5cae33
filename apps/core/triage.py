"""The whole offline analysis of log files, without a database: what `manage.py triage` prints.

decode → parse → group → rules and detectors → incident windows → ranked root cause →
the local analyzer's narrative. The same cores as ingestion: parsing in a forked process
(pipeline.parsed_members), the rest in this one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from apps.core.grouping.miner import Miner
from apps.core.ingest.pipeline import (
    SourceStats,
    date_hints,
    group_records,
    parsed_members,
    source_streams,
)
from apps.core.logparse.archive import ArchiveReport
from apps.core.logparse.decode import iter_lines
from apps.core.rules.catalogue import Catalogue
from apps.core.rules.engine import Engine
from apps.core.rules.finding import EvidenceRef, Finding, Severity
from apps.core.rules.incidents import Incident, RootCause, build_incidents, rank_root_causes
from apps.core.rules.trigger import Trigger, likely_trigger
from apps.core.triage_correlate import CorrelationRun, DeployEvent, add_to_json
from apps.core.vocabulary import LEVEL_NUMBER


@dataclass(slots=True)
class GroupSummary:
    group: str
    template: str
    count: int = 0
    level: str | None = None
    first: EvidenceRef | None = None
    first_ts: datetime | None = None


@dataclass(slots=True)
class TriageReport:
    sources: list[SourceStats] = field(default_factory=list)
    groups: list[GroupSummary] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    incidents: list = field(default_factory=list)
    root_causes: list[RootCause] = field(default_factory=list)
    analysis: dict | None = None
    lines: dict[EvidenceRef, str] = field(default_factory=dict)  # raw text of cited lines
    warnings: list[str] = field(default_factory=list)
    trigger: Trigger | None = None  # what changed just before the first symptom
    correlation: CorrelationRun | None = None  # services' order, origin, deploys

    @property
    def root_cause(self) -> RootCause | None:
        return self.root_causes[0] if self.root_causes else None


def triage(
    paths: list[Path],
    *,
    log_format: str | None = None,
    catalogue: Catalogue | None = None,
    analyze: bool = True,
    deploys: list[DeployEvent] | None = None,
) -> TriageReport:
    report = TriageReport()
    report.correlation = correlation = CorrelationRun(deploys=deploys)
    engine = Engine(catalogue or Catalogue.load())
    miner = Miner()
    groups: dict[str, GroupSummary] = {}
    dates = date_hints(paths)
    archive_report = ArchiveReport()
    for path in paths:
        for member in parsed_members(
            path,
            display_name=path.name,
            log_format=log_format,
            dates=dates,
            report=archive_report,
        ):
            name = member.name
            for grouped in group_records(member.records, miner):
                record = grouped.record
                engine.feed(record, template_id=grouped.match.template_id, group=grouped.group)
                correlation.feed_record(record, source=name, path=path, group=grouped.group)
                summary = groups.get(grouped.group)
                if summary is None:
                    summary = groups[grouped.group] = GroupSummary(
                        group=grouped.group,
                        template=grouped.match.template_id,
                        first=EvidenceRef(name, record.line),
                        first_ts=record.ts,
                    )
                summary.count += 1
                if record.level and (
                    summary.level is None
                    or LEVEL_NUMBER[record.level] > LEVEL_NUMBER[summary.level]
                ):
                    summary.level = record.level
            stats, decode = member.stats, member.decode
            assert stats is not None and decode is not None  # final once records are read
            stats.warnings.extend(decode.warnings)
            report.sources.append(stats)
    report.warnings.extend(archive_report.warnings)
    templates = {t.template_id: t.template for t in miner.templates()}
    for summary in groups.values():
        summary.template = templates.get(miner.resolve(summary.template), summary.template)
    report.groups = sorted(
        groups.values(), key=lambda g: (-LEVEL_NUMBER.get(g.level or "", -1), -g.count)
    )
    report.findings = engine.findings()
    report.incidents = build_incidents(report.findings)
    report.root_causes = rank_root_causes(report.findings)
    correlation.finish(report.root_cause)
    report.lines = _fetch_lines(paths, _cited_refs(report))
    report.trigger = find_trigger(
        report.findings, report.incidents, report.root_cause, report.lines
    )
    if analyze:
        report.analysis = _local_analysis(report)
    return report


def find_trigger(
    findings: list[Finding],
    windows: list[Incident],
    rc: RootCause | None,
    lines: dict[EvidenceRef, str],
) -> Trigger | None:
    """The likely trigger of the root cause's incident; None without a root cause."""
    if rc is None or rc.first_ts is None:
        return None
    window = next(
        (w for w in windows if w.start and w.end and w.start <= rc.first_ts <= w.end), None
    )
    onset = min(rc.first_ts, window.start) if window and window.start else rc.first_ts
    refs = ([rc.trigger] if rc.trigger else []) + rc.evidence[:3]
    return likely_trigger(findings, onset, cause_lines={r: lines[r] for r in refs if r in lines})


def trigger_finding(trigger: Trigger) -> Finding:
    """The trigger as a finding of category "trigger": how the evidence pack carries it."""
    return Finding(
        rule_id=f"trigger.{trigger.kind}",
        category="trigger",
        severity=Severity.INFO,
        title=trigger.summary,
        explanation="",
        remediation="",
        evidence=list(trigger.evidence),
        trigger=trigger.evidence[0] if trigger.evidence else None,
        first_ts=trigger.at,
        confidence=0.9,
        detector=True,
    )


def trigger_json(trigger: Trigger | None, lines: dict[EvidenceRef, str]) -> dict | None:
    if trigger is None:
        return None
    return {
        "summary": trigger.summary,
        "kind": trigger.kind,
        "at": _iso(trigger.at),
        "lines": [_ref(r, lines) for r in trigger.evidence],
        "others": [
            {"summary": t.summary, "lines": [_ref(r, lines) for r in t.evidence]}
            for t in trigger.others
        ],
    }


def _cited_refs(report: TriageReport) -> set[EvidenceRef]:
    refs: set[EvidenceRef] = set()
    for f in report.findings:
        refs.update(f.evidence[:10])
        refs.update(r for r in (f.trigger, f.flashpoint) if r is not None)
    for rc in report.root_causes[:3]:
        refs.update(rc.evidence[:10])
        if rc.trigger:
            refs.add(rc.trigger)
    refs.update(g.first for g in report.groups[:20] if g.first is not None)
    return refs


def _fetch_lines(paths: list[Path], refs: set[EvidenceRef]) -> dict[EvidenceRef, str]:
    """Second, cheap pass: the raw text of the cited lines only."""
    wanted: dict[str, set[int]] = {}
    for ref in refs:
        wanted.setdefault(ref.source, set()).add(ref.line)
    out: dict[EvidenceRef, str] = {}
    for name, stream in source_streams(paths, ArchiveReport()):
        numbers = wanted.get(name)
        if not numbers:
            continue
        last = max(numbers)
        for line in iter_lines(stream):
            if line.number in numbers:
                out[EvidenceRef(name, line.number)] = line.text
            if line.number >= last:
                break
    return out


def _local_analysis(report: TriageReport) -> dict | None:
    from apps.core.analysis.providers.local import LocalProvider
    from apps.core.analysis.providers.run import run_analysis
    from apps.core.evidence.builder import build_evidence_pack

    groups: list[dict[str, object]] = [
        {
            "group_id": g.group,
            "template": g.template,
            "count": g.count,
            "level": g.level,
            "first": g.first,
            "samples": [],
            "is_new": False,
        }
        for g in report.groups[:10]
    ]
    findings = [f for f in report.findings if f.category != "change"]
    if report.trigger is not None:
        findings.append(trigger_finding(report.trigger))
    pack = build_evidence_pack(
        lines=report.lines,
        findings=findings,
        groups=groups,
        root_cause=report.root_cause,
    )
    validated = run_analysis(pack, LocalProvider())
    summary = [c for c in validated.claims() if c.section == "summary"]
    return {
        "status": validated.status,
        "summary": " ".join(c.text for c in summary),
        "claims": [
            {
                "section": c.section,
                "kind": c.kind,
                "text": c.text,
                "status": c.status,
                "evidence": [
                    {"file": pack.by_id[i].ref.source, "line": pack.by_id[i].ref.line}
                    for i in c.cited_ids
                    if i in pack.by_id
                ],
            }
            for c in validated.claims()
        ],
    }


def _ref(ref: EvidenceRef | None, lines: dict[EvidenceRef, str] | None = None) -> dict | None:
    if ref is None:
        return None
    out: dict = {"file": ref.source, "line": ref.line}
    if lines is not None and ref in lines:
        out["text"] = lines[ref][:500]
    return out


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts else None


def _ordered_refs(trigger: EvidenceRef | None, evidence: list[EvidenceRef]) -> list[EvidenceRef]:
    refs = [trigger] if trigger else []
    refs += [r for r in evidence if r != trigger]
    return refs


def to_json(report: TriageReport) -> dict:
    """The `triage --json` document (keys of the DESIGN.md contract, and more)."""
    return add_to_json(_base_json(report), report.correlation)


def _base_json(report: TriageReport) -> dict:
    return {
        "files": [
            {
                "name": s.name,
                "format": s.fmt,
                "confidence": round(s.confidence, 3),
                "lines": s.lines,
                "events": s.records,
                "coverage": s.summary(),
                "warnings": s.warnings,
            }
            for s in report.sources
        ],
        "groups": [
            {
                "group": g.group,
                "template": g.template,
                "count": g.count,
                "level": g.level,
                "first": _ref(g.first),
            }
            for g in report.groups[:50]
        ],
        "findings": [_finding_json(f, report.lines) for f in report.findings],
        "incidents": [
            {
                "start": _iso(w.start),
                "end": _iso(w.end),
                "services": w.services,
                "severity": str(w.max_severity),
                "first": _ref(w.first_event, report.lines),
                "first_category": w.first_category,
                "categories": sorted({f.category for f in w.findings}),
            }
            for w in report.incidents
        ],
        "root_cause": _root_cause_json(report),
        "candidates": [
            {"category": c.category, "title": c.title, "confidence": round(c.confidence, 3)}
            for c in report.root_causes[:5]
        ],
        "analysis": report.analysis,
        "warnings": report.warnings,
    }


def _finding_json(f: Finding, lines: dict[EvidenceRef, str]) -> dict:
    return {
        "rule": f.rule_id,
        "category": f.category,
        "severity": str(f.severity),
        "title": f.title,
        "count": f.count,
        "first_ts": _iso(f.first_ts),
        "last_ts": _iso(f.last_ts),
        "services": f.services,
        "confidence": round(f.confidence, 3),
        "detector": f.detector,
        "lines": [r.line for r in _ordered_refs(f.trigger, f.evidence)],
        "trigger": _ref(f.trigger, lines),
        "flashpoint": _ref(f.flashpoint, lines),
        "evidence": [_ref(r) for r in f.evidence[:50]],
        "explanation": f.explanation,
        "remediation": f.remediation,
    }


def _root_cause_json(report: TriageReport) -> dict | None:
    rc = report.root_cause
    if rc is None:
        return None
    refs = _ordered_refs(rc.trigger, rc.evidence)
    return {
        "category": rc.category,
        "title": rc.title,
        "summary": rc.summary,
        "confidence": round(rc.confidence, 3),
        "services": rc.services,
        "first_ts": _iso(rc.first_ts),
        "lines": [r.line for r in refs],
        "evidence": [_ref(r, report.lines) for r in refs[:20]],
        "explains": rc.explains,
        "trigger": trigger_json(report.trigger, report.lines),
    }
