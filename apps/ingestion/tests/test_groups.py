"""Error groups in PostgreSQL: merge/split rules that stick, per-project isolation, "seen in
incidents", value distributions, and the group pages by role with query budgets."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_tenants.utils import tenant_context

from apps.incidents.models import Project
from apps.ingestion import grouping_store, services
from apps.ingestion.models import ErrorGroup, Event, GroupOccurrence, GroupRule, MinerState
from apps.workspace.selectors import groups as group_selectors

LOG = """\
2024-01-15T14:02:11Z ERROR api: upstream 10.0.0.1:5432 timed out after 30 ms
2024-01-15T14:02:12Z ERROR api: upstream 10.0.0.2:5432 timed out after 31 ms
2024-01-15T14:02:13Z ERROR api: upstream 10.0.0.1:5432 timed out after 32 ms
2024-01-15T14:02:14Z ERROR api: upstream 10.0.0.1:6432 timed out after 33 ms
2024-01-15T14:02:15Z WARN api: retrying request 17 of 3
2024-01-15T14:02:16Z WARN api: retrying request 18 of 3
2024-01-15T14:02:17Z ERROR api: payment failed
Traceback (most recent call last):
  File "/app/pay/gateway.py", line 12, in charge
    raise GatewayError("declined")
pay.gateway.GatewayError: declined
2024-01-15T14:02:18Z ERROR api: payment failed
Traceback (most recent call last):
  File "/app/pay/gateway.py", line 12, in charge
    raise TimeoutError("slow")
TimeoutError: slow
"""
NEW_LINE = "2024-01-15T14:03:00Z ERROR api: disk quota exceeded on volume vol-9f3a1\n"


def ingest_text(project, text, title="incident"):
    incident = services.create_incident(
        project=project,
        title=title,
        uploads=[services.upload_from_text(text)],
        run_inline=True,
    )
    for job in incident.jobs.all():
        services.run_ingest(job.pk)
    return incident


def group_of(project, startswith: str, exception_type: str | None = None) -> ErrorGroup:
    qs = ErrorGroup.objects.filter(project=project, template__startswith=startswith)
    if exception_type is not None:
        qs = qs.filter(exception_type=exception_type)
    return qs.get()


def counts(incident) -> dict[str, int]:
    return dict(
        GroupOccurrence.objects.filter(incident=incident).values_list("group__group_id", "count")
    )


@pytest.fixture
def project(personas):
    with tenant_context(personas.alpha):
        yield Project.objects.create(name="Groups", slug="groups")


# --- merge and split persistence ----------------------------------------------------------------


def test_merge_applies_now_and_sticks_across_reingestion(project):
    first = ingest_text(project, LOG, "first")
    timeout, retry = group_of(project, "upstream"), group_of(project, "retrying")
    grouping_store.merge_groups(project=project, source=retry, target=timeout)

    assert not Event.objects.filter(incident=first, group_id=retry.group_id).exists()
    assert counts(first)[timeout.group_id] == 6
    assert retry.group_id not in counts(first)
    retry.refresh_from_db()
    timeout.refresh_from_db()
    assert (retry.count, timeout.count) == (0, 6)

    second = ingest_text(project, LOG, "second")
    assert not Event.objects.filter(incident=second, group_id=retry.group_id).exists()
    assert counts(second)[timeout.group_id] == 6
    timeout.refresh_from_db()
    assert timeout.count == 12
    assert GroupRule.objects.filter(project=project, kind="merge").count() == 1


def test_split_by_variable_value_sticks(project):
    first = ingest_text(project, LOG, "first")
    timeout = group_of(project, "upstream")
    condition = grouping_store.split_condition(timeout, position=0, value="10.0.0.1")
    rule = grouping_store.split_group(project=project, group=timeout, condition=condition)
    split_id = rule.target_group
    assert counts(first)[split_id] == 3
    assert counts(first)[timeout.group_id] == 1
    assert ErrorGroup.objects.get(project=project, group_id=split_id).template == timeout.template

    second = ingest_text(project, LOG, "second")
    assert counts(second)[split_id] == 3
    assert counts(second)[timeout.group_id] == 1
    with pytest.raises(ValueError, match="already"):
        grouping_store.split_group(project=project, group=timeout, condition=condition)


def test_split_by_exception_type_after_merge(project):
    first = ingest_text(project, LOG, "first")
    gateway = group_of(project, "payment", "pay.gateway.GatewayError")
    timeout = group_of(project, "payment", "TimeoutError")
    grouping_store.merge_groups(project=project, source=gateway, target=timeout)
    assert counts(first)[timeout.group_id] == 2
    rule = grouping_store.split_group(
        project=project, group=timeout, condition={"exception_type": "pay.gateway.GatewayError"}
    )
    assert counts(first)[rule.target_group] == 1
    assert counts(first)[timeout.group_id] == 1

    second = ingest_text(project, LOG, "second")  # merge then split, replayed in order
    assert counts(second)[rule.target_group] == 1
    assert counts(second)[timeout.group_id] == 1
    assert gateway.group_id not in counts(second)


def test_merge_refuses_itself_and_other_projects(project):
    ingest_text(project, LOG)
    timeout = group_of(project, "upstream")
    with pytest.raises(ValueError):
        grouping_store.merge_groups(project=project, source=timeout, target=timeout)
    other = Project.objects.create(name="Other", slug="other")
    with pytest.raises(ValueError):
        grouping_store.merge_groups(
            project=other, source=timeout, target=group_of(project, "retrying")
        )


def test_rules_survive_template_generalisation_in_a_later_job(project):
    """A merge target whose template gains a `<*>` later keeps receiving the merged events."""
    ingest_text(project, "2024-01-15T14:02:11Z ERROR api: worker alpha stopped\n")
    alpha = group_of(project, "worker")
    ingest_text(project, "2024-01-15T14:02:11Z WARN api: queue drained\n")
    grouping_store.merge_groups(project=project, source=group_of(project, "queue"), target=alpha)
    lines = "".join(
        f"2024-01-15T14:02:1{i}Z ERROR api: worker {name} stopped\n"
        for i, name in enumerate(["beta", "gamma", "delta", "omega"])
    )
    third = ingest_text(project, lines + "2024-01-15T14:02:19Z WARN api: queue drained\n")
    queue_events = Event.objects.filter(incident=third, message="queue drained")
    assert set(queue_events.values_list("group_id", flat=True)) == {alpha.group_id}


# --- isolation ----------------------------------------------------------------------------------


def test_projects_have_independent_miner_state_and_groups(project):
    other = Project.objects.create(name="Other", slug="other")
    ingest_text(project, LOG)
    ingest_text(other, LOG)
    ours = set(ErrorGroup.objects.filter(project=project).values_list("group_id", flat=True))
    theirs = set(ErrorGroup.objects.filter(project=other).values_list("group_id", flat=True))
    assert len(ours) == len(theirs) == 4
    assert not ours & theirs
    states = MinerState.objects.filter(project__in=[project, other])
    assert states.count() == 2
    assert len({s.state["salt"] for s in states}) == 2

    # a merge in one project changes nothing in the other
    grouping_store.merge_groups(
        project=project, source=group_of(project, "retrying"), target=group_of(project, "upstream")
    )
    again = ingest_text(other, LOG)
    assert len(counts(again)) == 4


# --- seen in incidents, new in this incident ----------------------------------------------------


def test_seen_in_and_new_in_this_incident(project):
    first = ingest_text(project, LOG, "first")
    second = ingest_text(project, LOG, "second")
    third = ingest_text(project, LOG + NEW_LINE, "third")

    rows = {o.group.template.split()[0]: o for o in group_selectors.incident_groups(first)}
    assert rows["upstream"].is_new
    assert rows["upstream"].seen_in == [third.pk, second.pk]

    rows = {o.group.template.split()[0]: o for o in group_selectors.incident_groups(third)}
    assert not rows["upstream"].is_new
    assert rows["upstream"].seen_in == [second.pk, first.pk]
    assert rows["disk"].is_new
    assert rows["disk"].seen_in == []

    assert [o.group.template.split()[0] for o in group_selectors.new_templates(third)] == ["disk"]
    assert group_selectors.new_templates(second) == []
    assert len(group_selectors.new_templates(first)) == 4


# --- value distribution -------------------------------------------------------------------------


def test_value_distribution_of_a_known_template(project):
    incident = ingest_text(project, LOG)
    timeout = group_of(project, "upstream")
    assert timeout.template == "upstream <*>:<*> timed out after <*> ms"
    messages = group_selectors.distribution_messages(timeout, [incident.pk])
    positions, matched = group_selectors.value_distribution(
        timeout.template_id, timeout.template, messages, grouping_store.load_miner(project)
    )
    assert matched == 4
    assert [(v["value"], v["count"]) for v in positions[0].values] == [
        ("10.0.0.1", 3),
        ("10.0.0.2", 1),
    ]
    assert [(v["value"], v["count"]) for v in positions[1].values] == [("5432", 3), ("6432", 1)]
    assert positions[2].distinct == 4
    assert positions[0].values[0]["share"] == 0.75


def test_why_grouped_lists_masks_and_frames(project):
    incident = ingest_text(project, LOG)
    timeout = group_of(project, "upstream")
    why = group_selectors.why_grouped(timeout, "upstream 10.0.0.1:5432 timed out after 30 ms")
    masked = {t["raw"]: t for t in why["tokens"] if t["masks"]}
    assert masked["10.0.0.1:5432"]["masked"] == "<*>:<*>"
    assert why["kind"] == "message template"
    payment = group_of(project, "payment", "TimeoutError")
    sample = Event.objects.filter(incident=incident, group_id=payment.group_id).get().message
    why = group_selectors.why_grouped(payment, sample)
    assert why["kind"] == "stack trace"
    assert why["language"] == "python"
    assert why["frames"]


# --- views --------------------------------------------------------------------------------------


def url(personas, name, **kwargs):
    return personas.alpha.url_prefix + reverse(
        f"groups:{name}", urlconf="aiops.urls_tenant", kwargs=kwargs
    ).lstrip("/")


XSS = "2024-01-15T14:04:00Z ERROR api: bad input <script>alert(1)</script> from 10.1.1.1\n"


@pytest.fixture
def ingested(personas, project):
    with tenant_context(personas.alpha):
        first = ingest_text(project, LOG, "first")
        second = ingest_text(project, LOG + XSS, "second")
        timeout = group_of(project, "upstream")
        xss = group_of(project, "bad")
    return {"first": first, "second": second, "timeout": timeout, "xss": xss, "project": project}


def test_pages_render_for_a_viewer_with_log_text_escaped(client, personas, ingested):
    client.force_login(personas.viewer)
    project, second, timeout = ingested["project"], ingested["second"], ingested["timeout"]
    body = client.get(url(personas, "group-list", slug=project.slug)).content.decode()
    assert "upstream" in body
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body

    response = client.get(
        url(personas, "incident-group-detail", incident_id=second.pk, group_id=timeout.group_id)
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert f"#{ingested['first'].pk}" in body  # also seen in the first incident
    assert 'data-testid="is-new"' not in body
    assert "10.0.0.1" in body  # the value distribution
    assert 'data-testid="sparkline"' in body
    evidence = reverse(
        "incidents:evidence",
        urlconf="aiops.urls_tenant",
        kwargs={"incident_id": second.pk, "source_id": second.sources.get().pk, "line": 1},
    )
    assert evidence in body
    assert "merge-form" not in body  # viewers get no edit controls

    xss = ingested["xss"]
    response = client.get(
        url(personas, "incident-group-detail", incident_id=second.pk, group_id=xss.group_id)
    )
    body = response.content.decode()
    assert 'data-testid="is-new"' in body
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body

    project_page = client.get(
        url(personas, "group-detail", slug=project.slug, group_id=timeout.group_id)
    )
    assert project_page.status_code == 200


def test_viewer_cannot_merge_or_split(client, personas, ingested):
    client.force_login(personas.viewer)
    project, timeout, xss = ingested["project"], ingested["timeout"], ingested["xss"]
    merge = url(personas, "group-merge", slug=project.slug, group_id=xss.group_id)
    split = url(personas, "group-split", slug=project.slug, group_id=timeout.group_id)
    assert client.post(merge, {"into": timeout.group_id}).status_code == 403
    assert client.post(split, {"position": 0, "value": "10.0.0.1"}).status_code == 403
    with tenant_context(personas.alpha):
        assert not GroupRule.objects.filter(project=project).exists()


def test_member_merges_and_splits_through_the_views(client, personas, ingested):
    client.force_login(personas.member)
    project, timeout, xss = ingested["project"], ingested["timeout"], ingested["xss"]
    second = ingested["second"]
    response = client.post(
        url(personas, "group-merge", slug=project.slug, group_id=xss.group_id),
        {"into": timeout.group_id, "incident": second.pk},
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"incidents/{second.pk}/groups/{timeout.group_id}/")
    response = client.post(
        url(personas, "group-split", slug=project.slug, group_id=timeout.group_id),
        {"position": 0, "value": "10.0.0.2"},
    )
    assert response.status_code == 302
    with tenant_context(personas.alpha):
        rules = list(GroupRule.objects.filter(project=project).order_by("id"))
        assert [r.kind for r in rules] == ["merge", "split"]
        assert rules[1].created_by_id == personas.member.pk
        assert counts(second)[rules[1].target_group] == 1  # the merged-in event: other template
    # the merged-away group says where its events went
    body = client.get(
        url(personas, "group-detail", slug=project.slug, group_id=xss.group_id)
    ).content.decode()
    assert 'data-testid="merged-into"' in body
    # bad input is refused without a rule
    response = client.post(
        url(personas, "group-split", slug=project.slug, group_id=timeout.group_id),
        {"position": 99, "value": "x"},
    )
    assert response.status_code == 302
    with tenant_context(personas.alpha):
        assert GroupRule.objects.filter(project=project).count() == 2


def test_unknown_group_is_404(client, personas, ingested):
    client.force_login(personas.owner)
    project = ingested["project"]
    assert (
        client.get(url(personas, "group-detail", slug=project.slug, group_id="nope")).status_code
        == 404
    )
    response = client.post(
        url(personas, "group-merge", slug=project.slug, group_id=ingested["timeout"].group_id),
        {"into": "nope"},
    )
    assert response.status_code == 404


def test_query_budgets(client, personas, ingested, django_assert_num_queries):
    client.force_login(personas.member)
    project, second, timeout = ingested["project"], ingested["second"], ingested["timeout"]
    with tenant_context(personas.alpha):
        for i in range(3):  # more incidents and groups must not add queries
            ingest_text(project, LOG + NEW_LINE.replace("vol-9f3a1", f"vol-{i}"), f"more {i}")
    # Selects: domain, session, user, membership, then the page's own; django-tenants sets the
    # search_path twice (public for the domain, then the tenant's), so budgets are selects + 2.
    # List: project, count, page of groups.
    with django_assert_num_queries(7 + 2):
        assert client.get(url(personas, "group-list", slug=project.slug)).status_code == 200
    # Detail: project, group, occurrences, samples, values sample, miner, rules, services,
    # merge choices.
    with django_assert_num_queries(13 + 2):
        response = client.get(
            url(personas, "group-detail", slug=project.slug, group_id=timeout.group_id)
        )
        assert response.status_code == 200
    # Incident detail: + the incident (with project) instead of the project, + 2 sparkline.
    with django_assert_num_queries(15 + 2):
        response = client.get(
            url(
                personas,
                "incident-group-detail",
                incident_id=second.pk,
                group_id=timeout.group_id,
            )
        )
        assert response.status_code == 200
