"""`manage.py ingest --tenant SLUG --project SLUG --incident TITLE FILE...`

The real ingestion path into PostgreSQL: the same services and job code as the web upload.
Jobs run in this process (no worker needed) and the command prints counts and lines/s.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_tenants.utils import tenant_context

from apps.incidents.models import Incident, Project
from apps.incidents.services import create_project
from apps.ingestion import search, services
from apps.ingestion.models import IngestJob
from apps.tenants.models import Tenant


class Command(BaseCommand):
    help = "Ingest log files into an incident of a tenant's project (creates both if needed)."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+")
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument(
            "--project", default="default", help="project slug (created if missing)"
        )
        parser.add_argument(
            "--incident", required=True, help="incident title (reused if it exists)"
        )
        parser.add_argument("--log-format", default="", help="loghub header layout override")

    def handle(self, *args, files, tenant, project, incident, log_format, **options):
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"no tenant with slug {tenant!r}")
        paths = [Path(f) for f in files]
        for path in paths:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
        with tenant_context(tenant_obj):
            project_obj = Project.objects.filter(slug=project).first() or create_project(
                name=project
            )
            uploads = [services.upload_from_path(p, log_format) for p in paths]
            with transaction.atomic():
                incident_obj = Incident.objects.filter(project=project_obj, title=incident).first()
                if incident_obj is None:
                    incident_obj = Incident.objects.create(project=project_obj, title=incident)
                jobs = services.add_files(incident=incident_obj, uploads=uploads, run_inline=True)
            started = time.perf_counter()
            for job in jobs:
                services.run_ingest(job.pk)
            elapsed = max(time.perf_counter() - started, 1e-9)
            indexing = time.perf_counter()
            indexed = search.index_incident(incident_obj.pk)
            indexing = time.perf_counter() - indexing
            lines = events = 0
            for job in IngestJob.objects.filter(pk__in=[j.pk for j in jobs]).select_related(
                "stored_file"
            ):
                lines += job.lines_done
                events += job.events_done
                status = job.status if not job.error else f"{job.status}: {job.error}"
                self.stdout.write(
                    f"{job.stored_file.original_name}: {status} · {job.lines_done:,} lines · "
                    f"{job.events_done:,} events"
                )
                for warning in job.warnings:
                    self.stdout.write(f"  ⚠ {warning}")
            self.stdout.write(
                f"incident #{incident_obj.pk} in {tenant}/{project_obj.slug}: {lines:,} lines, "
                f"{events:,} events in {elapsed:.2f}s = {lines / elapsed:,.0f} lines/s"
            )
            if indexed:
                self.stdout.write(f"text search index: {indexed} source(s) in {indexing:.2f}s")
