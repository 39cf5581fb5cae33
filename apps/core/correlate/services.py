"""Which service started failing first, and the order the others followed in.

Fed one record at a time (`Correlator.feed`), it keeps per service only its error lines (time,
line, group) and, per trace id, the first error time in each service. `Correlator.result()`
then weighs three cues that do not depend on each other:

- **onset**: the start of each service's rise in errors (a Poisson change point over a common
  time grid, `rules.onset.rise_start`), so errors that were always there do not count as the
  start; the earliest onset is the first guess;
- **requests**: a failing request whose id (`traceids`) shows up in several services votes
  for the service where it failed first: within one request, order survives clock skew better
  than across a whole log;
- **blame**: a service whose errors name another failing service ("upstream orders-api",
  "could not connect to postgres") is downstream of it; the one named by others that names
  nobody is the deepest.

The order's confidence is "high" when the cues agree and the onsets are apart by more than clock
skew, "low" when the origin rests on onsets a second or two apart alone.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Literal

from apps.core.rules.onset import rise_start
from apps.core.vocabulary import EvidenceRef, Level

from .traceids import trace_id_of

Confidence = Literal["high", "medium", "low"]

ERROR = Level.ERROR.value
MAX_TRACES = 50_000  # traces remembered; later ones are ignored (bounded memory)
MAX_BLAME_GROUPS = 50  # error groups per service searched for other services' names
SKEW = timedelta(seconds=2)  # onsets closer than this are a tie: clocks disagree that much
GRID_BUCKETS = 240  # the common time grid's number of buckets over the whole span
TRACE_TIE = timedelta(milliseconds=10)  # within one request, closer than this is a tie
# Below this, a steady difference within requests may be a timeout the caller waited out.
CLOCK_OFF = timedelta(seconds=60)
LEAD = timedelta(minutes=2)  # errors this long before the first rise still belong to it
MIN_SHARED = 3  # shared failing requests needed to measure two services' clock offset
ZERO = timedelta(0)
FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


@dataclass(slots=True)
class ErrorLine:
    ts: datetime | None
    ref: EvidenceRef
    group: str


@dataclass(slots=True)
class ServiceErrors:
    name: str
    records: int = 0
    first_ts: datetime | None = None  # of any record: how long the log watched before
    errors: list[ErrorLine] = field(default_factory=list)
    # per error group: its first line (lower case) and how many errors it has; what the
    # service's errors say about others (a group's lines name the same services)
    blame_text: dict[str, list] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServiceOnset:
    name: str
    first_error: EvidenceRef  # the first error at or after the onset
    onset: datetime | None  # by the service's own clock
    aligned_onset: datetime | None  # on the clock of the service it shares most requests with
    errors: int
    role: Literal["origin", "affected"] = "affected"


@dataclass(frozen=True, slots=True)
class Correlation:
    services: list[ServiceOnset]  # origin first, then by onset
    origin: str | None
    confidence: Confidence
    basis: list[str]  # the cues behind the origin, in words
    traces: int  # failing requests seen in two or more services
    offsets: dict[str, timedelta] = field(default_factory=dict)  # clocks found off, by service

    @property
    def path(self) -> list[str]:
        return [s.name for s in self.services]


@dataclass(slots=True)
class Correlator:
    services: dict[str, ServiceErrors] = field(default_factory=dict)
    # trace id -> service -> time of its first error in that service
    traces: dict[str, dict[str, datetime]] = field(default_factory=dict)

    def seen(self, service: str, ts: datetime | None) -> None:
        """A record below ERROR: only counted (the fast path; most records)."""
        entry = self.services.get(service)
        if entry is None:
            entry = self.services[service] = ServiceErrors(service)
        entry.records += 1
        if ts is not None and (entry.first_ts is None or ts < entry.first_ts):
            entry.first_ts = ts

    def feed(
        self,
        *,
        service: str,
        level: int | None,
        ts: datetime | None,
        ref: EvidenceRef,
        group: str,
        message: str,
        trace_id: str | None = None,
        attrs: dict | None = None,
    ) -> None:
        entry = self.services.get(service)
        if entry is None:
            entry = self.services[service] = ServiceErrors(service)
        entry.records += 1
        if ts is not None and (entry.first_ts is None or ts < entry.first_ts):
            entry.first_ts = ts
        if level is None:
            if not UNLEVELLED_ERROR.search(message[:300]):
                return
        elif level < ERROR:
            return
        entry.errors.append(ErrorLine(ts, ref, group))
        said = entry.blame_text.get(group)
        if said is not None:
            said[1] += 1
        elif len(entry.blame_text) < MAX_BLAME_GROUPS:
            entry.blame_text[group] = [message[:500].lower(), 1]
        tid = trace_id_of(trace_id, attrs or {}, message)
        if tid and ts is not None:
            seen = self.traces.get(tid)
            if seen is None:
                if len(self.traces) >= MAX_TRACES:
                    return
                seen = self.traces[tid] = {}
            if service not in seen or ts < seen[service]:
                seen[service] = ts

    def result(
        self, *, hint: str | None = None, changed: frozenset[str] = frozenset()
    ) -> Correlation:
        """The order of the failing services; `hint` is the service of the rules' root cause
        line (a weak cue: the rule saw the cause there); `changed`, the failing services
        deployed just before the incident (`deploys.changed_services`, another weak cue)."""
        failing = [s for s in self.services.values() if s.errors]
        if not failing:
            return Correlation([], None, "low", [], 0)
        offsets = clock_offsets(self.traces)
        onsets, rising = _onsets(failing, offsets)
        failing = [s for s in failing if s.name in onsets]  # stray errors are not the incident
        aligned = {n: (ts - offsets.get(n, ZERO) if ts else None) for n, (ts, _) in onsets.items()}
        votes, traces = _trace_votes(self.traces, offsets, set(onsets))
        blamed, blaming = _blame(failing, changed)
        first_ts = min((ts for ts in aligned.values() if ts is not None), default=None)

        def score(name: str) -> float:
            s = 0.0
            ts = aligned[name]
            if first_ts is not None and ts is not None:
                gap = (ts - first_ts).total_seconds()
                timing = 2.0 if gap <= SKEW.total_seconds() else 0.0
                timing += 1.0 / (1.0 + max(gap, 0.0) / 60.0)
                s += timing if name in rising else timing / 4  # a few stray errors weigh less
            if traces:
                s += 3.0 * votes[name] / traces
            if name in blamed and name not in blaming:
                s += 3.0
            elif name in blaming:
                s -= 2.0 * min(len(blaming[name]), 2)
            if hint == name:
                s += 1.0
            if name in changed:  # deployed just before the incident: most incidents start so
                s += 1.5
            return s

        scores = {s.name: score(s.name) for s in failing}
        by_onset = sorted(
            failing,
            key=lambda s: (
                aligned[s.name] is None,
                latest(aligned[s.name]),
                s.errors[0].ref,
            ),
        )
        # A service whose errors name another failing service is not where it began, unless
        # every one does (a cycle, or names that are not dependencies).
        blameless = [s for s in by_onset if s.name not in blaming] or by_onset
        origin = max(blameless, key=lambda s: scores[s.name]).name
        out = [
            ServiceOnset(
                name=s.name,
                first_error=onsets[s.name][1],
                onset=onsets[s.name][0],
                aligned_onset=aligned[s.name],
                errors=len(s.errors),
                role="origin" if s.name == origin else "affected",
            )
            for s in by_onset
        ]
        out.sort(key=lambda o: o.role != "origin")  # stable: origin first, then by onset
        traced = {name for seen in self.traces.values() if len(seen) > 1 for name in seen}
        confidence, basis = _confidence(out, origin, votes, traces, blamed, blaming, hint, traced)
        basis += [
            f"{name}'s clock is {delta.total_seconds():+.1f} s off, by shared request ids"
            for name, delta in sorted(offsets.items())
        ]
        return Correlation(out, origin, confidence, basis, traces, offsets)


def latest(ts: datetime | None) -> datetime:
    """The latest moment a time may stand for: a time without a fraction of a second (an access
    log's) may be anywhere in its second; compared with one to the millisecond, it is not first."""
    if ts is None:
        return FAR_FUTURE
    return ts + timedelta(microseconds=999_999) if not ts.microsecond else ts


def _onsets(
    failing: list[ServiceErrors], offsets: dict[str, timedelta]
) -> tuple[dict[str, tuple[datetime | None, EvidenceRef]], set[str]]:
    """Per service in the incident: the onset of its error rise (on a grid common to all, by
    aligned clocks) and its first error line from then on. A service whose errors do not rise
    counts from its first error within LEAD of the earliest rise; one with none there is left
    out (stray errors). Without timestamps: no onset, the first error line. And: who rose."""
    timed: dict[str, list[tuple[datetime, EvidenceRef, str]]] = {}
    for s in failing:
        off = offsets.get(s.name, ZERO)
        timed[s.name] = sorted((e.ts - off, e.ref, e.group) for e in s.errors if e.ts is not None)
    stamps = [e[0] for errors in timed.values() for e in errors]
    out: dict[str, tuple[datetime | None, EvidenceRef]] = {}
    if not stamps:
        return {s.name: (None, s.errors[0].ref) for s in failing}, set()
    # The grid starts where the logs start, so a rise has its quiet "before" to stand out from.
    watched = [s.first_ts - offsets.get(s.name, ZERO) for s in failing if s.first_ts]
    start, end = min([*stamps, *watched]), max(stamps)
    width = max((end - start) / GRID_BUCKETS, timedelta(seconds=1))
    buckets = int((end - start) / width) + 1
    rises: dict[str, datetime] = {}
    for name, errors in timed.items():
        counts = [0] * buckets
        for ts, _, _ in errors:
            counts[min(int((ts - start) / width), buckets - 1)] += 1
        k = rise_start(counts)
        if k is not None:
            rises[name] = start + width * k
    incident = min(rises.values()) - LEAD if rises else start
    for s in failing:
        errors = timed[s.name]
        if not errors:
            out[s.name] = (None, s.errors[0].ref)
            continue
        if s.name in rises:
            first = next(((ts, ref) for ts, ref, _ in errors if ts >= rises[s.name]), None)
        else:  # no rise: its first error of a kind it did not have before the incident
            known = {group for ts, _, group in errors if ts < incident}
            first = next(
                ((ts, ref) for ts, ref, group in errors if ts >= incident and group not in known),
                None,
            )
        if first is not None:
            out[s.name] = (first[0] + offsets.get(s.name, ZERO), first[1])
    return out, set(rises)


def clock_offsets(traces: dict[str, dict[str, datetime]]) -> dict[str, timedelta]:
    """Per service, how far its clock is off (more than CLOCK_OFF) from the service it shares the
    most failing requests with, as the median time difference over those requests. One
    request is logged by its services within milliseconds, so a difference of seconds that
    holds across many requests is the clocks, not the order."""
    pairs: dict[tuple[str, str], list[float]] = {}
    for seen in traces.values():
        names = sorted(seen)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                pairs.setdefault((a, b), []).append((seen[b] - seen[a]).total_seconds())
    shared: Counter[str] = Counter()
    for (a, b), diffs in pairs.items():
        shared[a] += len(diffs)
        shared[b] += len(diffs)
    offsets: dict[str, timedelta] = {}
    if not shared:
        return offsets
    reference = min(shared, key=lambda n: (-shared[n], n))
    known = {reference: 0.0}
    frontier = [reference]
    while frontier:  # walk out from the reference over pairs with enough shared requests
        a = frontier.pop()
        for (x, y), diffs in sorted(pairs.items()):
            if len(diffs) < MIN_SHARED or a not in (x, y):
                continue
            other, sign = (y, 1.0) if a == x else (x, -1.0)
            if other in known:
                continue
            known[other] = known[a] + sign * median(diffs)
            frontier.append(other)
    # Re-base on the clock most services agree with (the reference may be the odd one out).
    limit = CLOCK_OFF.total_seconds()
    base = max(
        known.values(),
        key=lambda c: (sum(1 for v in known.values() if abs(v - c) <= limit), -abs(c)),
    )
    for name, value in known.items():
        off = value - base
        if abs(off) > limit:
            offsets[name] = timedelta(seconds=off)
    return offsets


def _trace_votes(
    traces: dict[str, dict[str, datetime]], offsets: dict[str, timedelta], names: set[str]
) -> tuple[Counter[str], int]:
    """Per service, the failing requests (seen failing in 2+ services) that failed there first;
    a lead under TRACE_TIE (a second when either time has no fraction of a second: an access
    log's) is a tie and votes for no one."""
    votes: Counter[str] = Counter()
    n = 0
    for raw in traces.values():
        seen = {name: ts - offsets.get(name, ZERO) for name, ts in raw.items() if name in names}
        if len(seen) < 2:
            continue
        order = sorted(seen, key=lambda name: (seen[name], name))
        a, b = seen[order[0]], seen[order[1]]
        tie = TRACE_TIE if a.microsecond and b.microsecond else timedelta(seconds=1)
        if b - a < tie:
            continue  # a tie within one request: no vote
        n += 1
        votes[order[0]] += 1
    return votes, n


# A line with no level that still says it failed (Go's log package prints no level).
UNLEVELLED_ERROR = re.compile(
    r"(?i)\b(?:panic|fatal|exception|traceback|error|failed|failure|segfault|killed)\b"
)
# Other names a service goes by in its callers' errors.
ALIASES: dict[str, tuple[str, ...]] = {
    "postgresql": ("postgres",),
    "postgres": ("postgresql",),
    "mysqld": ("mysql",),
    "mysql": ("mysqld",),
    "mongod": ("mongodb", "mongo"),
    "redis-server": ("redis",),
}
_SUFFIX = re.compile(r"[-_](?:svc|service|server|api|app)$")
# A product token (a user agent: "checkout-web/3.2.0") names the caller, not a dependency.
_PRODUCT = re.compile(r"[a-z0-9_.-]{1,60}/v?\d")
# Words of a caller reporting a dependency's failure (an unnamed one): a proxy's 502/503/504,
# "upstream …", refused connections.
_DEPENDENCY = re.compile(
    r"upstream|bad gateway|gateway time-?out|service unavailable|connection refused"
    r'|" 50[234] |\b50[234] (?:bad|service|gateway)'
)
UPSTREAM = "(upstream)"
_WORD = re.compile(r"[a-z0-9][a-z0-9_.-]*[a-z0-9]")


def _dependency_part(token: str) -> str:
    """The part of a whitespace-separated token that may name a dependency: a URL's host; not
    user@host or an e-mail (where the line came from), a path (a route) or a product token
    ("checkout-web/3.2.0", a user agent: the caller)."""
    if "@" in token:
        return ""
    token = token.strip("\"'()[]{}<>,;")
    if "://" in token:
        return token.split("://", 1)[1].split("/", 1)[0]
    if token.startswith("/") or _PRODUCT.match(token):
        return ""
    return token.split("/", 1)[0]


def _blame(
    failing: list[ServiceErrors], changed: frozenset[str] = frozenset()
) -> tuple[set[str], dict[str, set[str]]]:
    """(services named in other services' errors, service -> the failing services it names)."""
    names: dict[str, str] = {}
    for s in failing:
        key = s.name.lower()
        short = _SUFFIX.sub("", key)
        for alias in (key, short, *ALIASES.get(key, ())):
            if len(alias) >= 3:
                names.setdefault(alias, s.name)
    blaming: dict[str, set[str]] = {}
    for s in failing:
        said = s.blame_text.values()
        reports = sum(n for text, n in said if _DEPENDENCY.search(text))
        if said and reports * 2 >= sum(n for _, n in said):
            blaming[s.name] = {UPSTREAM}  # mostly reports of a dependency's failure
        words: set[str] = set()
        for text, _ in said:
            for token in text.split():
                for w in _WORD.findall(_dependency_part(token)):
                    words.add(w)
                    words.update(part for part in re.split(r"[.:]", w) if part)
        named = {names[w] for w in words if w in names and names[w] != s.name}
        if named:
            blaming.setdefault(s.name, set()).update(named)
    for caller, callee in _echoes(failing, changed):
        blaming.setdefault(caller, set()).add(callee)
    blamed = {b for named in blaming.values() for b in named} - {UPSTREAM}
    return blamed, blaming


# A clause of an error: text between punctuation that ends or quotes one (not "." or "_",
# which names and paths are made of).
_CLAUSE = re.compile(r"[^;:()\[\]{}\"'|<>=]+")
_NUMBERS = re.compile(r"\d+")
MIN_ECHO_WORDS = 4


def _echoes(failing: list[ServiceErrors], changed: frozenset[str]) -> list[tuple[str, str]]:
    """(caller, callee) where the caller's error quotes a clause of the callee's own error, four
    words or more ("failed to query: pq: sorry, too many clients already" quotes PostgreSQL's
    "sorry, too many clients already"): the caller reports the callee's failure. Of two lines
    sharing a clause, the quote is the one the clause is the smaller part of (the caller wraps
    it in its own words). Numbers are masked on both sides. A caller deployed just before the
    incident (`changed`) is not taken to be reporting: a new version's queries may be what
    its database refuses."""
    lines = {
        s.name: [_NUMBERS.sub("0", text) for text, _ in s.blame_text.values()] for s in failing
    }
    share: dict[tuple[str, str], float] = {}  # (service, clause) -> the least share of a line
    for name, texts in lines.items():
        for line in texts:
            for clause in _CLAUSE.findall(line):
                clause = clause.strip(" ,.-")
                if len(clause.split()) >= MIN_ECHO_WORDS:
                    key = (name, clause)
                    share[key] = min(share.get(key, 1.0), len(clause) / max(len(line), 1))
    found: set[tuple[str, str]] = set()
    for (callee, clause), callee_share in share.items():
        for caller, texts in lines.items():
            if caller == callee or caller in changed:
                continue
            quoting = [len(clause) / len(t) for t in texts if clause in t]
            if quoting and min(quoting) < callee_share:
                found.add((caller, callee))
    return sorted((a, b) for a, b in found if (b, a) not in found)


def _confidence(
    services: list[ServiceOnset],
    origin: str,
    votes: Counter[str],
    traces: int,
    blamed: set[str],
    blaming: dict[str, set[str]],
    hint: str | None,
    traced: set[str],
) -> tuple[Confidence, list[str]]:
    basis: list[str] = []
    agree = disagree = 0
    timed = [s for s in services if s.aligned_onset is not None]
    first = min(timed, key=lambda s: latest(s.aligned_onset)) if timed else None
    apart = False
    if len(services) == 1:
        return "high", ["only one service has errors"]
    if first is not None:
        others = [s.aligned_onset for s in timed if s.name != first.name and s.aligned_onset]
        gap = min((o - (first.aligned_onset or o) for o in others), default=ZERO)
        apart = gap > SKEW
        if first.name == origin:
            agree += 1 if apart else 0
            basis.append(
                f"{origin} began failing first"
                + (f", {gap.total_seconds():.0f} s before the next" if apart else " (a near tie)")
            )
        else:
            disagree += 1
    if traces and origin in traced:
        share = votes[origin] / traces
        basis.append(f"{votes[origin]} of {traces} failing requests failed first in {origin}")
        if share >= 0.6:
            agree += 2 if share >= 0.9 and traces >= 5 else 1  # many requests agreeing
        elif share < 0.4:
            disagree += 1
    if origin in blamed and origin not in blaming:
        who = sorted(s for s, named in blaming.items() if origin in named)
        basis.append(f"errors in {', '.join(who)} name {origin}")
        agree += 1
    elif origin in blaming:
        disagree += 1
    if hint == origin:
        basis.append(f"the root cause's first line is in {origin}")
    if disagree == 0 and (agree >= 2 or (agree == 1 and apart)):
        return "high", basis
    if agree > disagree:
        return "medium", basis
    return "low", basis
