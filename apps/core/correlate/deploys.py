"""Deploy events, and which deploy most likely triggered an incident.

`parse_deploys` reads JSON lines of deploy events in the shapes CI tools and marker APIs use
(`service`/`app`/`component`, `version`/`release`/`revision`/`tag`, a time in `ts`,
`started_at`, `at`, `timestamp`, `time`, `created_at` or `finished_at`, ISO 8601 or epoch
seconds/milliseconds).

`suspects` scores every deploy against the error lines the correlator kept: a deploy is a
suspect when, in its service (or, for a service with no logs, in all of them), errors rose
after it (a one-sided Poisson test that copes with counts of two or three), new error groups
appeared after it, and it came shortly before the incident's onset. The best-scoring deploy
that clears the bar is *the* suspect; the others say why not.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import log

from .services import ZERO, Correlation, Correlator

WINDOW = timedelta(minutes=30)  # errors compared this long before and after a deploy
GRACE = timedelta(minutes=1)  # a deploy stamped at its end may finish after the first error
MIN_SCORE = 2.0

_SERVICE_KEYS = ("service", "app", "application", "component", "project", "name")
_VERSION_KEYS = ("version", "release", "revision", "tag", "image", "sha")
_TIME_KEYS = ("ts", "started_at", "at", "timestamp", "time", "created_at", "finished_at", "date")


@dataclass(frozen=True, slots=True)
class DeployEvent:
    service: str
    version: str
    ts: datetime
    environment: str = ""
    commit: str = ""
    url: str = ""
    line: int = 0  # line in the deploys file (1-based)
    source: str = "given"  # "logs": read from the logs themselves (logdeploys)


@dataclass(frozen=True, slots=True)
class DeployVerdict:
    deploy: DeployEvent
    suspect: bool
    score: float
    errors_before: int
    errors_after: int
    new_groups: int
    reason: str


def parse_time(value: object) -> datetime | None:
    """ISO 8601 (a trailing Z accepted; naive means UTC) or epoch seconds / milliseconds."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(" UTC"):  # GitLab's "2021-04-28 19:50:00 UTC"
        text = text[:-4] + "+00:00"
    if text.replace(".", "", 1).isdigit():
        return parse_time(float(text))
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _first(obj: Mapping[str, object], keys: Iterable[str]) -> object:
    for key in keys:
        value = obj.get(key)
        if value not in (None, ""):
            return value
    return None


def deploy_from_object(obj: Mapping[str, object], *, line: int = 0) -> DeployEvent | None:
    """One deploy event from a JSON object, or None without a service or a time."""
    service = _first(obj, _SERVICE_KEYS)
    ts = parse_time(_first(obj, _TIME_KEYS))
    if not isinstance(service, str) or not service.strip() or ts is None:
        return None
    version = _first(obj, _VERSION_KEYS)
    return DeployEvent(
        service=service.strip()[:200],
        version=str(version)[:200] if version is not None else "",
        ts=ts.astimezone(UTC),
        environment=str(_first(obj, ("environment", "env")) or "")[:100],
        commit=str(_first(obj, ("commit", "sha", "git_sha", "revision")) or "")[:100],
        url=str(_first(obj, ("url", "link", "html_url")) or "")[:2000],
        line=line,
    )


def parse_deploys(text: str) -> tuple[list[DeployEvent], list[str]]:
    """Deploy events from JSON lines (a JSON array is accepted too), and warnings."""
    events: list[DeployEvent] = []
    warnings: list[str] = []
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except ValueError as exc:
            return [], [f"deploys: not JSON: {exc}"]
        rows = [(i + 1, item) for i, item in enumerate(items)]
    else:
        rows = []
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            try:
                rows.append((number, json.loads(raw)))
            except ValueError:
                warnings.append(f"deploys line {number}: not JSON")
    for number, item in rows:
        event = deploy_from_object(item, line=number) if isinstance(item, dict) else None
        if event is None:
            warnings.append(f"deploys line {number}: needs a service and a time")
        else:
            events.append(event)
    events.sort(key=lambda e: (e.ts, e.line))
    return events, warnings


def rise_llr(before: int, after: int, t_before: float, t_after: float) -> float:
    """Log-likelihood ratio of "a higher rate after" against one rate over both spans (0 when
    the rate did not rise). Poisson, so two errors in an hour then four in a minute counts."""
    if t_before <= 0 or t_after <= 0 or after == 0 or after / t_after <= before / t_before:
        return 0.0
    total, span = before + after, t_before + t_after

    def term(k: int, t: float) -> float:
        return k * log(k / t) if k else 0.0

    return term(before, t_before) + term(after, t_after) - term(total, span)


CHANGE_LEAD = timedelta(minutes=10)  # a deploy this long before the onset may have started it


def changed_services(
    deploys: list[DeployEvent], correlator: Correlator, correlation: Correlation
) -> frozenset[str]:
    """The failing services deployed from CHANGE_LEAD before the incident's earliest onset to
    GRACE after it: a cue for the origin (`Correlator.result(changed=...)`)."""
    onsets = [s.aligned_onset for s in correlation.services if s.aligned_onset is not None]
    if not onsets:
        return frozenset()
    first = min(onsets)
    failing = {s.name.lower(): s.name for s in correlation.services}
    return frozenset(
        failing[d.service.lower()]
        for d in deploys
        if d.service.lower() in failing and first - CHANGE_LEAD <= d.ts <= first + GRACE
    )


def suspects(
    deploys: list[DeployEvent], correlator: Correlator, correlation: Correlation
) -> list[DeployVerdict]:
    """A verdict for every deploy, in the order given; at most one has `suspect=True`."""
    # The incident began at the earliest onset (by the service's own clock, the deploys' clock
    # being unknown): a deploy after it cannot have started it.
    onsets = [s.aligned_onset for s in correlation.services if s.aligned_onset is not None]
    onset = min(onsets) if onsets else None
    names = {name.lower(): name for name in correlator.services}
    confident = correlation.confidence != "low"
    verdicts = [_verdict(d, correlator, names, onset, correlation, confident) for d in deploys]
    best = max(
        (v for v in verdicts if v.score >= MIN_SCORE),
        key=lambda v: (v.score, v.deploy.ts),
        default=None,
    )
    return [
        DeployVerdict(
            v.deploy, v is best, v.score, v.errors_before, v.errors_after, v.new_groups, v.reason
        )
        for v in verdicts
    ]


def _verdict(
    deploy: DeployEvent,
    correlator: Correlator,
    names: dict[str, str],
    onset: datetime | None,
    correlation: Correlation,
    confident: bool,
) -> DeployVerdict:
    """Times are on the aligned clock (`Correlation.offsets`): a service whose clock is off
    would otherwise have its errors counted before or after the wrong deploys."""
    t = deploy.ts
    origin, offsets = correlation.origin, correlation.offsets
    service = names.get(deploy.service.lower())
    watched = [correlator.services[service]] if service else list(correlator.services.values())
    errors = [
        (e.ts - offsets.get(s.name, ZERO), e.group)
        for s in watched
        for e in s.errors
        if e.ts is not None
    ]
    # A service other than the origin: only its errors before the incident's onset speak for
    # its deploy; later ones are the incident's echo in it.
    echo = service is not None and origin is not None and service != origin and onset is not None
    until = min(onset, t + WINDOW) if echo and onset is not None else t + WINDOW
    before = sum(1 for ts, _ in errors if t - WINDOW <= ts < t)
    after = sum(1 for ts, _ in errors if t <= ts < until)
    earlier_groups = {g for ts, g in errors if ts < t}
    new_groups = len({g for ts, g in errors if t <= ts < until} - earlier_groups)
    seen = [s.first_ts - offsets.get(s.name, ZERO) for s in watched if s.first_ts is not None]
    t_before = max(min(WINDOW, t - min(seen, default=t)).total_seconds(), 60.0)
    llr = rise_llr(before, after, t_before, max((until - t).total_seconds(), 60.0))
    if onset is not None and t > onset + GRACE:
        return DeployVerdict(deploy, False, 0.0, before, after, new_groups, "after the onset")
    if onset is not None:
        gap = max((onset - t).total_seconds(), 0.0)
        proximity = max(0.0, 1.0 - gap / WINDOW.total_seconds())
    else:
        proximity = 0.0
    score = min(llr, 20.0) / 4.0 + min(new_groups, 3) * 0.75 + 2.0 * proximity
    if service is None:
        score *= 0.5  # no logs of the deployed service: only the others' errors speak for it
    elif service == origin:
        score += 2.0
    elif origin is not None and confident:
        score *= 0.6  # the failure began elsewhere
    reason = (
        f"{after} errors in the {int((until - t).total_seconds() // 60)} min after, {before} before"
        f"; {new_groups} new error groups"
        + ("" if service else f"; no logs of {deploy.service}, all services counted")
    )
    return DeployVerdict(deploy, False, round(score, 3), before, after, new_groups, reason)
