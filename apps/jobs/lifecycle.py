"""Claim, run, finish: the one lifecycle of every background job (apps.jobs.models.Job).

    status = lifecycle.run(PdfExport, export_id, body)   # "done", "failed" or "skipped"

django-q2 delivers a task at least once, a worker can die at any moment and PostgreSQL can
restart under it. So:

- **Claim** by compare-and-set (healthchecks' `q.update(...) == 1`): a `queued` job, or a
  `running` one whose worker is gone, becomes `running` with `attempts + 1`, `claimed_at` and
  `heartbeat_at` set to now. Anything else (finished, or alive in another worker) is a
  re-delivery: `run` returns "skipped" without calling the body.
- **Staleness, one rule**: a running job is stale when its heartbeat is older than
  `STALE_AFTER` (or missing). While the body runs, a thread beats every `HEARTBEAT_EVERY`
  seconds on a connection of its own; a body that forks (the ingest job: no thread may exist
  beside a fork) passes `beats_itself=True` and calls `Claim.beat()` as it goes instead.
- **Retry policy, one**: a delivery is one attempt; a claim past `max_attempts()`
  (Q_CLUSTER["max_attempts"]) ends the job `failed` ("gave up after N attempts"). Within a
  delivery the lifecycle's own database steps ride out a restart (`retry_transient`); a body
  wraps its steps the same way where repeating them is safe. A database outage that outlasts
  that propagates: the task fails, the row stays `running`, its heartbeat goes stale and the
  next delivery resumes it. Any other exception, or `JobFailed`, ends the job `failed` with
  the reason on the row: poison input never loops.
- **Finish** only while holding the claim (status running and our `claimed_at`): a worker
  that lost its claim to a later delivery cannot overwrite that delivery's outcome.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from aiops.outage import is_outage, retry_transient
from apps.jobs.models import Job, JobStatus

log = logging.getLogger(__name__)

SKIPPED = "skipped"
# A running job whose heartbeat is older than this lost its worker and may be claimed again.
STALE_AFTER = timedelta(seconds=60)
HEARTBEAT_EVERY = 15.0  # seconds; well inside STALE_AFTER
ERROR_MAX = 2000


class JobFailed(Exception):
    """The job cannot succeed (refused input, policy); `reason` is shown on the job. `fields`
    are stored on the row with it."""

    def __init__(self, reason: str, **fields: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fields = fields


@dataclass(frozen=True, slots=True)
class Finished:
    """What a body returns: the final status and the fields to store with it, in one UPDATE."""

    status: str = JobStatus.DONE
    error: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


def max_attempts() -> int:
    return settings.Q_CLUSTER["max_attempts"]


def stale_before(now: datetime) -> datetime:
    return now - STALE_AFTER


def is_stale(heartbeat_at: datetime | None, now: datetime) -> bool:
    """Whether a running job with this heartbeat lost its worker."""
    return heartbeat_at is None or heartbeat_at < stale_before(now)


def claimable(now: datetime) -> Q:
    """Rows a delivery may claim at `now`: queued, or running with a stale heartbeat."""
    return Q(status=JobStatus.QUEUED) | Q(
        Q(heartbeat_at__lt=stale_before(now)) | Q(heartbeat_at__isnull=True),
        status=JobStatus.RUNNING,
    )


@dataclass(frozen=True, slots=True)
class Claim:
    """This delivery's hold on one job row."""

    model: type[Job]
    pk: int
    claimed_at: datetime
    attempts: int

    def held(self) -> QuerySet:
        """The row, as long as this delivery still holds it."""
        return self.model.objects.filter(
            pk=self.pk, status=JobStatus.RUNNING, claimed_at=self.claimed_at
        )

    def beat(self, **progress: Any) -> bool:
        """Show the job alive (and store `progress` fields with it); False if the claim is lost."""
        return self.held().update(heartbeat_at=timezone.now(), **progress) == 1

    def __str__(self) -> str:
        return f"{self.model._meta.label} {self.pk}"


def claim(model: type[Job], pk: int) -> Claim | None:
    """Compare-and-set the row to `running` for this delivery; None when it is not claimable
    (finished, or alive in another worker). Rides out a database restart: a try that committed
    before its connection died is recognised by its `claimed_at`."""
    now = timezone.now()

    def attempt() -> int | None:
        model.objects.filter(pk=pk).filter(claimable(now)).update(
            status=JobStatus.RUNNING, attempts=F("attempts") + 1, claimed_at=now, heartbeat_at=now
        )
        return (
            model.objects.filter(pk=pk, status=JobStatus.RUNNING, claimed_at=now)
            .values_list("attempts", flat=True)
            .first()
        )

    attempts = retry_transient(attempt, what=f"{model._meta.label} {pk}: claim")
    return None if attempts is None else Claim(model, pk, now, attempts)


def finish(claim: Claim, status: str, *, error: str = "", **fields: Any) -> bool:
    """Store the outcome while still holding the claim; False if a later delivery took it."""

    def write() -> int:
        return claim.held().update(
            status=status, error=error[:ERROR_MAX], finished_at=timezone.now(), **fields
        )

    return retry_transient(write, what=f"{claim}: finish") == 1


OnFail = Callable[[Claim, str], None]


def fail(claim: Claim, reason: str, *, on_fail: OnFail | None = None, **fields: Any) -> str:
    """End the job `failed` with `reason`; `on_fail` first undoes what the job wrote."""
    if on_fail is not None:
        on_fail(claim, reason)
    finish(claim, JobStatus.FAILED, error=reason, **fields)
    return JobStatus.FAILED


def run(
    model: type[Job],
    pk: int,
    body: Callable[[Claim], Finished],
    *,
    on_fail: OnFail | None = None,
    beats_itself: bool = False,
) -> str:
    """Claim the job, run `body(claim)` and store its outcome. Returns the final status, or
    "skipped" for a delivery that found the job finished or alive elsewhere."""
    held = claim(model, pk)
    if held is None:
        return SKIPPED
    limit = max_attempts()
    if held.attempts > limit:
        return fail(held, f"gave up after {limit} attempts", on_fail=on_fail)
    try:
        with _heartbeat(held, enabled=not beats_itself):
            outcome = body(held)
    except JobFailed as exc:
        return fail(held, exc.reason, on_fail=on_fail, **exc.fields)
    except Exception as exc:
        if is_outage(exc):
            raise  # not the input's fault: the row stays running, the next delivery resumes
        log.exception("%s failed", held)
        return fail(held, f"{type(exc).__name__}: {exc}", on_fail=on_fail)
    finish(held, outcome.status, error=outcome.error, **outcome.fields)
    return outcome.status


@contextmanager
def _heartbeat(claim: Claim, *, enabled: bool) -> Iterator[None]:
    """Beat every HEARTBEAT_EVERY seconds on a second connection while the body runs.

    Inside an open transaction (tests, a caller's atomic block) the second connection could
    not see the row, and would wait on its lock: no thread then."""
    if not enabled or connection.in_atomic_block:
        yield
        return
    schema = connection.schema_name
    stop = threading.Event()

    def beat() -> None:
        connection.set_schema(schema)
        try:
            while not stop.wait(HEARTBEAT_EVERY):
                try:
                    claim.beat()
                except DatabaseError as exc:  # an outage: the next beat tries again
                    log.warning("%s: heartbeat failed (%s)", claim, type(exc).__name__)
                    connection.close()
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"heartbeat-{claim.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
