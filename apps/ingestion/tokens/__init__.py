"""Ingest tokens: the public-schema table a receiver reads to find a request's tenant and
project. A Django app of its own (in SHARED_APPS) because `apps.streams` is a tenant app and
django-tenants places tables per app, not per model."""
