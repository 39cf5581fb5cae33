"""Alerts in: Prometheus Alertmanager and Grafana webhook bodies, read into one shape.

Framework-free (no Django): the receiver (views.py) hands the raw body here and gets a list of
`InAlert` or a `PayloadError` (answered 400). Accepted:

- Alertmanager's webhook, `"version": "4"` (the only version it has sent since 0.6): an object
  with `alerts`, each `{status, labels, annotations, startsAt, endsAt, generatorURL,
  fingerprint}`; `endsAt` "0001-01-01T00:00:00Z" means "not ended".
- Grafana alerting (8+, unified): the same `alerts` list (with `fingerprint`, `values`,
  `dashboardURL`, …) and `"version": "1"`.
- Grafana legacy alerting (before 8): `{state: alerting|ok|no_data|…, ruleId, ruleName, title,
  message, tags, ruleUrl}`; it has no time and no fingerprint: the rule id stands for both.
  `no_data` (the query returned nothing) is its own status: not firing. So is unified
  alerting's counterpart, the `DatasourceNoData` alert Grafana fires for a rule whose query
  returned nothing (its default No Data handling).

A label names the service (SERVICE_LABELS, first present wins). Bounds keep one request small:
at most MAX_ALERTS alerts, MAX_LABELS labels of bounded size each.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

MAX_ALERTS = 1000
MAX_LABELS = 64
MAX_NAME = 100  # characters of a label's name
MAX_VALUE = 1000  # characters of a label's or annotation's value
# Labels that name where the alert comes from, most specific first (Prometheus conventions,
# Kubernetes recommended labels, OpenTelemetry's service.name as Prometheus spells it).
SERVICE_LABELS = (
    "service",
    "service_name",
    "app_kubernetes_io_name",
    "app",
    "application",
    "k8s_app",
    "container",
    "job",
)
SEVERITY_LABELS = ("severity", "priority", "level")
UNSET_TIME = datetime(1, 1, 1, tzinfo=UTC)
NO_DATA_ALERTNAME = "DatasourceNoData"  # Grafana unified alerting's "No Data" alert


class PayloadError(ValueError):
    """The body is not an alert webhook we understand (answered 400)."""


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"
    NO_DATA = "no_data"  # Grafana legacy: the rule's query returned nothing; not firing


@dataclass(frozen=True, slots=True)
class InAlert:
    status: AlertStatus
    fingerprint: str
    name: str  # alertname, or the Grafana rule's name
    service: str
    severity: str  # lower-cased severity label, "" if none
    summary: str
    starts_at: datetime | None  # None: the sender did not say (Grafana legacy)
    ends_at: datetime | None
    url: str = ""  # generatorURL / ruleUrl
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


def parse_json(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise PayloadError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise PayloadError("the body is not a JSON object")
    return data


def alertmanager(body: bytes) -> list[InAlert]:
    data = parse_json(body)
    version = data.get("version")
    if version is not None and str(version) != "4":
        raise PayloadError(f"unsupported Alertmanager webhook version {version!r} (want 4)")
    return _alerts(data)


def grafana(body: bytes) -> list[InAlert]:
    data = parse_json(body)
    if "alerts" in data:
        return _alerts(data)
    if "state" in data:
        return _grafana_legacy(data)
    raise PayloadError("not a Grafana alert: neither 'alerts' nor 'state'")


def _alerts(data: dict) -> list[InAlert]:
    items = data.get("alerts")
    if not isinstance(items, list):
        raise PayloadError("'alerts' must be a list")
    if len(items) > MAX_ALERTS:
        raise PayloadError(f"at most {MAX_ALERTS} alerts in one request")
    common = _strings(data.get("commonLabels") or {}, "commonLabels")
    out = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise PayloadError(f"alert {n} is not an object")
        labels = {**common, **_strings(item.get("labels") or {}, f"alert {n} labels")}
        annotations = _strings(item.get("annotations") or {}, f"alert {n} annotations")
        status = str(item.get("status") or data.get("status") or "")
        if status not in (AlertStatus.FIRING, AlertStatus.RESOLVED):
            raise PayloadError(f"alert {n}: status must be firing or resolved")
        if status == AlertStatus.FIRING and labels.get("alertname") == NO_DATA_ALERTNAME:
            status = AlertStatus.NO_DATA
        starts_at = _time(item.get("startsAt"), f"alert {n} startsAt")
        if starts_at is None:
            raise PayloadError(f"alert {n}: startsAt is required")
        fingerprint = str(item.get("fingerprint") or "")[:64] or label_fingerprint(labels)
        out.append(
            InAlert(
                status=AlertStatus(status),
                fingerprint=fingerprint,
                name=labels.get("alertname", "")[:200] or "alert",
                service=service_of(labels),
                severity=severity_of(labels),
                summary=_summary(annotations),
                starts_at=starts_at,
                ends_at=_time(item.get("endsAt"), f"alert {n} endsAt"),
                url=_url(item.get("generatorURL")),
                labels=labels,
                annotations=annotations,
            )
        )
    return out


def _grafana_legacy(data: dict) -> list[InAlert]:
    state = str(data.get("state") or "")
    if state == "alerting":
        status = AlertStatus.FIRING
    elif state == "no_data":
        status = AlertStatus.NO_DATA
    elif state == "ok":
        status = AlertStatus.RESOLVED
    else:
        return []  # paused, pending: nothing to do
    rule = data.get("ruleId")
    name = str(data.get("ruleName") or data.get("title") or "grafana alert")[:200]
    labels = _strings(data.get("tags") or {}, "tags")
    labels.setdefault("alertname", name)
    fingerprint = f"grafana-rule-{rule}" if rule is not None else label_fingerprint(labels)
    return [
        InAlert(
            status=status,
            fingerprint=fingerprint[:64],
            name=name,
            service=service_of(labels),
            severity=severity_of(labels),
            summary=str(data.get("message") or data.get("title") or "")[:MAX_VALUE],
            starts_at=None,
            ends_at=None,
            url=_url(data.get("ruleUrl")),
            labels=labels,
        )
    ]


def service_of(labels: dict[str, str]) -> str:
    for name in SERVICE_LABELS:
        if value := labels.get(name, "").strip():
            return value[:200]
    return ""


def severity_of(labels: dict[str, str]) -> str:
    for name in SEVERITY_LABELS:
        if value := labels.get(name, "").strip():
            return value.lower()[:20]
    return ""


def label_fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's idea (a hash of the sorted label set) when the sender gave none."""
    text = json.dumps(sorted(labels.items()), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _strings(value: object, what: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise PayloadError(f"{what} must be an object")
    if len(value) > MAX_LABELS:
        raise PayloadError(f"{what}: at most {MAX_LABELS} entries")
    out = {}
    for key, item in value.items():
        if not isinstance(item, str | int | float | bool) or len(key) > MAX_NAME:
            raise PayloadError(f"{what}: {str(key)[:40]!r} is not a short string")
        out[key] = str(item)[:MAX_VALUE]
    return out


def _summary(annotations: dict[str, str]) -> str:
    for name in ("summary", "description", "message"):
        if value := annotations.get(name, "").strip():
            return value
    return ""


def _url(value: object) -> str:
    text = str(value or "")[:2000]
    return text if text.lower().startswith(("http://", "https://")) else ""


def _time(value: object, what: str) -> datetime | None:
    """RFC 3339 (nanoseconds cut to microseconds); None for absent or Go's zero time."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{what} is not a time")
    text = value.strip()
    if "." in text:  # Go sends up to nine fractional digits; Python reads six
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(f"{what} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise PayloadError(f"{what} has no time zone")
    moment = moment.astimezone(UTC)
    return None if moment.year <= 1 else moment
