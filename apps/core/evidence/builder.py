"""Build an evidence pack from plain data: which raw lines an analysis may see, in what order.

Priority (highest first): the first error of the incident window, the lines the root-cause
candidate rests on, rule findings' triggers and flashpoints (by severity, then confidence), the
first line and samples of the top groups (by level, newness, change, count), first lines of new
templates, then context lines around the first error, root cause and triggers. Lines are fetched
only through the ``lines`` argument (one tenant, one incident: the caller's scope), sanitised,
redacted, truncated, and admitted in priority order while the whole rendered prompt stays within
the token budget. Ids ``E1…En`` follow admission order, so the same input gives the same pack.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from apps.core.analysis.redaction import PLACEHOLDER_RE, Redactor
from apps.core.rules.finding import EvidenceRef, Finding, Severity
from apps.core.vocabulary import LEVEL_NUMBER, Level

from .prompt import fixed_prompt_chars, render_facts, render_line
from .tokens import estimate_chars_as_tokens
from .types import EvidenceItem, EvidencePack, GroupInput, Role, as_ref

LineSource = Mapping[EvidenceRef, str] | Callable[[EvidenceRef], str | None]

DEFAULT_TOKEN_BUDGET = 6000
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)

# Terminal escapes and control characters (tab and newline are kept).
_CONTROL_RE = re.compile(r"\x1b\[[0-9;?]{0,32}[ -/]{0,4}[@-~]|[\x00-\x08\x0b-\x1f\x7f]")
# Tags the prompt uses as delimiters; a log line must not be able to open or close them.
_DELIMITER_RE = re.compile(r"<(\s{0,8}/?\s{0,8}(?:log_lines|facts)\b)", re.IGNORECASE)
_TRUNCATION_MARK = " …[truncated]"


@dataclass(slots=True)
class _Candidate:
    ref: EvidenceRef
    role: Role
    labels: list[str] = field(default_factory=list)


def _fetcher(lines: LineSource) -> Callable[[EvidenceRef], str | None]:
    if isinstance(lines, Mapping):
        return lines.get
    return lines


def sanitise_line(text: str, redactor: Redactor, max_chars: int) -> str:
    """Control characters out, delimiter tags neutralised, secrets redacted, length bounded."""
    text = text[: max_chars * 20]  # bound the redaction cost; the tail is cut below anyway
    text = _CONTROL_RE.sub("", text)
    text = _DELIMITER_RE.sub(r"‹\1", text)
    text = redactor.redact(text).strip("\n")
    if len(text) > max_chars:
        cut = max_chars
        for m in PLACEHOLDER_RE.finditer(text, max(0, max_chars - 48), max_chars + 48):
            if m.start() < cut < m.end():
                cut = m.start()
        text = text[:cut] + _TRUNCATION_MARK
    return text


def _redact_value(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, str):
        return _DELIMITER_RE.sub(r"‹\1", redactor.redact(value))
    if isinstance(value, Mapping):
        return {str(k): _redact_value(v, redactor) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v, redactor) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _finding_key(f: Finding) -> tuple:
    return (-Severity(f.severity).rank, -f.confidence, f.rule_id)


def _group_key(g: GroupInput) -> tuple:
    return (
        -LEVEL_NUMBER.get(g.level or "", 0),
        not g.is_new,
        -(g.change or 0.0),
        -g.count,
        g.group_id,
    )


def _first_error(
    first_error: EvidenceRef | None, findings: list[Finding], groups: list[GroupInput]
) -> EvidenceRef | None:
    if first_error is not None:
        return first_error
    options: list[tuple[datetime, EvidenceRef]] = [
        (g.first_ts or _FAR_FUTURE, g.first)
        for g in groups
        if g.first is not None and LEVEL_NUMBER.get(g.level or "", -1) >= Level.ERROR
    ]
    for f in findings:
        ref = f.trigger or (f.evidence[0] if f.evidence else None)
        if ref is not None and Severity(f.severity) in (Severity.ERROR, Severity.CRITICAL):
            options.append((f.first_ts or _FAR_FUTURE, ref))
    return min(options)[1] if options else None


def build_evidence_pack(
    *,
    lines: LineSource,
    findings: Iterable[Finding] = (),
    groups: Iterable[Any] = (),
    root_cause: Any = None,
    timeline: Mapping[str, Any] | str | None = None,
    first_error: EvidenceRef | None = None,
    redactor: Redactor | None = None,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    context_lines: int = 2,
    max_groups: int = 10,
    max_samples_per_group: int = 2,
    max_findings: int = 20,
    max_line_chars: int = 1000,
) -> EvidencePack:
    """Select, redact and number the evidence for one incident within ``token_budget``.

    ``lines`` is the only way raw text gets in: a mapping or a callable ``ref -> text | None``
    scoped by the caller to one tenant and one incident. ``groups`` items are `GroupInput`s or
    mappings with ``group_id, template, count, level, first, samples, is_new[, change, first_ts]``.
    ``root_cause`` is any object or mapping with ``category, summary, evidence, confidence``.
    """
    redactor = redactor or Redactor()
    finding_list = sorted(findings, key=_finding_key)[:max_findings]
    group_list = sorted((GroupInput.coerce(g) for g in groups), key=_group_key)

    # 1. Candidates in priority order (a ref keeps its first role and collects labels).
    shortlist = _Shortlist()
    shortlist.add(_first_error(first_error, finding_list, group_list), "first-error")
    shortlist.add_sources(root_cause, finding_list, group_list, max_groups, max_samples_per_group)
    shortlist.add_context(context_lines)

    # 2. Fetch and sanitise in priority order (placeholder numbers follow this order too).
    prepared = _prepared(shortlist.candidates(), _fetcher(lines), redactor, max_line_chars)

    # 3. Facts with every candidate id reserve their worst-case size; then admit lines.
    def make_facts(ids_for: Callable[[Iterable[Any]], list[str]], omitted: int) -> dict[str, Any]:
        return _facts(finding_list, group_list, root_cause, timeline, redactor, ids_for, omitted)

    provisional = {c.ref: f"E{n}" for n, (c, _) in enumerate(prepared, 1)}
    facts_chars = len(render_facts(make_facts(_ids_in(provisional, once=False), len(prepared))))
    used = fixed_prompt_chars() + facts_chars
    items, omitted = _admitted(prepared, used, token_budget)

    facts = make_facts(_ids_in({i.ref: i.id for i in items}, once=True), omitted)
    roles: dict[str, list[str]] = {}
    for item in items:
        roles.setdefault(item.role, []).append(item.id)
    facts["evidence_roles"] = roles
    facts = _fit_facts(facts, token_budget, sum(len(render_line(i)) for i in items))
    chars = (
        fixed_prompt_chars() + len(render_facts(facts)) + sum(len(render_line(i)) for i in items)
    )
    return EvidencePack(
        items=tuple(items),
        facts=facts,
        token_estimate=estimate_chars_as_tokens(chars, 2),
        token_budget=token_budget,
        omitted=omitted,
        redactions=dict(redactor.counts),
    )


class _Shortlist:
    """The lines worth showing, in priority order: a ref keeps its first role and collects
    the labels of everything that points at it."""

    def __init__(self) -> None:
        self._by_ref: dict[EvidenceRef, _Candidate] = {}

    def candidates(self) -> list[_Candidate]:
        return list(self._by_ref.values())

    def add(self, ref: Any, role: Role, label: str | None = None) -> None:
        ref = as_ref(ref)
        if ref is None:
            return
        cand = self._by_ref.get(ref)
        if cand is None:
            cand = self._by_ref[ref] = _Candidate(ref, role)
        if label and label not in cand.labels:
            cand.labels.append(label)

    def add_sources(
        self,
        root_cause: Any,
        findings: list[Finding],
        groups: list[GroupInput],
        max_groups: int,
        max_samples_per_group: int,
    ) -> None:
        """The root cause's lines, then the findings', then the top groups', then new ones'."""
        if root_cause is not None:
            for ref in _get(root_cause, "evidence", ()) or ():
                self.add(ref, "root-cause", f"root-cause:{_get(root_cause, 'category', '')}")
        for f in findings:
            self.add(
                f.trigger or (f.evidence[0] if f.evidence else None),
                "finding-trigger",
                f"finding:{f.rule_id}",
            )
            self.add(f.flashpoint, "finding-flashpoint", f"finding:{f.rule_id}")
        for g in groups[:max_groups]:
            self.add(g.first, "group-sample", f"group:{g.group_id}")
            for s in g.samples[:max_samples_per_group]:
                self.add(s, "group-sample", f"group:{g.group_id}")
        for g in groups:
            if g.is_new:
                self.add(g.first, "new-template", f"group:{g.group_id}")

    def add_context(self, context_lines: int) -> None:
        """The lines around the first error, the root cause's lines and the findings' triggers."""
        anchors = [
            c.ref
            for c in self._by_ref.values()
            if c.role in ("first-error", "root-cause", "finding-trigger")
        ]
        for ref in anchors:
            for k in range(1, context_lines + 1):
                for n in (ref.line - k, ref.line + k):
                    if n >= 1:
                        label = f"context-of:{ref.source}:{ref.line}"
                        self.add(replace(ref, line=n), "context", label)


def _prepared(
    candidates: list[_Candidate],
    fetch: Callable[[EvidenceRef], str | None],
    redactor: Redactor,
    max_line_chars: int,
) -> list[tuple[_Candidate, str]]:
    """Each candidate with its sanitised text; lines that cannot be read or are blank drop out."""
    prepared: list[tuple[_Candidate, str]] = []
    for cand in candidates:
        raw = fetch(cand.ref)
        if raw is None:
            continue
        text = sanitise_line(raw, redactor, max_line_chars)
        if text.strip():
            prepared.append((cand, text))
    return prepared


def _admitted(
    prepared: list[tuple[_Candidate, str]], used: int, token_budget: int
) -> tuple[list[EvidenceItem], int]:
    """The lines that fit in the budget after `used` characters, numbered E1…; and how many
    did not fit."""
    items: list[EvidenceItem] = []
    omitted = 0
    for cand, text in prepared:
        item = EvidenceItem(f"E{len(items) + 1}", cand.ref, text, cand.role, tuple(cand.labels))
        cost = len(render_line(item))
        if estimate_chars_as_tokens(used + cost, 2) > token_budget:
            omitted += 1
            continue
        items.append(item)
        used += cost
    return items, omitted


def _ids_in(ids: Mapping[EvidenceRef, str], *, once: bool) -> Callable[[Iterable[Any]], list[str]]:
    """refs → the ids `ids` gives them, in order (`once`: without repeats); refs without an id
    are left out."""

    def ids_for(refs: Iterable[Any]) -> list[str]:
        out: list[str] = []
        for r in refs or ():
            ref = as_ref(r)
            i = ids.get(ref) if ref is not None else None
            if i is not None and not (once and i in out):
                out.append(i)
        return out

    return ids_for


def _fit_facts(facts: dict[str, Any], budget: int, line_chars: int) -> dict[str, Any]:
    """Drop the tail of the findings and groups lists until the prompt fits (rarely needed)."""
    while (
        estimate_chars_as_tokens(fixed_prompt_chars() + len(render_facts(facts)) + line_chars, 2)
        > budget
    ):
        for key in ("groups", "findings"):
            if facts.get(key):
                facts[key] = facts[key][:-1]
                facts["facts_truncated"] = True
                break
        else:
            facts.pop("timeline", None)
            break
    return facts


def _facts(
    findings: list[Finding],
    groups: list[GroupInput],
    root_cause: Any,
    timeline: Any,
    redactor: Redactor,
    ids_for: Callable[[Iterable[Any]], list[str]],
    omitted: int,
) -> dict[str, Any]:
    red = lambda v: _redact_value(v, redactor)  # noqa: E731
    facts: dict[str, Any] = {
        "findings": [
            {
                "rule_id": f.rule_id,
                "category": f.category,
                "severity": str(f.severity),
                "title": red(f.title),
                "remediation": red(f.remediation),
                "count": f.count,
                "first_ts": f.first_ts.isoformat() if f.first_ts else None,
                "last_ts": f.last_ts.isoformat() if f.last_ts else None,
                "services": red(list(f.services)),
                "confidence": round(f.confidence, 2),
                "evidence": ids_for([f.trigger, f.flashpoint, *f.evidence]),
            }
            for f in findings
        ],
        "groups": [
            {
                "group_id": g.group_id,
                "template": red(g.template),
                "count": g.count,
                "level": g.level,
                "is_new": g.is_new,
                "change": g.change,
                "evidence": ids_for([g.first, *g.samples]),
            }
            for g in groups[:20]
        ],
        "root_cause": None,
        "timeline": red(timeline) if timeline is not None else None,
        "omitted_lines": omitted,
    }
    if root_cause is not None:
        facts["root_cause"] = {
            "category": red(str(_get(root_cause, "category", ""))),
            "summary": red(str(_get(root_cause, "summary", ""))),
            "confidence": _get(root_cause, "confidence", None),
            "evidence": ids_for(_get(root_cause, "evidence", ()) or ()),
        }
    return facts
