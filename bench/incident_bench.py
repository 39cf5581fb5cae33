"""Detection quality on our incident corpus (apps/core/tests/corpus, real public excerpts).

Runs the offline triage (`manage.py triage FILE --json`) on every excerpt and prints:

  top-1      the root cause's category is the labelled one
  findings   the labelled category is among the findings
  cited      top-1 right and the root cause cites one of the labelled root-cause lines
  quiet      healthy logs with nothing loud: no finding at error or worse, no root cause

then the same per category. Nothing is asserted (test_incident_corpus.py does that). Usage:

  .venv/bin/python bench/incident_bench.py [--misses]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list every miss with its answer")
    args = parser.parse_args()

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiops.settings")
    os.environ.setdefault("DJANGO_DEBUG", "true")
    django.setup()
    from apps.core.tests.corpus import judge, load

    started = time.perf_counter()
    verdicts = [judge(incident) for incident in load()]
    elapsed = time.perf_counter() - started
    incidents = [v for v in verdicts if not v.incident.healthy]
    healthy = [v for v in verdicts if v.incident.healthy]
    n = len(incidents)

    def share(count: int, total: int) -> str:
        return f"{count / total:.2f}  ({count}/{total})" if total else "-"

    categories = sorted({v.incident.category for v in incidents})
    print(
        f"{n} incidents in {len(categories)} categories, {len(healthy)} healthy logs "
        f"({elapsed:.1f} s)"
    )
    rows = [
        ("root-cause category right (top-1)", share(sum(v.top1 for v in incidents), n)),
        ("category among the findings", share(sum(v.among_findings for v in incidents), n)),
        ("category right and root-cause line cited", share(sum(v.cited for v in incidents), n)),
        ("healthy logs with nothing loud", share(sum(v.quiet for v in healthy), len(healthy))),
    ]
    for label, value in rows:
        print(f"  {label:<42} {value}")

    by_category = defaultdict(list)
    for v in incidents:
        by_category[v.incident.category].append(v)
    print()
    print(f"  {'category':<28} {'n':>3} {'top-1':>6} {'found':>6} {'cited':>6}")
    for category in categories:
        group = by_category[category]
        print(
            f"  {category:<28} {len(group):>3} {sum(v.top1 for v in group):>6} "
            f"{sum(v.among_findings for v in group):>6} {sum(v.cited for v in group):>6}"
        )

    if args.misses:
        print()
        for v in incidents:
            if not v.cited:
                print(
                    f"  miss {v.incident.id}: {v.incident.category} -> {v.root_category} "
                    f"cites {list(v.root_lines[:5])}, labelled {list(v.incident.root_cause_lines)}"
                )
        for v in healthy:
            if not v.quiet:
                print(f"  loud {v.incident.id}: {v.root_category} {list(v.loud)}")


if __name__ == "__main__":
    main()
