"""Workspace views: filters, keyset pagination, triage edits, evidence, escaping, query budgets."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import F

from apps.incidents.models import Incident
from apps.ingestion.models import Event
from apps.workspace.selectors.events import PAGE_SIZE, EventFilters, events_page

from .conftest import ingest_text, url

HX = {"HTTP_HX_REQUEST": "true"}


def get(client, tenant, path, **headers):
    return client.get(url(tenant, path), **headers)


def ordered(incident):
    return Event.objects.filter(incident=incident).order_by(F("ts").asc(nulls_last=True), "id")


# --- query budgets ------------------------------------------------------------------------------
# Every request costs 4 middleware queries (domain, session, user, membership); django-tenants
# sets the search_path once per schema it switches to (TENANT_LIMIT_SET_CALLS).
MIDDLEWARE = 4


SEARCH_PATHS = 2  # SET search_path: public for the domain, then the tenant's (once each)


def budget(queries: int) -> int:
    return MIDDLEWARE + queries + SEARCH_PATHS


@pytest.mark.parametrize(
    ("name", "path", "headers", "queries"),
    [
        # project, count, page
        ("project page", "projects/workspace/", {}, 3),
        ("project page, search", "projects/workspace/?q=checkout&sort=errors", {}, 3),
        # incident, jobs, sources, diagnosis, findings, timeline (one query on the rollup:
        # was 3 on raw events), the project's deploys, groups, groups in other incidents,
        # sparklines, events, evidence lines of findings and root cause, the stored correlation,
        # the alerts in (header only)
        ("incident page", "incidents/{pk}/", {}, 14),
        (
            "incident page, zoomed and filtered (htmx fragment)",
            "incidents/{pk}/?from={mid}&to={end}&level=WARN&q=a",
            {**HX, "HTTP_HX_TARGET": "workspace"},
            13,
        ),
        # incident, sources (with their jobs), diagnosis, findings, timeline (was 3 queries),
        # the project's deploys, the stored correlation (the lanes' order)
        ("timeline partial", "incidents/{pk}/timeline/", HX, 7),
        ("events partial", "incidents/{pk}/events/?level=INFO", HX, 2),
        ("events partial, deep page", "incidents/{pk}/events/?after={cursor}", HX, 2),
        # incident, the search's first chunk of 1,000 events (it fills the page), the page's
        # events (a sparse term adds the sources' index flags, the planner's estimate and the
        # index query, or more chunks: search.py)
        ("events partial, text search", "incidents/{pk}/events/?q=connection", HX, 3),
        (
            "events partial, text search, deep page",
            "incidents/{pk}/events/?q=connection&after={cursor}",
            HX,
            3,
        ),
        # incident, source, events around the line
        ("evidence page", "incidents/{pk}/evidence/{sid}/{line}/", {}, 3),
        ("evidence panel", "incidents/{pk}/evidence/{sid}/{line}/?context=50", HX, 3),
    ],
)
def test_query_budget(
    client, personas, db_incident, django_assert_num_queries, name, path, headers, queries
):
    from apps.workspace.selectors.events import make_cursor

    client.force_login(personas.member)
    events = ordered(db_incident)
    event = events[len(events) // 2]
    first, last = events.first().ts, events.exclude(ts=None).last().ts
    path = path.format(
        pk=db_incident.pk,
        sid=event.source_id,
        line=event.line,
        cursor=make_cursor(events[PAGE_SIZE * 3]).replace("+", "%2B"),
        mid=(first + (last - first) / 2).isoformat().replace("+", "%2B"),
        end=last.isoformat().replace("+", "%2B"),
    )
    with django_assert_num_queries(budget(queries)):
        response = get(client, personas.alpha, path, **headers)
    assert response.status_code == 200, name


# --- project page -------------------------------------------------------------------------------


def test_project_page_lists_incidents_with_counts_and_top_finding(client, personas, db_incident):
    client.force_login(personas.viewer)
    body = get(client, personas.alpha, "projects/workspace/").content.decode()
    assert "checkout-db-connections" in body
    assert "worker-oom-crashloop" in body
    events = sum(s.event_count for s in db_incident.sources.all())
    assert f">{events}<" in body
    top = db_incident.findings.order_by("-count").first()
    assert top is not None
    assert "PostgreSQL refused connections" in body
    # the project's other pages: its stream for everyone, its alert settings for owners only
    assert 'data-testid="project-stream"' in body and 'data-testid="project-alerts"' not in body
    client.force_login(personas.owner)
    body = get(client, personas.alpha, "projects/workspace/").content.decode()
    assert 'href="/t/alpha/projects/workspace/alerts/"' in body


def test_project_page_search_sort_and_pagination(client, personas, alpha):
    from apps.incidents.models import Project

    project = Project.objects.get(slug="workspace")
    Incident.objects.bulk_create(
        Incident(project=project, title=f"paging {i:02d}", severity="sev1" if i == 7 else "sev4")
        for i in range(30)
    )
    client.force_login(personas.member)
    body = get(client, personas.alpha, "projects/workspace/?q=paging").content.decode()
    assert body.count('data-testid="incident-row"') == 25
    assert "Page 1 of 2" in body
    page2 = get(client, personas.alpha, "projects/workspace/?q=paging&page=2").content.decode()
    assert page2.count('data-testid="incident-row"') == 5
    top = get(
        client,
        personas.alpha,
        "projects/workspace/?q=paging&sort=severity",
        **HX,
        HTTP_HX_TARGET="incident-list",
    ).content.decode()
    assert "<html" not in top
    titles = [part.split("<")[0] for part in top.split(">paging ")[1:]]
    assert titles[0] == "07"  # sev1 first
    none = get(client, personas.alpha, "projects/workspace/?q=no-such-title").content.decode()
    assert 'data-testid="no-incidents"' in none
    odd = get(client, personas.alpha, "projects/workspace/?sort=;drop&status=x&page=zz")
    assert odd.status_code == 200


# --- incident page ------------------------------------------------------------------------------


def test_incident_page_header_findings_groups(client, personas, db_incident):
    client.force_login(personas.viewer)
    body = get(client, personas.alpha, f"incidents/{db_incident.pk}/").content.decode()
    diagnosis = db_incident.diagnosis
    assert diagnosis.root_category in body
    sid, line = diagnosis.root_evidence[0]
    assert f"/evidence/{sid}/{line}/" in body  # the root cause's first evidence line
    assert 'data-testid="root-evidence"' in body
    assert body.count('data-testid="finding"') == db_incident.findings.count()
    assert 'data-testid="finding-trigger"' in body
    assert 'data-testid="sparkline"' in body and "<rect" in body
    assert 'data-testid="finding-marker"' in body
    assert 'data-testid="incident-window"' in body
    assert 'data-testid="lane"' in body
    assert 'data-testid="status-select"' not in body  # viewers read
    assert 'data-testid="status"' in body


def test_zoom_filters_everything_below(client, personas, db_incident):
    client.force_login(personas.member)
    events = ordered(db_incident).exclude(ts=None)
    first, last = events.first().ts, events.last().ts
    start, end = first + (last - first) * 0.8, last
    qs = f"?from={start.isoformat()}&to={end.isoformat()}".replace("+", "%2B")
    response = get(
        client, personas.alpha, f"incidents/{db_incident.pk}/{qs}", **HX, HTTP_HX_TARGET="workspace"
    )
    body = response.content.decode()
    assert "<html" not in body and 'id="workspace"' in body
    assert "zoomed" in body
    page = response.context["events"]
    assert page and all(start <= e.ts < end for e in page)
    shown = response.context["findings"]
    assert all((f.last_ts or end) >= start and (f.first_ts or start) < end for f in shown)
    assert len(shown) <= db_incident.findings.count()
    # a history restore (back button) gets the whole page, never the fragment
    restore = get(
        client,
        personas.alpha,
        f"incidents/{db_incident.pk}/{qs}",
        **HX,
        HTTP_HX_TARGET="workspace",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    assert "<html" in restore.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"level": "ERROR"},
        {"level": "warn"},
        {"service": "postgresql"},
        {"q": "too many clients"},
        {"level": "ERROR", "q": "connection"},
    ],
)
def test_event_filters(client, personas, db_incident, params):
    client.force_login(personas.member)
    from urllib.parse import urlencode

    response = get(
        client, personas.alpha, f"incidents/{db_incident.pk}/events/?{urlencode(params)}"
    )
    events = response.context["events"]
    assert events
    level = params.get("level", "").upper()
    for event in events:
        if level:
            assert (
                event.level_name
                in {"WARN": ("WARN", "ERROR", "FATAL"), "ERROR": ("ERROR", "FATAL")}[level]
            )
        if "service" in params:
            assert event.service == params["service"]
        if "q" in params:
            assert params["q"].lower() in event.message.lower()


def test_source_and_group_filters(client, personas, db_incident):
    client.force_login(personas.member)
    source = db_incident.sources.order_by("-event_count").first()
    response = get(client, personas.alpha, f"incidents/{db_incident.pk}/events/?source={source.pk}")
    assert {e.source_id for e in response.context["events"]} == {source.pk}
    occurrence = db_incident.occurrences.select_related("group").order_by("-count").first()
    group_id = occurrence.group.group_id
    response = get(client, personas.alpha, f"incidents/{db_incident.pk}/?group={group_id}")
    assert {e.group_id for e in response.context["events"]} == {group_id}
    assert 'data-testid="group-chip"' in response.content.decode()


def test_keyset_pagination_walks_every_event_once(db_incident):
    filters = EventFilters.from_query({})
    seen, after, pages = [], "", 0
    while True:
        rows, after = events_page(db_incident, filters, after)
        seen.extend(e.pk for e in rows)
        pages += 1
        if not after:
            break
    assert seen == list(ordered(db_incident).values_list("pk", flat=True))
    assert pages == -(-len(seen) // PAGE_SIZE)


def test_next_page_link_continues_where_the_page_ended(client, personas, db_incident):
    client.force_login(personas.member)
    first = get(client, personas.alpha, f"incidents/{db_incident.pk}/events/?level=INFO", **HX)
    cursor = first.context["next_cursor"]
    assert cursor and 'data-testid="next-page"' in first.content.decode()
    second = get(
        client,
        personas.alpha,
        f"incidents/{db_incident.pk}/events/?level=INFO&after={cursor.replace('+', '%2B')}",
        **HX,
    )
    a, b = first.context["events"], second.context["events"]
    assert (a[-1].ts, a[-1].pk) < (b[0].ts, b[0].pk)
    assert 'data-testid="first-page"' in second.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "after=garbage",
        "after=x|y",
        "after=|99999999999999999999999",
        "from=nope&to=2024",
        "source=99999999999999999999999",
        "level=<script>",
        "from=2030-01-01&to=2020-01-01",
    ],
)
def test_odd_parameters_never_fail(client, personas, db_incident, query):
    client.force_login(personas.member)
    for path in ("", "events/", "timeline/"):
        assert (
            get(client, personas.alpha, f"incidents/{db_incident.pk}/{path}?{query}").status_code
            == 200
        )


def test_empty_incident_has_empty_states(client, personas, alpha):
    from apps.incidents.models import Project

    incident = Incident.objects.create(project=Project.objects.get(slug="workspace"), title="empty")
    client.force_login(personas.member)
    body = get(client, personas.alpha, f"incidents/{incident.pk}/").content.decode()
    assert 'data-testid="timeline-empty"' in body
    assert 'data-testid="no-events"' in body
    assert 'data-testid="no-findings"' in body


# --- triage -------------------------------------------------------------------------------------


def test_member_changes_status_and_severity(client, personas, db_incident):
    client.force_login(personas.member)
    path = f"incidents/{db_incident.pk}/triage/"
    response = client.post(
        url(personas.alpha, path), {"status": "mitigated", "severity": "sev1"}, **HX
    )
    assert response.status_code == 200
    assert 'data-testid="triage-saved"' in response.content.decode()
    db_incident.refresh_from_db()
    assert (db_incident.status, db_incident.severity) == ("mitigated", "sev1")
    no_js = client.post(url(personas.alpha, path), {"status": "resolved", "severity": "sev1"})
    assert no_js.status_code == 302
    db_incident.refresh_from_db()
    assert db_incident.status == "resolved"
    bad = client.post(url(personas.alpha, path), {"status": "deleted", "severity": "sev1"})
    assert bad.status_code == 400


def test_viewer_cannot_change_status(client, personas, db_incident):
    client.force_login(personas.viewer)
    before = (db_incident.status, db_incident.severity)
    response = client.post(
        url(personas.alpha, f"incidents/{db_incident.pk}/triage/"),
        {"status": "resolved", "severity": "sev1"},
        **HX,
    )
    assert response.status_code == 403
    db_incident.refresh_from_db()
    assert (db_incident.status, db_incident.severity) == before


# --- evidence -----------------------------------------------------------------------------------


def test_evidence_highlights_the_line_in_context(client, personas, db_incident):
    client.force_login(personas.viewer)
    finding = db_incident.findings.filter(trigger__isnull=False).first()
    sid, line = finding.trigger
    event = Event.objects.get(source_id=sid, line=line)
    response = get(client, personas.alpha, f"incidents/{db_incident.pk}/evidence/{sid}/{line}/")
    body = response.content.decode()
    assert "<html" in body
    rows = response.context["rows"]
    hits = [r for r in rows if r["hit"]]
    assert hits[0]["number"] == line and hits[0]["text"] == event.raw.split("\n")[0]
    assert len(rows) > len(hits)  # context lines around it
    assert body.count('data-testid="evidence-hit"') == len(hits)
    panel = get(
        client, personas.alpha, f"incidents/{db_incident.pk}/evidence/{sid}/{line}/?context=2", **HX
    )
    assert "<html" not in panel.content.decode()
    assert len(panel.context["rows"]) <= 5 + event.end_line - event.line


def test_evidence_of_unknown_line_or_foreign_source_is_404(
    client, personas, db_incident, oom_incident
):
    client.force_login(personas.member)
    source = db_incident.sources.first()
    assert (
        get(
            client, personas.alpha, f"incidents/{db_incident.pk}/evidence/{source.pk}/99999999/"
        ).status_code
        == 404
    )
    other = oom_incident.sources.first()
    assert (
        get(
            client, personas.alpha, f"incidents/{db_incident.pk}/evidence/{other.pk}/1/"
        ).status_code
        == 404
    )


# --- escaping -----------------------------------------------------------------------------------

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a hx-get="/x" hx-trigger="load">hx</a>',
    '<a href="javascript:alert(1)">click</a>',
    "</textarea><svg onload=alert(1)>",
]


def xss_log() -> str:
    lines = []
    for i, payload in enumerate(PAYLOADS):
        lines.append(f"2024-01-15T14:02:{10 + i:02d}Z ERROR svc-{payload}: failed {payload}")
    return "\n".join(lines) + "\n"


def test_log_text_is_escaped_everywhere(client, personas, alpha):
    from apps.incidents.models import Project

    incident = ingest_text(Project.objects.get(slug="workspace"), xss_log(), title="<b>xss</b>")
    client.force_login(personas.member)
    source = incident.sources.get()
    pages = [
        f"incidents/{incident.pk}/",
        f"incidents/{incident.pk}/events/",
        f"incidents/{incident.pk}/timeline/",
        f"incidents/{incident.pk}/evidence/{source.pk}/1/?context=10",
        "projects/workspace/",
    ]
    for path in pages:
        body = get(client, personas.alpha, path).content.decode()
        for needle in (
            "<script>alert",
            "<img src=x",
            'hx-get="/x"',
            'href="javascript:',
            "<svg onload",
            "<b>xss",
        ):
            assert needle not in body, (path, needle)
    body = get(client, personas.alpha, f"incidents/{incident.pk}/events/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_keyset_pagination_with_untimestamped_tail(alpha, monkeypatch):
    from apps.incidents.models import Project
    from apps.workspace.selectors import events as selectors

    text = "".join(f"2024-01-15T14:02:{i:02d}Z INFO api: request {i}\n" for i in range(30))
    incident = ingest_text(Project.objects.get(slug="workspace"), text, title="nulls")
    ids = list(
        Event.objects.filter(incident=incident).order_by("line").values_list("pk", flat=True)
    )
    Event.objects.filter(pk__in=ids[::3]).update(ts=None)
    monkeypatch.setattr(selectors, "PAGE_SIZE", 4)
    seen, after = [], ""
    while True:
        rows, after = selectors.events_page(incident, EventFilters(), after)
        seen.extend(e.pk for e in rows)
        if not after:
            break
    assert seen == list(ordered(incident).values_list("pk", flat=True))


# --- timeline from the rollup -------------------------------------------------------------------


def _drawn(timeline):
    """What the timeline draws: bars (per level) and lanes (per service), without geometry."""
    bars = [
        (b["from"], b["total"], b["errors"], [s["n"] for s in b["segments"]]) for b in timeline.bars
    ]
    lanes = [
        (
            lane["name"],
            lane["total"],
            lane["errors"],
            [(c["n"], c["errors"]) for c in lane["cells"]],
        )
        for lane in timeline.lanes
    ]
    return timeline.start, timeline.width, timeline.buckets, timeline.total, bars, lanes


def _timeline(incident, params, *, rollup):
    from apps.workspace.selectors import incidents as selectors
    from apps.workspace.selectors.timeline import build_timeline

    sources = list(incident.sources.all())
    filters = EventFilters.from_query(params)
    findings = selectors.findings_of(incident, filters.window)
    return build_timeline(incident, sources, filters, findings, incident.diagnosis, rollup=rollup)


def test_timeline_from_rollup_matches_raw_events(db_incident):
    events = ordered(db_incident).exclude(ts=None)
    first, last = events.first().ts, events.last().ts
    span = last - first
    windows = [
        {},  # the whole incident
        # unaligned zoom windows: whole rollup buckets inside, raw events at the edges
        {"from": (first + span * 0.13).isoformat(), "to": (first + span * 0.71).isoformat()},
        {"from": (first + span * 0.5).isoformat(), "to": last.isoformat()},
        # narrower than a rollup bucket per bar: raw events only
        {
            "from": (first + span * 0.5).isoformat(),
            "to": (first + span * 0.5 + timedelta(seconds=90)).isoformat(),
        },
    ]
    for params in windows:
        from_rollup = _timeline(db_incident, params, rollup=True)
        from_events = _timeline(db_incident, params, rollup=False)
        assert from_rollup.total > 0, params
        assert _drawn(from_rollup) == _drawn(from_events), params
    whole = _timeline(db_incident, {}, rollup=True)
    assert whole.total == events.count()
    assert whole.width % 10 == 0  # bars are whole 10-second rollup buckets


def test_timeline_reads_the_rollup_unless_a_job_is_running(client, personas, db_incident):
    from apps.ingestion.models import EventRollup, IngestJob

    client.force_login(personas.member)
    path = f"incidents/{db_incident.pk}/timeline/"
    total = ordered(db_incident).exclude(ts=None).count()
    assert get(client, personas.alpha, path, **HX).context["timeline"].total == total
    rollup = list(EventRollup.objects.filter(incident=db_incident))
    job = db_incident.jobs.first()
    try:
        EventRollup.objects.filter(incident=db_incident, level=4).delete()
        errors = sum(r.count for r in rollup if r.level == 4)
        assert errors
        from django.core.cache import cache

        cache.clear()
        shown = get(client, personas.alpha, path, **HX).context["timeline"].total
        assert shown == total - errors  # drawn from the rollup, not by counting events
        IngestJob.objects.filter(pk=job.pk).update(status=IngestJob.Status.RUNNING)
        assert get(client, personas.alpha, path, **HX).context["timeline"].total == total
    finally:
        IngestJob.objects.filter(pk=job.pk).update(status=job.status)
        EventRollup.objects.filter(incident=db_incident).delete()
        EventRollup.objects.bulk_create(rollup)


# --- short search terms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "applied"),
    [("a", False), ("db", False), ("a b", False), ("--", False), ("too", True), ("x-503", True)],
)
def test_short_search_terms_are_not_applied_and_say_so(client, personas, db_incident, q, applied):
    from urllib.parse import urlencode

    client.force_login(personas.member)
    response = get(client, personas.alpha, f"incidents/{db_incident.pk}/?{urlencode({'q': q})}")
    filters = response.context["filters"]
    assert filters.q == q  # kept in the search box and in links
    assert filters.search == (q if applied else "")
    body = response.content.decode()
    assert ('data-testid="search-too-short"' in body) is not applied
    if not applied:
        unfiltered = get(client, personas.alpha, f"incidents/{db_incident.pk}/events/")
        assert [e.pk for e in response.context["events"]] == [
            e.pk for e in unfiltered.context["events"]
        ]


@pytest.mark.parametrize(
    ("span", "width"),
    [
        (timedelta(minutes=10), 5),
        (timedelta(hours=6), 300),
        (timedelta(days=30), 21600),
        (timedelta(days=400), 604800),
        (timedelta(days=18 * 365), 604800 * 8),  # whole weeks past the last nice step
    ],
)
def test_the_timeline_keeps_to_its_bar_budget_over_any_span(span, width):
    """Logs spanning years (an archive, misdated lines) still get at most ~120 bars: the
    incident page drew 955 weekly bars for an 18-year span and slowed under load."""
    from apps.workspace.selectors.timeline import TIMELINE_BUCKETS, bucket_width

    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert bucket_width(start, start + span) == width
    assert span.total_seconds() / width <= TIMELINE_BUCKETS


def test_the_header_names_the_trigger_and_times_the_incident(client, personas, oom_incident):
    """The OOM sample's trigger (a batch job starting on gunicorn) and the incident's own span,
    from its onset, next to the logs' whole range."""
    from apps.rules.models import Diagnosis

    diagnosis = Diagnosis.objects.get(incident=oom_incident)
    assert diagnosis.trigger and diagnosis.onset and diagnosis.ended
    client.force_login(personas.member)
    body = client.get(url(personas.alpha, f"incidents/{oom_incident.pk}/")).content.decode()
    assert 'data-testid="trigger"' in body
    assert "New activity on gunicorn" in body
    source_id, line = diagnosis.trigger["evidence"][0]
    assert f"/evidence/{source_id}/{line}/" in body
    span = re.search(r'data-testid="incident-span".*?</div>', body, re.S).group()
    assert f"{diagnosis.onset:%H:%M:%S}" in span and f"{diagnosis.ended:%H:%M:%S}" in span
