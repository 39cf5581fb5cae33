"""Draft the sections of a postmortem from what the product knows about an incident.

`gather(incident)` (in `facts.py`) reads everything once; `draft_section(key, facts)` turns it into Markdown plus
the citations it makes. Every log- or LLM-derived string goes through `md_escape`, every
citation through `cite`, so Markdown cannot be injected from a log line.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from apps.core.render.markdown import md_cell, md_clip, md_code, md_escape
from apps.core.rules.fixes import FIXES
from apps.core.rules.incidents import Tier, tier_of
from apps.reports.facts import (
    MAX_ACTIONS,
    MAX_FINDINGS,
    Citer,
    Facts,
    KeyEvent,
    claims_text,
    duration_text,
    hms,
    ref_of,
    ts_text,
)
from apps.reports.facts import gather as gather  # re-exported: services and views draft from here
from apps.reports.models import SectionKey

# --- sections -----------------------------------------------------------------------------------


def key_events(facts: Facts) -> list[KeyEvent]:
    """The timeline's rows (and the chart's numbered markers), in time order."""
    rows: list[KeyEvent] = []
    if facts.sources and facts.first_ts:
        earliest = min((s for s in facts.sources if s.first_ts), key=lambda s: s.first_ts)
        rows.append(KeyEvent(earliest.first_ts, f"First log line ({earliest.member})", None))
    if facts.first_warning is not None:
        e = facts.first_warning
        rows.append(
            KeyEvent(
                e.ts,
                f"First warning in {e.service or 'logs'}: {md_clip(e.message, 140)}",
                (e.source_id, e.line),
            )
        )
    if facts.first_error is not None:
        e = facts.first_error
        rows.append(
            KeyEvent(
                e.ts,
                f"First error in {e.service or 'logs'}: {md_clip(e.message, 140)}",
                (e.source_id, e.line),
            )
        )
    for window in (facts.diagnosis.windows if facts.diagnosis else None) or []:
        if not isinstance(window, dict):
            continue
        start = _parse(window.get("start"))
        services = ", ".join(str(s) for s in (window.get("services") or [])[:4])
        rows.append(
            KeyEvent(
                start,
                f"Incident window opens ({services or 'all services'})",
                ref_of(window.get("first")),
            )
        )
    trigger = getattr(facts.diagnosis, "trigger", None)
    if isinstance(trigger, dict) and trigger.get("summary"):
        rows.append(
            KeyEvent(
                _parse(trigger.get("at")),
                f"Likely trigger: {md_clip(str(trigger['summary']), 160)}",
                ref_of((trigger.get("evidence") or [None])[0]),
            )
        )
    cited = {r.ref for r in rows if r.ref is not None}
    for finding in facts.findings[:MAX_FINDINGS]:
        if finding.category == "change":
            continue  # trigger candidates: the chosen one has its row above
        ref = (
            ref_of(finding.trigger)
            or ref_of(finding.flashpoint)
            or ref_of((finding.evidence or [None])[0])
        )
        if finding.severity == "info" and ref in cited:
            continue  # a note on a line the timeline already shows (a new pattern's first line)
        rows.append(
            KeyEvent(finding.first_ts, f"{finding.get_severity_display()}: {finding.title}", ref)
        )
    if facts.last_ts:
        rows.append(KeyEvent(facts.last_ts, "Last log line", None))
    return sorted(rows, key=lambda r: (r.when is None, r.when or datetime.min.replace(tzinfo=UTC)))


def _parse(value) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _title(facts: Facts, citer: Citer) -> str:
    """What failed and what users saw, with the date: "Database refused new connections;
    checkout returned 504s (2024-03-14)". The incident's own name when nothing was diagnosed."""
    d = facts.diagnosis
    if not (d and d.root_title):
        return facts.incident.title[:300]
    cause = next((f for f in facts.findings if getattr(f, "role", "") == "cause"), None)
    symptom = next((f for f in facts.findings if getattr(f, "role", "") == "symptom"), None)
    title = _short(d.root_title)
    if symptom is not None:
        where = f" on {symptom.services[0]}" if symptom.services else ""
        title += f"; {_short(symptom.title)[:1].lower()}{_short(symptom.title)[1:]}{where}"
    when = (cause.first_ts if cause else None) or facts.first_ts
    if when:
        title += f" ({when:%Y-%m-%d})"
    return title[:300]


def _short(title: str) -> str:
    """A finding title without its parenthesised detail: "TLS certificate verification failed"."""
    return re.sub(r"\s*\([^)]*\)", "", title).rstrip(".") or title


def _summary(facts: Facts, citer: Citer) -> str:
    i = facts.incident
    d = facts.diagnosis
    reasons = f" ({md_escape(d.severity_reasons)})" if d and d.severity_reasons else ""
    lasting = (
        f"lasting {duration_text(facts.span)}"
        if d and d.onset
        else f"lasting {duration_text(facts.span)} in the logs"
    )
    lines = [
        f"On {ts_text(facts.started)}, **{md_escape(i.project.name)}** had an incident "
        f"(_{md_escape(i.title)}_), severity {i.get_severity_display()}{reasons}, {lasting}. "
        f"{facts.error_count:,} error events across "
        f"{sum(1 for s in facts.services if s['errors'])} service(s)."
    ]
    if d and d.root_summary:
        lines += ["", f"{md_escape(d.root_summary)} {citer.many(d.root_evidence, 2)}".strip()]
    trigger = getattr(d, "trigger", None)
    if isinstance(trigger, dict) and trigger.get("summary"):
        lines += [
            "",
            f"Likely trigger: {md_escape(str(trigger['summary']))} "
            f"{citer.many(trigger.get('evidence'), 2)}".rstrip(),
        ]
    claims = claims_text(citer, facts.result.summary)
    if claims:
        lines += ["", "**Analysis:**", ""] + [f"- {c}" for c in claims]
    return "\n".join(lines)


def _impact(facts: Facts, citer: Citer) -> str:
    affected = [s for s in facts.services if s["errors"]] or facts.services
    d = facts.diagnosis
    lines = []
    if d and d.severity:
        reasons = f": {md_escape(d.severity_reasons)}" if d.severity_reasons else ""
        lines.append(f"- **Severity from impact:** {d.severity.upper()}{reasons}")
    lines += [
        f"- **Duration:** {duration_text(facts.span)} ({ts_text(facts.started)} → {ts_text(facts.ended)})"
        + (
            f"; the logs cover {duration_text(facts.logs_span)}"
            if facts.logs_span
            and facts.span
            and facts.logs_span - facts.span > timedelta(minutes=1)
            else ""
        ),
        f"- **Affected services:** {', '.join(md_escape(s['service'] or '(no service)') for s in affected[:8]) or 'none identified'}",
        f"- **Error events:** {facts.error_count:,} of {facts.event_count:,} events",
        "",
        "| Service | Events | Errors |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {md_cell(s['service'] or '(no service)')} | {s['total']:,} | {s['errors']:,} |"
        for s in facts.services[:12]
    ]
    if facts.groups:
        lines += ["", "| Top error group | Count | First seen |", "|---|---:|---|"]
        for occ in facts.groups:
            template = md_code(md_clip(occ.group.template, 160)).replace("|", "\\|")
            lines.append(f"| {template} | {occ.count:,} | {hms(occ.first_ts)} |")
    claims = claims_text(citer, facts.result.impact)
    if claims:
        lines += [""] + [f"- {c}" for c in claims]
    return "\n".join(lines)


def _detection(facts: Facts, citer: Citer) -> str:
    lines = []
    e = facts.first_error
    if e is not None:
        lines.append(
            f"- The failure was first visible at **{ts_text(e.ts)}** in "
            f"{md_escape(e.service or 'the logs')}: {md_code(md_clip(e.message, 160))} "
            f"{citer((e.source_id, e.line))}"
        )
    ranked = [f for f in facts.findings if f.first_ts and f.severity in ("error", "critical")]
    ranked = ranked or [f for f in facts.findings if f.first_ts]
    first_finding = min(ranked, key=lambda f: f.first_ts, default=None)
    if first_finding is not None:
        ref = first_finding.trigger or (first_finding.evidence or [None])[0]
        lines.append(
            f"- The rules engine flagged **{md_escape(first_finding.title)}** at "
            f"{ts_text(first_finding.first_ts)} {citer(ref)}".rstrip()
        )
    if e is not None and e.ts:
        lag = facts.incident.created_at - e.ts
        if 0 < lag.total_seconds() < 7 * 86400:
            lines.append(
                f"- The logs were brought into AI Ops Assistant {duration_text(lag)} after the first error."
            )
    lines.append("- _How did the team find out (alert, customer report, dashboard)? Add it here._")
    return "\n".join(lines)


def _timeline(facts: Facts, citer: Citer) -> str:
    lines = ["| # | Time (UTC) | Event | Evidence |", "|---:|---|---|---|"]
    for n, row in enumerate(key_events(facts), start=1):
        when = row.when.strftime("%Y-%m-%d %H:%M:%S") if row.when else "—"
        lines.append(
            f"| {n} | {when} | {md_cell(row.text)} | {citer(row.ref) if row.ref else ''} |"
        )
    return "\n".join(lines)


def _root_cause(facts: Facts, citer: Citer) -> str:
    lines = []
    d = facts.diagnosis
    if d and d.root_category:
        lines.append(
            f"**{md_escape(d.root_title or d.root_category)}** (rules engine, confidence "
            f"{d.root_confidence:.0%})"
        )
        if d.root_summary:
            lines += ["", md_escape(d.root_summary)]
        if d.root_evidence:
            lines += ["", f"Evidence: {citer.many(d.root_evidence, 5)}"]
        symptoms = _symptoms(facts)
        if symptoms:
            lines += ["", "What it caused, in order:", ""]
            for f in symptoms:
                where = f" on {md_escape(', '.join(f.services[:3]))}" if f.services else ""
                lines.append(
                    f"- {hms(f.first_ts)} {md_escape(f.title.rstrip('.'))}{where} "
                    f"({f.count}×) {citer(f.trigger)}".rstrip()
                )
    for hyp in facts.result.hypotheses[:3]:
        text = citer.claim(hyp.statement)
        if text:
            conf = f" (confidence {hyp.confidence:.0%})" if hyp.confidence is not None else ""
            lines += ["", f"- Hypothesis {hyp.rank}{conf}: {text}"]
    if not lines:
        lines = ["_Insufficient evidence for a root cause yet. Describe it here and cite lines._"]
    return "\n".join(lines)


def _causes(facts: Facts) -> list:
    """Signature findings that name a cause (causal tier), the root cause first."""
    return [
        f
        for f in facts.findings
        if not f.detector and f.severity != "info" and tier_of(f.category) == Tier.CAUSE
    ]


def _symptoms(facts: Facts) -> list:
    return [f for f in facts.findings if getattr(f, "role", "") == "symptom"]


def _contributing(facts: Facts, citer: Citer) -> str:
    """Causes besides the root cause (never symptoms, never detector noise)."""
    root = facts.diagnosis.root_category if facts.diagnosis else ""
    lines = []
    trigger = getattr(facts.diagnosis, "trigger", None)
    if isinstance(trigger, dict) and trigger.get("summary"):
        # what set the root cause off: a change, a job, an expiry (not the cause itself)
        lines.append(
            f"- **Trigger:** {md_escape(str(trigger['summary']))} "
            f"{citer.many(trigger.get('evidence'), 2)}".rstrip()
        )
    for f in _causes(facts)[:MAX_FINDINGS]:
        if f.category == root:
            continue
        where = f" on {md_escape(', '.join(f.services[:3]))}" if f.services else ""
        lines.append(
            f"- **{md_escape(f.title)}**{where}"
            + (f", from {hms(f.first_ts)}" if f.first_ts else "")
            + f" ({f.count}×) {citer.many(_evidence(f), 2)}".rstrip()
        )
    lines += [f"- {c}" for c in claims_text(citer, facts.result.contributing_factors)]
    return "\n".join(lines) or (
        "_No cause besides the root cause was found in the logs. Add what made it worse "
        "(a missing limit, an alert that did not fire, a risky change)._"
    )


def _evidence(f) -> list:
    return [f.trigger, *[r for r in f.evidence if r != f.trigger]] if f.trigger else f.evidence


def _went_well(facts: Facts, citer: Citer) -> str:
    """Only what the logs show went well: recovery before the logs end, a cause that was
    logged plainly from its first occurrence. Nothing about the tooling."""
    lines = []
    cause = next((f for f in facts.findings if getattr(f, "role", "") == "cause"), None)
    last_error = max(
        (f.last_ts for f in facts.findings if f.last_ts and f.severity in ("error", "critical")),
        default=None,
    )
    if last_error and facts.last_ts and (facts.last_ts - last_error).total_seconds() >= 60:
        lines.append(
            f"- Errors stopped at {hms(last_error)}, {duration_text(facts.last_ts - last_error)} "
            "before the logs end: the service recovered."
        )
    if cause is not None and cause.trigger:
        lines.append(
            f"- The failing component logged the cause itself ({md_escape(cause.title)}) from its "
            f"first occurrence, so the cause was identifiable from the logs "
            f"{citer(cause.trigger)}."
        )
    lines.append("- _Add what helped: alerts that fired, runbooks, rollbacks, communication._")
    return "\n".join(lines)


def _went_wrong(facts: Facts, citer: Citer) -> str:
    lines = []
    cause = next((f for f in facts.findings if getattr(f, "role", "") == "cause"), None)
    symptoms = _symptoms(facts)
    if cause is not None and symptoms:
        chain = ", then ".join(
            f"{md_escape(s.title.rstrip('.'))} {citer(s.trigger)}".rstrip() for s in symptoms[:4]
        )
        lines.append(
            f"- {md_escape(cause.title.rstrip('.'))} {citer(cause.trigger)} spread to callers: "
            f"{chain}."
        )
    else:
        for f in facts.findings:
            if f.severity in ("critical", "error") and not f.detector:
                lines.append(
                    f"- {md_escape(f.title)} {citer(f.trigger or (f.evidence or [None])[0])}".rstrip()
                )
            if len(lines) >= 6:
                break
    failing = [f for f in facts.findings if f.first_ts and f.severity in ("error", "critical")]
    if failing:
        start = min(f.first_ts for f in failing)
        end = max(f.last_ts or f.first_ts for f in failing)
        still = " and were still logged when the logs end" if facts.last_ts == end else ""
        lines.append(
            f"- Errors lasted {duration_text(end - start)} ({hms(start)} → {hms(end)}){still}."
        )
    lines.append("- _Add what slowed detection or recovery._")
    return "\n".join(lines)


def _actions(facts: Facts, citer: Citer) -> str:
    return "Fixes for the causes found, each with its evidence. Give each item an owner and a due date."


def _appendix(facts: Facts, citer: Citer) -> str:
    return "Every line cited in this postmortem, with the file it came from and its SHA-256 digest."


WRITERS = {
    SectionKey.TITLE: _title,
    SectionKey.SUMMARY: _summary,
    SectionKey.IMPACT: _impact,
    SectionKey.DETECTION: _detection,
    SectionKey.TIMELINE: _timeline,
    SectionKey.ROOT_CAUSE: _root_cause,
    SectionKey.CONTRIBUTING: _contributing,
    SectionKey.WENT_WELL: _went_well,
    SectionKey.WENT_WRONG: _went_wrong,
    SectionKey.ACTIONS: _actions,
    SectionKey.APPENDIX: _appendix,
}


def draft_section(key: str, facts: Facts) -> tuple[str, list[list[int]]]:
    """(Markdown, citations) for one section."""
    citer = Citer(facts)
    body = WRITERS[SectionKey(key)](facts, citer)
    return body, [list(ref) for ref in citer.refs]


def draft_actions(facts: Facts) -> list[dict]:
    """Action items: for each cause (the root cause first) its fix and its guard from the
    fixes table, citing the cause's first line; then the analysis' actions (deduplicated).
    Causes the table does not know fall back to their rule's remediation."""
    items: list[dict] = []
    seen: set[str] = set()

    def add(text: str, pairs) -> None:
        text = " ".join(str(text or "").split())[:500]
        if text and text.lower() not in seen:
            seen.add(text.lower())
            items.append({"text": text, "citations": [list(r) for r in map(ref_of, pairs) if r]})

    for finding in _causes(facts):
        cited = [finding.trigger] if finding.trigger else list(finding.evidence[:1])
        fix = FIXES.get(finding.category)
        if fix is not None:
            add(f"{fix.fix}.", cited)
            add(f"{fix.guard}.", cited)
        else:
            add(finding.remediation, cited)
    for claim in facts.result.actions:
        if claim.status != "dropped":
            add(claim.text, [[c.source_id, c.line] for c in claim.citations])
    return items[:MAX_ACTIONS]
