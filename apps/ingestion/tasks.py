"""django-q2 entry points. Thin: they run inside the tenant schema (apps.tenants.jobs)."""

from apps.ingestion.services import run_ingest


def ingest(job_id: int) -> str:
    return run_ingest(job_id)
