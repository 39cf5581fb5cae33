from __future__ import annotations

from dataclasses import dataclass

import pytest
from django_tenants.utils import tenant_context

from conftest import ensure_tenant


@dataclass
class Token:
    text: str
    row: object
    tenant: object
    project: object

    @property
    def bearer(self) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.text}"}


def make_token(slug: str, project_slug: str, name: str = "") -> Token:
    from apps.incidents.models import Project
    from apps.ingestion.tokens import services

    tenant = ensure_tenant(slug)
    with tenant_context(tenant):
        project, _ = Project.objects.get_or_create(
            slug=project_slug, defaults={"name": project_slug}
        )
    row, text = services.create_token(tenant=tenant, project=project, name=name)
    return Token(text=text, row=row, tenant=tenant, project=project)


@pytest.fixture
def alpha_token(db) -> Token:
    return make_token("alpha", "alpha-marker", "tests")


@pytest.fixture
def beta_token(db) -> Token:
    return make_token("beta", "beta-marker", "tests")


def spooled(token: Token, **filters) -> list:
    """The spooled records of the token's project, in order, as plain tuples."""
    from apps.streams.models import SpoolRecord

    with tenant_context(token.tenant):
        rows = SpoolRecord.objects.filter(batch__project_id=token.project.pk, **filters)
        return list(rows.order_by("batch_id", "seq"))
