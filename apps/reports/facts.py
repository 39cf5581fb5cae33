"""What a postmortem is drafted from: `gather(incident)` reads everything once (sources,
findings, diagnosis, latest analysis, per-service counts, first warning/error) into `Facts`, and
the `Citer` turns evidence into citations. The sections themselves are in `drafting.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, F, Q

from apps.analysis.selectors import latest_analysis
from apps.core.analysis.result import AnalysisResult, ResultClaim
from apps.core.render.markdown import cite, md_escape
from apps.core.vocabulary import Level
from apps.incidents.models import Incident
from apps.ingestion.models import Event, GroupOccurrence, Source
from apps.rules.diagnosis import story_findings
from apps.rules.models import Diagnosis, Finding

ERROR = Level.ERROR.value
WARN = Level.WARN.value
MAX_FINDINGS = 12
MAX_ACTIONS = 10

Ref = tuple[int, int]
NO_ANALYSIS = AnalysisResult(status="insufficient_evidence")


@dataclass
class KeyEvent:
    when: datetime | None
    text: str
    ref: Ref | None = None


@dataclass
class Facts:
    incident: Incident
    sources: list = field(default_factory=list)
    findings: list = field(default_factory=list)
    diagnosis: object | None = None
    analysis: object | None = None
    services: list[dict] = field(default_factory=list)  # service, total, errors
    first_error: object | None = None
    first_warning: object | None = None
    groups: list = field(default_factory=list)
    default_owner: str = ""

    @property
    def members(self) -> dict[int, str]:
        return {s.pk: s.member for s in self.sources}

    @property
    def first_ts(self) -> datetime | None:
        return min((s.first_ts for s in self.sources if s.first_ts), default=None)

    @property
    def last_ts(self) -> datetime | None:
        return max((s.last_ts for s in self.sources if s.last_ts), default=None)

    @property
    def started(self) -> datetime | None:
        """When the incident began: the diagnosis' onset (its window's change point), else the
        first log line."""
        onset = getattr(self.diagnosis, "onset", None)
        return onset or self.first_ts

    @property
    def ended(self) -> datetime | None:
        """When it ended: the end of the root cause's window, else the last log line."""
        ended = getattr(self.diagnosis, "ended", None)
        return ended if ended and self.started and ended >= self.started else self.last_ts

    @property
    def span(self) -> timedelta | None:
        return (self.ended - self.started) if self.started and self.ended else None

    @property
    def logs_span(self) -> timedelta | None:
        return (self.last_ts - self.first_ts) if self.first_ts and self.last_ts else None

    @property
    def result(self) -> AnalysisResult:
        """The latest analysis, typed; an empty one when there is none yet."""
        typed = self.analysis.typed_result if self.analysis is not None else None
        return typed or NO_ANALYSIS

    @property
    def event_count(self) -> int:
        return sum(s.event_count for s in self.sources)

    @property
    def error_count(self) -> int:
        return sum(row["errors"] for row in self.services)


def gather(incident: Incident, *, default_owner: str = "") -> Facts:

    diagnosis = Diagnosis.objects.filter(incident=incident).first()
    rows = list(Finding.objects.filter(incident=incident).order_by("first_ts", "id"))
    events = Event.objects.filter(incident=incident)
    first = events.order_by(F("ts").asc(nulls_last=True), "id").only(
        "source_id", "line", "ts", "service", "message", "level"
    )
    return Facts(
        incident=incident,
        sources=list(
            Source.objects.filter(incident=incident).select_related("stored_file").order_by("id")
        ),
        # one finding per fact: the root cause first, its symptoms under it, then the rest
        findings=story_findings(rows, diagnosis.root_category if diagnosis else ""),
        diagnosis=diagnosis,
        analysis=latest_analysis(incident),
        services=list(
            events.values("service")
            .annotate(total=Count("id"), errors=Count("id", filter=Q(level__gte=ERROR)))
            .order_by("-errors", "-total", "service")
        ),
        first_error=first.filter(level__gte=ERROR).first(),
        first_warning=first.filter(level=WARN).first(),
        groups=list(
            GroupOccurrence.objects.filter(incident=incident, group__level__gte=ERROR)
            .select_related("group")
            .order_by("-count", "id")[:5]
        ),
        default_owner=default_owner,
    )


# --- small formatting helpers -------------------------------------------------------------------


def ts_text(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "unknown time"


def hms(value: datetime | None) -> str:
    return value.strftime("%H:%M:%S") if value else "—"


def duration_text(delta: timedelta | None) -> str:
    if delta is None:
        return "unknown"
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def ref_of(pair) -> Ref | None:
    try:
        return int(pair[0]), int(pair[1])
    except (TypeError, ValueError, IndexError, KeyError):
        return None


class Citer:
    """Writes citation links and remembers what a section cited."""

    def __init__(self, facts: Facts):
        self.members = facts.members
        self.refs: list[Ref] = []

    def __call__(self, pair) -> str:
        ref = ref_of(pair)
        if ref is None:
            return ""
        if ref not in self.refs:
            self.refs.append(ref)
        name = self.members.get(ref[0], f"source {ref[0]}").rsplit("/", 1)[-1]
        return cite(f"{name}:{ref[1]}", *ref)

    def many(self, pairs, limit: int = 4) -> str:
        unique = list(dict.fromkeys(r for r in map(ref_of, pairs or ()) if r))  # cite once
        links = [link for link in (self(p) for p in unique[:limit]) if link]
        return " ".join(links)

    def claim(self, claim: ResultClaim) -> str | None:
        """An analysis claim as Markdown: verified ones with links, unverified ones marked."""
        if claim.status == "dropped":
            return None
        text = md_escape(claim.text)
        if not text:
            return None
        if claim.verified:
            links = self.many([(c.source_id, c.line) for c in claim.citations])
            return f"{text} {links}".strip()
        return f"{text} _(unverified)_"


def claims_text(citer: Citer, claims) -> list[str]:
    return [line for line in (citer.claim(c) for c in claims or ()) if line]
