"""`manage.py deploy-hook create --tenant SLUG --project SLUG [--provider github|gitlab|argocd]
[--repository OWNER/NAME]`

Creates a webhook secret for deploys into the project and prints it as the last line. Stored
sealed.

- github (default): paste it in the repository's webhook form (payload URL
  `https://HOST/ingest/deploys/github`, events "Deployment statuses");
- gitlab: the project's webhook "Secret token" (URL `https://HOST/ingest/deploys/gitlab`,
  trigger "Deployment events"); `--repository` is the project's `group/name`;
- argocd: the value of an `X-Deploy-Token` header in the Argo CD notifications webhook service
  (URL `https://HOST/ingest/deploys/argocd`); no repository.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from apps.deploys import services
from apps.incidents.models import Project
from apps.tenants.models import Tenant


class Command(BaseCommand):
    help = "Create a deploy webhook secret (GitHub, GitLab, Argo CD) for a project."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a secret; it is printed last")
        create.add_argument("--tenant", required=True, help="tenant slug")
        create.add_argument("--project", required=True, help="project slug")
        create.add_argument("--provider", default="github", choices=["github", "gitlab", "argocd"])
        create.add_argument(
            "--repository", default="", help="owner/name on GitHub, group/name on GitLab"
        )

    def handle(self, *args, action, tenant, project, repository, provider, **options):
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"no tenant with slug {tenant!r}")
        if provider != "argocd" and (repository.count("/") < 1 or not repository.strip("/")):
            raise CommandError("--repository is owner/name (GitLab: group/name)")
        with tenant_context(tenant_obj):
            project_obj = Project.objects.filter(slug=project).first()
        if project_obj is None:
            raise CommandError(f"no project {project!r} in {tenant}")
        hook, secret = services.create_hook(
            tenant=tenant_obj, project=project_obj, repository=repository, provider=provider
        )
        what = hook.get_provider_display()
        where = f" for {hook.repository}" if provider != "argocd" else ""
        self.stdout.write(f"{what} deploy webhook{where} → {tenant}/{project}.")
        self.stdout.write(secret)
