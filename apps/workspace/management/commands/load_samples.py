"""Load the bundled sample incidents (samples/*.zip) into a tenant's project. Idempotent."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_tenants.utils import tenant_context

from apps.incidents.models import Incident, Project
from apps.incidents.services import create_project
from apps.ingestion import search, services
from apps.tenants.models import Tenant

SAMPLES = settings.BASE_DIR / "samples"


def sample_title(bundle: Path) -> str:
    readme = bundle.with_suffix("") / "README.md"
    if readme.is_file():
        first = readme.read_text(encoding="utf-8").splitlines()[0]
        return first.lstrip("# ").strip()
    return bundle.stem.replace("-", " ")


class Command(BaseCommand):
    help = "Load samples/*.zip as incidents (skips those already loaded)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--project", default="checkout")

    def handle(self, *args, tenant, project, **options):
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"no tenant with slug {tenant!r}")
        bundles = sorted(SAMPLES.glob("*.zip"))
        with tenant_context(tenant_obj):
            project_obj = Project.objects.filter(slug=project).first() or create_project(
                name=project
            )
            for bundle in bundles:
                title = sample_title(bundle)
                if Incident.objects.filter(project=project_obj, title=title).exists():
                    continue
                with transaction.atomic():
                    incident = Incident.objects.create(project=project_obj, title=title)
                    jobs = services.add_files(
                        incident=incident,
                        uploads=[services.upload_from_path(bundle)],
                        run_inline=True,
                    )
                for job in jobs:
                    services.run_ingest(job.pk)
                search.index_incident(incident.pk)
                self.stdout.write(f"loaded sample: {title}")
