"""Template helpers of the incident workspace: evidence links and filter query strings."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils import timezone

register = template.Library()

LEVEL_CLASSES = {
    5: "font-semibold text-fuchsia-800",
    4: "font-semibold text-red-700",
    3: "text-amber-700",
    2: "text-sky-700",
}
SEVERITY_CLASSES = {
    "critical": "bg-fuchsia-100 text-fuchsia-800",
    "error": "bg-red-100 text-red-800",
    "warning": "bg-amber-100 text-amber-800",
    "info": "bg-slate-100 text-slate-700",
    "sev1": "bg-red-600 text-white",
    "sev2": "bg-orange-100 text-orange-800",
    "sev3": "bg-amber-100 text-amber-800",
    "sev4": "bg-slate-100 text-slate-700",
    "investigating": "bg-amber-100 text-amber-800",
    "acknowledged": "bg-violet-100 text-violet-800",
    "mitigated": "bg-sky-100 text-sky-800",
    "resolved": "bg-emerald-100 text-emerald-800",
}


def _evidence_href(context, incident, source_id, line) -> str:
    """The evidence view's URL, reversed once per template render (a page links hundreds of
    lines: events, finding evidence), then completed with the source and line."""
    if source_id < 0 or line < 0:
        return ""
    key = ("evidence-prefix", incident.pk)
    prefix = context.render_context.get(key)
    if prefix is None:
        sample = reverse(
            "incidents:evidence",
            kwargs={"incident_id": incident.pk, "source_id": 0, "line": 0},
        )
        prefix = context.render_context[key] = sample.removesuffix("0/0/")
    return f"{prefix}{source_id}/{line}/"


@register.simple_tag(takes_context=True)
def evidence_url(context, incident, ref) -> str:
    """The evidence view of a [source_id, line] ref ('' for a malformed ref)."""
    try:
        source_id, line = int(ref[0]), int(ref[1])
    except (TypeError, ValueError, IndexError, KeyError):
        return ""
    return _evidence_href(context, incident, source_id, line)


@register.simple_tag(takes_context=True)
def event_url(context, incident, event) -> str:
    """The evidence view of an event's first line."""
    return _evidence_href(context, incident, event.source_id, event.line)


@register.simple_tag
def filters_qs(filters, **overrides) -> str:
    """`?from=…&level=…` for the current filters with some replaced ('' or None clears one)."""
    clean = {
        key: (value or None) if key in ("start", "end", "source") else (value or "")
        for key, value in overrides.items()
    }
    params = filters.params(**clean)
    return "?" + urlencode(params) if params else "?"


@register.filter
def clock(value, fmt: str = "%H:%M:%S") -> str:
    """A timestamp in the current time zone by strftime (`date` parses its format on every
    call; an events page formats hundreds). `clock:"ms"` adds milliseconds; '' for None."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    if fmt == "ms":
        return f"{local:%H:%M:%S}.{local.microsecond // 1000:03d}"
    return local.strftime(fmt)


@register.filter
def ref_label(ref) -> str:
    """`#12:345` for a [source_id, line] ref (`ref.0` in a template costs a failed dict and
    attribute lookup, then dir(list), per use)."""
    try:
        return f"#{int(ref[0])}:{int(ref[1])}"
    except (TypeError, ValueError, IndexError, KeyError):
        return ""


@register.filter
def clip(value, length: int) -> str:
    """`truncatechars` without its per-character Unicode walk (a page clips hundreds of
    messages): at most `length` characters, the last one an ellipsis when cut."""
    value = "" if value is None else str(value)
    return value if len(value) <= length else value[: length - 1] + "…"


@register.filter
def coord(value) -> str:
    """An SVG coordinate: two decimals, no localisation (floatformat costs ~50 µs a call, and a
    timeline draws hundreds of rectangles)."""
    return f"{value:.2f}"


@register.filter
def level_class(level) -> str:
    return LEVEL_CLASSES.get(level, "text-slate-500")


@register.filter
def badge_class(value) -> str:
    return SEVERITY_CLASSES.get(value, "bg-slate-100 text-slate-700")


@register.filter
def duration(seconds) -> str:
    """12 s, 4 min 3 s, 2 h 5 min."""
    if seconds is None:
        return "—"
    seconds = int(seconds.total_seconds() if hasattr(seconds, "total_seconds") else seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


@register.filter
def needs_year(first, last) -> bool:
    """Whether log times from `first` to `last` are shown with their year: they span more than
    one year, or theirs is not this one (`{% with year=first_ts|needs_year:last_ts %}`)."""
    return years_differ(first, last, this_year=timezone.localdate().year)


def years_differ(first, last, *, this_year: int) -> bool:
    years = {timezone.localtime(t).year for t in (first, last) if t is not None}
    return bool(years) and years != {this_year}


@register.filter
def day(value, year=False) -> str:
    """A timestamp's date in the current time zone: `12-31`, or `2025-12-31` with `year`
    ('' for None). Pair it with `clock` for the time and `{% time_zone %}` for the zone."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return f"{local:%Y-%m-%d}" if year else f"{local:%m-%d}"


@register.simple_tag
def time_zone() -> str:
    """The zone the page's times are shown in (UTC)."""
    return timezone.get_current_timezone_name()
