"""Hostile input: ≥ 500 crafted files through the web upload and the ingest job.

    python prove/hostile.py            (or `make prove`)

Files come from prove/corpus.py (bombs, binaries, 17 encodings, invalid UTF-8, NUL, 50 MB
single line, CR-only and exotic newlines, truncated/corrupt gzip, deep zip nesting, `../` and
absolute names, symlink/hardlink/device members, regex-stress lines, broken JSON…). Each is
posted to the new-incident form as a signed-in member (Django test client, test settings),
its job is run as the worker runs it, and the incident page is fetched. Pass: 0 crashes,
0 HTTP 500s, every failure and warning visible on the page.
"""

from __future__ import annotations

import resource
import sys
import time
from collections import Counter
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from prove.common import run_module

    sys.exit(run_module(__file__, "hostile"))

import pytest
from django_tenants.utils import tenant_context

from prove.checks import push
from prove.common import OUT, write_result
from prove.corpus import hostile_files

pytestmark = pytest.mark.django_db(transaction=True)


def test_hostile(client, personas):
    from apps.incidents.models import Project

    client.raise_request_exception = False  # a view exception becomes the 500 a user would see
    client.force_login(personas.member)
    with tenant_context(personas.alpha):
        Project.objects.get_or_create(slug="prove-hostile", defaults={"name": "prove hostile"})
    files = hostile_files(full=True)
    outcomes: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = {}
    crashes: list[str] = []
    log = []
    started = time.monotonic()
    stamp = int(time.time())
    for i, item in enumerate(files):
        outcome, detail = push(
            client, personas.alpha, "prove-hostile", item, f"hostile {stamp}-{i}"
        )
        outcomes[outcome] += 1
        by_kind.setdefault(item.kind, Counter())[outcome] += 1
        log.append(f"{outcome:24} {item.kind:12} {item.name[:60]!r}: {detail}")
        if outcome == "crash":
            crashes.append(f"{item.name[:60]!r}: {detail}")
    elapsed = time.monotonic() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "hostile.log").write_text("\n".join(log) + "\n")
    for kind, counts in sorted(by_kind.items()):
        print(f"  {kind:14} {dict(counts)}")
    print("  outcomes:", dict(outcomes))
    for crash in crashes[:20]:
        print("  CRASH", crash)
    summary = ", ".join(f"{outcomes[k]} {k}" for k in sorted(outcomes))
    write_result(
        "hostile",
        what=f"hostile uploads through the web form + job ({len(by_kind)} families)",
        how_many=f"{len(files)} files: {summary}; {elapsed:.0f} s, peak RSS {peak_mib:.0f} MiB",
        broke="0" if not crashes else f"{len(crashes)}: " + "; ".join(crashes[:3]),
        ok=not crashes and len(files) >= 500,
        outcomes=dict(outcomes),
        by_kind={k: dict(v) for k, v in by_kind.items()},
    )
    assert not crashes, crashes[:10]
