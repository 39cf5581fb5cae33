import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.incidents.models import Project
from apps.ingestion.tokens import services
from apps.ingestion.tokens.models import IngestToken

from .conftest import make_token


def run(*args) -> str:
    out = io.StringIO()
    call_command("ingest-token", *args, stdout=out)
    return out.getvalue()


def test_create_prints_the_token_last_and_stores_only_its_hash(db):
    output = run("create", "--tenant", "alpha", "--project", "alpha-marker", "--name", "otel")
    token = output.strip().splitlines()[-1]
    assert token.startswith("aiops_") and len(token) > 40
    row = IngestToken.objects.get(token_hash=services.hash_token(token))
    assert (row.tenant.slug, row.project_slug, row.name) == ("alpha", "alpha-marker", "otel")
    assert token not in {row.token_hash, row.prefix, row.name}
    assert services.authenticate(token) == row


def test_create_makes_a_missing_project(db):
    token = run("create", "--tenant", "alpha", "--project", "new-stream").strip().splitlines()[-1]
    row = services.authenticate(token)
    with tenant_context(row.tenant):
        assert Project.objects.get(pk=row.project_id).slug == "new-stream"


def test_create_refuses_unknown_tenants_and_non_slugs(db):
    with pytest.raises(CommandError, match="no tenant"):
        run("create", "--tenant", "nope", "--project", "x")
    with pytest.raises(CommandError, match="not a slug"):
        run("create", "--tenant", "alpha", "--project", "Not A Slug")


def test_authenticate_refuses_unknown_revoked_and_inactive(db):
    token = make_token("alpha", "alpha-marker")
    assert services.authenticate(token.text + "x") is None
    assert services.authenticate("") is None
    assert services.authenticate(None) is None
    token.tenant.is_active = False
    token.tenant.save(update_fields=["is_active"])
    assert services.authenticate(token.text) is None
    token.tenant.is_active = True
    token.tenant.save(update_fields=["is_active"])
    assert services.authenticate(token.text) is not None
    services.revoke_token(token=token.row)
    assert services.authenticate(token.text) is None


def statements(fn) -> list[str]:
    """The SQL statements `fn()` runs, without django-tenants' `SET search_path`."""
    with CaptureQueriesContext(connection) as context:
        fn()
    return [q["sql"].split()[0] for q in context if not q["sql"].startswith("SET ")]


def test_last_used_is_written_at_most_once_a_minute(db):
    token = make_token("alpha", "alpha-marker")
    assert statements(lambda: services.authenticate(token.text)) == ["SELECT", "UPDATE"]
    first_use = IngestToken.objects.get(pk=token.row.pk).last_used_at
    assert statements(lambda: services.authenticate(token.text)) == ["SELECT"]
    IngestToken.objects.filter(pk=token.row.pk).update(
        last_used_at=first_use - timedelta(minutes=2)
    )
    assert statements(lambda: services.authenticate(token.text)) == ["SELECT", "UPDATE"]
    assert first_use <= timezone.now()


def test_list_and_revoke_by_prefix(db):
    token = make_token("alpha", "alpha-marker", "shipper")
    assert token.row.prefix in run("list", "--tenant", "alpha")
    assert "revoked" in run("revoke", "--tenant", "alpha", token.row.prefix)
    assert services.authenticate(token.text) is None
    with pytest.raises(CommandError, match="no active token"):
        run("revoke", "--tenant", "alpha", token.text)


def test_scopes_are_stored_in_order_and_all_of_them_is_none(db):
    from apps.incidents.models import Project

    token = make_token("alpha", "alpha-marker")
    with tenant_context(token.tenant):
        project = Project.objects.get(slug="alpha-marker")
    row, _ = services.create_token(tenant=token.tenant, project=project, scopes=["alerts", "logs"])
    assert row.scopes == "logs,alerts" and not row.allows("deploys")
    row, _ = services.create_token(
        tenant=token.tenant, project=project, scopes=["deploys", "alerts", "logs"]
    )
    assert row.scopes == "" and row.allows("deploys")
    with pytest.raises(ValueError, match="unknown token scopes"):
        services.create_token(tenant=token.tenant, project=project, scopes=["admin"])


def test_syslog_listener_drops_what_arrives_once_its_token_is_revoked(db, monkeypatch):
    from apps.streams import listener
    from apps.streams.protocols import Limits

    token = make_token("alpha", "alpha-marker", "syslog")
    spooler = listener.Spooler(services.authenticate(token.text, "logs"), Limits())
    spooler.add(b"<11>1 2026-01-01T00:00:00Z host billing - - - before revoke")
    assert spooler.flush() == 1
    services.revoke_token(token=token.row)
    monkeypatch.setattr(listener, "TOKEN_RECHECK_SECONDS", 0)
    spooler.add(b"<11>1 2026-01-01T00:00:01Z host billing - - - after revoke")
    assert spooler.flush() == 0
    assert (spooler.stored, spooler.dropped) == (1, 1)
