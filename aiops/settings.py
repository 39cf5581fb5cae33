"""Settings, read from the environment only. Bad values fail loudly at start-up.

Every variable is listed in the README's configuration table. `<NAME>_FILE` variants read a
secret from a file (Docker/Kubernetes secrets), as healthchecks' settings do.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_path!r} cannot be read: {exc}") from exc
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = env(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false)")


def envint(name: str, default: int, *, minimum: int = 0) -> int:
    value = env(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    """postgresql://user:pass@host:port/name?sslmode=require → a DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a postgresql:// URL, not {parts.scheme!r}"
        )
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL has no database name")
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    host = unquote(parts.hostname or "") or options.pop("host", "")
    return {
        "ENGINE": "django_tenants.postgresql_backend",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
        "OPTIONS": options,
        "CONN_MAX_AGE": envint("DB_CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
    }


DEBUG = envbool("DJANGO_DEBUG", False)
SECRET_KEY = env("SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DJANGO_DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

DATABASE_URL = env("DATABASE_URL")
if not DATABASE_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set (make run/make test set it for the private cluster)"
    )
DATABASES = {"default": database_from_url(DATABASE_URL)}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- tenancy: schema per tenant, routed by subfolder /t/<slug>/ -------------------------------
SHARED_APPS = [
    "django_tenants",
    "apps.tenants",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "django_q",
    "axes",  # login throttling; its attempts live in the public schema
    "apps.ingestion.tokens",  # ingest tokens: hash -> tenant + project, read outside /t/<slug>/
    "apps.deploys.hooks",  # deploy webhook secrets: repository -> tenant + project
]
TENANT_APPS = [
    "apps.workspace",  # the top of the app ladder (see .importlinter / docs/architecture.md)
    "apps.incidents",
    "apps.ingestion",
    "apps.rules",
    "apps.analysis",
    "apps.alerts",  # after apps.rules: its findings sink runs after the rules saved them
    "apps.reports",
    "apps.streams",
    "apps.deploys",
    "apps.jobs",  # the one job lifecycle: an abstract model and claim-run-finish, no tables
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
TENANT_SUBFOLDER_PREFIX = "t"
PUBLIC_SCHEMA_URLCONF = "aiops.urls_public"
ROOT_URLCONF = "aiops.urls_tenant"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
# `SET search_path` once per connection and schema switch, not before every statement (it was
# half the statements of an ingest request and of a stream drain); django-tenants forgets it on
# every set_tenant/set_schema, rollback and savepoint rollback, so a switch is never skipped
TENANT_LIMIT_SET_CALLS = True
# `migrate_schemas --executor=multiprocessing`: schemas migrated at once (one connection each)
TENANT_MULTIPROCESSING_MAX_PROCESSES = envint("MIGRATE_PROCESSES", 2, minimum=1)

MIDDLEWARE = [
    "aiops.outage.DatabaseOutageMiddleware",  # outermost: a 503 when PostgreSQL is away
    "aiops.middleware.RejectControlCharactersMiddleware",  # NUL & co. in path/query: 400
    # Security headers, then static files (WhiteNoise), both before the tenant lookup: a CSS or
    # JS file costs no query and is served while the database is away (the 503 page's CSS).
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.tenants.middleware.TenantSubfolderMiddleware",
    "apps.ingestion.middleware.RequestSizeLimitMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.tenants.middleware.TenantAccessMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a lockout into our sign-in page (429)
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "apps.tenants.context_processors.tenancy",
            ],
        },
    },
]

WSGI_APPLICATION = "aiops.wsgi.application"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# AxesBackend first: it refuses a locked-out username or address before a password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# static/src is the Tailwind source of css/app.css (`make css`): built, never served (its
# `@import "tailwindcss"` would also break collectstatic's manifest post-processing).
STATICFILES_DIRS = [(name, BASE_DIR / "static" / name) for name in ("css", "img", "js")]
# Production: `collectstatic` writes content-hashed, compressed copies that WhiteNoise serves
# with a year-long cache header. DEBUG (`make run`): files straight from the app directories.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Uploaded log files: generated names, outside the web root, never served directly.
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))

# --- security ---------------------------------------------------------------------------------
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "aiops.errors.csrf_failure"  # the 403 page in the app's layout
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if envbool("BEHIND_TLS_PROXY", False) else None
)

# --- login throttling (django-axes), on /login/ and /admin/login/ ------------------------------
# Locked per username AND per client address: either one reaching the limit is refused
# until the cool-off has passed since the last failure.
BEHIND_TLS_PROXY = envbool("BEHIND_TLS_PROXY", False)  # trust X-Forwarded-For only then
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "apps.tenants.throttling.client_ip"
AXES_LOCKOUT_CALLABLE = "apps.tenants.throttling.lockout_response"
# Failures are not reset by a success: a success on one's own account would else clear the
# address's count and let the next guesses at another account through.
AXES_RESET_ON_SUCCESS = False

# --- e-mail (team invitations) ----------------------------------------------------------------
# Console by default (the message lands in the web process's log); SMTP once EMAIL_HOST is set.
# Django 6.1's MAILERS (the EMAIL_* settings are deprecated); tests get locmem instead.
_email_host = env("EMAIL_HOST", "") or ""
MAILERS = {
    "default": (
        {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email_host,
                "port": envint("EMAIL_PORT", 587, minimum=1),
                "username": env("EMAIL_HOST_USER", "") or "",
                "password": env("EMAIL_HOST_PASSWORD", "") or "",  # or EMAIL_HOST_PASSWORD_FILE
                "use_tls": envbool("EMAIL_USE_TLS", True),
                "timeout": envint("EMAIL_TIMEOUT", 10, minimum=1),
            },
        }
        if _email_host
        else {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    )
}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "AI Ops Assistant <noreply@localhost>")
# An invitation link works once, for this long.
INVITATION_MAX_AGE = envint("INVITATION_DAYS", 7, minimum=1) * 24 * 3600

# Internal hosts/networks the LLM endpoint may be on (apps/core/analysis/egress.py): names, addresses
# or networks, e.g. "ollama.internal,10.0.0.0/8". Loopback, private and link-local are refused
# otherwise.
LLM_EGRESS_ALLOW = envlist("LLM_EGRESS_ALLOW")

# --- alerts (apps/alerts, docs/alerts.md) --------------------------------------------------------
# Where links in alert messages point: the app's public address.
ALERTS_SITE_URL = env("SITE_URL", "http://localhost:8000")
# Internal hosts/networks alert webhooks may reach, as LLM_EGRESS_ALLOW (same egress policy).
ALERTS_EGRESS_ALLOW = envlist("ALERTS_EGRESS_ALLOW")
ALERTS_HTTP_TIMEOUT = envint("ALERTS_HTTP_TIMEOUT", 10, minimum=1)  # seconds per try
ALERTS_RETRY_SECONDS = envint("ALERTS_RETRY_SECONDS", 30, minimum=0)  # first backoff, then ×4

# --- background jobs (django-q2) --------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
Q_CLUSTER = {
    "name": "aiops",
    "workers": envint("Q_WORKERS", 2, minimum=1),
    "timeout": envint("Q_TIMEOUT", 1800, minimum=1),  # seconds one task may run
    "retry": envint("Q_TIMEOUT", 1800, minimum=1) + 300,  # re-delivery after; must exceed timeout
    "max_attempts": envint("Q_MAX_ATTEMPTS", 3, minimum=1),
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "poll": 0.5,
    "label": "Background jobs",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- ingestion bounds (see apps/core/logparse/limits.py) ---------------------------------
MiB = 1024 * 1024
INGEST_LIMITS = {
    "max_upload_bytes": envint("INGEST_MAX_UPLOAD_MB", 1024, minimum=1) * MiB,
    "max_files_per_upload": envint("INGEST_MAX_FILES", 50, minimum=1),
    "max_decompressed_bytes": envint("INGEST_MAX_DECOMPRESSED_MB", 4096, minimum=1) * MiB,
    "max_ratio": envint("INGEST_MAX_RATIO", 200, minimum=2),
    "max_archive_entries": envint("INGEST_MAX_ARCHIVE_ENTRIES", 1000, minimum=1),
    "max_line_bytes": envint("INGEST_MAX_LINE_KB", 256, minimum=1) * 1024,
}
# A request may carry at most this much (uploads stream to temporary files on disk).
MAX_REQUEST_BYTES = envint("MAX_REQUEST_MB", 2048, minimum=1) * MiB
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("MAX_PASTE_MB", 20, minimum=1) * MiB  # pasted text
DATA_UPLOAD_MAX_NUMBER_FILES = INGEST_LIMITS["max_files_per_upload"]
FILE_UPLOAD_PERMISSIONS = 0o600

# --- per-tenant ingest quotas and fair queuing (apps/ingestion/scheduling.py) -------------------
# Jobs of one tenant handed to django-q2 at a time; the rest wait their turn, round-robin.
INGEST_TENANT_CONCURRENCY = envint("INGEST_TENANT_CONCURRENCY", 1, minimum=1)
# Ingest jobs a tenant may have queued or running; an upload beyond this is refused.
INGEST_TENANT_MAX_QUEUED = envint("INGEST_TENANT_MAX_QUEUED", 100, minimum=1)
# Stored upload bytes a tenant may hold; an upload beyond this is refused.
INGEST_TENANT_STORAGE_BYTES = envint("INGEST_TENANT_STORAGE_MB", 20480, minimum=1) * MiB
# Events a tenant may store (all incidents): uploads past it are refused, and a job that would
# pass it stops, failed with the reason (its rows removed). ~0.5 KiB of database per event.
INGEST_TENANT_MAX_EVENTS = envint("INGEST_TENANT_MAX_EVENTS", 20_000_000, minimum=1)

# --- streaming ingestion (apps/streams; docs/streams.md) ----------------------------------------
# Records per second a tenant may send to the receivers, and the burst it may send at once;
# past them: 429 with Retry-After (apps/streams/quotas.py).
STREAM_TENANT_RATE = envint("STREAM_TENANT_RATE", 50_000, minimum=1)
STREAM_TENANT_BURST = envint("STREAM_TENANT_BURST", 200_000, minimum=1)
# Records a tenant's spool may hold undrained before requests get 503 with this Retry-After.
STREAM_MAX_BACKLOG = envint("STREAM_MAX_BACKLOG", 2_000_000, minimum=1)
STREAM_OVERLOAD_RETRY_AFTER = envint("STREAM_OVERLOAD_RETRY_AFTER", 5, minimum=1)
# Incidents opened by the stream: one per category and service within the dedup window,
# covering from LEAD minutes before the first match to TAIL minutes after the latest,
# a new source at most every GROW seconds (apps/streams/incidents.py).
STREAM_INCIDENT_DEDUP_MINUTES = envint("STREAM_INCIDENT_DEDUP_MINUTES", 30, minimum=1)
STREAM_INCIDENT_LEAD_MINUTES = envint("STREAM_INCIDENT_LEAD_MINUTES", 10)
STREAM_INCIDENT_TAIL_MINUTES = envint("STREAM_INCIDENT_TAIL_MINUTES", 5)
STREAM_INCIDENT_GROW_SECONDS = envint("STREAM_INCIDENT_GROW_SECONDS", 60, minimum=1)
