"""Settings for the database-free commands (`logparse`, `triage`) when nothing is configured.

They parse, group and analyse files in memory, so they must run on a laptop or in a CI step
with no DATABASE_URL and no SECRET_KEY. manage.py picks this module for them in that case.
"""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "cli-only-no-web-requests-are-served"  # noqa: S105
DEBUG = False
DATABASES: dict = {}
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.postgres",
    "apps.incidents",
    "apps.ingestion",
    "apps.rules",
    "apps.analysis",
    "apps.reports",
]
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The apps import django-q2's configuration (jobs are never queued from these commands); a
# retry longer than the timeout keeps it from warning on every run.
Q_CLUSTER = {"name": "aiops-cli", "timeout": 1800, "retry": 2100, "orm": "default"}
