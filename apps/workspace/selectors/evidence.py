"""The evidence page: one raw line with its neighbours."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404

from apps.incidents.models import Incident
from apps.ingestion.models import (
    Event,
    Source,
)

# --- evidence -----------------------------------------------------------------------------------

EVIDENCE_CONTEXT = 10
EVIDENCE_CONTEXT_MAX = 500


def evidence_context(incident: Incident, source_id: int, line: int, context: str | None) -> dict:
    """Physical lines line±N of one source, rebuilt from its events' raw text."""

    source = get_object_or_404(
        Source.objects.select_related("stored_file"), pk=source_id, incident=incident
    )
    try:
        n = max(0, min(int(context or EVIDENCE_CONTEXT), EVIDENCE_CONTEXT_MAX))
    except ValueError:
        n = EVIDENCE_CONTEXT
    low, high = max(1, line - n), line + n
    # events never span more than a few hundred lines; bound the scan of the natural-key index
    events = list(
        Event.objects.filter(
            source=source, line__gte=low - EVIDENCE_CONTEXT_MAX * 4, line__lte=high
        )
        .filter(end_line__gte=low)
        .order_by("line")
        .values("line", "end_line", "raw", "level", "ts", "service")
    )
    target = next((e for e in events if e["line"] <= line <= e["end_line"]), None)
    if target is None:
        raise Http404("No such line in this source")
    rows = []
    for event in events:
        for offset, text in enumerate(event["raw"].split("\n")):
            number = event["line"] + offset
            if low <= number <= high:
                rows.append(
                    {
                        "number": number,
                        "text": text,
                        "hit": target["line"] <= number <= target["end_line"],
                    }
                )
    return {
        "source": source,
        "line": line,
        "target": target,
        "rows": rows,
        "context": n,
        "more": min(n * 2 or EVIDENCE_CONTEXT, EVIDENCE_CONTEXT_MAX),
        "at_start": low == 1,
        "at_end": high >= source.line_count,
        "hit_text": "\n".join(r["text"] for r in rows if r["hit"]),
    }
