"""Rules use cases: the tenant's effective catalogue, tuning built-in rules, custom rules, dry runs.

Every function reads and writes the schema that is selected on the connection (the tenant
middleware or a worker's `schema_context`); nothing here takes tenant state from elsewhere.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import Q

from apps.core.logparse.record import LEVELS, Record
from apps.core.rules import Catalogue, CatalogueError, DryRun, build_user_rule, dry_run
from apps.ingestion.models import Event
from apps.rules.models import CustomRule, RuleSetting

log = logging.getLogger(__name__)

CUSTOM_PREFIX = "custom."  # custom rule ids in the engine: never collide with built-in ids
DEFAULT_WINDOW = 60  # seconds, when a threshold count is given without a window
CACHE_SIZE = 64  # effective catalogues kept per process (keyed by schema + settings digest)


# --- the effective catalogue of a tenant -----------------------------------------------------

_lock = threading.Lock()
_cache: OrderedDict[tuple[str, str], Catalogue] = OrderedDict()


@functools.cache
def builtin_catalogue() -> Catalogue:
    """The shipped catalogue, untouched by any tenant (loaded once per process)."""
    return Catalogue.load()


def tenant_catalogue() -> Catalogue:
    """The catalogue the current tenant runs: built-in rules with its RuleSetting tuning
    (off, severity, threshold) plus its enabled custom rules (patterns on RE2).

    Two small queries per call. The compiled catalogue is memoised per process under
    (schema name, digest of the settings), so a change is picked up on the next call and two
    tenants never share an entry. A custom rule that no longer validates is skipped and logged
    rather than failing the whole tenant's ingestion.
    """
    builtin = builtin_catalogue()
    overrides = _overrides(builtin)
    extra = [custom_rule_mapping(rule) for rule in CustomRule.objects.filter(enabled=True)]
    digest = hashlib.sha256(
        json.dumps([overrides, extra], sort_keys=True, default=str).encode()
    ).hexdigest()
    key = (connection.schema_name, digest)
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    catalogue = _build(overrides, extra)
    with _lock:
        _cache[key] = catalogue
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return catalogue


def _overrides(builtin: Catalogue) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for setting in RuleSetting.objects.order_by("rule_id"):
        if setting.rule_id not in builtin:
            continue  # a rule that left the catalogue: its old tuning is ignored
        override = setting_override(setting)
        if override:
            out[setting.rule_id] = override
    return out


def setting_override(setting: RuleSetting) -> dict[str, Any]:
    """A RuleSetting as a `Catalogue.load(overrides=…)` entry ({} = nothing changed)."""
    override: dict[str, Any] = {}
    if not setting.enabled:
        override["enabled"] = False
    if setting.severity:
        override["severity"] = setting.severity
    if setting.threshold_count:
        override["threshold"] = {
            "count": setting.threshold_count,
            "window": setting.threshold_window or DEFAULT_WINDOW,
        }
    return override


def _build(overrides: dict, extra: list[dict]) -> Catalogue:
    good = []
    for raw in extra:
        try:
            build_user_rule(raw)
        except CatalogueError as exc:
            log.warning("custom rule %s skipped: %s", raw.get("id"), exc)
            continue
        good.append(raw)
    return Catalogue.load(extra_rules=good, overrides=overrides)


def custom_rule_mapping(rule: CustomRule) -> dict[str, Any]:
    """A CustomRule as a mapping of the catalogue schema (see apps/core/rules/catalogue/README.md)."""
    return custom_fields_mapping(
        rule_id=rule.rule_id,
        category=rule.category,
        severity=rule.severity,
        title=rule.title,
        pattern=rule.pattern,
        level=rule.level,
        service=rule.service,
        threshold_count=rule.threshold_count,
        threshold_window=rule.threshold_window,
        explanation=rule.explanation,
        remediation=rule.remediation,
    )


def custom_fields_mapping(
    *,
    rule_id: str,
    category: str,
    severity: str,
    title: str,
    pattern: str,
    level: str = "",
    service: str = "",
    threshold_count: int | None = None,
    threshold_window: int | None = None,
    explanation: str = "",
    remediation: str = "",
) -> dict[str, Any]:
    matcher: dict[str, Any] = {"regex": pattern}
    if level:
        matcher["min_level"] = level
    if service:
        matcher["service"] = f"^{re.escape(service)}$"  # the exact service name
    raw: dict[str, Any] = {
        "id": CUSTOM_PREFIX + rule_id,
        "category": category,
        "severity": severity,
        "title": title,
        "matcher": matcher,
        "explanation": explanation.strip() or title,
        "remediation": remediation.strip() or "Review the matched lines.",
    }
    if threshold_count:
        raw["threshold"] = {"count": threshold_count, "window": threshold_window or DEFAULT_WINDOW}
    return raw


# --- tuning built-in rules -------------------------------------------------------------------


@transaction.atomic
def set_rule_enabled(*, rule_id: str, enabled: bool) -> RuleSetting:
    setting, _ = RuleSetting.objects.select_for_update().get_or_create(rule_id=rule_id)
    setting.enabled = enabled
    setting.save(update_fields=["enabled", "updated_at"])
    return setting


@transaction.atomic
def tune_rule(
    *,
    rule_id: str,
    severity: str = "",
    threshold_count: int | None = None,
    threshold_window: int | None = None,
) -> RuleSetting:
    """Severity "" and threshold None mean "as shipped"."""
    setting, _ = RuleSetting.objects.select_for_update().get_or_create(rule_id=rule_id)
    setting.severity = severity
    setting.threshold_count = threshold_count or None
    setting.threshold_window = (threshold_window or None) if threshold_count else None
    setting.save()
    return setting


# --- custom rules ----------------------------------------------------------------------------


@transaction.atomic
def save_custom_rule(*, rule: CustomRule, created_by=None) -> CustomRule:
    """Validate (RE2, schema) and save; CatalogueError lists what is wrong."""
    build_user_rule(custom_rule_mapping(rule))
    if rule.pk is None and created_by is not None and created_by.is_authenticated:
        rule.created_by = created_by
    rule.save()
    return rule


@transaction.atomic
def set_custom_rule_enabled(*, rule: CustomRule, enabled: bool) -> CustomRule:
    rule.enabled = enabled
    rule.save(update_fields=["enabled"])
    return rule


@transaction.atomic
def delete_custom_rule(*, rule: CustomRule) -> None:
    rule.delete()


# --- dry run ---------------------------------------------------------------------------------

DRY_RUN_MAX_EVENTS = 1_000_000
DRY_RUN_MAX_SECONDS = 20.0
DRY_RUN_CHUNK = 2000
DRY_RUN_SAMPLES = 10
# One dry run per user at a time, across every web process: a PostgreSQL session advisory lock
# (pg_try_advisory_lock(class, user id)), released when the run ends or its connection dies.
# With the bounds above, one user ties up at most one web worker for DRY_RUN_MAX_SECONDS.
DRY_RUN_LOCK_CLASS = 0x44525259


class DryRunBusy(Exception):
    """This user already has a dry run in progress; the message is for the user."""


@contextmanager
def dry_run_slot(user_id: int) -> Iterator[None]:
    """Hold this user's dry-run slot for the block; raise DryRunBusy when it is taken."""
    key = [DRY_RUN_LOCK_CLASS, user_id % 2**31]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
        (taken,) = cursor.fetchone()
    if not taken:
        raise DryRunBusy(
            "You already have a dry run in progress (in another tab?). It stops by itself "
            f"within {DRY_RUN_MAX_SECONDS:g} seconds; try again then."
        )
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)
        except DatabaseError:  # the connection is gone, and its session locks with it
            connection.close()


@dataclass(slots=True)
class DryRunReport:
    result: DryRun
    events_scanned: int
    stopped: str = ""  # why the run stopped early ("" = it saw every event)
    top_groups: list[tuple[str, int]] = field(default_factory=list)


def incident_records(
    incident_id: int, *, min_level: str | None = None, service: str | None = None
) -> Iterator[tuple[Record, str | None]]:
    """Stream an incident's events as (Record, group) in time order, in chunks."""

    events = Event.objects.filter(incident_id=incident_id)
    if min_level:
        events = events.filter(Q(level__gte=LEVELS.index(min_level)) | Q(level__isnull=True))
    if service:
        events = events.filter(service=service)
    rows = events.order_by("ts", "id").values_list(
        "source_id",
        "line",
        "end_line",
        "raw",
        "message",
        "ts",
        "ts_inherited",
        "level",
        "service",
        "host",
        "trace_id",
        "attrs",
        "truncated",
        "group_id",
        "template_id",
    )
    for (
        source_id,
        line,
        end_line,
        raw,
        message,
        ts,
        ts_inherited,
        level,
        svc,
        host,
        trace_id,
        attrs,
        truncated,
        group_id,
        template_id,
    ) in rows.iterator(chunk_size=DRY_RUN_CHUNK):
        record = Record(
            line=line,
            end_line=end_line,
            raw=raw,
            message=message,
            ts=ts,
            ts_inherited=ts_inherited,
            level=LEVELS[level] if level is not None else None,
            service=svc or None,
            host=host or None,
            trace_id=trace_id or None,
            attrs=attrs or {},
            truncated=truncated,
            parsed=True,
            source=str(source_id),
        )
        yield record, (group_id or template_id or None)


def dry_run_rule(
    *,
    rule: CustomRule,
    incident_id: int,
    max_events: int = DRY_RUN_MAX_EVENTS,
    max_seconds: float = DRY_RUN_MAX_SECONDS,
) -> DryRunReport:
    """Run one (possibly unsaved) custom rule over an incident's stored events, bounded by an
    event count and a time budget. Raises CatalogueError when the rule is invalid."""
    compiled = build_user_rule(custom_rule_mapping(rule))
    records = incident_records(incident_id, min_level=rule.level or None, service=rule.service)
    state = {"scanned": 0, "stopped": ""}
    deadline = time.monotonic() + max_seconds

    def bounded() -> Iterator[tuple[Record, str | None]]:
        for item in records:
            if state["scanned"] >= max_events:
                state["stopped"] = f"stopped after {max_events:,} events"
                break
            if state["scanned"] % 1000 == 0 and time.monotonic() > deadline:
                state["stopped"] = f"stopped after {max_seconds:g} seconds"
                break
            state["scanned"] += 1
            yield item

    gen = bounded()
    try:
        result = dry_run(compiled, gen, sample_limit=DRY_RUN_SAMPLES)
    finally:
        gen.close()
        records.close()
    top = sorted(result.group_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    return DryRunReport(
        result=result, events_scanned=state["scanned"], stopped=state["stopped"], top_groups=top
    )
