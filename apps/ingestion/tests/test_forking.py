"""Streams computed in a forked process (forking.py) and the parsing process that uses it
(pipeline.parsed_members): same results as in-process, failures named, no orphans."""

from __future__ import annotations

import fcntl
import gzip
import os
import shutil
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import pytest

from apps.core.ingest import forking
from apps.core.ingest.pipeline import DateHints, parsed_members
from apps.core.logparse.archive import ArchiveRejected, ArchiveReport
from apps.core.logparse.limits import Limits

from .conftest import children

F_GETPIPE_SZ = 1032


def _numbers(n: int):
    yield from ((i, str(i) * 3) for i in range(n))


def test_items_arrive_in_order_and_complete():
    assert list(forking.in_child(lambda: _numbers(100_000))) == list(_numbers(100_000))


def _fails_after(n: int):
    yield from range(n)
    raise ValueError(f"bad input at item {n}")


def test_an_exception_in_the_child_is_raised_here_with_its_type_and_text():
    seen = []
    with pytest.raises(forking.ChildFailed, match=r"^ValueError: bad input at item 5$"):
        seen.extend(forking.in_child(lambda: _fails_after(5)))
    assert seen == [0, 1, 2, 3, 4]  # what came before the failure is not lost


def test_a_grandchild_s_failure_keeps_its_text():
    def middle():
        yield from forking.in_child(lambda: _fails_after(2))

    with pytest.raises(forking.ChildFailed, match=r"^ValueError: bad input at item 2$"):
        list(forking.in_child(middle))


def _die():
    yield 1
    os.kill(os.getpid(), 9)
    yield 2


def test_a_killed_child_is_reported_with_its_signal():
    stream = forking.in_child(_die, name="the parsing process")
    with pytest.raises(
        forking.ChildFailed, match=r"the parsing process ended without finishing \(killed by"
    ):
        list(stream)


PID_ONE = """
import os, sys
from apps.core.ingest import forking
assert os.getpid() == 1
print(sum(forking.in_child(lambda: iter(range(1000)))))
"""


def test_a_parent_that_is_pid_1_is_not_taken_for_a_dead_one():
    # `docker compose run web python manage.py logparse …`: the command is PID 1 of its
    # container, so a child whose parent is alive also sees getppid() == 1
    unshare = shutil.which("unshare")
    probe = unshare and subprocess.run([unshare, "--pid", "--fork", "true"], check=False)
    if not probe or probe.returncode != 0:
        pytest.skip("no PID namespaces here (unshare needs root or user namespaces)")
    result = subprocess.run(
        [unshare, "--pid", "--fork", "--mount-proc", sys.executable, "-c", PID_ONE],
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "499500"), result.stderr


def _forever():
    yield os.getpid()
    while True:
        yield "x" * 1000


def test_closing_the_stream_early_kills_and_reaps_the_child():
    stream = forking.in_child(_forever)
    pid = next(stream)
    assert pid != os.getpid()
    stream.close()
    with pytest.raises(ProcessLookupError):  # reaped: no zombie left behind either
        os.kill(pid, 0)


def test_the_pipe_is_widened_so_the_child_can_run_ahead():
    read_fd, write_fd = os.pipe()
    try:
        default = fcntl.fcntl(write_fd, F_GETPIPE_SZ)
        forking._widen(write_fd)
        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        assert fcntl.fcntl(write_fd, F_GETPIPE_SZ) == max(
            default, min(forking.PIPE_CAPACITY, limit)
        )
    finally:
        os.close(read_fd)
        os.close(write_fd)


def _bundle(tmp_path: Path) -> Path:
    """A text log with stack traces, a binary member and a gzipped JSON log inside a zip."""
    app = "".join(
        f"2024-01-15 14:02:{i % 60:02d},123 ERROR api: request {i} failed\n"
        "Traceback (most recent call last):\n"
        '  File "a.py", line 1, in <module>\n'
        "ValueError: bad\n"
        for i in range(1500)
    )
    worker = "".join(
        f'{{"ts": {1705327331 + i}, "level": "warn", "msg": "slow {i}"}}\n' for i in range(2500)
    )
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("app.log", app)
        archive.writestr("bin/core.dump", b"\x7fELF" + bytes(range(256)) * 40)
        archive.writestr("worker.log.gz", gzip.compress(worker.encode()))
        # timestamps with state: inherited, bare times of day past midnight, syslog's year
        archive.writestr(
            "events.jsonl",
            '{"time": "2024-01-15T23:59:58Z", "msg": "a"}\n{"msg": "no time"}\n{"msg": "x"}\n',
        )
        archive.writestr(
            "logback.log",
            "23:59:59.500 [main] INFO  c.e.App - before\n00:00:01.000 [main] WARN  c.e.App - after\n",
        )
        archive.writestr(
            "syslog", "Dec 31 23:59:59 host app[1]: old year\nJan  1 00:00:01 host app[1]: new\n"
        )
    return path


def _read(path: Path, *, fork: bool, skip_binary: bool):
    report = ArchiveReport()
    members = []
    for member in parsed_members(
        path,
        display_name=path.name,
        report=report,
        skip_binary=skip_binary,
        fork=fork,
        dates=DateHints(year=2023, day=date(2024, 2, 20)),
    ):
        records = list(member.records)
        members.append((member.name, member.binary, records, member.stats, member.sha256))
    return members, report


def test_forked_and_in_process_parsing_give_the_same_members_and_records(tmp_path):
    path = _bundle(tmp_path)
    forked, forked_report = _read(path, fork=True, skip_binary=True)
    inline, inline_report = _read(path, fork=False, skip_binary=True)
    assert forked == inline
    assert forked_report == inline_report
    assert [name for name, *_ in forked] == [
        "app.log",
        "worker.log",
        "events.jsonl",
        "logback.log",
        "syslog",
    ]
    assert any("core.dump" in w for w in forked_report.warnings)  # skipped inside the archive
    (app, worker, events, logback, syslog) = forked
    # timestamps are resolved by the reader when forked: the same answers, stats included
    assert [r.ts_inherited for r in events[2]] == [False, True, True] and events[
        3
    ].inherited_ts == 2
    assert [r.ts.day for r in logback[2]] == [20, 21] and "time of day" in logback[3].warnings[0]
    assert [r.ts.year for r in syslog[2]] == [2023, 2024]
    assert [(r.line, r.end_line) for r in app[2]][:2] == [(1, 4), (5, 8)]
    assert len(app[2]) == 1500 and all(r.source == "app.log" for r in app[2])
    assert app[3].lines == 6000 and len(app[4]) == 64
    assert len(worker[2]) == 2500 and worker[2][0].level == "WARN"


@pytest.mark.parametrize("skip_binary", [True, False])
def test_a_binary_upload_is_named_and_skipped_only_when_asked(tmp_path, skip_binary):
    path = tmp_path / "core"
    path.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 40)
    forked, _ = _read(path, fork=True, skip_binary=skip_binary)
    assert forked == _read(path, fork=False, skip_binary=skip_binary)[0]
    ((_name, binary, records, _stats, _sha256),) = forked
    assert "ELF" in binary
    assert (records == []) is skip_binary


def test_a_refused_upload_raises_archive_rejected_either_way(tmp_path):
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(b"A" * 5_000_000))
    limits = Limits(max_ratio=10, ratio_grace_bytes=1 << 20)
    for fork in (True, False):
        with pytest.raises(ArchiveRejected, match="bomb: expands more than 10×"):
            for member in parsed_members(bomb, display_name="bomb.gz", limits=limits, fork=fork):
                for _ in member.records:
                    pass


def test_a_reader_that_stops_early_leaves_no_parsing_process(tmp_path):
    path = _bundle(tmp_path)
    before = children()  # e.g. a browser driver of earlier tests: not ours
    members = parsed_members(path, display_name=path.name)
    first = next(members)
    next(first.records)
    assert len(children() - before) == 1  # the parsing process
    members.close()
    assert children() - before == set()  # killed and reaped, at once
