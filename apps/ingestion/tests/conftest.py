from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[3] / "samples"


def file_digest(path: Path) -> list[tuple[int, str]]:
    """(line number, sha256 of the decoded line) for every physical line of a file."""
    from apps.core.logparse.decode import iter_lines

    with path.open("rb") as handle:
        return [
            (ln.number, hashlib.sha256(ln.text.encode()).hexdigest()) for ln in iter_lines(handle)
        ]


def source_digest(source) -> list[tuple[int, str]]:
    """The same digest rebuilt from a source's stored events (raw text, line numbers)."""
    out = []
    for line, end_line, raw in source.events.order_by("line").values_list(
        "line", "end_line", "raw"
    ):
        parts = raw.split("\n")
        assert len(parts) == end_line - line + 1, (line, end_line)
        out.extend(
            (line + i, hashlib.sha256(text.encode()).hexdigest()) for i, text in enumerate(parts)
        )
    return out


def children() -> set[int]:
    """This process's children, alive or not yet reaped (from /proc: PPid)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{os.getpid()}\n" in status:
                found.add(int(entry))
    return found


@pytest.fixture
def alpha_project(personas):
    from django_tenants.utils import tenant_context

    from apps.incidents.models import Project

    with tenant_context(personas.alpha):
        yield Project.objects.get(slug="alpha-marker")
