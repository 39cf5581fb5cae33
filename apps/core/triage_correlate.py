"""The triage's correlation: services in the order they failed, the origin, deploy suspects.

Kept apart from `triage.py` so the root-cause JSON and this part can change independently:
`triage` feeds every record to a `Correlator` (`feed_record`), `finish` computes the order
once the rules have spoken, and `add_to_json` adds `root_cause.service`, `services`,
`correlation` and `deploys` to the `triage --json` document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from apps.core.correlate.deploys import (
    DeployEvent,
    DeployVerdict,
    changed_services,
    suspects,
)

__all__ = ["CorrelationRun", "DeployEvent", "add_to_json"]
from apps.core.correlate.logdeploys import SAME_CHANGE, LogDeploy, LogDeploys
from apps.core.correlate.services import ERROR, Correlation, Correlator
from apps.core.ingest.pipeline import service_from_source
from apps.core.logparse.record import Record
from apps.core.rules.incidents import RootCause
from apps.core.vocabulary import LEVEL_NUMBER, EvidenceRef


@dataclass(slots=True)
class CorrelationRun:
    deploys: list[DeployEvent] | None = None
    correlator: Correlator = field(default_factory=Correlator)
    correlation: Correlation | None = None
    verdicts: list[DeployVerdict] = field(default_factory=list)
    # (source name, file) -> service for records that carry none, with the directory name as
    # a cue; two files may share a name (`postgresql/current`, `gitlab-workhorse/current`)
    _fallbacks: dict[tuple[str, Path], tuple[str, str]] = field(default_factory=dict)
    # with --deploys: the deploys the logs show (rollouts, image changes, start lines)
    log_deploys: LogDeploys | None = None

    def __post_init__(self) -> None:
        if self.deploys is not None and self.log_deploys is None:
            self.log_deploys = LogDeploys()

    def feed_record(self, record: Record, *, source: str, path: Path, group: str) -> None:
        service = self._service(record.service, source, path)
        if self.log_deploys is not None:
            self.log_deploys.feed(
                service=service,
                ts=record.ts,
                message=record.message,
                source=source,
                line=record.line,
                attrs=record.attrs,
            )
        if record.level is not None and LEVEL_NUMBER[record.level] < ERROR:
            self.correlator.seen(service, record.ts)
            return
        self.correlator.feed(
            service=service,
            level=LEVEL_NUMBER.get(record.level) if record.level else None,
            ts=record.ts,
            ref=EvidenceRef(source, record.line),
            group=group,
            message=record.message,
            trace_id=record.trace_id,
            attrs=record.attrs,
        )

    def _service(self, service: str | None, source: str, path: Path) -> str:
        """The record's service; when it is only the file's name (what the parser falls back
        to), the name read with the file's directory: `nginx/access.log` → `nginx`."""
        known = self._fallbacks.get((source, path))
        if known is None:
            plain = service_from_source(source)
            full = (
                source if "/" in source or path.name != source else f"{path.parent.name}/{source}"
            )
            known = self._fallbacks[source, path] = (plain, service_from_source(full) or plain)
        if not service or service == known[0]:
            return known[1] or "unknown"
        return service

    def finish(self, root_cause: RootCause | None) -> None:
        hint = None
        if root_cause is not None:
            first = root_cause.trigger or (root_cause.evidence[0] if root_cause.evidence else None)
            if first is not None:
                hint = self.service_of_ref(first)
        self.correlation = self.correlator.result(hint=hint)
        if self.deploys is not None and self.log_deploys is not None:
            self.deploys = with_log_deploys(self.deploys, self.log_deploys.result())
        if self.deploys is not None:
            changed = changed_services(self.deploys, self.correlator, self.correlation)
            if changed:
                self.correlation = self.correlator.result(hint=hint, changed=changed)
            self.verdicts = suspects(self.deploys, self.correlator, self.correlation)

    def service_of_ref(self, ref: EvidenceRef) -> str | None:
        for s in self.correlator.services.values():
            if any(e.ref == ref for e in s.errors):
                return s.name
        return None


def with_log_deploys(given: list[DeployEvent], seen: list[LogDeploy]) -> list[DeployEvent]:
    """The given deploys and those the logs show that none of them already records (a deploy
    of the same service within SAME_CHANGE), in time order; a log's has source "logs"."""
    out = list(given)
    for d in seen:
        if any(
            g.service.lower() == d.service.lower() and abs(g.ts - d.ts) <= SAME_CHANGE
            for g in given
        ):
            continue
        out.append(DeployEvent(d.service, d.version, d.ts, source="logs"))
    out.sort(key=lambda e: (e.ts, e.line))
    return out


def _iso(ts) -> str | None:
    return ts.isoformat() if ts else None


def add_to_json(doc: dict, run: CorrelationRun | None) -> dict:
    """Add the correlation's keys to a `triage --json` document (in place; returned)."""
    if run is None or run.correlation is None:
        return doc
    c = run.correlation
    doc["services"] = [
        {
            "name": s.name,
            "first_error_line": s.first_error.line,
            "first_error": {"file": s.first_error.source, "line": s.first_error.line},
            "onset": _iso(s.onset),
            "errors": s.errors,
            "role": s.role,
        }
        for s in c.services
    ]
    doc["correlation"] = {
        "origin": c.origin,
        "path": c.path,
        "confidence": c.confidence,
        "basis": c.basis,
        "traces": c.traces,
    }
    if doc.get("root_cause") is not None:
        doc["root_cause"]["service"] = c.origin
        doc["root_cause"]["path"] = c.path
    if run.deploys is not None:
        doc["deploys"] = [
            {
                "service": v.deploy.service,
                "version": v.deploy.version,
                "ts": _iso(v.deploy.ts),
                "environment": v.deploy.environment,
                "commit": v.deploy.commit,
                "url": v.deploy.url,
                "source": v.deploy.source,
                "suspect": v.suspect,
                "score": v.score,
                "errors_before": v.errors_before,
                "errors_after": v.errors_after,
                "new_groups": v.new_groups,
                "reason": v.reason,
            }
            for v in run.verdicts
        ]
    return doc
