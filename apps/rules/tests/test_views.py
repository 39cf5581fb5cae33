"""Rules pages: catalogue list/detail, tuning, custom rules CRUD and the dry run, by role."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from django_tenants.utils import tenant_context

from apps.incidents.models import Project
from apps.ingestion import services as ingestion
from apps.ingestion.models import Event
from apps.rules import services
from apps.rules.models import CustomRule, RuleSetting

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
PG_RULE = "db-too-many-connections.postgres"


def url(personas, name, *args):
    return personas.alpha.url_prefix + reverse(
        f"rules:{name}", urlconf="aiops.urls_tenant", args=args
    ).lstrip("/")


def in_alpha(personas):
    return tenant_context(personas.alpha)


def rule_data(**fields) -> dict:
    data = {
        "rule_id": "pg-clients",
        "title": "Postgres out of client slots",
        "category": "db-too-many-connections",
        "severity": "critical",
        "pattern": "too many clients",
        "level": "",
        "service": "",
        "threshold_count": "",
        "threshold_window": "",
        "explanation": "",
        "remediation": "",
        "enabled": "on",
    }
    data.update(fields)
    return data


@pytest.fixture
def incident(personas):
    with in_alpha(personas):
        project = Project.objects.get(slug="alpha-marker")
        incident = ingestion.create_incident(
            project=project,
            title="db connections",
            uploads=[ingestion.upload_from_path(SAMPLES / "checkout-db-connections.zip")],
            run_inline=True,
        )
        for job in incident.jobs.all():
            ingestion.run_ingest(job.pk)
    return incident


# --- catalogue list and detail ---------------------------------------------------------------


def test_list_shows_builtin_and_custom_rules(client, personas):
    with in_alpha(personas):
        CustomRule.objects.create(
            rule_id="mine", category="payments", severity="error", title="Mine", pattern="boom"
        )
    client.force_login(personas.viewer)
    body = client.get(url(personas, "rule-list")).content.decode()
    assert PG_RULE in body and "custom.mine" in body
    assert body.count('data-testid="rule-row"') == len(services.builtin_catalogue())
    assert 'data-testid="rule-toggle"' not in body  # viewers read only
    assert 'data-testid="new-custom-rule"' not in body


def test_list_filters_by_category_and_search(client, personas):
    client.force_login(personas.member)
    body = client.get(url(personas, "rule-list"), {"category": "disk-full"}).content.decode()
    rows = body.count('data-testid="rule-row"')
    assert rows == sum(1 for r in services.builtin_catalogue() if r.category == "disk-full") > 0
    assert PG_RULE not in body
    body = client.get(url(personas, "rule-list"), {"q": "TOO MANY CLIENTS"}).content.decode()
    assert PG_RULE in body and "disk-full." not in body
    assert 'data-testid="rule-toggle"' in body


def test_list_htmx_returns_only_the_tables(client, personas):
    client.force_login(personas.member)
    response = client.get(
        url(personas, "rule-list"),
        {"q": "oom"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="rule-tables",
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="rule-tables">')
    assert "<html" not in body


def test_detail_shows_matcher_explanation_and_examples(client, personas):
    rule = services.builtin_catalogue()[PG_RULE]
    client.force_login(personas.viewer)
    response = client.get(url(personas, "rule-detail", PG_RULE))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="rule-matcher"' in body
    assert rule.explanation.split()[0] in body
    assert body.count('data-testid="example-positive"') == len(rule.positive)
    assert body.count('data-testid="example-negative"') == len(rule.negative)
    assert 'action="' + url(personas, "rule-tune", PG_RULE) not in body  # no form for viewers


def test_unknown_rule_is_404(client, personas):
    client.force_login(personas.owner)
    assert client.get(url(personas, "rule-detail", "no.such.rule")).status_code == 404
    assert client.post(url(personas, "rule-toggle", "no.such.rule")).status_code == 404


def test_list_and_detail_query_budgets(client, personas, django_assert_num_queries):
    with in_alpha(personas):
        for i in range(5):
            CustomRule.objects.create(
                rule_id=f"r{i}", category="x", severity="error", title=f"R{i}", pattern="boom"
            )
            RuleSetting.objects.create(rule_id=f"unknown.{i}", enabled=False)
        RuleSetting.objects.create(rule_id=PG_RULE, enabled=False)
    client.force_login(personas.member)
    client.get(url(personas, "rule-list"))  # warm the per-process catalogue
    # Selects: domain, session, user, membership, then the page's own; django-tenants sets the
    # search_path twice (public for the domain, then the tenant's), so budgets are selects + 2.
    # Rule list: settings + custom rules, whatever their number.
    with django_assert_num_queries(6 + 2):
        assert client.get(url(personas, "rule-list")).status_code == 200
    with django_assert_num_queries(5 + 2):  # + the rule's setting
        assert client.get(url(personas, "rule-detail", PG_RULE)).status_code == 200
    with in_alpha(personas):
        pk = CustomRule.objects.get(rule_id="r1").pk
    with django_assert_num_queries(5 + 2):  # + the custom rule
        assert client.get(url(personas, "custom-detail", pk)).status_code == 200


# --- toggle and tuning -----------------------------------------------------------------------


def test_viewer_cannot_change_anything(client, personas):
    with in_alpha(personas):
        rule = CustomRule.objects.create(
            rule_id="mine", category="x", severity="error", title="Mine", pattern="boom"
        )
    client.force_login(personas.viewer)
    posts = [
        (url(personas, "rule-toggle", PG_RULE), {}),
        (url(personas, "rule-tune", PG_RULE), {"severity": "info"}),
        (url(personas, "custom-create"), rule_data()),
        (url(personas, "custom-update", rule.pk), rule_data(title="changed")),
        (url(personas, "custom-toggle", rule.pk), {}),
        (url(personas, "custom-delete", rule.pk), {}),
    ]
    for target, data in posts:
        assert client.post(target, data).status_code == 403, target
    assert client.get(url(personas, "custom-create")).status_code == 403
    with in_alpha(personas):
        assert not RuleSetting.objects.exists()
        assert list(CustomRule.objects.values_list("title", "enabled")) == [("Mine", True)]


@pytest.mark.parametrize("persona", ["owner", "member"])
def test_toggle_builtin_rule(client, personas, persona):
    client.force_login(getattr(personas, persona))
    response = client.post(url(personas, "rule-toggle", PG_RULE), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith("<tr") and 'aria-pressed="false"' in body
    with in_alpha(personas):
        assert PG_RULE not in services.tenant_catalogue()
    response = client.post(url(personas, "rule-toggle", PG_RULE), {"enabled": "on"})
    assert response.status_code == 302  # without HTMX: back to the list
    with in_alpha(personas):
        assert PG_RULE in services.tenant_catalogue()
    with tenant_context(personas.beta):
        assert not RuleSetting.objects.filter(rule_id=PG_RULE).exists()


def test_tune_severity_and_threshold_then_reset(client, personas):
    client.force_login(personas.member)
    target = url(personas, "rule-tune", PG_RULE)
    response = client.post(
        target, {"severity": "warning", "threshold_count": "3", "threshold_window": "30"}
    )
    assert response.status_code == 302
    with in_alpha(personas):
        rule = services.tenant_catalogue()[PG_RULE]
        assert (rule.severity, rule.threshold.count, rule.threshold.window) == ("warning", 3, 30)
    body = client.get(url(personas, "rule-detail", PG_RULE)).content.decode()
    assert "3 matches within 30 s" in body
    client.post(target, {"reset": "1"})
    with in_alpha(personas):
        shipped = services.builtin_catalogue()[PG_RULE]
        rule = services.tenant_catalogue()[PG_RULE]
        assert (rule.severity, rule.threshold) == (shipped.severity, shipped.threshold)


def test_tune_rejects_bad_values(client, personas):
    client.force_login(personas.member)
    response = client.post(
        url(personas, "rule-tune", PG_RULE), {"severity": "nope", "threshold_window": "0"}
    )
    assert response.status_code == 400
    assert 'data-testid="form-error"' in response.content.decode()


# --- custom rules ----------------------------------------------------------------------------


def test_member_creates_edits_toggles_and_deletes_a_custom_rule(client, personas):
    client.force_login(personas.member)
    response = client.post(url(personas, "custom-create"), rule_data(service="postgresql"))
    assert response.status_code == 302, response.content.decode()
    with in_alpha(personas):
        rule = CustomRule.objects.get(rule_id="pg-clients")
        assert rule.created_by_id == personas.member.pk
        assert "custom.pg-clients" in services.tenant_catalogue()
    assert response["Location"].endswith(url(personas, "custom-detail", rule.pk))
    body = client.get(response["Location"]).content.decode()
    assert "too many clients" in body and "postgresql" in body

    response = client.post(url(personas, "custom-update", rule.pk), rule_data(title="Renamed"))
    assert response.status_code == 302
    response = client.post(url(personas, "custom-toggle", rule.pk), HTTP_HX_REQUEST="true")
    assert 'aria-pressed="false"' in response.content.decode()
    with in_alpha(personas):
        rule.refresh_from_db()
        assert (rule.title, rule.enabled) == ("Renamed", False)
        assert "custom.pg-clients" not in services.tenant_catalogue()
    assert client.post(url(personas, "custom-delete", rule.pk)).status_code == 302
    with in_alpha(personas):
        assert not CustomRule.objects.exists()


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"(\w+) \1", "Backreferences"),
        (r"error(?=: fatal)", "Look-ahead"),
        (r"(unclosed", "Invalid pattern"),
        (r".*", "matches an empty line"),
        ("a{1000}{1000}", "Invalid pattern"),  # RE2 refuses the repeat count
    ],
)
def test_invalid_patterns_are_rejected_with_a_message(client, personas, pattern, message):
    client.force_login(personas.member)
    response = client.post(url(personas, "custom-create"), rule_data(pattern=pattern))
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body
    assert 'data-testid="form-error"' in body
    with in_alpha(personas):
        assert not CustomRule.objects.exists()


def test_catastrophic_pattern_is_safe_on_re2(client, personas):
    """`(a+)+$` backtracks exponentially on Python `re`; on RE2 it is linear, so it is accepted
    and a dry run over a hostile line finishes at once."""
    import time

    from apps.core.logparse.record import Record
    from apps.core.rules import dry_run

    client.force_login(personas.member)
    response = client.post(url(personas, "custom-create"), rule_data(pattern="(a+)+$"))
    assert response.status_code == 302
    with in_alpha(personas):
        raw = services.custom_rule_mapping(CustomRule.objects.get(rule_id="pg-clients"))
    hostile = Record(1, 1, "", "a" * 5000 + "!")
    started = time.monotonic()
    assert dry_run(raw, [hostile] * 20).matched_lines == 0
    assert time.monotonic() - started < 1


def test_duplicate_rule_id_and_bad_slugs_are_form_errors(client, personas):
    client.force_login(personas.member)
    client.post(url(personas, "custom-create"), rule_data())
    body = client.post(url(personas, "custom-create"), rule_data()).content.decode()
    assert "already exists" in body
    body = client.post(
        url(personas, "custom-create"), rule_data(rule_id="Bad Id", category="Not_A_Slug")
    ).content.decode()
    assert body.count('data-testid="form-error"') >= 2


def test_custom_rule_of_another_tenant_is_404(client, personas):
    with tenant_context(personas.beta):
        foreign = CustomRule.objects.create(
            rule_id="beta-only", category="x", severity="error", title="BETA", pattern="boom"
        )
    client.force_login(personas.owner)
    assert client.get(url(personas, "custom-detail", foreign.pk)).status_code == 404
    assert client.post(url(personas, "custom-delete", foreign.pk)).status_code == 404
    with tenant_context(personas.beta):
        assert CustomRule.objects.filter(pk=foreign.pk).exists()


# --- dry run ---------------------------------------------------------------------------------


def test_dry_run_counts_lines_and_groups_of_an_ingested_bundle(client, personas, incident):
    with in_alpha(personas):
        hits = Event.objects.filter(incident=incident, message__icontains="too many clients")
        expected_lines = hits.count()
        expected_groups = len({g or t for g, t in hits.values_list("group_id", "template_id")})
        first = hits.order_by("ts", "id").values_list("source_id", "line").first()
    assert expected_lines > 100
    client.force_login(personas.member)
    response = client.post(
        url(personas, "custom-create"),
        rule_data(action="dry-run", incident=incident.pk, pattern="(?i)too many clients"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="dry-run"')
    assert f"Would match {expected_lines} lines in {expected_groups} group" in body
    evidence = personas.alpha.url_prefix + reverse(
        "incidents:evidence", urlconf="aiops.urls_tenant", args=(incident.pk, *first)
    ).lstrip("/")
    assert f'href="{evidence}"' in body
    assert body.count('data-testid="dry-run-sample"') == services.DRY_RUN_SAMPLES
    with in_alpha(personas):
        assert not CustomRule.objects.exists()  # a dry run saves nothing


def test_dry_run_service_level_and_threshold_conditions(personas, incident):
    from apps.ingestion.models import LEVELS

    def rule(**fields):
        return CustomRule(
            rule_id="x",
            category="x",
            severity="error",
            title="x",
            pattern="too many clients",
            **fields,
        )

    with in_alpha(personas):
        hits = Event.objects.filter(incident=incident, message__icontains="too many clients")
        service, level = hits.exclude(service="").values_list("service", "level").first()
        expected = hits.filter(service=service, level__gte=level).count()
        everywhere = services.dry_run_rule(rule=rule(), incident_id=incident.pk)
        narrow = services.dry_run_rule(
            rule=rule(
                service=service,
                level=LEVELS[level],
                threshold_count=expected + 1,
                threshold_window=86400,
            ),
            incident_id=incident.pk,
        )
    assert 0 < narrow.result.matched_lines == expected < everywhere.result.matched_lines
    assert everywhere.result.would_fire and not narrow.result.would_fire


def test_dry_run_is_bounded(personas, incident):
    rule = CustomRule(rule_id="x", category="x", severity="error", title="x", pattern="clients")
    with in_alpha(personas):
        report = services.dry_run_rule(rule=rule, incident_id=incident.pk, max_events=50)
        assert report.events_scanned == 50
        assert report.stopped == "stopped after 50 events"
        report = services.dry_run_rule(rule=rule, incident_id=incident.pk, max_seconds=0)
        assert report.events_scanned == 0 and "seconds" in report.stopped


def test_dry_run_page_without_htmx_and_errors(client, personas, incident):
    client.force_login(personas.member)
    response = client.post(
        url(personas, "custom-create"),
        {"action": "dry-run", "incident": incident.pk, "pattern": "(a)\\1"},
    )
    body = response.content.decode()
    assert "<html" in body and "Backreferences" in body
    assert 'data-testid="dry-run-error"' in body
    response = client.post(
        url(personas, "custom-create"),
        {"action": "dry-run", "incident": incident.pk, "pattern": "too many clients"},
    )
    assert "<html" in response.content.decode() and "Would match" in response.content.decode()


def test_log_text_is_escaped_in_dry_run_samples(client, personas):
    with in_alpha(personas):
        project = Project.objects.get(slug="alpha-marker")
        hostile = ingestion.create_incident(
            project=project,
            title="xss",
            uploads=[
                ingestion.upload_from_text(
                    "2024-01-15T14:02:11Z ERROR api: boom <script>alert(1)</script>\n"
                )
            ],
            run_inline=True,
        )
        for job in hostile.jobs.all():
            ingestion.run_ingest(job.pk)
    client.force_login(personas.member)
    body = client.post(
        url(personas, "custom-create"),
        rule_data(action="dry-run", incident=hostile.pk, pattern="boom"),
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Would match 1 line in 1 group" in body
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body


def test_one_dry_run_per_user_at_a_time(client, personas, incident):
    """A second dry run while the user's first holds its slot (taken here on a connection of
    its own, as another web process would) gets a 429 that says why; then it runs again."""
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    client.force_login(personas.member)
    data = rule_data(action="dry-run", incident=incident.pk, pattern="too many clients")
    key = (services.DRY_RUN_LOCK_CLASS, personas.member.pk)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", key)
        response = client.post(url(personas, "custom-create"), data, HTTP_HX_REQUEST="true")
        assert response.status_code == 429
        assert response["Retry-After"] == "20"
        body = response.content.decode()
        assert 'data-testid="dry-run-busy"' in body and "already have a dry run" in body
        assert "Would match" not in body
        # another user is not held up by it
        client.force_login(personas.owner)
        response = client.post(url(personas, "custom-create"), data, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        client.force_login(personas.member)
    response = client.post(url(personas, "custom-create"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Would match" in response.content.decode()
    # the slot is released after each run: a second run in a row is not refused
    response = client.post(url(personas, "custom-create"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
