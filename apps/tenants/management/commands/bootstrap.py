"""Idempotent set-up used by `make run`: public tenant, demo tenant, demo user, demo project."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.tenants import services
from apps.tenants.models import Tenant


class Command(BaseCommand):
    help = "Create the public tenant and (with --demo) a demo tenant, user and project."

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true", help="also create the demo data")
        parser.add_argument("--demo-password", default="demo-password")
        parser.add_argument("--admin-password", default="admin-password")

    def handle(self, *args, demo: bool, demo_password: str, admin_password: str, **options):
        services.ensure_public_tenant()
        if not demo:
            return
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", admin_password)
            self.stdout.write(f"platform admin: admin / {admin_password}  (http://…/admin/)")
        tenant = Tenant.objects.filter(slug="demo").first()
        if tenant is None:
            tenant = services.create_tenant(
                name="Demo Team",
                slug="demo",
                owner_username="demo",
                owner_email="demo@example.com",
                owner_password=demo_password,
            )
            self.stdout.write(f"demo tenant created: /t/demo/  user: demo / {demo_password}")
        self._demo_project(tenant)

    @transaction.atomic
    def _demo_project(self, tenant: Tenant) -> None:
        from django_tenants.utils import tenant_context

        from apps.incidents.models import Project
        from apps.incidents.services import create_project

        with tenant_context(tenant):
            if not Project.objects.filter(slug="checkout").exists():
                create_project(name="checkout", description="Checkout API, its database and proxy")
