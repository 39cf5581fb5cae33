"""`manage.py stream-stats --tenant SLUG --project SLUG`: the project's stream as JSON,
`{"records": N, "services": {"name": n, ...}}` (stored, processed records)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from apps.incidents.models import Project
from apps.streams.stats import stream_stats
from apps.tenants.models import Tenant


class Command(BaseCommand):
    help = "Count the records a project's stream holds, by service (JSON)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--project", required=True, help="project slug")

    def handle(self, *args, tenant, project, **options):
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"no tenant with slug {tenant!r}")
        with tenant_context(tenant_obj):
            project_id = Project.objects.filter(slug=project).values_list("pk", flat=True).first()
            if project_id is None:
                raise CommandError(f"no project with slug {project!r} in {tenant}")
            stats = stream_stats(project_id)
        self.stdout.write(json.dumps(stats))
