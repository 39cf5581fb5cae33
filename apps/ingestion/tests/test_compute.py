"""The ingest job's forked compute process: its failures reach the job as clear reasons."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from apps.core.grouping.miner import Miner
from apps.core.ingest import compute
from apps.core.ingest.pipeline import DateHints
from apps.core.rules.catalogue import Catalogue
from apps.core.rules.engine import Engine
from apps.ingestion import grouping_store, services
from apps.ingestion.models import IngestJob

from .conftest import children


class _SlowEngine:
    """An engine that takes its time, so the test can kill the process mid-stream."""

    def __init__(self) -> None:
        self._engine = Engine(Catalogue.load())

    def feed(self, record, **kwargs) -> None:
        time.sleep(0.001)
        self._engine.feed(record, **kwargs)

    def findings(self):
        return self._engine.findings()


def _spec(path: Path, engine=None) -> compute.Spec:
    return compute.Spec(
        path=path,
        display_name=path.name,
        log_format=None,
        dates=DateHints(year=2024, day=None),
        limits=services.limits(),
        miner=Miner(salt="test"),
        engine=engine or Engine(Catalogue.load()),
        group_rules=grouping_store.GroupRules([]),
        observed=grouping_store.Observed(),
    )


def _log(tmp_path: Path, lines: int) -> Path:
    path = tmp_path / "app.log"
    path.write_text(
        "".join(
            f"2024-01-15T14:02:{i % 60:02d}Z ERROR api: request {i} failed\n" for i in range(lines)
        )
    )
    return path


def test_forked_and_inline_streams_are_the_same(tmp_path):
    path = _log(tmp_path, 12_000)
    forked = list(compute.messages(_spec(path), fork=True))
    inline = list(compute.messages(_spec(path), fork=False))
    rows = [m.rows for m in forked if isinstance(m, compute.RowsBatch)]
    assert sum(r.count for r in rows) == 12_000
    assert rows == [m.rows for m in inline if isinstance(m, compute.RowsBatch)]
    assert [type(m) for m in forked] == [type(m) for m in inline]
    assert isinstance(forked[-1], compute.Done) and isinstance(inline[-1], compute.Done)
    assert [f.rule_id for f in forked[-1].findings] == [f.rule_id for f in inline[-1].findings]


def test_a_batch_of_rows_resumes_past_a_checkpoint_and_takes_its_ids():
    # rows 3 and 7 are multi-line events: their data newlines are escaped in COPY text
    tails = ["3\t4\ta\\nb\n", "5\t5\tc\td\n", "7\t9\te\\n\\\\f\n", "10\t10\tg\n"]
    rows = compute.Rows.of(tails, 3, 10)
    assert rows.count == 4
    assert rows.after(2) is rows
    assert rows.after(10) is None and compute.Rows.of([], 0, 0).after(0) is None
    rest = rows.after(5)  # a resumed job stored lines up to 5
    assert (rest.text, rest.first_line, rest.last_line, rest.count) == (
        "".join(tails[2:]),
        7,
        10,
        2,
    )
    assert rows.after(6).text == rest.text
    assert rest.prefixed("1\t2\t") == "".join("1\t2\t" + tail for tail in tails[2:])


def test_a_killed_compute_process_fails_with_a_reason(tmp_path):
    before = children()  # e.g. the browser driver of earlier tests: not ours to kill
    stream = compute.messages(_spec(_log(tmp_path, 50_000), _SlowEngine()), fork=True)
    assert isinstance(next(stream), compute.SourceStarted)
    (child,) = children() - before  # the compute process
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    # it yields the CPU to web requests
    assert os.getpriority(os.PRIO_PROCESS, child) == min(19, mine + compute.COMPUTE_NICE)
    os.kill(child, signal.SIGKILL)
    with pytest.raises(
        compute.ComputeFailed,
        match=r"^the compute process ended without finishing \(killed by signal 9\)",
    ):
        for _ in stream:
            pass


def test_an_error_in_the_compute_process_fails_the_job_with_its_text(alpha_project, tmp_path):
    incident = services.create_incident(
        project=alpha_project,
        title="stored file vanished",
        uploads=[services.upload_from_text("2024-01-15T14:02:11Z ERROR api: boom\n")],
        run_inline=True,
    )
    job = incident.jobs.get()
    from django.conf import settings

    (Path(settings.MEDIA_ROOT) / job.stored_file.path).unlink()
    assert services.run_ingest(job.pk) == IngestJob.Status.FAILED
    job.refresh_from_db()
    assert job.error.startswith("FileNotFoundError"), job.error
