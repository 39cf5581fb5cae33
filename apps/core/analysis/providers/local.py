"""The default provider: deterministic, offline, no LLM. A template-filled narrative built from the
pack's facts (findings, groups, root-cause candidate) in the same schema as an LLM answer, where
every claim cites pack ids with a quote cut from the cited line, so it validates as ``verified``.
"""

from __future__ import annotations

import re
import time
from typing import Any

from apps.core.analysis.citations import normalise_ws
from apps.core.analysis.schema import AnalysisAnswer, Claim, ClaimKind, Hypothesis
from apps.core.evidence.types import EvidencePack
from apps.core.rules.fixes import FIXES
from apps.core.rules.incidents import Tier, tier_of
from apps.core.vocabulary import LEVEL_NUMBER, Level

from .base import AnalysisProvider, ProviderResult, Repair, Usage

MAX_QUOTE_CHARS = 120
_MESSAGE_START_RE = re.compile(
    r"\b(?:FATAL|CRITICAL|ERROR|WARN(?:ING)?|PANIC|Exception|Error|Traceback|Caused by)\b"
)


def quote_from(text: str) -> str:
    """A short verbatim fragment of ``text`` (whitespace-normalised), from the error keyword on."""
    t = normalise_ws(text)
    m = _MESSAGE_START_RE.search(t)
    start = m.start() if m else 0
    q = t[start : start + MAX_QUOTE_CHARS]
    if len(t) - start > MAX_QUOTE_CHARS and " " in q[40:]:
        q = q[: q.rindex(" ")]
    return q if len(q) >= 8 else t[:MAX_QUOTE_CHARS]


class LocalProvider(AnalysisProvider):
    name = "local"
    model = "local-narrative-v1"

    def analyze(self, pack: EvidencePack, *, repair: Repair | None = None) -> ProviderResult:
        started = time.perf_counter()
        answer = build_local_answer(pack)
        return ProviderResult(
            raw_text=answer.model_dump_json(),
            parsed=answer,
            usage=Usage(),
            latency_ms=int((time.perf_counter() - started) * 1000),
            model=self.model,
        )


def _claim(pack: EvidencePack, text: str, kind: ClaimKind, ids: list[str]) -> Claim | None:
    ids = [i for i in ids if i in pack.by_id]
    if not ids:
        return None  # nothing in the pack to stand on: say nothing rather than something uncited
    return Claim(text=text, kind=kind, evidence=ids[:3], quote=quote_from(pack.by_id[ids[0]].text))


def _what(f: dict[str, Any]) -> str:
    """ "Upstream timed out on nginx from 10:01:35" """
    when = f" from {f['first_ts'][11:19]}" if f.get("first_ts") else ""
    where = f" on {', '.join(f['services'][:2])}" if f.get("services") else ""
    return f"{f['title'].rstrip('.')}{where}{when}"


def _in_time_order(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(findings, key=lambda f: f.get("first_ts") or "~")


def _fix(f: dict[str, Any]) -> str:
    fix = FIXES.get(f["category"])
    return (
        f"{fix.fix}; {fix.guard[:1].lower()}{fix.guard[1:]}." if fix else f.get("remediation", "")
    )


def _keep(claims: list[Claim | None]) -> list[Claim]:
    return [c for c in claims if c is not None]


def build_local_answer(pack: EvidencePack) -> AnalysisAnswer:
    facts: dict[str, Any] = pack.facts
    findings: list[dict[str, Any]] = facts.get("findings") or []
    groups: list[dict[str, Any]] = facts.get("groups") or []
    root: dict[str, Any] | None = facts.get("root_cause")
    first_error = (facts.get("evidence_roles") or {}).get("first-error", [])
    error_groups = [
        g
        for g in groups
        if LEVEL_NUMBER.get(g.get("level") or "", -1) >= Level.ERROR and g["evidence"]
    ]
    if not findings and not error_groups and not (root and root.get("evidence")):
        return AnalysisAnswer(insufficient_evidence=True)

    causes = [f for f in findings if tier_of(f["category"]) == Tier.CAUSE]
    impact = [
        _claim(
            pack,
            f'{g["count"]} {g["level"]} events match the template "{g["template"]}"'
            + (" (new in this incident)." if g.get("is_new") else "."),
            "fact",
            g["evidence"],
        )
        for g in error_groups[:3]
    ]
    hypotheses = _hypotheses(pack, root, findings)
    seen = {h.category for h in hypotheses}
    # contributing factors are other causes, never symptoms or detector signals
    contributing: list[Claim | None] = [
        _claim(pack, f"{_what(f)}.", "fact", f["evidence"])
        for f in causes
        if f["category"] not in seen
    ][:3]
    contributing += [
        _claim(
            pack,
            f'A message template not seen before appeared: "{g["template"]}".',
            "fact",
            g["evidence"],
        )
        for g in groups
        if g.get("is_new") and g not in error_groups[:3]
    ][:2]
    # fixes for the causes (the root cause first), from the fixes table
    first = [f for f in causes if root and f["category"] == root.get("category")]
    actions = [
        _claim(pack, _fix(f), "action", f["evidence"])
        for f in [*first, *(f for f in causes if f not in first)][:3]
        if _fix(f)
    ]
    return AnalysisAnswer(
        insufficient_evidence=not hypotheses,
        summary=_keep(_summary(pack, findings, root, first_error)),
        impact=_keep(impact),
        hypotheses=hypotheses,
        contributing_factors=_keep(contributing),
        actions=_keep(actions),
    )


def _summary(
    pack: EvidencePack,
    findings: list[dict[str, Any]],
    root: dict[str, Any] | None,
    first_error: list[str],
) -> list[Claim | None]:
    """The root cause, its trigger and what followed; else where errors start and the most
    severe finding."""
    summary: list[Claim | None] = []
    if root and root.get("evidence"):
        summary.append(
            _claim(pack, f"Likely root cause: {root['summary']}", "fact", root["evidence"])
        )
        trigger = next((f for f in findings if f["category"] == "trigger"), None)
        if trigger is not None:
            summary.append(
                _claim(pack, f"Likely trigger: {trigger['title']}", "fact", trigger["evidence"])
            )
        symptoms = [f for f in findings if Tier.CAUSE < tier_of(f["category"]) < Tier.SIGNAL]
        later = [f for f in symptoms if f["category"] != root["category"]]
        if later:
            summary.append(
                _claim(
                    pack,
                    "What users and callers saw followed from it: "
                    + ", then ".join(_what(f) for f in _in_time_order(later)[:3])
                    + ".",
                    "fact",
                    [i for f in later[:3] for i in f["evidence"][:1]],
                )
            )
        return summary
    if first_error:
        summary.append(_claim(pack, "Errors start with this line.", "fact", first_error))
    if findings:
        top = findings[0]
        summary.append(
            _claim(
                pack,
                f"The most severe rule finding is {top['title']} ({top['severity']}, "
                f"{top['count']} matching lines).",
                "fact",
                top["evidence"],
            )
        )
    return summary


def _hypotheses(
    pack: EvidencePack, root: dict[str, Any] | None, findings: list[dict[str, Any]]
) -> list[Hypothesis]:
    """Up to three, one per category: the root cause first, then the findings in order."""
    candidates: list[tuple[str, float, str, list[str]]] = []
    if root and root.get("evidence"):
        conf = root.get("confidence")
        candidates.append(
            (
                root["category"],
                float(conf) if conf is not None else 0.6,
                root["summary"],
                root["evidence"],
            )
        )
    candidates += [
        (f["category"], float(f["confidence"]), f"{f['title']}.", f["evidence"])
        for f in findings
        if f["category"] != "trigger"
    ]
    hypotheses: list[Hypothesis] = []
    seen: set[str] = set()
    for category, confidence, statement, ids in candidates:
        if category in seen or len(hypotheses) >= 3:
            continue
        claim = _claim(pack, statement, "hypothesis", ids)
        if claim is None:
            continue
        seen.add(category)
        hypotheses.append(
            Hypothesis(
                rank=len(hypotheses) + 1,
                category=category,
                confidence=max(0.0, min(1.0, confidence)),
                statement=claim,
            )
        )
    return hypotheses
