"""django-q2 entry points. Thin: they run inside the tenant schema (apps.tenants.jobs)."""

import logging

from django.db import connection

from apps.ingestion import scheduling, search
from apps.ingestion.jobs import run_ingest
from apps.ingestion.models import IngestJob

log = logging.getLogger(__name__)


def ingest(job_id: int) -> str:
    """The ingest job, then the text search index of its sources (search.py).

    Indexing runs here, in the tenant's fair-queuing slot, rather than as a task of its own
    that would bypass the dispatcher. The job is already `done` by then; if indexing fails or
    the worker dies, searches of those sources scan instead (same answers, slower)."""
    schema_name = connection.schema_name
    try:
        status = run_ingest(job_id)
        if status == IngestJob.Status.DONE:
            try:
                search.index_job(job_id)
            except Exception:
                log.exception("ingest job %s: text search index not built", job_id)
        return status
    finally:
        # the tenant's next job (fair queuing); on failure the once-a-minute sweep does it
        try:
            scheduling.job_ended(schema_name, job_id)
        except Exception:
            log.exception("ingest job %s: could not dispatch the next job", job_id)
