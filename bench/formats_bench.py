"""Recovery rates on the corpus of real log formats (apps/ingestion/tests/logparse/corpus).

Each format is parsed as one uploaded file (automatic detection, the upload's date hints) and
scored per line against the hand-written labels; "right" is defined in corpus/harness.py:
timestamp = same instant to the millisecond (same wall-clock time when the line has no zone),
level = equal (only lines that state one), message = equal after trimming whitespace.

    .venv/bin/python bench/formats_bench.py [--worst 10]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apps.ingestion.tests.logparse.corpus.harness import checks, load, parsed


def pct(right: int, total: int) -> str:
    return f"{right / total:6.1%}" if total else "     -"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worst", type=int, default=10, help="formats listed as the worst")
    args = ap.parse_args()

    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = []
    for fmt in load():
        per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for c in checks(fmt):
            if c.field == "ts" and c.expected is None:
                continue  # a line without a time: the test checks none is invented
            per[c.field][0] += c.right
            per[c.field][1] += 1
            totals[c.field][0] += c.right
            totals[c.field][1] += 1
        scored = sum(n for _, n in per.values())
        right = sum(r for r, _ in per.values())
        rows.append((right / scored, fmt["name"], parsed(fmt["name"])[0], per, right == scored))

    print(f"{'format':34} {'detected':13} {'n':>3} {'ts':>6} {'level':>6} {'msg':>6}")
    for _, name, detected, per, _ in rows:
        print(
            f"{name:34} {detected:13} {per['message'][1]:3d} {pct(*per['ts'])} "
            f"{pct(*per['level'])} {pct(*per['message'])}"
        )
    full = sum(1 for row in rows if row[4])
    lines = totals["message"][1]
    print(
        f"\n{len(rows)} formats, {lines} records: timestamp right {pct(*totals['ts'])} of records "
        f"with a time ({totals['ts'][1]}), level right {pct(*totals['level'])} of records "
        f"with a level ({totals['level'][1]}), message without header right "
        f"{pct(*totals['message'])}; formats fully right: {full} of {len(rows)}"
    )
    print(
        f"worst {args.worst}:",
        ", ".join(f"{n} ({s:.0%})" for s, n, *_ in sorted(rows)[: args.worst]),
    )


if __name__ == "__main__":
    main()
