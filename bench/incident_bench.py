"""Detection quality on our incident corpus (apps/core/tests/corpus, real public excerpts).

Runs the offline triage (`manage.py triage FILE --json`) on every excerpt and prints:

  top-1      the root cause's category is the labelled one
  findings   the labelled category is among the findings
  cited      top-1 right and the root cause cites one of the labelled root-cause lines
  quiet      healthy logs with nothing loud: no finding at error or worse, no root cause

each for the whole corpus, the older part and the fresh part (`fresh = true` in incidents.toml:
excerpts held out from rule writing, the honest estimate of how the rules generalize), then
per category. Nothing is asserted (test_incident_corpus.py does that). Usage:

  .venv/bin/python bench/incident_bench.py [--misses] [--fresh]

--fresh restricts the per-category table and the misses to the fresh part.
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
    parser.add_argument("--fresh", action="store_true", help="categories and misses: fresh only")
    args = parser.parse_args()

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiops.settings_cli")  # no database needed
    django.setup()
    from apps.core.tests.corpus import judge, load

    started = time.perf_counter()
    verdicts = [judge(incident) for incident in load()]
    elapsed = time.perf_counter() - started
    all_incidents = [v for v in verdicts if not v.incident.healthy]
    all_healthy = [v for v in verdicts if v.incident.healthy]

    def share(count: int, total: int) -> str:
        return f"{count / total:.2f} ({count:>2}/{total:<2})" if total else "-"

    parts = {
        "all": lambda v: True,
        "older": lambda v: not v.incident.fresh,
        "fresh": lambda v: v.incident.fresh,
    }
    categories = sorted({v.incident.category for v in all_incidents})
    print(
        f"{len(all_incidents)} incidents in {len(categories)} categories, "
        f"{len(all_healthy)} healthy logs ({elapsed:.1f} s); "
        f"fresh: {sum(v.incident.fresh for v in verdicts)} held out from rule writing"
    )
    metrics = [
        ("root-cause category right (top-1)", lambda v: v.top1, False),
        ("category among the findings", lambda v: v.among_findings, False),
        ("category right and root-cause line cited", lambda v: v.cited, False),
        ("healthy logs with nothing loud", lambda v: v.quiet, True),
    ]
    print(f"  {'':<42} " + " ".join(f"{name:<13}" for name in parts))
    for label, test, on_healthy in metrics:
        cells = []
        for keep in parts.values():
            pool = [v for v in (all_healthy if on_healthy else all_incidents) if keep(v)]
            cells.append(f"{share(sum(map(test, pool)), len(pool)):<13}")
        print(f"  {label:<42} " + " ".join(cells))

    keep = parts["fresh"] if args.fresh else parts["all"]
    incidents = [v for v in all_incidents if keep(v)]
    healthy = [v for v in all_healthy if keep(v)]
    categories = sorted({v.incident.category for v in incidents})

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
