"""Run a generator in a forked child process and read its items here, streamed over a pipe.

    for item in in_child(lambda: produce(...), name="the parsing process"):
        ...

The child pickles each item into a pipe; this process unpickles them as it reads, so memory on
both sides is bounded by the pipe's buffers whatever the length of the stream (the child blocks
while the reader is behind). The ingest job uses it twice: the job forks its compute process
(compute.py), which forks the parsing process (pipeline.parsed_members), so that parsing and
mining run on both cores of a small machine.

Failures are reported, never lost: an exception in the child is raised here as ChildFailed
with the child's `Type: message`; a child that dies (SIGKILL, the OOM killer) raises
ChildFailed naming the signal. The child dies with its parent (PR_SET_PDEATHSIG), so a killed
job leaves no orphan, and leaves with os._exit: no atexit handler or finaliser runs in it, so
an inherited database connection or buffered file is never touched. Framework-free.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import signal
from collections.abc import Callable, Generator, Iterator
from typing import Any

_END = "__forking_end__"
_ERROR = "__forking_error__"
# The pipe holds up to PIPE_CAPACITY bytes (Linux F_SETPIPE_SZ; the default is 64 KiB) and the
# child writes it in WRITE_CHUNK pieces: its writes block only when the reader is a whole pipe
# behind. (A write buffer larger than the pipe makes the two take turns instead of running
# side by side: the child waits in write() while the reader works through what it sent.)
PIPE_CAPACITY = 1 << 20
WRITE_CHUNK = 64 << 10
READ_BUFFER = 1 << 20
_F_SETPIPE_SZ = 1031


class ChildFailed(Exception):
    """The child process raised or died; the message says how (shown to users as is)."""


def in_child(
    produce: Callable[[], Iterator[Any]], *, name: str = "the child process", nice: int = 0
) -> Generator[Any]:
    """The items of `produce()`, computed in a child forked now, by this call (so a caller can
    fork before it starts a thread: only the forking thread exists in the child). Closing the
    returned generator early kills the child."""
    read_fd, write_fd = os.pipe()
    _widen(write_fd)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its work is checked through the parent
        os.close(read_fd)
        _child(produce, write_fd, nice, parent)
    os.close(write_fd)
    return _read(pid, read_fd, name)


def _read(pid: int, read_fd: int, name: str) -> Generator[Any]:
    finished = False
    try:
        with os.fdopen(read_fd, "rb", buffering=READ_BUFFER) as pipe:
            load = pickle.load
            while True:
                try:
                    item = load(pipe)
                except (EOFError, pickle.UnpicklingError):  # the end, or a child killed mid-write
                    break
                if type(item) is tuple and item and item[0] in (_END, _ERROR):
                    if item[0] == _ERROR:
                        raise ChildFailed(item[1])
                    finished = True
                    break
                yield item
    finally:
        status = _reap(pid, kill=not finished)
    if not finished:
        raise ChildFailed(f"{name} ended without finishing ({status})")


def _child(produce: Callable[[], Iterator[Any]], write_fd: int, nice: int, parent: int) -> None:
    code = 1
    try:
        _die_with_parent(parent)
        if nice:
            with contextlib.suppress(OSError):
                os.nice(nice)
        with os.fdopen(write_fd, "wb", buffering=WRITE_CHUNK) as pipe:
            dump, protocol = pickle.dump, pickle.HIGHEST_PROTOCOL
            try:
                for item in produce():
                    dump(item, pipe, protocol=protocol)
                dump((_END,), pipe, protocol=protocol)
                code = 0
            except BrokenPipeError:
                pass  # the reader went away
            except ChildFailed as exc:  # a grandchild's failure: its text as it was
                dump((_ERROR, str(exc)), pipe, protocol=protocol)
            except BaseException as exc:  # raised in the reader, which fails with it
                dump((_ERROR, f"{type(exc).__name__}: {exc}"[:2000]), pipe, protocol=protocol)
    finally:
        os._exit(code)


def _widen(fd: int) -> None:
    """As large a pipe as PIPE_CAPACITY or the system's limit (fs.pipe-max-size) allows."""
    try:
        import fcntl

        with open("/proc/sys/fs/pipe-max-size") as f:
            limit = int(f.read())
        fcntl.fcntl(fd, _F_SETPIPE_SZ, min(PIPE_CAPACITY, limit))
    except (OSError, ValueError, ImportError):
        pass  # not Linux, or not allowed: the default pipe works, with less overlap


def _die_with_parent(parent: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    # the parent died before prctl took effect (compared with its pid, not with 1: in a
    # container the parent may itself be PID 1, and a reaper need not be)
    if os.getppid() != parent:
        os._exit(1)


def _reap(pid: int, *, kill: bool) -> str:
    if kill:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status)}"
