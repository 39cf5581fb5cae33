"""Idempotent set-up: public tenant; with --admin the first platform admin (docker compose's
`migrate` service); with --demo a demo tenant, user and project (`make run`)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from aiops.settings import env
from apps.incidents.models import Project
from apps.incidents.services import create_project
from apps.tenants import services
from apps.tenants.models import Tenant


def _env(name: str) -> str:
    """`name` from the environment, or the contents of the file `<name>_FILE` names: the
    settings' own reader (aiops.settings.env), its error turned into a command error."""
    try:
        return env(name) or ""
    except ImproperlyConfigured as exc:
        raise CommandError(str(exc)) from None


class Command(BaseCommand):
    help = (
        "Create the public tenant; with --admin the first platform admin from ADMIN_USERNAME, "
        "ADMIN_EMAIL and ADMIN_PASSWORD (or ADMIN_PASSWORD_FILE); with --demo a demo tenant, "
        "user and project."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--admin",
            action="store_true",
            help="create the platform admin from ADMIN_* variables unless that user exists",
        )
        parser.add_argument("--demo", action="store_true", help="also create the demo data")
        parser.add_argument("--demo-password", default="demo-password")
        parser.add_argument("--admin-password", default="admin-password")

    def handle(
        self, *args, admin: bool, demo: bool, demo_password: str, admin_password: str, **options
    ):
        services.ensure_public_tenant()
        if admin:
            self._platform_admin()
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

    def _platform_admin(self) -> None:
        """The first superuser, from the environment. An existing user is left as it is (its
        password is never reset by a restart); the password is never printed."""
        username = _env("ADMIN_USERNAME").strip() or "admin"
        email = _env("ADMIN_EMAIL").strip()
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"platform admin {username!r} already exists; left unchanged")
            return
        password = _env("ADMIN_PASSWORD")
        if not password:
            raise CommandError(
                "bootstrap --admin needs a password for the first platform admin: set "
                "ADMIN_PASSWORD, or ADMIN_PASSWORD_FILE to a file holding it (see .env.example)"
            )
        user = User(username=username, email=email)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError(f"ADMIN_PASSWORD is too weak: {' '.join(exc.messages)}") from None
        User.objects.create_superuser(username, email, password)
        self.stdout.write(f"platform admin {username!r} created: sign in at /admin/")

    @transaction.atomic
    def _demo_project(self, tenant: Tenant) -> None:
        from django_tenants.utils import tenant_context

        with tenant_context(tenant):
            if not Project.objects.filter(slug="checkout").exists():
                create_project(name="checkout", description="Checkout API, its database and proxy")
