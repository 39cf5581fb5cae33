"""Test settings: the real settings plus what makes tests fast and deterministic."""

import os

os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

from aiops.settings import *  # noqa: F403
from aiops.settings import BASE_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
MEDIA_ROOT = BASE_DIR / ".artifacts" / "test-media"
# WhiteNoise warns once per process when STATIC_ROOT is missing; tests serve no collected files.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Several test runs may share one PostgreSQL cluster (e.g. parallel work trees): name the DB.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("AIOPS_TEST_DB", "test_aiops")}  # noqa: F405
