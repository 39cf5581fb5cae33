"""`manage.py deploy --tenant SLUG --project SLUG --service S --version V [--at ISO8601] [--url U]`

For CI scripts: records one deploy (the same service, version and time twice is one deploy) and
prints it. Without --at, the deploy is now.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.core.correlate.deploys import parse_time
from apps.core.correlate.markers import STATUSES, Marker
from apps.deploys import services
from apps.deploys.models import Deploy
from apps.incidents.models import Project
from apps.tenants.models import Tenant


class Command(BaseCommand):
    help = "Record a deploy of a service (for CI scripts)."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version is the deploy's (the contract); Django's own --version gives way to it.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--service", required=True)
        parser.add_argument("--version", required=True, dest="deploy_version")
        parser.add_argument("--at", help="when it started, ISO 8601 (default: now)")
        parser.add_argument("--url", default="", help="link to the CI run or the release")
        parser.add_argument("--environment", default="")
        parser.add_argument("--commit", default="")
        parser.add_argument("--author", default="")
        parser.add_argument("--description", default="")
        parser.add_argument("--status", default="success", choices=STATUSES)

    def handle(self, *args, tenant, project, service, deploy_version, at, **options):
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"no tenant with slug {tenant!r}")
        started = parse_time(at) if at else timezone.now()
        if started is None:
            raise CommandError(f"--at is not an ISO 8601 time: {at!r}")
        if not service.strip():
            raise CommandError("--service is empty")
        marker = Marker(
            service=service.strip()[:200],
            version=deploy_version.strip()[:200],
            started_at=started,
            environment=options["environment"][:100],
            status=options["status"],
            commit=options["commit"][:100],
            author=options["author"][:200],
            url=options["url"][:2000],
            description=options["description"][:2000],
        )
        with tenant_context(tenant_obj):
            project_obj = Project.objects.filter(slug=project).first()
            if project_obj is None:
                raise CommandError(f"no project {project!r} in {tenant}")
            done = services.record_deploy(
                project=project_obj, marker=marker, source=Deploy.Source.CLI
            )
        deploy = done.deploy
        state = "recorded" if done.created else "already recorded"
        self.stdout.write(
            f"{state}: deploy {deploy.pk} {deploy.service} {deploy.version}"
            f" at {deploy.started_at.isoformat()} ({tenant}/{project})"
        )
