"""A project's stream settings: ingest tokens (create with name and scopes, shown once, only a
hash stored, last use, revoke) and retention (saved in the UI, applied by the daily job by
dropping partitions). Owners only; other tenants' tokens are out of reach."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.incidents.models import Project
from apps.ingestion.tokens import services as tokens
from apps.ingestion.tokens.models import IngestToken
from apps.streams import partitions, services
from apps.streams.models import StreamSettings

from .conftest import url

SETTINGS = "projects/shared/stream/settings/"
HX = {"HTTP_HX_REQUEST": "true"}


def project_of(tenant, slug="shared") -> Project:
    with tenant_context(tenant):
        return Project.objects.get(slug=slug)


def new_token(client, personas, **data) -> tuple[str, str]:
    """Create a token through the page; (the plain token, the htmx answer's body)."""
    client.force_login(personas.owner)
    response = client.post(url(personas.alpha, SETTINGS + "tokens/"), data, **HX)
    assert response.status_code == 200
    body = response.content.decode()
    shown = re.search(r'value="(aiops_[^"]+)"', body)
    assert shown, body
    return shown.group(1), body


def test_owner_creates_a_token_shown_once_and_stored_as_a_hash(client, personas):
    text, body = new_token(client, personas, name="otel-collector", scopes=["logs"])
    assert 'data-testid="new-token"' in body and "<html" not in body  # the section alone
    row = IngestToken.objects.get(token_hash=tokens.hash_token(text))
    project = project_of(personas.alpha)
    assert (row.tenant, row.project_id, row.name) == (personas.alpha, project.pk, "otel-collector")
    assert row.scopes == "logs" and row.created_by == personas.owner
    assert (
        text
        not in IngestToken.objects.filter(pk=row.pk)
        .values_list("token_hash", "prefix", "name", "scopes")
        .get()
    )
    # the page later lists it by prefix, never the token itself
    page = client.get(url(personas.alpha, SETTINGS)).content.decode()
    assert text not in page and row.prefix in page and "never" in page
    assert tokens.authenticate(text, "logs") == row
    assert tokens.authenticate(text, "deploys") is None  # scoped to logs only


def test_no_scope_ticked_means_every_scope(client, personas):
    text, _ = new_token(client, personas, name="everything")
    row = tokens.authenticate(text)
    assert row.scopes == "" and all(row.allows(s) for s in ("logs", "deploys", "alerts"))


def test_last_use_shows_on_the_page(client, personas):
    text, _ = new_token(client, personas, name="used")
    response = client.post(
        "/ingest/http", b"hello from a shipper\n", content_type="text/plain",
        HTTP_AUTHORIZATION=f"Bearer {text}",
    )  # fmt: skip
    assert response.status_code == 200
    row = IngestToken.objects.get(token_hash=tokens.hash_token(text))
    assert row.last_used_at is not None
    page = client.get(url(personas.alpha, SETTINGS)).content.decode()
    assert f"{row.last_used_at:%Y-%m-%d %H:%M}" in page


def test_a_scoped_token_is_refused_elsewhere(client, personas):
    text, _ = new_token(client, personas, name="deploys only", scopes=["deploys"])
    response = client.post(
        "/ingest/http", b"not for logs\n", content_type="text/plain",
        HTTP_AUTHORIZATION=f"Bearer {text}",
    )  # fmt: skip
    assert response.status_code == 401


def test_revoke_refuses_the_token_at_once(client, personas):
    text, _ = new_token(client, personas, name="to revoke")
    row = IngestToken.objects.get(token_hash=tokens.hash_token(text))
    response = client.post(url(personas.alpha, SETTINGS + "tokens/revoke/"), {"token": row.pk})
    assert response.status_code == 200 and "Revoked" in response.content.decode()
    assert tokens.authenticate(text) is None
    shipped = client.post(
        "/ingest/http", b"after revoke\n", content_type="text/plain",
        HTTP_AUTHORIZATION=f"Bearer {text}",
    )  # fmt: skip
    assert shipped.status_code == 401


def test_tokens_of_other_tenants_and_projects_are_out_of_reach(client, personas):
    beta_row, beta_text = tokens.create_token(
        tenant=personas.beta, project=project_of(personas.beta), name="beta-secret-name"
    )
    with tenant_context(personas.alpha):
        other, _ = Project.objects.get_or_create(slug="other", defaults={"name": "other"})
    other_row, _ = tokens.create_token(tenant=personas.alpha, project=other, name="other-name")
    client.force_login(personas.owner)
    page = client.get(url(personas.alpha, SETTINGS)).content.decode()
    assert "beta-secret-name" not in page and "other-name" not in page
    for row in (beta_row, other_row):  # ids exist, but not in this tenant's project
        response = client.post(url(personas.alpha, SETTINGS + "tokens/revoke/"), {"token": row.pk})
        assert response.status_code == 404
    assert tokens.authenticate(beta_text) is not None
    # the beta owner cannot reach alpha's settings at all
    client.force_login(personas.outsider)
    assert client.get(url(personas.alpha, SETTINGS)).status_code in (403, 404)


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_only_owners_manage_tokens_and_retention(client, personas, who):
    client.force_login(getattr(personas, who))
    assert client.get(url(personas.alpha, SETTINGS)).status_code == 403
    before = IngestToken.objects.count()
    assert client.post(url(personas.alpha, SETTINGS + "tokens/"), {"name": "x"}).status_code == 403
    assert IngestToken.objects.count() == before
    response = client.post(url(personas.alpha, SETTINGS + "retention/"), {"days": 2})
    assert response.status_code == 403


def test_settings_page_query_budget(client, personas, django_assert_max_num_queries):
    for n in range(3):
        tokens.create_token(tenant=personas.alpha, project=project_of(personas.alpha), name=f"t{n}")
    client.force_login(personas.owner)
    with django_assert_max_num_queries(9):  # 7 statements and the search_path twice
        response = client.get(url(personas.alpha, SETTINGS))
    assert response.content.decode().count('data-testid="token-row"') >= 3


def test_retention_is_saved_and_validated(client, personas):
    client.force_login(personas.owner)
    target = url(personas.alpha, SETTINGS + "retention/")
    for bad in (0, 366, "x"):
        response = client.post(target, {"days": bad}, **HX)
        assert response.status_code == 422
    response = client.post(target, {"days": 3}, **HX)
    assert response.status_code == 200 and "Saved" in response.content.decode()
    project = project_of(personas.alpha)
    with tenant_context(personas.alpha):
        assert StreamSettings.objects.get(project=project).retention_days == 3
        assert services.retention_days(project) == 3
    page = client.get(url(personas.alpha, SETTINGS)).content.decode()
    assert 'name="days"' in page and 'value="3"' in page


def partition_names(project_id: int) -> set[str]:
    return {name for pid, _, name in partitions.day_partitions() if pid == project_id}


def test_the_daily_job_applies_the_retention_set_in_the_ui(client, personas):
    client.force_login(personas.owner)
    assert client.post(url(personas.alpha, SETTINGS + "retention/"), {"days": 2}).status_code == 200
    project = project_of(personas.alpha)
    today = datetime.now(UTC).date()
    with tenant_context(personas.alpha):
        for age in (0, 1, 2, 5):
            partitions.ensure(project.pk, today - timedelta(days=age))
        made = partition_names(project.pk)
    assert len(made) >= 4
    partitions.sweep()  # the `stream-retention` schedule's function, over every tenant
    with tenant_context(personas.alpha):
        kept = partition_names(project.pk)
        assert {name[-8:] for name in kept} == {
            f"{today - timedelta(days=age):%Y%m%d}" for age in (0, 1)
        }
        # whole partitions went, no rows were deleted from a kept one
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_class WHERE relname = ANY(%s)", [sorted(made - kept)]
            )
            assert cursor.fetchone()[0] == 0
