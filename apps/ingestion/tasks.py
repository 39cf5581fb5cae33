"""django-q2 entry points. Thin: they run inside the tenant schema (apps.tenants.jobs)."""

import logging

from django.db import connection

from apps.ingestion.services import run_ingest
from apps.tenants import scheduling

log = logging.getLogger(__name__)


def ingest(job_id: int) -> str:
    schema_name = connection.schema_name
    try:
        return run_ingest(job_id)
    finally:
        # the tenant's next job (fair queuing); on failure the once-a-minute sweep does it
        try:
            scheduling.job_ended(schema_name, job_id)
        except Exception:
            log.exception("ingest job %s: could not dispatch the next job", job_id)
