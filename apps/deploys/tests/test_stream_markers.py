"""Deploys on a project's stream page: a marker on the histogram for each one in its window."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.core.correlate.markers import Marker
from apps.deploys.models import Deploy
from apps.deploys.services import record_deploy
from apps.workspace.tests.conftest import url


def test_deploys_in_the_window_are_marked_escaped(client, personas, alpha_token):
    project = alpha_token.project
    with tenant_context(alpha_token.tenant):
        for service, minutes in (("<b>api</b>", 10), ("long-ago", 60 * 24 * 30)):
            marker = Marker(
                service=service,
                version="v2",
                started_at=timezone.now() - timedelta(minutes=minutes),
            )
            record_deploy(project=project, marker=marker, source=Deploy.Source.API)
    client.force_login(personas.member)
    body = client.get(url(personas.alpha, f"projects/{project.slug}/stream/")).content.decode()
    assert body.count('data-testid="stream-deploy-marker"') == 1
    assert "Deploy &lt;b&gt;api&lt;/b&gt; v2" in body and "<b>api</b>" not in body
    assert "long-ago" not in body
