"""Persistence of grouping per project: miner state, error groups, per-incident occurrences.

Mining is serialised per project with a PostgreSQL advisory lock held for the job: two jobs
of one project never learn from a stale miner state, jobs of other projects run in parallel.
The lock is session-level, so a killed worker's lock dies with its connection.
"""

from __future__ import annotations

import hashlib
import json
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, Max, Min, Sum

from apps.core.grouping.fingerprint import fingerprint, head_line
from apps.core.grouping.masks import WILDCARD, tokenize
from apps.core.grouping.miner import Miner
from apps.core.ingest.pipeline import Grouped
from apps.incidents.models import Incident, Project
from apps.ingestion.models import ErrorGroup, Event, GroupOccurrence, GroupRule, MinerState

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

    `apply(group_id, grouped)` returns the group id to store: the rules run in creation order,
    each once, so a new event lands where the same event would have been moved to when each
    rule was created (merge B→A then split A: B's events are split too; no cycles possible).
    """

    def __init__(self, rules: list[GroupRule] | None = None) -> None:
        self.rules = rules or []
        self.sources = {rule.source_group for rule in self.rules}
        self.targets = {rule.target_group for rule in self.rules}
        self._columns: dict[str, list[tuple[int, int]]] = {}

    @classmethod
    def load(cls, project: Project) -> GroupRules:
        return cls(list(GroupRule.objects.filter(project=project).order_by("id")))

    def apply(self, group_id: str, grouped: Grouped) -> str:
        if group_id not in self.sources:  # the common case: one set lookup per event
            return group_id
        for rule in self.rules:
            if rule.source_group == group_id and self._holds(rule, grouped):
                group_id = rule.target_group
        return group_id

    def apply_id(self, group_id: str) -> str:
        """The merges alone (no per-event data): for a group id recomputed after the fact."""
        for rule in self.rules:
            if rule.source_group == group_id and rule.kind == GroupRule.Kind.MERGE:
                group_id = rule.target_group
        return group_id

    def _holds(self, rule: GroupRule, grouped: Grouped) -> bool:
        if rule.kind == GroupRule.Kind.MERGE:
            return True
        return split_holds(
            rule.condition,
            template_id=grouped.match.template_id,
            template=grouped.match.template,
            params=grouped.match.params,
            exception_type=grouped.fingerprint.exception_type,
            columns=self._columns,
        )


def template_columns(template: str) -> list[tuple[int, int]]:
    """(token index, index inside the token) of every `<*>` of a template, in order.

    Token indexes survive generalisation (templates only merge at equal length) while the
    ordinal of a `<*>` does not, so split conditions are stored as (token, sub)."""
    return [
        (index, sub)
        for index, token in enumerate(tokenize(template))
        for sub in range(token.count(WILDCARD))
    ]


def split_holds(
    condition: dict,
    *,
    template_id: str,
    template: str,
    params: list[str],
    exception_type: str | None,
    columns: dict[str, list[tuple[int, int]]] | None = None,
) -> bool:
    """Does a split condition hold for one event (its template match and exception type)?"""
    if "exception_type" in condition:
        return (exception_type or "") == condition["exception_type"]
    if condition.get("template_id") != template_id:
        return False
    cols = columns.get(template) if columns is not None else None
    if cols is None:
        cols = template_columns(template)
        if columns is not None:
            columns[template] = cols
    try:
        position = cols.index((condition["token"], condition["sub"]))
    except (KeyError, ValueError):
        return False
    return position < len(params) and params[position] == condition["value"]


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


def _remap_merged_templates(
    incident: Incident, miner: Miner, observed: Observed, rules: GroupRules
) -> None:
    """Templates absorbed by a later generalisation: move their events to the survivor.

    Groups a merge or split rule produced stay where the rule put them (only their template id
    follows the survivor): a member's decision outlives template generalisation."""
    for group_id, info in list(observed.groups.items()):
        live = miner.resolve(info.template_id)
        if live == info.template_id:
            continue
        if group_id in rules.targets:
            Event.objects.filter(
                incident=incident, group_id=group_id, template_id=info.template_id
            ).update(template_id=live)
            info.template_id = live
            continue
        new_fp = fingerprint(info.sample, live)
        new_id = rules.apply_id(new_fp.group_id)
        Event.objects.filter(incident=incident, group_id=group_id).update(
            template_id=live, group_id=new_id
        )
        observed.groups.pop(group_id)
        observed.groups.setdefault(
            new_id,
            GroupInfo(live, new_fp.exception_type, list(new_fp.frames_used), info.sample),
        )


@transaction.atomic
def record_groups(incident: Incident, miner: Miner, observed: Observed) -> None:
    _remap_merged_templates(incident, miner, observed, GroupRules.load(incident.project))
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
    before = set(
        GroupOccurrence.objects.filter(incident=incident).values_list("group_id", flat=True)
    )
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
    _refresh_group_rollup(incident)
    touched = before | {o.group_id for o in occurrences}  # emptied groups are reset too
    totals = _group_totals(list(touched))
    empty = {"count": 0, "first_seen": None, "last_seen": None}
    for group_pk in touched:
        ErrorGroup.objects.filter(pk=group_pk).update(**totals.get(group_pk, empty))


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


# --- merge and split: a member's decision, stored as a rule and applied right away ------------


class GroupingBusy(Exception):
    """An ingest job of the project holds its miner lock: try again when it finishes."""


@contextmanager
def try_project_lock(project_id: int, wait_seconds: float = 5.0) -> Iterator[None]:
    """The project's miner lock without blocking a web request behind a long ingest job."""
    key = zlib.crc32(f"{connection.schema_name}:{project_id}".encode()) & 0x7FFFFFFF
    deadline = time.monotonic() + wait_seconds
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, key])
            if cursor.fetchone()[0]:
                break
        if time.monotonic() >= deadline:
            raise GroupingBusy("ingestion is running in this project")
        time.sleep(0.2)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, key])


SPLIT_BATCH = 5_000


def _project_incidents(project: Project, group_ids: list[str]) -> list[Incident]:
    return list(
        Incident.objects.filter(
            project=project, occurrences__group__group_id__in=group_ids
        ).distinct()
    )


def merge_groups(*, project: Project, source: ErrorGroup, target: ErrorGroup, user=None):
    """Merge group `source` into `target`: its events now and every future one."""
    if source.project_id != project.pk or target.project_id != project.pk:
        raise ValueError("both groups must belong to the project")
    if source.group_id == target.group_id:
        raise ValueError("a group cannot be merged into itself")
    with try_project_lock(project.pk), transaction.atomic():
        rule = GroupRule.objects.create(
            project=project,
            kind=GroupRule.Kind.MERGE,
            source_group=source.group_id,
            target_group=target.group_id,
            created_by=user,
        )
        incidents = _project_incidents(project, [source.group_id])
        Event.objects.filter(incident__in=incidents, group_id=source.group_id).update(
            group_id=target.group_id
        )
        for incident in incidents:
            refresh_incident_groups(incident)
    return rule


def split_condition(group: ErrorGroup, *, position: int, value: str) -> dict:
    """The stored condition for "events of `group` whose `position`-th `<*>` is `value`"."""
    columns = template_columns(group.template)
    if not 0 <= position < len(columns):
        raise ValueError("no such variable position in the template")
    token, sub = columns[position]
    return {
        "template_id": group.template_id,
        "token": token,
        "sub": sub,
        "position": position,  # for display only: the ordinal when the rule was made
        "value": value[:1000],
    }


def split_group(*, project: Project, group: ErrorGroup, condition: dict, user=None):
    """Split the events of `group` matching `condition` into a new group, now and in future.

    Existing events are re-matched against the project's miner in batches (bounded memory)."""
    if group.project_id != project.pk:
        raise ValueError("the group must belong to the project")
    key = json.dumps(condition, sort_keys=True)
    target_id = hashlib.blake2b(f"split|{group.group_id}|{key}".encode(), digest_size=8)
    target_id = target_id.hexdigest()
    with try_project_lock(project.pk), transaction.atomic():
        if ErrorGroup.objects.filter(project=project, group_id=target_id).exists():
            raise ValueError("this split was already made")
        ErrorGroup.objects.create(
            project=project,
            group_id=target_id,
            template_id=group.template_id,
            template=group.template,
            exception_type=condition.get("exception_type", group.exception_type)[:300],
            frames=group.frames,
            level=group.level,
        )
        rule = GroupRule.objects.create(
            project=project,
            kind=GroupRule.Kind.SPLIT,
            source_group=group.group_id,
            target_group=target_id,
            condition=condition,
            created_by=user,
        )
        incidents = _project_incidents(project, [group.group_id])
        miner = load_miner(project) if "exception_type" not in condition else None
        moved = _matching_event_ids(incidents, group.group_id, condition, miner)
        for start in range(0, len(moved), SPLIT_BATCH):
            Event.objects.filter(id__in=moved[start : start + SPLIT_BATCH]).update(
                group_id=target_id
            )
        for incident in incidents:
            refresh_incident_groups(incident)
    return rule


def _matching_event_ids(
    incidents: list[Incident], group_id: str, condition: dict, miner: Miner | None
) -> list[int]:
    events = (
        Event.objects.filter(incident__in=incidents, group_id=group_id)
        .values_list("id", "message")
        .iterator(chunk_size=SPLIT_BATCH)
    )
    columns: dict[str, list[tuple[int, int]]] = {}
    moved = []
    for event_id, message in events:
        if miner is None:
            exception_type = fingerprint(message).exception_type
            if split_holds(
                condition, template_id="", template="", params=[], exception_type=exception_type
            ):
                moved.append(event_id)
            continue
        match = miner.match(head_line(message))
        if match is not None and split_holds(
            condition,
            template_id=match.template_id,
            template=match.template,
            params=match.params,
            exception_type=None,
            columns=columns,
        ):
            moved.append(event_id)
    return moved


GROUP_ROLLUP_SQL = """
INSERT INTO ingestion_grouprollup (incident_id, group_id, bucket, count)
SELECT incident_id, group_id, date_bin('10 seconds', ts, TIMESTAMPTZ '1970-01-01 00:00:00+00'),
       count(*)
FROM ingestion_event
WHERE incident_id = %s AND ts IS NOT NULL
GROUP BY 1, 2, 3
"""


def _refresh_group_rollup(incident: Incident) -> None:
    """Rebuild the per-group sparkline counts of `incident` (inside the caller's transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ingestion_grouprollup WHERE incident_id = %s", [incident.pk])
        cursor.execute(GROUP_ROLLUP_SQL, [incident.pk])
