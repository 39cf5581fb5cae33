"""Task bodies the worker tests enqueue. Importable by the qcluster subprocess."""

from django.db import connection


def write_marker(name: str) -> str:
    from apps.incidents.models import Project

    Project.objects.create(name=name, slug=name.lower())
    return connection.schema_name


def leak_tenant(schema_name: str) -> str:
    """Misbehaves on purpose: switches the connection and does not switch back."""
    from django_tenants.utils import get_tenant_model

    connection.set_tenant(get_tenant_model().objects.get(schema_name=schema_name))
    return connection.schema_name


def report_schema() -> str:
    return connection.schema_name
