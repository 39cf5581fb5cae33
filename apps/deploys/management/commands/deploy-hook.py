"""`manage.py deploy-hook create --tenant SLUG --project SLUG --repository OWNER/NAME`

Creates a GitHub webhook secret for deploys of that repository into the project and prints it
as the last line: paste it in the repository's webhook form (payload URL
`https://HOST/ingest/deploys/github`, events "Deployment statuses"). Stored sealed.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from apps.deploys import services
from apps.incidents.models import Project
from apps.tenants.models import Tenant


class Command(BaseCommand):
    help = "Create a deploy webhook secret (GitHub) for a repository and a project."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a secret; it is printed last")
        create.add_argument("--tenant", required=True, help="tenant slug")
        create.add_argument("--project", required=True, help="project slug")
        create.add_argument("--repository", required=True, help="owner/name on GitHub")

    def handle(self, *args, action, tenant, project, repository, **options):
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"no tenant with slug {tenant!r}")
        if repository.count("/") != 1:
            raise CommandError("--repository is owner/name")
        with tenant_context(tenant_obj):
            project_obj = Project.objects.filter(slug=project).first()
        if project_obj is None:
            raise CommandError(f"no project {project!r} in {tenant}")
        hook, secret = services.create_hook(
            tenant=tenant_obj, project=project_obj, repository=repository
        )
        self.stdout.write(f"GitHub deploy webhook for {hook.repository} → {tenant}/{project}.")
        self.stdout.write(secret)
