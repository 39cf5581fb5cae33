from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "apps.tenants"
    label = "tenants"
    verbose_name = "Tenants and access"

    def ready(self) -> None:
        from apps.tenants import jobs  # noqa: F401  (connects the django-q2 pre_execute reset)
