"""Text search: exact pages in (ts, id) order whichever way the matches are found, and a search
cut short by its time budget says how far it got and continues without skipping a match."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.db.models import F

from apps.ingestion.models import Event
from apps.workspace.selectors import events as selectors
from apps.workspace.selectors import search
from apps.workspace.selectors.events import EventFilters, event_page

from .conftest import ingest_text, url

HX = {"HTTP_HX_REQUEST": "true"}


def expected_ids(incident, filters: EventFilters) -> list[int]:
    """The reference answer: every matching event, by the ORM, in (ts NULLS LAST, id) order."""
    qs = Event.objects.filter(incident=incident, message__icontains=filters.q)
    if filters.level:
        from apps.ingestion.models import LEVEL_NUMBER

        qs = qs.filter(level__gte=LEVEL_NUMBER[filters.level])
    if filters.start:
        qs = qs.filter(ts__gte=filters.start, ts__lt=filters.end)
    return list(qs.order_by(F("ts").asc(nulls_last=True), "id").values_list("pk", flat=True))


def walk_pages(incident, filters: EventFilters, limit: int = 10_000):
    """Every page of a search, following next_cursor; returns the ids and the pages."""
    seen, pages, after = [], [], ""
    for _ in range(limit):
        page = event_page(incident, filters, after)
        pages.append(page)
        seen.extend(e.pk for e in page.rows)
        after = page.next_cursor
        if not after:
            return seen, pages
    raise AssertionError("the search never ended")


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 7)


@pytest.fixture
def index_answers() -> list:
    return []


@pytest.fixture(params=["walk", "walk cut after every chunk", "index"])
def path(request, monkeypatch):
    """Force one way of finding matches (the planner would pick by the incident's size)."""
    if request.param == "index":
        # the SQL of a trigram-indexed message column, whatever this schema's indexes
        monkeypatch.setattr(
            search, "_text_condition", lambda incident, pattern: search._message_matches(pattern)
        )
        monkeypatch.setattr(search, "INDEXED_MAX", 10**9)
        monkeypatch.setattr(search, "_trigram_candidates", lambda plan: 0)
        monkeypatch.setattr(search, "FIRST_CHUNK", 3)  # the first chunk cannot fill the page
        indexed = search._indexed
        answers = request.getfixturevalue("index_answers")
        monkeypatch.setattr(
            search, "_indexed", lambda *args: answers.append(indexed(*args)) or answers[-1]
        )
    else:
        monkeypatch.setattr(search, "INDEXED_MAX", -1)
    if request.param == "walk cut after every chunk":
        monkeypatch.setattr(search, "SEARCH_BUDGET", -1.0)
        monkeypatch.setattr(search, "FIRST_CHUNK", 5)
        monkeypatch.setattr(search, "MAX_CHUNK", 40)
    return request.param


@pytest.mark.parametrize(
    "params",
    [
        {"q": "connection"},
        {"q": "too many clients"},  # sparse: a few matches among many events
        {"q": "conn", "level": "ERROR"},
        {"q": "100%"},  # LIKE wildcards in the term are literal
        {"q": "no such words anywhere"},
    ],
)
def test_search_pages_are_exact(db_incident, small_pages, path, index_answers, params):
    filters = EventFilters.from_query(params)
    expected = expected_ids(db_incident, filters)
    seen, pages = walk_pages(db_incident, filters)
    assert seen == expected
    if path == "index":  # every page really came from the index query
        assert index_answers and all(a is not None and a.indexed for a in index_answers)
    if path == "walk cut after every chunk" and expected:
        assert any(page.search_cut for page in pages)  # it really was cut short
    if path != "walk cut after every chunk":
        assert not any(page.search_cut for page in pages)
        assert all(len(p.rows) == selectors.PAGE_SIZE for p in pages[:-1])


def test_search_in_a_zoom_window(db_incident, small_pages, path):
    events = Event.objects.filter(incident=db_incident).exclude(ts=None).order_by("ts")
    first, last = events.first().ts, events.last().ts
    params = {
        "q": "connection",
        "from": (first + (last - first) * 0.3).isoformat(),
        "to": (first + (last - first) * 0.9).isoformat(),
    }
    filters = EventFilters.from_query(params)
    expected = expected_ids(db_incident, filters)
    assert expected
    assert walk_pages(db_incident, filters)[0] == expected


def test_search_reaches_events_without_a_timestamp(alpha, small_pages, path):
    from apps.incidents.models import Project

    text = "".join(
        f"2024-01-15T14:02:{i:02d}Z INFO api: request {i} {'slow' if i % 2 else 'fast'}\n"
        for i in range(40)
    )
    incident = ingest_text(Project.objects.get(slug="workspace"), text, title="search nulls")
    ids = list(
        Event.objects.filter(incident=incident).order_by("line").values_list("pk", flat=True)
    )
    Event.objects.filter(pk__in=ids[::3]).update(ts=None)
    filters = EventFilters.from_query({"q": "slow"})
    expected = expected_ids(incident, filters)
    assert len(expected) == 20 and Event.objects.filter(pk__in=expected, ts=None).exists()
    assert walk_pages(incident, filters)[0] == expected


def test_search_through_the_event_text_table(db_incident, small_pages, monkeypatch):
    """Once the incident's messages are in EventText (its own trigram index, off the ingest
    path), the index path searches that table: same answers."""
    from apps.ingestion.models import EventText
    from apps.ingestion.search import index_incident

    sources = list(db_incident.sources.values_list("pk", flat=True))
    index_incident(db_incident.pk)  # what the job after the ingest job does
    assert not db_incident.sources.filter(text_indexed=False).exists()
    plans = []
    monkeypatch.setattr(search, "INDEXED_MAX", 10**9)
    monkeypatch.setattr(search, "_trigram_candidates", lambda plan: plans.append(plan) or 0)
    monkeypatch.setattr(search, "FIRST_CHUNK", 3)
    try:
        for q in ("connection", "too many clients", "zzz-not-there"):
            filters = EventFilters.from_query({"q": q})
            assert walk_pages(db_incident, filters)[0] == expected_ids(db_incident, filters)
        assert plans and "ingestion_eventtext" in str(plans[0])
    finally:
        db_incident.sources.update(text_indexed=False)
        EventText.objects.filter(source_id__in=sources).delete()


def test_cut_short_search_says_how_far_it_got_and_continues(
    client, personas, db_incident, monkeypatch
):
    monkeypatch.setattr(search, "INDEXED_MAX", -1)
    monkeypatch.setattr(search, "SEARCH_BUDGET", -1.0)
    monkeypatch.setattr(search, "WORKSPACE_BUDGET", -1.0)
    monkeypatch.setattr(search, "FIRST_CHUNK", 3)
    monkeypatch.setattr(search, "MAX_CHUNK", 3)
    client.force_login(personas.member)
    # a term whose first match is not among the first three events
    term = "too many clients"
    first_match = expected_ids(db_incident, EventFilters(q=term))[0]
    ordered = Event.objects.filter(incident=db_incident).order_by(
        F("ts").asc(nulls_last=True), "id"
    )
    assert first_match not in list(ordered.values_list("pk", flat=True)[:3])
    path = f"incidents/{db_incident.pk}/events/?{urlencode({'q': term})}"
    response = client.get(url(personas.alpha, path), **HX)
    body = response.content.decode()
    assert response.context["search_cut"]
    assert 'data-testid="search-cut"' in body and "No matches" in body
    assert "Continue searching" in body
    assert 'data-testid="no-events"' not in body
    cursor = response.context["next_cursor"]
    third = ordered[2]
    assert cursor == selectors.make_cursor(third)  # resumes right after the last event tested
    # the whole page renders the same note
    page = client.get(url(personas.alpha, f"incidents/{db_incident.pk}/?{urlencode({'q': term})}"))
    assert 'data-testid="search-cut"' in page.content.decode()


def test_search_needs_no_page_when_nothing_matches(client, personas, db_incident):
    client.force_login(personas.member)
    path = f"incidents/{db_incident.pk}/events/?q=zzz-not-there"
    body = client.get(url(personas.alpha, path), **HX).content.decode()
    assert 'data-testid="no-events"' in body
    assert 'data-testid="search-cut"' not in body


def test_the_text_index_reads_the_incident_s_own_sources_only(db_incident):
    """The trigram index holds the source next to the text (ingestion 0007): in a tenant where
    other incidents hold the term thousands of times, the index condition names this
    incident's sources, so the other incidents' matches are never read."""
    from django.db import connection

    from apps.ingestion.models import Event, EventText
    from apps.ingestion.search import index_incident
    from apps.workspace.selectors.search import _text_condition

    sources = list(db_incident.sources.values_list("pk", flat=True))
    index_incident(db_incident.pk)
    try:
        condition = _text_condition(db_incident, "%TIMEOUT%")
        assert condition is not None
        sql, params = Event.objects.filter(condition).values_list("id").query.sql_with_params()
        with connection.cursor() as cursor:
            # (all rolled back with this test's transaction) the B-tree on the source column
            # alone would serve a tenant this small: without it the GIN index is what is left
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'ingestion_eventtext' "
                "AND schemaname = current_schema() AND indexdef LIKE '%%btree (source_id)'"
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP INDEX "{name}"')
            # other incidents' sources, holding the term 200,000 times (with fewer, the
            # planner's choice turned on what earlier tests left in the tenant)
            cursor.execute(
                "INSERT INTO ingestion_eventtext (event_id, source_id, body) "
                "SELECT 10000000 + i, 1000 + i % 50, 'UPSTREAM TIMEOUT AFTER ' || i || 'MS' "
                "FROM generate_series(1, 200000) i"
            )
            cursor.execute("ANALYZE ingestion_eventtext")
            # still a small table: only bitmap scans, as a big one would get, and no
            # row-by-row join from the incident's few events (what the planner picks once the
            # events table has statistics: earlier tests ANALYZE it, and reltuples outlives
            # their rollback)
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute("SET LOCAL enable_nestloop = off")
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
    finally:
        db_incident.sources.update(text_indexed=False)
        EventText.objects.filter(source_id__in=sources).delete()
    assert "eventtext_source_trgm" in plan, plan
    index_cond = next(line for line in plan.splitlines() if "Index Cond" in line and "body" in line)
    assert "source_id = ANY" in index_cond, plan


@pytest.mark.parametrize("level", ["WARN", "ERROR", "FATAL"])
def test_a_minimum_level_of_warn_and_up_reads_the_level_index(db_incident, level):
    """(incident, level, ts) holds WARN and up only (ingestion 0008: a full index cost the
    ingest ~1.4 µs a row). A WARN-or-worse filter, as the page query renders it, must still be
    one the index can answer: the planner has to prove `level >= N` implies `level >= 3`.
    Whether it picks the index over the timeline depends on table-wide statistics, so the test
    leaves it bitmap scans only (as the text index test does) and checks which index serves."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.incidents.models import Incident

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'event_level' "
            "AND schemaname = current_schema()"
        )
        assert cursor.fetchone()[0].endswith("WHERE (level >= 3)")
    # (rolled back with the test) 20,000 INFO events, 20 warnings and worse
    incident = Incident.objects.create(project=db_incident.project, title="big")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ingestion_event (incident_id, source_id, line, end_line, ts, "
            "ts_inherited, level, service, host, trace_id, message, raw, template_id, group_id, "
            "truncated) SELECT %s, %s, 10000000 + i, 10000000 + i, now() + i * interval '1 ms', false, "
            "CASE WHEN i %% 1000 = 0 THEN 3 + i / 1000 %% 3 ELSE 2 END, 'api', '', '', 'm', "
            "'m', '', '', false FROM generate_series(1, 20000) i",
            [incident.pk, db_incident.sources.first().pk],
        )
        cursor.execute("ANALYZE ingestion_event")
    with CaptureQueriesContext(connection) as queries:
        rows, _ = selectors.events_page(incident, EventFilters(level=level))
    minimum = ["WARN", "ERROR", "FATAL"].index(level) + 3
    assert len(rows) == sum(1 for i in range(1, 21) if 3 + i % 3 >= minimum)
    (page_sql,) = [q["sql"] for q in queries if '"ingestion_event"."level" >=' in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {page_sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "event_level" in plan, plan
