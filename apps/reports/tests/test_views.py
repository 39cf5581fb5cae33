"""The editor's views: roles, autosave/conflict partials, preview escaping, history/diff/restore,
downloads, list search, template, and query budgets."""

from __future__ import annotations

from django.urls import reverse

from apps.core.render.markdown import cite
from apps.reports.models import PdfExport, ReportTemplate

from .conftest import url

HX = {"HTTP_HX_REQUEST": "true"}


def pm(tenant, incident, name="report-detail"):
    path = reverse(f"reports:{name}", urlconf="aiops.urls_tenant", args=[incident.pk])
    return url(tenant, path)


def test_viewer_reads_but_cannot_edit(client, personas, report, incident):
    client.force_login(personas.viewer)
    page = client.get(pm(personas.alpha, incident))
    assert page.status_code == 200
    assert report.title in page.content.decode()
    assert 'name="body"' not in page.content.decode()
    for name in (
        "section-save",
        "report-draft",
        "section-regenerate",
        "pdf-request",
        "action-save",
    ):
        assert (
            client.post(pm(personas.alpha, incident, name), {"key": "summary"}).status_code == 403
        )
    preview = client.get(pm(personas.alpha, incident, "section-preview") + "?key=summary")
    assert preview.status_code == 200 and "<p>" in preview.content.decode()


def test_member_drafts_from_the_incident(client, personas, incident):
    client.force_login(personas.member)
    page = client.get(pm(personas.alpha, incident))
    assert 'data-testid="draft-postmortem"' in page.content.decode()
    response = client.post(pm(personas.alpha, incident, "report-draft"))
    assert response.status_code == 302
    body = client.get(response["Location"]).content.decode()
    assert 'data-testid="section-root_cause"' in body and 'data-testid="evidence"' in body


def test_autosave_partial_and_conflict_message(client, personas, report, incident):
    section = report.sections.get(key="summary")
    client.force_login(personas.member)
    save = pm(personas.alpha, incident, "section-save")
    ok = client.post(save, {"key": "summary", "body": "new", "version": section.version}, **HX)
    text = ok.content.decode()
    assert "Saved" in text and f'value="{section.version + 1}"' in text and "hx-swap-oob" in text
    client.force_login(personas.owner)
    stale = client.post(save, {"key": "summary", "body": "mine", "version": section.version}, **HX)
    text = stale.content.decode()
    assert stale.status_code == 200
    assert "Not saved" in text and "bob saved this section" in text and "Keep my text" in text
    section.refresh_from_db()
    assert section.body == "new"


def test_preview_escapes_and_links_only_evidence(client, personas, report, incident):
    client.force_login(personas.member)
    body = '<img src="file:///etc/passwd"> [x](http://127.0.0.1:1/) ' + cite("api.log:7", 5, 7)
    response = client.post(pm(personas.alpha, incident, "section-preview"), {"body": body}, **HX)
    html = response.content.decode()
    assert (
        "<img" not in html and "&lt;img" in html and "http://127.0.0.1" not in html.split("[x]")[0]
    )
    evidence = reverse("incidents:evidence", urlconf="aiops.urls_tenant", args=[incident.pk, 5, 7])
    assert evidence.lstrip("/") in html and 'class="cite"' in html
    assert response["X-Content-Type-Options"] == "nosniff"


def test_history_diff_and_restore(client, personas, report, incident):
    section = report.sections.get(key="detection")
    client.force_login(personas.member)
    client.post(
        pm(personas.alpha, incident, "section-save"),
        {"key": "detection", "body": "only this", "version": section.version},
        **HX,
    )
    history = client.get(pm(personas.alpha, incident, "section-history") + "?key=detection", **HX)
    assert history.content.decode().count('data-testid="version-row"') == 2
    generated = section.versions.get(kind="generated")
    diff = client.get(
        pm(personas.alpha, incident, "section-history") + f"?key=detection&version={generated.pk}",
        **HX,
    ).content.decode()
    assert "diff-add" in diff and "+only this" in diff
    restored = client.post(
        pm(personas.alpha, incident, "version-restore"), {"version": generated.pk}, **HX
    )
    assert "version 1 restored" in restored.content.decode()
    section.refresh_from_db()
    assert section.body == generated.body
    assert (
        client.post(pm(personas.alpha, incident, "version-restore"), {"version": "x"}).status_code
        == 404
    )


def test_regenerate_returns_the_section(client, personas, report, incident):
    client.force_login(personas.member)
    response = client.post(
        pm(personas.alpha, incident, "section-regenerate"), {"key": "timeline"}, **HX
    )
    assert response.status_code == 200 and "Timeline regenerated" in response.content.decode()
    assert (
        client.post(pm(personas.alpha, incident, "section-regenerate"), {"key": "zzz"}).status_code
        == 404
    )


def test_action_items(client, personas, report, incident):
    client.force_login(personas.member)
    endpoint = pm(personas.alpha, incident, "action-save")
    added = client.post(
        endpoint,
        {"text": "Page on pool saturation", "owner": "bob", "due_date": "2024-04-01"},
        **HX,
    )
    assert "Page on pool saturation" in added.content.decode()
    item = report.actions.get(text="Page on pool saturation")
    client.post(endpoint, {"id": item.pk, "text": item.text, "owner": "bob", "done": "on"}, **HX)
    item.refresh_from_db()
    assert item.done
    client.post(endpoint, {"id": item.pk, "delete": "1"}, **HX)
    assert not report.actions.filter(pk=item.pk).exists()


def test_downloads(client, personas, report, incident, django_capture_on_commit_callbacks):
    client.force_login(personas.member)
    md = client.get(pm(personas.alpha, incident, "report-markdown"))
    assert md["Content-Disposition"].startswith("attachment;")
    assert md["X-Content-Type-Options"] == "nosniff"
    assert "## Root cause" in md.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        status = client.post(pm(personas.alpha, incident, "pdf-request"), **HX)
    assert status.status_code == 200
    export = PdfExport.objects.get(report=report)
    assert export.status == PdfExport.Status.DONE
    # (in a request outside a test transaction the inline render is done before the response)
    polled = client.get(pm(personas.alpha, incident, "pdf-status") + f"?export={export.pk}", **HX)
    assert 'data-testid="download-pdf"' in polled.content.decode()
    pdf = client.get(pm(personas.alpha, incident, "pdf-download") + f"?export={export.pk}")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert pdf["Content-Disposition"].startswith("attachment;")
    assert (
        client.get(pm(personas.alpha, incident, "pdf-download") + "?export=999999").status_code
        == 404
    )
    chart = client.get(pm(personas.alpha, incident, "report-chart"))
    assert chart["Content-Type"] == "image/svg+xml" and b"<script" not in chart.content


def test_pdf_status_polls_while_queued(client, personas, report, incident):
    export = PdfExport.objects.create(report=report)
    client.force_login(personas.member)
    response = client.get(pm(personas.alpha, incident, "pdf-status") + f"?export={export.pk}", **HX)
    text = response.content.decode()
    assert "Rendering PDF" in text and 'hx-trigger="every 1s"' in text


def test_list_is_per_project_and_searchable(client, personas, report, project):
    client.force_login(personas.member)
    base = url(
        personas.alpha,
        reverse("reports:report-list", urlconf="aiops.urls_tenant", args=[project.slug]),
    )
    assert report.title in client.get(base).content.decode()
    report.sections.filter(key="went_well").update(body="the zebra runbook helped")
    assert report.title in client.get(base + "?q=zebra").content.decode()
    assert "No postmortem matches" in client.get(base + "?q=nothing-like-this").content.decode()


def test_template_is_owner_only(client, personas):
    endpoint = url(personas.alpha, reverse("reports:template-edit", urlconf="aiops.urls_tenant"))
    client.force_login(personas.member)
    assert client.get(endpoint).status_code == 403
    client.force_login(personas.owner)
    assert client.get(endpoint).status_code == 200
    response = client.post(endpoint, {"sections": ["summary", "timeline"], "default_owner": "sre"})
    assert response.status_code == 302
    tmpl = ReportTemplate.objects.get()
    assert (
        tmpl.sections == ["title", "summary", "timeline", "appendix"]
        and tmpl.default_owner == "sre"
    )


def test_query_budgets(client, personas, report, incident, project, django_assert_max_num_queries):
    """Constant in the number of sections, versions and reports (6 of each budget are the
    tenant middleware: the search_path twice, domain, session, user, membership)."""
    client.force_login(personas.member)
    with django_assert_max_num_queries(12):
        assert client.get(pm(personas.alpha, incident)).status_code == 200
    listing = url(
        personas.alpha,
        reverse("reports:report-list", urlconf="aiops.urls_tenant", args=[project.slug]),
    )
    with django_assert_max_num_queries(8):
        assert client.get(listing + "?q=db").status_code == 200
    with django_assert_max_num_queries(10):
        client.get(pm(personas.alpha, incident, "section-history") + "?key=summary", **HX)
