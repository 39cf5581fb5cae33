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
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import compress, repeat
from operator import attrgetter, itemgetter
from typing import Any

from apps.core.logparse.record import Record
from apps.core.vocabulary import LEVEL_NUMBER

from .catalogue import (
    EXIT_CODE_KEYS,
    STATUS_KEYS,
    TEXT_KEYS_BY_SIGNATURE,
    Catalogue,
    Rule,
    build_user_rule,
    scan_text,
)
from .detect import StreamDetector
from .finding import EvidenceRef, Finding, Severity
from .patterns import MAX_SCAN_CHARS, KeywordIndex, Pattern
from .story import merge_findings

EVIDENCE_CAP = 50
SERVICES_CAP = 20
GROUPS_CAP = 50
BATCH = 256
_RECORD = itemgetter(0)
_MESSAGE = attrgetter("message")
_ATTRS = attrgetter("attrs")
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
        "loud",
        "per_source",
        "services",
        "shared",
        "trigger",
        "window",
    )

    def __init__(self) -> None:
        self.count = 0
        self.shared = 0  # matches on records another rule of the category matched first
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
        self.loud = False  # a match the software logged as an error, or that heads a stack


class Engine:
    """Aggregates rule matches per rule over a stream of records (and runs the detectors)."""

    def __init__(
        self,
        catalogue: Catalogue,
        *,
        detect: bool = True,
        baseline_templates: Iterable[str] | None = None,
        seen_before: Mapping[str, datetime] | None = None,
    ) -> None:
        self.catalogue = catalogue
        self._rules: tuple[Rule, ...] = catalogue.rules
        self._index = KeywordIndex([r.keywords for r in self._rules])
        self._always = tuple(
            i for i, r in enumerate(self._rules) if not r.keywords and r.regex is not None
        )
        # Field-only rules (status / exit code) read attrs: skip records without any, and
        # records without any of the attrs the rule's conditions need.
        self._fields_only = tuple(
            (i, _needed_attrs(r))
            for i, r in enumerate(self._rules)
            if not r.keywords and r.regex is None
        )
        # attr keys → the field-only rules to run (records without attrs run none)
        self._fields_by_keys: dict[tuple, tuple[int, ...]] = {(): ()}
        self._states: dict[int, _RuleState] = {}
        self._pending: list[tuple[Record, str | None, str | None]] = []
        self._flushed = 0
        self._seq = 0
        self._last_ts: datetime | None = None  # latest timestamp seen, for untimed records
        self._detector: StreamDetector | None = None
        if detect:
            self._detector = StreamDetector(
                baseline_templates=baseline_templates, seen_before=seen_before
            )

    # --- streaming ------------------------------------------------------------------------

    @property
    def records_seen(self) -> int:
        return self._flushed + len(self._pending)

    def feed(
        self, record: Record, *, template_id: str | None = None, group: str | None = None
    ) -> None:
        pending = self._pending
        pending.append((record, template_id, group))
        if len(pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        self._flushed += len(pending)
        if self._detector is not None:
            self._detector.feed_many(pending)
        records = list(map(_RECORD, pending))
        texts = list(map(_MESSAGE, records))
        attrs_of = list(map(_ATTRS, records))
        keys_of = _attr_keys(attrs_of) if any(attrs_of) else None
        if keys_of is not None:
            # Records whose attrs hold text rules read too (scan_text); the key sequence
            # (few per format) tells which records that can be, without a look at each.
            text_keys = TEXT_KEYS_BY_SIGNATURE.get
            for j in compress(range(len(records)), map(text_keys, keys_of, repeat(True))):
                texts[j] = scan_text(records[j])
        if max(map(len, texts)) > MAX_SCAN_CHARS:
            texts = [t[:MAX_SCAN_CHARS] for t in texts]
        hits = self._index.hits(texts)
        if self._always:
            self._flush_all(pending, texts, hits)
            return
        # Records worth a look: those holding a keyword, and those with the attrs a
        # field-only rule reads. Everything else cannot match any rule.
        todo = hits
        fields_of: list[tuple[int, ...] | None] | None = None
        if self._fields_only and keys_of is not None:
            fields_of = list(map(self._fields_by_keys.get, keys_of))
            if None in fields_of:
                for j, fields in enumerate(fields_of):
                    if fields is None:
                        fields_of[j] = self._fields_for(keys_of[j], attrs_of[j])
            with_fields = list(compress(range(len(records)), fields_of))
            if with_fields:
                todo = sorted({*hits, *with_fields}) if hits else with_fields
        if todo:
            hit_set = set(hits)
            candidates_of = self._index.candidates
            for j in todo:
                record, template_id, group = pending[j]
                text = texts[j]
                # every entry of fields_of is filled in above: `or ()` only tells mypy
                fields = (fields_of[j] or ()) if fields_of is not None else ()
                indexes: Iterable[int]
                if j in hit_set:
                    candidates = candidates_of(text)
                    candidates.update(fields)
                    if not candidates:
                        continue
                    indexes = sorted(candidates)
                else:
                    indexes = fields  # ascending already
                if record.ts is None:
                    self._last_ts = _latest_ts(pending, j, self._last_ts)
                self._run(indexes, record, text, template_id, group)
        self._last_ts = _latest_ts(pending, len(pending) - 1, self._last_ts)

    def _fields_for(self, keys: tuple, attrs: Mapping) -> tuple[int, ...]:
        """The field-only rules a record with these attr keys (in this order) may match."""
        if not attrs:
            return ()
        fields = tuple(
            i for i, need in self._fields_only if need is None or not need.isdisjoint(attrs)
        )
        if len(self._fields_by_keys) < 10_000:
            self._fields_by_keys[keys] = fields
        return fields

    def _flush_all(self, pending, texts: list[str], hits: list[int]) -> None:
        """The batch path when some rule runs on every record (no keywords to prefilter on)."""
        hit_set = set(hits)
        always, fields_only = self._always, self._fields_only
        for j, ((record, template_id, group), text) in enumerate(zip(pending, texts, strict=True)):
            if record.ts is not None:
                self._last_ts = record.ts
            candidates = self._index.candidates(text) if j in hit_set else set()
            candidates.update(always)
            if fields_only and record.attrs:
                candidates.update(i for i, _ in fields_only)
            self._run(sorted(candidates), record, text, template_id, group)

    def _run(self, indexes, record: Record, text: str, template_id, group) -> None:
        rules = self._rules
        matched: str | None = None  # a category this record matched (rarely two)
        for i in indexes:
            rule = rules[i]
            if rule.matches(record, text=text):
                self._record_match(i, rule, record, text, group or template_id)
                if matched is None:
                    matched = rule.category
                elif matched == rule.category:
                    self._states[i].shared += 1

    def _record_match(
        self, i: int, rule: Rule, record: Record, text: str, group: str | None
    ) -> None:
        state = self._states.get(i)
        if state is None:
            state = self._states[i] = _RuleState()
        state.count += 1
        self._seq = seq = self._seq + 1
        ts = record.ts
        if ts is not None:
            if state.first_ts is None or ts < state.first_ts:
                state.first_ts = ts
            if state.last_ts is None or ts > state.last_ts:
                state.last_ts = ts
            epoch = ts.timestamp()
        else:
            epoch = _UNTIMED
        # Sources may be fed one after another: order evidence by time, then by feed order.
        # `seq` grows with every match, so an entry (epoch, seq, ref) sorts before an earlier
        # one exactly when its epoch is smaller: the comparisons below look at epochs only,
        # and the EvidenceRef is only built when some structure keeps it. It cites the
        # physical line where the rule matched, which in a multi-line record (a stack with its
        # "Caused by", kubectl describe output) is often not the record's first line.
        line = matched_line(rule.regex, record, text)
        ref = None
        trigger = state.trigger
        if trigger is None or epoch < trigger[0]:
            ref = EvidenceRef(record.source, line)
            state.trigger = (epoch, seq, ref)
        if record.service and len(state.services) < SERVICES_CAP:
            state.services[record.service] = None
        if group and len(state.groups) < GROUPS_CAP:
            state.groups[group] = None
        heap = state.evidence
        if len(heap) < EVIDENCE_CAP:
            ref = ref or EvidenceRef(record.source, line)
            heapq.heappush(heap, (-epoch, -seq, ref))
        elif -epoch > heap[0][0]:
            ref = ref or EvidenceRef(record.source, line)
            heapq.heapreplace(heap, (-epoch, -seq, ref))
        per_source = state.per_source
        if record.source not in per_source and len(per_source) < SERVICES_CAP:
            ref = ref or EvidenceRef(record.source, line)
            per_source[record.source] = (epoch, seq, ref)
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
        score = LEVEL_NUMBER.get(record.level, 2) if record.level else 2
        flash_line = line
        if rule.flashpoint is not None and rule.flashpoint.search(text):
            score += 10
            flash_line = matched_line(rule.flashpoint, record, text)
        if crossed:
            score += 1
        if score > state.flash_score:
            state.flash_score = score
            if ref is None or flash_line != line:
                ref = EvidenceRef(record.source, flash_line)
            state.flash_ref = ref
        if rule.co_signal_regex is not None and not state.co_regex_hit:
            state.co_regex_hit = rule.co_signal_regex.search(text)
        if not state.loud:
            state.loud = _logged_as_error(record)

    # --- results --------------------------------------------------------------------------

    def findings(self) -> list[Finding]:
        """Findings so far (the engine keeps streaming afterwards), ordered by first occurrence."""
        self._flush()
        out: list[Finding] = []
        fired_states: list[_RuleState] = []
        shared: dict[int, int] = {}
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
            shared[id(out[-1])] = state.shared
        present = {f.category for f in out}
        # A warning rule the software itself reported as an error (its level, a thrown stack)
        # is an error, unless an error rule of its category fired too: that one says it first-hand.
        firm = {f.category for f in out if f.severity.rank > Severity.WARNING.rank}
        for k, (f, state) in enumerate(zip(out, fired_states, strict=True)):
            if f.severity == Severity.WARNING and state.loud and f.category not in firm:
                out[k] = replace(f, severity=Severity.ERROR)
                shared[id(out[k])] = shared.pop(id(f))
        for f, state in zip(out, fired_states, strict=True):
            rule = self.catalogue[f.rule_id]
            boost = 0.15 * len(set(rule.co_signal_categories) & (present - {f.category}))
            if state.co_regex_hit:
                boost += 0.1
            f.confidence = round(min(0.95, rule.confidence + boost), 2)
        if self._detector is not None:
            out.extend(self._detector.findings())
        out = merge_findings(out, shared=shared)
        out.sort(key=_finding_order)
        return out


def matched_line(pattern: Pattern | None, record: Record, text: str) -> int:
    """The physical line of `record` where `pattern` first matches `text` (its scan text).

    A multi-line record (a traceback, a Java stack with "Caused by", kubectl describe output, a
    line that absorbed the ones after it) is cited by the line that shows what the rule found,
    not by its first line. The message maps line for line onto the record's physical lines
    when it has one line per physical line; otherwise the raw text is searched. A match in the
    attrs scan_text appends, or none at all, falls back to the first line."""
    first = record.line
    span = record.end_line - first
    if pattern is None or span <= 0:
        return first
    if record.message.count("\n") != span:
        text = record.raw
    k = pattern.line_of(text)
    return first + k if k is not None and k <= span else first


ERROR_LEVEL = LEVEL_NUMBER["ERROR"]
STACK_FRAME = re.compile(r"\n\s*at [\w$.<>/]+\(|\nTraceback \(most recent call last\)")


def _logged_as_error(record: Record) -> bool:
    """Did the software report this record as an error: ERROR level or worse, or a thrown
    exception with its stack frames (a Java/JS `at …(` frame, a Python traceback)?"""
    if record.level and LEVEL_NUMBER.get(record.level, 0) >= ERROR_LEVEL:
        return True
    return record.end_line > record.line and STACK_FRAME.search(record.raw) is not None


def _needed_attrs(rule: Rule) -> frozenset[str] | None:
    """Attrs of which a field-only rule needs at least one to match; None: no such need."""
    if rule.status is not None:
        return frozenset(STATUS_KEYS)
    if rule.exit_codes is not None and None not in rule.exit_codes:
        return frozenset(EXIT_CODE_KEYS)
    return None


def _attr_keys(attrs_of: list) -> list[tuple]:
    try:
        return list(map(tuple, attrs_of))
    except TypeError:  # attrs=None somewhere
        return [tuple(a) if a else () for a in attrs_of]


def _latest_ts(pending, j: int, default: datetime | None) -> datetime | None:
    """The timestamp of the last timed record in pending[: j + 1], else `default`."""
    for k in range(j, -1, -1):
        ts = pending[k][0].ts
        if ts is not None:
            return ts
    return default


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
                ref = EvidenceRef(record.source, matched_line(rule.regex, record, text))
                samples.append(DryRunSample(ref, text[:500], group))
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
