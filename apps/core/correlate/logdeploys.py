"""Deploys read from the logs themselves, by the shape of the lines (no product vocabulary):

- **rollouts**: Kubernetes `ScalingReplicaSet` events, "Scaled up replica set NAME-HASH [from 0]
  to N". A scale-up from 0, or one while another replica set of the same deployment is scaled
  down (a rolling update), is a new pod template: a deploy of NAME, version HASH. A lone
  scale-up of the replica set already running is an autoscaler, not a deploy;
- **image changes**: an image reference `repo:tag` after the word "image" (kubelet's
  `Pulling image "…"`, `kubectl describe`'s `Image:  …`, `kubectl set image`) whose tag differs
  from the tag that repository had earlier in the logs: a deploy of the repository's last path
  component, version = the tag;
- **start lines with a version**: a line that says it starts (start, started, starting,
  booting, launching, listening, ready …) and carries a version (`version 1.2.3`,
  `version=1.2.3`, `v1.2.3`, `app@1.2.3`, or a `version`/`release` field). It is a deploy when
  the service showed another version before, or when the service was already logging before
  it (a restart into a version); a start line at the very top of a service's log says only
  that the log begins there.

`LogDeploys.feed` takes records in time order within a service; `result` merges what the three
shapes saw of one change (a rollout and its image pull within `SAME_CHANGE`) into one deploy
with the most telling version (image tag, then start line, then replica-set hash); an image
pulled for the first time counts only as a rollout's version, never as a deploy alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from apps.core.vocabulary import EvidenceRef

Kind = Literal["image", "start", "rollout"]
_RANK: dict[str, int] = {"image": 0, "start": 1, "rollout": 2}  # the most telling version first
SAME_CHANGE = timedelta(minutes=5)  # sightings of one service's change closer than this merge
LOG_START = timedelta(seconds=10)  # a start line this close to the service's first record

# Cheap test on a template or a line before any of the patterns below run: substrings of the
# lowered text (a case-insensitive regex alternation cost ~27 µs a line; this ~1 µs).
_KEYS = ("replica", "image", "start", "listening", "boot", "launch", "ready", "version", "release")
_V_DIGIT = re.compile(r"v\d")


def hint(text: str) -> bool:
    """Whether `text` may show a deploy (a rollout, an image, a start line, a version)."""
    low = text.lower()
    for key in _KEYS:
        if key in low:
            return True
    return _V_DIGIT.search(low) is not None


_SCALED = re.compile(
    r"(?i)\bscaled (?P<dir>up|down) replica ?set (?P<rs>[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)"
    r"(?: from (?P<from>\d+))? to (?P<to>\d+)"
)
_POD_HASH = re.compile(r"-(?P<hash>[a-z0-9]{5,10})$")
# An image reference after "image" (or "Image:"): optional registry with a port, path, a tag.
_IMAGE = re.compile(
    r"(?i)\bimage\b[\s:=\"'`]{1,12}(?:[a-z]+://)?(?P<ref>[a-z0-9][\w.-]*(?::\d+)?(?:/[\w.-]+)*"
    r":(?P<tag>\w[\w.+-]{0,127}))(?:@sha256:[0-9a-f]{8,64})?"
)
_START = re.compile(
    r"(?i)\b(?:start(?:s|ed|ing)?|boot(?:s|ed|ing)?|launch(?:ed|ing)?|listening|"
    r"ready|initiali[sz]ed|up and running)\b"
)
_VERSION = re.compile(
    r"(?i)(?:\b(?:version|release|build)\b[\s:=\"']{1,4}(?P<a>v?\d[\w.+-]*|[0-9a-f]{7,40})"
    r"|(?<![\w.@/-])(?P<b>v\d+\.\d+(?:\.\d+)?(?:[-+][\w.]+)?)\b"
    r"|[a-z]@(?P<c>\d+\.\d+\.\d+[\w.+-]*))"
)
_VERSION_KEYS = ("version", "app_version", "service.version", "service_version", "release")


@dataclass(frozen=True, slots=True)
class LogDeploy:
    service: str
    version: str
    ts: datetime
    kind: Kind
    ref: EvidenceRef  # the line that shows it
    text: str  # that line, cut
    version_from: Kind | None = None  # where the version was read, when not the line itself

    @property
    def rank(self) -> int:
        return _RANK[self.version_from or self.kind]


@dataclass(slots=True)
class LogDeploys:
    # sightings in feed order: (kind, service, version, ts, ref, text)
    _seen: list[LogDeploy] = field(default_factory=list)
    _images: dict[str, str] = field(default_factory=dict)  # repository -> its last tag
    _versions: dict[str, str] = field(default_factory=dict)  # service -> last version started
    _first: dict[str, datetime] = field(default_factory=dict)  # service -> first record's time
    # deployment -> hashes scaled up (with their sighting) and down
    _ups: dict[str, list[tuple[str, bool, LogDeploy]]] = field(default_factory=dict)
    _downs: dict[str, set[str]] = field(default_factory=dict)
    # the first image of each repository: no change on its own, the version of a rollout
    _first_images: list[LogDeploy] = field(default_factory=list)

    def first_seen(self, service: str, ts: datetime | None) -> None:
        """A record of `service` that is no deploy: only when its log began matters."""
        if ts is not None and service not in self._first:
            self._first[service] = ts

    def feed(
        self,
        *,
        service: str,
        ts: datetime | None,
        message: str,
        source: str,
        line: int,
        source_id: int | None = None,
        attrs: Mapping[str, object] | None = None,
    ) -> None:
        """One record (most are dismissed by `hint` in about a microsecond)."""
        if ts is None:
            return
        if service not in self._first:
            self._first[service] = ts
        text = message[:400]
        if hint(text):
            self._shaped(service, ts, text, EvidenceRef(source, line, source_id), attrs)

    def _shaped(
        self,
        service: str,
        ts: datetime,
        text: str,
        ref: EvidenceRef,
        attrs: Mapping[str, object] | None,
    ) -> None:
        line = text.split("\n", 1)[0][:300]
        scaled = _SCALED.search(text)
        if scaled:
            self._scaled(scaled, ts, ref, line)
            return
        image = _IMAGE.search(text)
        if image:
            self._image(image.group("ref"), image.group("tag"), ts, ref, line)
            return
        if _START.search(text):
            version = _version(text) or _attr_version(attrs or {})
            if version:
                self._start(service, version, ts, ref, line)

    def _scaled(self, m: re.Match[str], ts: datetime, ref: EvidenceRef, line: str) -> None:
        rs = m.group("rs").lower()
        hashed = _POD_HASH.search(rs)
        if hashed is None:
            return
        deployment, digest = rs[: hashed.start()], hashed.group("hash")
        if m.group("dir").lower() == "down":
            self._downs.setdefault(deployment, set()).add(digest)
            return
        ups = self._ups.setdefault(deployment, [])
        if all(h != digest for h, _, _ in ups):
            sighting = LogDeploy(deployment, digest, ts, "rollout", ref, line)
            ups.append((digest, m.group("from") == "0", sighting))

    def _image(self, image: str, tag: str, ts: datetime, ref: EvidenceRef, line: str) -> None:
        repository = image[: -len(tag) - 1].lower()
        before = self._images.get(repository)
        self._images[repository] = tag
        name = repository.rsplit("/", 1)[-1]
        if before is None:
            self._first_images.append(LogDeploy(name, tag, ts, "image", ref, line))
        elif before != tag:
            self._seen.append(LogDeploy(name, tag, ts, "image", ref, line))

    def _start(self, service: str, version: str, ts: datetime, ref: EvidenceRef, line: str) -> None:
        before = self._versions.get(service)
        self._versions[service] = version
        if before == version:
            return  # a restart of the version already running
        began = self._first.get(service, ts)
        if before is not None or ts - began > LOG_START:
            self._seen.append(LogDeploy(service, version, ts, "start", ref, line))

    def result(self) -> list[LogDeploy]:
        """The deploys seen, one per change, in time order."""
        found = list(self._seen)
        for deployment, ups in self._ups.items():
            downs = self._downs.get(deployment, set())
            for digest, from_zero, sighting in ups:
                if from_zero or downs - {digest}:
                    found.append(self._versioned(sighting))
        found.sort(key=lambda d: (d.ts, d.rank))
        merged: list[LogDeploy] = []
        for d in found:
            same = next(
                (
                    i
                    for i, m in enumerate(merged)
                    if _same_service(m.service, d.service) and d.ts - m.ts <= SAME_CHANGE
                ),
                None,
            )
            if same is None:
                merged.append(d)
            elif d.rank < merged[same].rank:  # a better version, the earlier time
                m = merged[same]
                merged[same] = LogDeploy(
                    m.service, d.version, m.ts, m.kind, m.ref, m.text, d.version_from or d.kind
                )
        return merged

    def _versioned(self, rollout: LogDeploy) -> LogDeploy:
        """A rollout named by the image first pulled in the SAME_CHANGE after it (the new pods'
        version; one pulled before is the old pods'), else by its replica set's hash."""
        near = [
            i
            for i in self._first_images
            if _same_service(i.service, rollout.service)
            and rollout.ts <= i.ts <= rollout.ts + SAME_CHANGE
        ]
        if not near:
            return rollout
        image = min(near, key=lambda i: i.ts)
        return LogDeploy(
            rollout.service,
            image.version,
            rollout.ts,
            "rollout",
            rollout.ref,
            rollout.text,
            "image",
        )


def _same_service(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    return a == b or a.startswith(b + "-") or b.startswith(a + "-")


def _version(text: str) -> str:
    m = _VERSION.search(text)
    if m is None:
        return ""
    return (m.group("a") or m.group("b") or m.group("c") or "").rstrip(".,;:)")[:200]


def _attr_version(attrs: Mapping[str, object]) -> str:
    for key in _VERSION_KEYS:
        value = attrs.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value):
            return str(value)[:200]
    return ""
