"""The text search index of events, kept off the ingest path.

A trigram GIN index costs PostgreSQL ~40-60 µs per row written, more than parsing, grouping,
rules and the B-tree indexes together, so events are COPYed without one. After an ingest job is
done, `index_job` copies each of its sources' messages (upper-cased) into EventText, which
carries the trigram index, and marks the source `text_indexed` in the same transaction.
Searches (apps/workspace/selectors/search.py) use the index once an incident's sources are all in it and
test the messages themselves before: the same answers either way.
"""

from __future__ import annotations

import logging

from django.db import connection, transaction

from apps.ingestion.models import IngestJob, Source

log = logging.getLogger(__name__)

INDEX_SOURCE = """
INSERT INTO ingestion_eventtext (event_id, source_id, body)
SELECT id, source_id, upper(message) FROM ingestion_event WHERE source_id = %s
ON CONFLICT (event_id) DO NOTHING
"""


def index_source(source_id: int) -> bool:
    """Index one finished source's messages; False if there was nothing to do.

    Idempotent and safe to run concurrently (the row lock, the flag and ON CONFLICT)."""
    with transaction.atomic():
        claimed = (
            Source.objects.select_for_update(skip_locked=True)
            .filter(pk=source_id, text_indexed=False, status=Source.Status.DONE)
            .values_list("pk", flat=True)
        )
        if not list(claimed):
            return False
        with connection.cursor() as cursor:
            cursor.execute(INDEX_SOURCE, [source_id])
        Source.objects.filter(pk=source_id).update(text_indexed=True)
    return True


def index_job(job_id: int) -> int:
    """Index the sources of a finished ingest job (the ingest task does, right after it)."""
    job = IngestJob.objects.filter(pk=job_id).values("stored_file_id", "status").first()
    if job is None or job["status"] != IngestJob.Status.DONE:
        return 0
    return _index_pending(stored_file_id=job["stored_file_id"])


def index_incident(incident_id: int) -> int:
    """Index every finished source of an incident (commands that ingest inline)."""
    return _index_pending(incident_id=incident_id)


def _index_pending(**which) -> int:
    pending = Source.objects.filter(
        **which, text_indexed=False, status=Source.Status.DONE
    ).values_list("pk", flat=True)
    return sum(index_source(source_id) for source_id in list(pending))
