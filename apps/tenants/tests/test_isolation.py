"""Tenant isolation, checked on content (per-tenant markers), for every tenant URL pattern.

The URL list is enumerated from the tenant resolver, so a new view is covered by default:
add its URL kwargs to KWARG_VALUES and it is attacked like the others.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import tenant_context

from apps.incidents.models import Project
from conftest import MARKERS


def _patterns(resolver, prefix=""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{entry.namespace}:" if entry.namespace else ""
            for name, route in _patterns(entry, prefix + str(entry.pattern)):
                yield (ns + name if name else None), route
        elif isinstance(entry, URLPattern):
            yield entry.name, prefix + str(entry.pattern)


def tenant_routes():
    return sorted(
        {(name, route) for name, route in _patterns(get_resolver("aiops.urls_tenant")) if name}
    )


def object_kwargs(tenant, *, foreign_of=None):
    """Real object ids of `tenant` (or of `foreign_of`, to request them on `tenant`)."""
    owner = foreign_of or tenant
    with tenant_context(owner):
        project = Project.objects.get(slug=f"{owner.slug}-marker")
        incident = project.incidents.get()
        source = incident.sources.get()
        group = incident.occurrences.select_related("group").get().group
        from apps.rules.models import CustomRule

        custom, _ = CustomRule.objects.get_or_create(
            rule_id=f"{owner.slug}-marker",
            defaults={
                "category": "marker",
                "severity": "error",
                "title": f"custom {MARKERS[owner.slug]}",
                "pattern": "marker",
            },
        )
    membership, invitation = _team_objects(owner)
    return {
        "membership_id": membership,
        "invitation_id": invitation,
        "slug": project.slug,
        "incident_id": incident.pk,
        "source_id": source.pk,
        "line": 1,
        "group_id": group.group_id,
        "rule_id": "db-too-many-connections.postgres",
        "custom_id": custom.pk,
    }


def _team_objects(tenant) -> tuple[int, int]:
    """A membership and a pending invitation of `tenant` (public schema rows)."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.tenants.models import Invitation, Membership

    membership = Membership.objects.filter(tenant=tenant).order_by("pk").first()
    invitation, _ = Invitation.objects.get_or_create(
        tenant=tenant,
        token_hash=f"isolation-marker-{tenant.slug}",
        defaults={
            "email": f"marker@{tenant.slug}.example.com",
            "expires_at": timezone.now() + timedelta(days=1),
        },
    )
    return (membership.pk if membership else 0), invitation.pk


def build_url(tenant, route_name, values):
    from django.urls import reverse

    resolver_match_kwargs = {}
    pattern = dict(tenant_routes())[route_name]
    for part in pattern.split("<")[1:]:
        kwarg = part.split(">")[0].split(":")[-1]
        if kwarg not in values:
            pytest.fail(f"no test value for URL kwarg {kwarg!r} of {route_name}: add it")
        resolver_match_kwargs[kwarg] = values[kwarg]
    path = reverse(route_name, urlconf="aiops.urls_tenant", kwargs=resolver_match_kwargs)
    return tenant.url_prefix + path.lstrip("/")


ROUTES = [name for name, _ in tenant_routes()]


def _int_kwargs(route):
    pattern = dict(tenant_routes())[route]
    return [p.split(">")[0].split(":")[-1] for p in pattern.split("<int:")[1:]]


def test_routes_are_enumerated():
    assert "incidents:project-list" in ROUTES
    assert "incidents:project-detail" in ROUTES
    assert "incidents:incident-detail" in ROUTES
    assert "ingestion:source-delete" in ROUTES


@pytest.mark.parametrize("hx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize("route", ROUTES)
def test_non_member_gets_404_on_every_tenant_url(client, personas, route, hx):
    client.force_login(personas.outsider)  # owner of beta, not a member of alpha
    url = build_url(personas.alpha, route, object_kwargs(personas.alpha))
    headers = {"HTTP_HX_REQUEST": "true"} if hx else {}
    for method in (client.get, client.post):
        response = method(url, **headers)
        assert response.status_code == 404, (route, method.__name__, response.status_code)
        assert MARKERS["alpha"] not in response.content.decode()


@pytest.mark.parametrize("hx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize("route", ROUTES)
def test_foreign_object_ids_never_show_foreign_content(client, personas, route, hx):
    """A beta member asks beta's URLs for alpha's object ids. Ids repeat across schemas
    (every schema has an incident 1), so the answer is beta's object or a 404 — never alpha's."""
    client.force_login(personas.outsider)
    values = object_kwargs(personas.beta, foreign_of=personas.alpha)
    url = build_url(personas.beta, route, values)
    headers = {"HTTP_HX_REQUEST": "true"} if hx else {}
    for method in (client.get, client.post):
        response = method(url, **headers)
        assert response.status_code < 500
        assert MARKERS["alpha"] not in response.content.decode()


@pytest.mark.parametrize("route", [r for r in ROUTES if "<" in dict(tenant_routes())[r]])
def test_unknown_object_ids_are_404(client, personas, route):
    client.force_login(personas.owner)
    values = {
        "slug": "no-such-project",
        "incident_id": 987654,
        "source_id": 987654,
        "line": 1,
        "group_id": "0" * 16,
        "rule_id": "no.such.rule",
        "custom_id": 987654,
        "membership_id": 987654,
        "invitation_id": 987654,
    }
    values.update({k: 987654 for k in _int_kwargs(route) if k not in values})
    response = client.get(build_url(personas.alpha, route, values))
    assert response.status_code in (404, 405)


def test_shared_slug_shows_only_own_tenant(client, personas):
    client.force_login(personas.owner)
    body = client.get(personas.alpha.url_prefix + "projects/shared/").content.decode()
    assert MARKERS["alpha"] in body
    assert MARKERS["beta"] not in body


@pytest.mark.parametrize("route", ROUTES)
def test_anonymous_is_sent_to_login(client, personas, route):
    url = build_url(personas.alpha, route, object_kwargs(personas.alpha))
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_unknown_tenant_is_404_without_public_data(client, personas):
    client.force_login(personas.owner)
    response = client.get("/t/does-not-exist/")
    assert response.status_code == 404
    assert MARKERS["alpha"] not in response.content.decode()


def test_inactive_tenant_is_404(client, personas):
    from apps.tenants.services import set_tenant_active

    set_tenant_active(tenant=personas.alpha, active=False)
    client.force_login(personas.owner)
    assert client.get(personas.alpha.url_prefix).status_code == 404


def test_member_sees_own_tenant(client, personas):
    client.force_login(personas.member)
    response = client.get(personas.alpha.url_prefix)
    assert response.status_code == 200
    assert MARKERS["alpha"] in response.content.decode()
    assert MARKERS["beta"] not in response.content.decode()
