"""The per-incident event rollup: counts per 10-second bucket, level and service.

The timeline draws from this table instead of counting a million events per request. It is
derived data, rebuilt for one incident at a time (one DELETE and one INSERT … SELECT), at the
end of each ingest job and after a source is deleted. Jobs of one project run one at a time
(`grouping_store.project_lock`), so a rebuild never sees another job's half-written events.
"""

from __future__ import annotations

from django.db import connection, transaction

# the same SQL fills existing events in migration 0004; buckets are EventRollup.SECONDS wide
REFRESH_SQL = """
INSERT INTO ingestion_eventrollup (incident_id, bucket, level, service, count)
SELECT incident_id, date_bin('10 seconds', ts, TIMESTAMPTZ '1970-01-01 00:00:00+00'),
       level, service, count(*)
FROM ingestion_event
WHERE incident_id = %s AND ts IS NOT NULL
GROUP BY 1, 2, 3, 4
"""


def refresh_rollup(incident) -> None:
    """Rebuild `incident`'s rollup from its events (atomic: readers see old or new counts)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM ingestion_eventrollup WHERE incident_id = %s", [incident.pk])
        cursor.execute(REFRESH_SQL, [incident.pk])
