"""The streaming rules engine: feed records, read aggregated findings.

    engine = Engine(Catalogue.load())
    for record, template_id, group in stream:
        engine.feed(record, template_id=template_id, group=group)
    findings = engine.findings()

Cost model: records are buffered in small batches; one RE2 Set scan over the joined batch says
whether any catalogue keyword occurs at all (the common case on healthy traffic is "no"). Only
then does each message get its own keyword scan, and only the rules owning a matched keyword run
their regex. Rules without keywords (field conditions, user rules whose keywords could not be
derived) run on every record. Messages are cut to MAX_SCAN_CHARS before any pattern runs.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apps.ingestion.logparse.record import Record

from .catalogue import LEVEL_RANK, Catalogue, Rule, build_user_rule, scan_text
from .finding import EvidenceRef, Finding
from .patterns import KeywordIndex

EVIDENCE_CAP = 50
SERVICES_CAP = 20
GROUPS_CAP = 50
BATCH = 16
_UNTIMED = float("inf")


class _RuleState:
    __slots__ = (
        "co_regex_hit",
        "count",
        "evidence",
        "fired",
        "first_ts",
        "flash_ref",
        "flash_score",
        "groups",
        "last_ts",
        "per_source",
        "services",
        "trigger",
        "window",
    )

    def __init__(self) -> None:
        self.count = 0
        self.first_ts: datetime | None = None
        self.last_ts: datetime | None = None
        self.services: dict[str, None] = {}
        self.groups: dict[str, None] = {}
        # The earliest EVIDENCE_CAP matches by time (a max-heap of (-epoch, -seq, ref)), plus
        # the first match of every source: multi-file uploads are fed one file after another.
        self.evidence: list[tuple[float, int, EvidenceRef]] = []
        self.per_source: dict[str, tuple[float, int, EvidenceRef]] = {}
        self.trigger: tuple[float, int, EvidenceRef] | None = None  # earliest by time
        self.flash_ref: EvidenceRef | None = None
        self.flash_score = -1
        self.window: deque[float] = deque()
        self.fired = False
        self.co_regex_hit = False


class Engine:
    """Aggregates rule matches per rule over a stream of records (and runs the detectors)."""

    def __init__(
        self,
        catalogue: Catalogue,
        *,
        detect: bool = True,
        baseline_templates: Iterable[str] | None = None,
    ) -> None:
        self.catalogue = catalogue
        self._rules: tuple[Rule, ...] = catalogue.rules
        self._index = KeywordIndex([r.keywords for r in self._rules])
        self._always = tuple(
            i for i, r in enumerate(self._rules) if not r.keywords and r.regex is not None
        )
        # Field-only rules (status / exit code) read attrs: skip records without any.
        self._fields_only = tuple(
            i for i, r in enumerate(self._rules) if not r.keywords and r.regex is None
        )
        self._states: dict[int, _RuleState] = {}
        self._pending: list[tuple[Record, str | None, str | None]] = []
        self._seq = 0
        self._last_ts: datetime | None = None  # latest timestamp seen, for untimed records
        self.records_seen = 0
        self._detector = None
        if detect:
            from .detect import StreamDetector

            self._detector = StreamDetector(baseline_templates=baseline_templates)

    # --- streaming ------------------------------------------------------------------------

    def feed(
        self, record: Record, *, template_id: str | None = None, group: str | None = None
    ) -> None:
        self.records_seen += 1
        if self._detector is not None:
            self._detector.feed(record, template_id=template_id, group=group)
        self._pending.append((record, template_id, group))
        if len(self._pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        texts = [scan_text(r) for r, _, _ in pending]
        keyword_hit = self._index.any_in(texts)
        always, fields_only = self._always, self._fields_only
        if not keyword_hit and not always:
            if fields_only:
                for (record, template_id, group), text in zip(pending, texts, strict=True):
                    if record.attrs:
                        if record.ts is not None:
                            self._last_ts = record.ts
                        self._run(fields_only, record, text, template_id, group)
            for record, _, _ in reversed(pending):
                if record.ts is not None:
                    self._last_ts = record.ts
                    break
            return
        for (record, template_id, group), text in zip(pending, texts, strict=True):
            if record.ts is not None:
                self._last_ts = record.ts
            candidates = self._index.candidates(text) if keyword_hit else set()
            if always:
                candidates.update(always)
            if fields_only and record.attrs:
                candidates.update(fields_only)
            if candidates:
                self._run(sorted(candidates), record, text, template_id, group)

    def _run(self, indexes, record: Record, text: str, template_id, group) -> None:
        rules = self._rules
        for i in indexes:
            rule = rules[i]
            if rule.matches(record, text=text):
                self._record_match(i, rule, record, text, group or template_id)

    def _record_match(
        self, i: int, rule: Rule, record: Record, text: str, group: str | None
    ) -> None:
        state = self._states.get(i)
        if state is None:
            state = self._states[i] = _RuleState()
        state.count += 1
        self._seq += 1
        ref = EvidenceRef(record.source, record.line)
        ts = record.ts
        if ts is not None:
            if state.first_ts is None or ts < state.first_ts:
                state.first_ts = ts
            if state.last_ts is None or ts > state.last_ts:
                state.last_ts = ts
        # Sources may be fed one after another: order evidence by time, then by feed order.
        entry = (ts.timestamp() if ts is not None else _UNTIMED, self._seq, ref)
        if state.trigger is None or entry < state.trigger:
            state.trigger = entry
        if record.service and len(state.services) < SERVICES_CAP:
            state.services[record.service] = None
        if group and len(state.groups) < GROUPS_CAP:
            state.groups[group] = None
        heap = state.evidence
        if len(heap) < EVIDENCE_CAP:
            heapq.heappush(heap, (-entry[0], -entry[1], ref))
        elif (-entry[0], -entry[1]) > heap[0][:2]:
            heapq.heapreplace(heap, (-entry[0], -entry[1], ref))
        if record.source not in state.per_source and len(state.per_source) < SERVICES_CAP:
            state.per_source[record.source] = entry
        crossed = False
        if rule.threshold is not None and not state.fired:
            ts = record.ts or self._last_ts
            epoch = ts.timestamp() if ts is not None else 0.0
            window = state.window
            window.append(epoch)
            while window and epoch - window[0] > rule.threshold.window:
                window.popleft()
            if len(window) >= rule.threshold.count:
                state.fired = crossed = True
                window.clear()
        # The flashpoint is the most telling line: one the rule names as such, then the
        # highest level, then the line that made a threshold rule fire; the first one wins ties.
        score = LEVEL_RANK.get(record.level, 2) if record.level else 2
        if rule.flashpoint is not None and rule.flashpoint.search(text):
            score += 10
        if crossed:
            score += 1
        if score > state.flash_score:
            state.flash_score, state.flash_ref = score, ref
        if rule.co_signal_regex is not None and not state.co_regex_hit:
            state.co_regex_hit = rule.co_signal_regex.search(text)

    # --- results --------------------------------------------------------------------------

    def findings(self) -> list[Finding]:
        """Findings so far (the engine keeps streaming afterwards), ordered by first occurrence."""
        self._flush()
        out: list[Finding] = []
        fired_states: list[_RuleState] = []
        for i, state in self._states.items():
            rule = self._rules[i]
            if rule.threshold is not None and not state.fired:
                continue
            fired_states.append(state)
            entries = {(-e, -q, ref) for e, q, ref in state.evidence}
            entries.update(state.per_source.values())
            if state.trigger is not None:
                entries.add(state.trigger)
            evidence = [ref for _, _, ref in sorted(entries)]
            if state.flash_ref is not None and state.flash_ref not in evidence:
                evidence.append(state.flash_ref)
            out.append(
                Finding(
                    rule_id=rule.id,
                    category=rule.category,
                    severity=rule.severity,
                    title=rule.title,
                    explanation=rule.explanation,
                    remediation=rule.remediation,
                    evidence=evidence,
                    trigger=evidence[0] if evidence else None,
                    flashpoint=state.flash_ref,
                    count=state.count,
                    first_ts=state.first_ts,
                    last_ts=state.last_ts,
                    services=list(state.services),
                    confidence=rule.confidence,
                    groups=list(state.groups),
                )
            )
        present = {f.category for f in out}
        for f, state in zip(out, fired_states, strict=True):
            rule = self.catalogue[f.rule_id]
            boost = 0.15 * len(set(rule.co_signal_categories) & (present - {f.category}))
            if state.co_regex_hit:
                boost += 0.1
            f.confidence = round(min(0.95, rule.confidence + boost), 2)
        if self._detector is not None:
            out.extend(self._detector.findings())
        out.sort(key=_finding_order)
        return out


def _finding_order(f: Finding) -> tuple:
    ts = f.first_ts.timestamp() if f.first_ts is not None else float("inf")
    trig = (f.trigger.source, f.trigger.line) if f.trigger else ("", 0)
    return (ts, trig, f.detector, f.rule_id)


# --- dry run -------------------------------------------------------------------------------


@dataclass(slots=True)
class DryRunSample:
    ref: EvidenceRef
    message: str
    group: str | None = None


@dataclass(slots=True)
class DryRun:
    """What a rule would do on an incident: "would match 132 lines in 4 groups"."""

    matched_lines: int
    groups: int
    samples: list[DryRunSample] = field(default_factory=list)
    group_counts: dict[str, int] = field(default_factory=dict)  # group → matched lines
    would_fire: bool = False  # thresholds applied: the rule would raise a finding
    finding: Finding | None = None


def dry_run(
    rule: Rule | Mapping[str, Any],
    records: Iterable[Record | tuple[Record, str | None]],
    *,
    sample_limit: int = 10,
) -> DryRun:
    """Run one rule over records (optionally paired with their group / template id).

    A mapping is validated as a custom rule first (RE2 patterns); CatalogueError on problems.
    """
    if not isinstance(rule, Rule):
        rule = build_user_rule(rule)
    engine = Engine(Catalogue([rule]), detect=False)
    matched = 0
    samples: list[DryRunSample] = []
    group_counts: dict[str, int] = {}
    for item in records:
        record, group = item if isinstance(item, tuple) else (item, None)
        text = scan_text(record)
        if rule.prefilter_ok(text) and rule.matches(record, text=text):
            matched += 1
            key = group if group is not None else "(ungrouped)"
            group_counts[key] = group_counts.get(key, 0) + 1
            if len(samples) < sample_limit:
                samples.append(
                    DryRunSample(EvidenceRef(record.source, record.line), text[:500], group)
                )
        engine.feed(record, group=group)
    findings = engine.findings()
    return DryRun(
        matched_lines=matched,
        groups=len(group_counts),
        samples=samples,
        group_counts=group_counts,
        would_fire=bool(findings),
        finding=findings[0] if findings else None,
    )
