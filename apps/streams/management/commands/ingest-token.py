"""`manage.py ingest-token create --tenant SLUG --project SLUG [--name NAME]` (and list, revoke).

`create` prints the new token as the last line of stdout; only its hash is stored, so this is
the one time it can be read. The project is created when the tenant has none by that slug
(as `manage.py ingest` does).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from apps.incidents.models import Project
from apps.incidents.services import create_project
from apps.ingestion.tokens import services
from apps.ingestion.tokens.models import IngestToken
from apps.tenants.models import Tenant


class Command(BaseCommand):
    help = "Create, list or revoke ingest tokens (streaming ingestion credentials)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token; it is printed last")
        create.add_argument("--tenant", required=True, help="tenant slug")
        create.add_argument("--project", required=True, help="project slug (created if missing)")
        create.add_argument("--name", default="", help="a name to tell tokens apart")
        listing = sub.add_parser("list", help="a tenant's tokens (prefix, project, last use)")
        listing.add_argument("--tenant", required=True, help="tenant slug")
        revoke = sub.add_parser("revoke", help="revoke a token by its prefix or the token")
        revoke.add_argument("--tenant", required=True, help="tenant slug")
        revoke.add_argument("token", help="the token, or its prefix as `list` shows it")

    def handle(self, *args, action, tenant, **options):
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"no tenant with slug {tenant!r}")
        getattr(self, f"_{action}")(tenant_obj, **options)

    def _create(self, tenant: Tenant, *, project: str, name: str, **options) -> None:
        with tenant_context(tenant):
            project_obj = Project.objects.filter(slug=project).first()
            if project_obj is None:
                project_obj = create_project(name=project)
                if project_obj.slug != project:
                    raise CommandError(f"{project!r} is not a slug (lowercase, digits, hyphens)")
        row, token = services.create_token(tenant=tenant, project=project_obj, name=name)
        self.stdout.write(
            f"Ingest token {row.prefix}… for {tenant.slug}/{project_obj.slug}"
            + (f" ({name})" if name else "")
            + ". Store it now: only its hash is kept."
        )
        self.stdout.write(token)

    def _list(self, tenant: Tenant, **options) -> None:
        for row in IngestToken.objects.filter(tenant=tenant):
            state = "revoked" if row.is_revoked else "active"
            used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never used"
            self.stdout.write(f"{row.prefix}\t{row.project_slug}\t{state}\t{used}\t{row.name}")

    def _revoke(self, tenant: Tenant, *, token: str, **options) -> None:
        rows = IngestToken.objects.filter(tenant=tenant, revoked_at__isnull=True)
        match = rows.filter(token_hash=services.hash_token(token)).first()
        if match is None:
            candidates = list(rows.filter(prefix=token.rstrip("…")))
            if len(candidates) > 1:
                raise CommandError(f"{token!r} matches {len(candidates)} tokens: give the token")
            match = candidates[0] if candidates else None
        if match is None:
            raise CommandError(f"no active token {token!r} in {tenant.slug}")
        services.revoke_token(token=match)
        self.stdout.write(f"revoked {match.prefix}… ({match.project_slug})")
