"""How the ingest job writes: COPY batches with their checkpoint, a second connection that
writes while the job goes on, and ANALYZE when a job grew the events table.
"""

from __future__ import annotations

import logging
import queue
import threading

from django.db import OperationalError, connection, transaction

from apps.core.ingest import compute
from apps.ingestion.models import Source
from apps.jobs.lifecycle import Claim

log = logging.getLogger(__name__)

EVENT_COLUMNS = (
    "incident_id",
    "source_id",
    "line",
    "end_line",
    "ts",
    "ts_inherited",
    "level",
    "service",
    "host",
    "trace_id",
    "message",
    "raw",
    "template_id",
    "group_id",
    "attrs",
    "truncated",
)


def copy_batch(claim: Claim, source_id: int, prefix: str, batch: compute.RowsBatch) -> None:
    """COPY one batch and advance the source's checkpoint in the same transaction, with the
    job's progress and heartbeat.

    `prefix` holds the incident and source ids. Rows at or below the checkpoint are already
    stored (a resumed job)."""
    with transaction.atomic():
        checkpoint = (
            Source.objects.select_for_update().values_list("checkpoint_line", flat=True)
        ).get(pk=source_id)
        fresh = batch.rows.after(checkpoint)
        if fresh is not None:
            # the raw psycopg cursor: wrapped, so an outage reads as Django's errors do
            with connection.cursor() as cursor, connection.wrap_database_errors:
                columns = ", ".join(EVENT_COLUMNS)
                with cursor.cursor.copy(f"COPY ingestion_event ({columns}) FROM STDIN") as copy:
                    copy.write(fresh.prefixed(prefix))
            Source.objects.filter(pk=source_id).update(checkpoint_line=fresh.last_line)
        claim.beat(
            bytes_done=batch.progress.bytes_done,
            lines_done=batch.progress.lines_done,
            events_done=batch.progress.events_done,
        )


class SecondConnection:
    """Runs calls in order on a second thread and database connection, so that PostgreSQL
    works on them while this thread goes on (psycopg waits without the GIL): the COPY of one
    batch while the next is parsed, the timeline rollup while the groups are counted.

    The first error is raised by the next `submit`, `flush` or `close`, and the calls after
    it are dropped. Inside an open transaction (tests, or a caller's atomic block) a second
    connection could not see this one's rows, so each call then runs inline.
    """

    def __init__(self, name: str) -> None:
        self.threaded = not connection.in_atomic_block
        self.error: BaseException | None = None
        if self.threaded:
            self._schema = connection.schema_name
            self._queue: queue.Queue = queue.Queue(maxsize=2)
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()

    def submit(self, fn, *args, **kwargs) -> None:
        if not self.threaded:
            fn(*args, **kwargs)
            return
        self._raise()
        self._queue.put((fn, args, kwargs))

    def flush(self) -> None:
        """Wait until every submitted call has returned."""
        if self.threaded:
            self._queue.join()
            self._raise()

    def close(self, *, raise_error: bool = True) -> None:
        if self.threaded and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if raise_error:
            self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        connection.set_schema(self._schema)
        try:
            while (item := self._queue.get()) is not None:
                try:
                    if self.error is None:
                        fn, args, kwargs = item
                        fn(*args, **kwargs)
                except BaseException as exc:  # handed to the submitting thread
                    self.error = exc
                finally:
                    self._queue.task_done()
            self._queue.task_done()
        finally:
            connection.close()


# A job that adds a tenth of the events table or more leaves the planner's statistics
# describing the table without its rows: the new incident looks empty, and the aggregates that
# end the job (groups, rollups) read its events one index entry at a time and sort them on disk
# (about 4 s instead of 1 s at a million events). Autovacuum analyzes at the same threshold,
# but only later; the job analyzes the column those plans depend on before it needs them
# (~0.15 s at a million rows; the whole table would take 0.25 s). Analyzing one column leaves
# autovacuum's count of changed rows alone, so it still analyzes the rest of the table.
ANALYZE_SHARE = 0.1
ANALYZE_MIN_ROWS = 10_000
# ANALYZE waits for a VACUUM of the table (an anti-wraparound one can take minutes): past
# this, the job goes on with the old statistics (slower aggregates, same answers)
ANALYZE_LOCK_TIMEOUT = "2s"


def analyze_if_grown(rows: int) -> bool:
    """ANALYZE the events table when `rows` new events made its statistics stale."""
    if rows < ANALYZE_MIN_ROWS:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'ingestion_event'::regclass")
        (known,) = cursor.fetchone()
    if rows < ANALYZE_SHARE * known:
        return False
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = %s", [ANALYZE_LOCK_TIMEOUT])
            cursor.execute("ANALYZE ingestion_event (incident_id)")
            cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        log.warning("events table busy (VACUUM?): ingest goes on without ANALYZE")
        return False
    return True
