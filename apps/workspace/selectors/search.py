"""Substring search over an incident's events: exact, in (ts, id) order, with bounded work.

A search matches `UPPER(message) LIKE UPPER('%term%')` (Django's `icontains`) together with
the other event filters, and pages by the same (ts, id) keyset as the unfiltered event list.
Neither index alone answers "the first 100 matches in time order" cheaply at a million events:

- the trigram index finds every match, but each one is then read from the table and sorted:
  cheap for a rare term, slow for one in 50,000 messages;
- walking the (incident, ts, id) index and testing each message stops at the 100th match:
  cheap when matches are dense near the cursor, slow when they sit far away (a term that only
  appears in the last hour of a week of logs) or when there are few of them.

So a search asks the planner how many events match. Up to `INDEXED_MAX`, and when a trigram
index serves the query, it takes every match from the index (one query, exact). Otherwise it
walks the time-ordered index in growing chunks until a page is full, the events run out, or
`SEARCH_BUDGET` seconds have passed. A walk cut short returns what it found with `resume`: the
last event it tested, which the next page starts after — results stay exact and no match is
skipped; the page says how far the search got.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, F
from django.db.models.expressions import RawSQL

from apps.ingestion.models import Source

# estimated matches up to which every match is fetched through the trigram index (each costs
# a table read; 20,000 take ≈ 50 ms on the 2-core machine)
INDEXED_MAX = 20_000
# the walk: seconds per request, and rows per chunk (growing from the first to the last size)
SEARCH_BUDGET = 0.1
WORKSPACE_BUDGET = 0.05  # inside the whole incident page, which has more to draw
FIRST_CHUNK, MAX_CHUNK = 1_000, 25_000
# source + trigrams (btree_gin), or trigrams alone where btree_gin is missing (ingestion 0007)
TRGM_INDEXES = ("eventtext_source_trgm", "eventtext_body_trgm")

Position = tuple[datetime | None, int]  # (ts, id) of an event; ts None sorts last


@dataclass
class SearchResult:
    ids: list[int]  # matching event ids in (ts, id) order, at most `limit`
    resume: Position | None = None  # set when the walk stopped early: the last event tested
    scanned: int = 0  # events the walk tested (0 when the index answered)
    indexed: bool = False


def like_pattern(term: str) -> str:
    """The LIKE pattern `icontains` uses (wildcards in the term escaped)."""
    return f"%{connection.ops.prep_for_like_query(term)}%"


def search_ids(
    base, incident, term: str, after: Position | None, limit: int, budget: float | None = None
) -> SearchResult:
    """Ids of the first `limit` events of `base` (the other filters applied) after `after`
    whose message contains `term` (case-insensitive); a walk stops after `budget` seconds.

    A first chunk of the walk answers dense terms at once; then the trigram index if it has
    few candidates, else the walk goes on."""
    deadline = time.monotonic() + (SEARCH_BUDGET if budget is None else budget)
    pattern = like_pattern(term)
    first = _walk(base, pattern, after, limit, deadline=deadline, chunk=FIRST_CHUNK, max_chunks=1)
    if first.resume is None:  # a full page, or no events left
        return first
    indexed = _indexed(base, incident, pattern, first.resume, limit - len(first.ids))
    if indexed is not None:
        return SearchResult(ids=first.ids + indexed.ids, scanned=first.scanned, indexed=True)
    if time.monotonic() > deadline:
        return first
    more = limit - len(first.ids)
    rest = _walk(base, pattern, first.resume, more, deadline=deadline, chunk=FIRST_CHUNK * 4)
    return SearchResult(
        ids=first.ids + rest.ids, resume=rest.resume, scanned=first.scanned + rest.scanned
    )


def text_filter(qs, incident, term: str):
    """`qs` narrowed to events whose message contains `term`, case-insensitively, all of them
    (no budget): through the trigram index when the incident's sources are all in it, else by
    testing each message. For callers that want every match rather than a page."""
    pattern = like_pattern(term)
    condition = _text_condition(incident, pattern)
    return qs.filter(condition if condition is not None else _message_matches(pattern))


# --- the trigram index --------------------------------------------------------------------------


def _text_condition(incident, pattern: str) -> RawSQL | None:
    """The match as SQL the trigram index of EventText serves (apps/ingestion/search.py), once
    every source of the incident is in it (`Source.text_indexed`, set by the job that follows
    the ingest job); None until then: only the walk can search them."""
    sources = list(
        Source.objects.filter(incident=incident)
        .exclude(status=Source.Status.SKIPPED)  # a binary member holds no events to index
        .values_list("pk", "text_indexed")
    )
    if not sources or not all(flag for _, flag in sources):
        return None
    # body is upper(message): the same answers as UPPER(message) LIKE UPPER(pattern). The ids
    # are cast to the column's type: a smallint[] (psycopg's choice for small ids) cannot be
    # looked up in the GIN index (btree_gin's int8 operators take bigint on both sides)
    return RawSQL(
        '"ingestion_event"."id" IN (SELECT "event_id" FROM "ingestion_eventtext" '
        'WHERE "source_id" = ANY(%s::bigint[]) AND "body" LIKE UPPER(%s))',
        ([pk for pk, _ in sources], pattern),
        output_field=BooleanField(),
    )


def _message_matches(pattern: str) -> RawSQL:
    return RawSQL(
        'UPPER("ingestion_event"."message"::text) LIKE UPPER(%s)',
        (pattern,),
        output_field=BooleanField(),
    )


def _timed_after(qs, ts: datetime, pk: int):
    # a row comparison: an index range condition on (incident, ts, id)
    row = RawSQL('("ingestion_event"."ts", "ingestion_event"."id") > (%s, %s)', (ts, pk))
    return qs.filter(ExpressionWrapper(row, output_field=BooleanField()))


def _after(qs, after: Position | None):
    """Events strictly after `after` in (ts NULLS LAST, id) order."""
    if after is None:
        return qs
    ts, pk = after
    if ts is None:
        return qs.filter(ts__isnull=True, id__gt=pk)
    return _timed_after(qs, ts, pk) | qs.filter(ts__isnull=True)


def _trigram_candidates(plan: dict) -> int | None:
    """Rows the plan expects from a trigram index (None if it uses none): what the index path
    costs, since each candidate is then read from the table."""
    own = None
    if plan.get("Node Type") == "Bitmap Index Scan" and plan.get("Index Name") in TRGM_INDEXES:
        own = int(plan.get("Plan Rows", 0))
    counts = [_trigram_candidates(child) for child in plan.get("Plans", ())]
    counts = [n for n in [own, *counts] if n is not None]
    return max(counts) if counts else None


INDEXED_SQL = (
    "WITH m AS MATERIALIZED ({sql}) SELECT id FROM m ORDER BY ts ASC NULLS LAST, id LIMIT %s"
)


def _indexed(base, incident, pattern: str, after, limit: int) -> SearchResult | None:
    """Every match through the trigram index, if the planner uses it and expects few matches."""
    condition = _text_condition(incident, pattern)
    if condition is None:
        return None
    qs = _after(base, after).filter(condition).values_list("id", "ts")
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
        plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
        candidates = _trigram_candidates(plan)
        if candidates is None or candidates > INDEXED_MAX:
            return None
        # MATERIALIZED: planned as the set EXPLAIN saw (the bitmap scan), then sorted; without
        # it the planner would walk the time index for the ORDER BY … LIMIT
        cursor.execute(INDEXED_SQL.format(sql=sql), (*params, limit))
        return SearchResult(ids=[row[0] for row in cursor.fetchall()], indexed=True)


# --- the time-ordered walk ----------------------------------------------------------------------

CHUNK_SQL = """
WITH chunk AS MATERIALIZED ({sql})
(SELECT id, ts, 1 FROM chunk WHERE hit ORDER BY ts ASC NULLS LAST, id LIMIT %s)
UNION ALL
(SELECT id, ts, 0 FROM chunk ORDER BY ts DESC NULLS FIRST, id DESC LIMIT 1)
UNION ALL
SELECT count(*), NULL, 2 FROM chunk
"""


def _walk(
    base,
    pattern: str,
    after: Position | None,
    limit: int,
    *,
    deadline: float,
    chunk: int,
    max_chunks: int | None = None,
) -> SearchResult:
    """Test messages chunk by chunk in (ts, id) order (timestamped events, then the rest)
    until `limit` matches, the end, the deadline or `max_chunks` chunks; `resume` is set when
    events are left untested."""
    found: list[int] = []
    scanned = 0
    chunks = 0
    chunk = min(chunk, MAX_CHUNK)
    if after is None:
        segments = [(True, None), (False, None)]
    elif after[0] is None:
        segments = [(False, after)]
    else:
        segments = [(True, after), (False, None)]
    for timed, position in segments:
        qs = base.filter(ts__isnull=not timed)
        # untimestamped events in (ts, id) order too: ts IS NULL is then an index condition
        # on (incident, ts, id), ordered by id (ORDER BY id alone may walk the primary key
        # through every incident's events)
        order = (F("ts").asc(), "id")
        while True:
            if position is None:
                rows = qs
            elif timed:
                rows = _timed_after(qs, *position)
            else:
                rows = qs.filter(id__gt=position[1])
            rows = (
                rows.annotate(hit=_message_matches(pattern))
                .order_by(*order)
                .values_list("id", "ts", "hit")[:chunk]
            )
            sql, params = rows.query.sql_with_params()
            with connection.cursor() as cursor:
                cursor.execute(CHUNK_SQL.format(sql=sql), (*params, limit - len(found)))
                result = cursor.fetchall()
            hits = [pk for pk, _, kind in result if kind == 1]
            last = next(((pk, ts) for pk, ts, kind in result if kind == 0), None)
            count = next(pk for pk, _, kind in result if kind == 2)
            found += hits
            if len(found) >= limit:
                return SearchResult(ids=found, scanned=scanned + count)
            scanned += count
            if count < chunk or last is None:
                break  # this segment is done
            position = (last[1], last[0])
            chunks += 1
            if time.monotonic() > deadline or chunks == max_chunks:
                return SearchResult(ids=found, resume=position, scanned=scanned)
            chunk = min(chunk * 4, MAX_CHUNK)
    return SearchResult(ids=found, scanned=scanned)
