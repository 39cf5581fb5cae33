from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from apps.alerts.tests.receivers import Receiver, SmtpServer
from apps.incidents.models import Project

PD_KEY = "R0UTINGKEY0123456789abcdefABCDEF"  # 32 characters, like a real integration key


@pytest.fixture
def alpha(personas, settings):
    settings.ALERTS_EGRESS_ALLOW = ["127.0.0.1"]  # the receivers listen on loopback
    settings.ALERTS_RETRY_SECONDS = 0
    settings.ALERTS_HTTP_TIMEOUT = 2
    settings.ALERTS_SITE_URL = "https://aiops.example"
    with tenant_context(personas.alpha):
        yield personas.alpha


@pytest.fixture
def project(alpha):
    return Project.objects.get(slug="alpha-marker")


@pytest.fixture
def receiver():
    with Receiver() as instance:
        yield instance


@pytest.fixture
def smtp(settings):
    with SmtpServer() as server:
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": server.port, "use_tls": False},
            }
        }
        yield server
