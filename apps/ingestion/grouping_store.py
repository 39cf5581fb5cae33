"""Persistence of grouping per project: miner state, error groups, per-incident occurrences.

Mining is serialised per project with a PostgreSQL advisory lock held for the job: two jobs
of one project never learn from a stale miner state, jobs of other projects run in parallel.
The lock is session-level, so a killed worker's lock dies with its connection.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, Max, Min, Sum

from apps.incidents.models import Incident, Project
from apps.ingestion.grouping.fingerprint import fingerprint
from apps.ingestion.grouping.miner import Miner
from apps.ingestion.models import ErrorGroup, Event, GroupOccurrence, MinerState
from apps.ingestion.pipeline import Grouped

LOCK_NAMESPACE = 0x6D696E  # "min"


@contextmanager
def project_lock(project_id: int) -> Iterator[None]:
    key = zlib.crc32(f"{connection.schema_name}:{project_id}".encode()) & 0x7FFFFFFF  # int4
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, key])


def load_miner(project: Project) -> Miner:
    row = MinerState.objects.filter(project=project).values_list("state", flat=True).first()
    return Miner.from_state(row) if row else Miner()


def save_miner(project: Project, miner: Miner) -> None:
    MinerState.objects.update_or_create(project=project, defaults={"state": miner.to_state()})


class GroupRules:
    """A project's stored merge/split decisions, applied to every new event's group id.

    `apply(group_id, grouped)` returns the group id to store. The identity until merge/split
    rules exist (see the grouping issue).
    """

    @classmethod
    def load(cls, project: Project) -> GroupRules:
        return cls()

    def apply(self, group_id: str, grouped: Grouped) -> str:
        return group_id


@dataclass(slots=True)
class GroupInfo:
    template_id: str
    exception_type: str | None
    frames: list[str]
    sample: str  # one message of the group, to recompute its fingerprint after a merge


@dataclass(slots=True)
class Observed:
    """What a job saw of each group (bounded by the number of groups, not lines)."""

    groups: dict[str, GroupInfo] = field(default_factory=dict)

    def see(self, grouped: Grouped) -> None:
        fp = grouped.fingerprint
        if grouped.group not in self.groups:
            self.groups[grouped.group] = GroupInfo(
                template_id=grouped.match.template_id,
                exception_type=fp.exception_type,
                frames=list(fp.frames_used),
                sample=grouped.record.message[:4000],
            )


def _remap_merged_templates(incident: Incident, miner: Miner, observed: Observed) -> None:
    """Templates absorbed by a later generalisation: move their events to the survivor."""
    for group_id, info in list(observed.groups.items()):
        live = miner.resolve(info.template_id)
        if live == info.template_id:
            continue
        new_fp = fingerprint(info.sample, live)
        Event.objects.filter(incident=incident, group_id=group_id).update(
            template_id=live, group_id=new_fp.group_id
        )
        observed.groups.pop(group_id)
        observed.groups.setdefault(
            new_fp.group_id,
            GroupInfo(live, new_fp.exception_type, list(new_fp.frames_used), info.sample),
        )


@transaction.atomic
def record_groups(incident: Incident, miner: Miner, observed: Observed) -> None:
    _remap_merged_templates(incident, miner, observed)
    texts = {t.template_id: t.template for t in miner.templates()}
    existing = {g.group_id: g for g in ErrorGroup.objects.filter(project_id=incident.project_id)}
    for group_id, info in observed.groups.items():
        live_template = miner.resolve(info.template_id)
        group = existing.get(group_id)
        if group is None:
            existing[group_id] = ErrorGroup.objects.create(
                project_id=incident.project_id,
                group_id=group_id,
                template_id=live_template,
                template=texts.get(live_template, info.sample.split("\n", 1)[0])[:4000],
                exception_type=(info.exception_type or "")[:300],
                frames=info.frames,
            )
        elif group.template_id != live_template or live_template in texts:
            group.template_id = live_template
            group.template = texts.get(live_template, group.template)[:4000]
            group.save(update_fields=["template_id", "template"])
    refresh_incident_groups(incident)


@transaction.atomic
def refresh_incident_groups(incident: Incident) -> None:
    """Recompute this incident's occurrences from its events (exact and idempotent)."""
    stats = (
        Event.objects.filter(incident=incident)
        .values("group_id")
        .annotate(
            n=Count("id"), first=Min("ts"), last=Max("ts"), first_id=Min("id"), level=Max("level")
        )
    )
    groups = {g.group_id: g for g in ErrorGroup.objects.filter(project_id=incident.project_id)}
    GroupOccurrence.objects.filter(incident=incident).delete()
    occurrences = []
    for row in stats:
        group = groups.get(row["group_id"])
        if group is None:
            continue
        occurrences.append(
            GroupOccurrence(
                group=group,
                incident=incident,
                count=row["n"],
                first_ts=row["first"],
                last_ts=row["last"],
                first_event_id=row["first_id"],
            )
        )
        if row["level"] is not None and (group.level is None or row["level"] > group.level):
            ErrorGroup.objects.filter(pk=group.pk).update(level=row["level"])
    GroupOccurrence.objects.bulk_create(occurrences)
    touched = [o.group_id for o in occurrences]
    for group_id, agg in _group_totals(touched).items():
        ErrorGroup.objects.filter(pk=group_id).update(**agg)


def _group_totals(group_pks: list[int]) -> dict[int, dict]:
    rows = (
        GroupOccurrence.objects.filter(group_id__in=group_pks)
        .values("group_id")
        .annotate(count=Sum("count"), first_seen=Min("first_ts"), last_seen=Max("last_ts"))
    )
    return {
        row["group_id"]: {
            "count": row["count"],
            "first_seen": row["first_seen"],
            "last_seen": row["last_seen"],
        }
        for row in rows
    }
