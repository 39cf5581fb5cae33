"""Recovery rates on the corpus of real log formats (apps/core/tests/logparse/corpus).

Each format is parsed as one uploaded file (automatic detection, the upload's date hints) and
scored per line against the hand-written labels; "right" is defined in corpus/harness.py:
timestamp = same instant to the millisecond (same wall-clock time when the line has no zone),
level = equal (only lines that state one), message = equal after trimming whitespace.
Rates are printed for all formats and for the fixed splits (harness.half): "dev", whose
failures parser work may look at, "held-out", the honest estimate on unseen formats,
"held-out-2", a fresh split of formats added later, before the parser work that followed, and
"held-out-3", a later fresh split printed as totals only (harness.UNSEEN: no per-format row).

Then the automatic header split on the loghub systems in ../shared/data/loghub: the share of
lines whose message (no --log-format given) equals loghub's structured Content.

    .venv/bin/python bench/formats_bench.py [--worst 10]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apps.core.logparse.parser import lines_from_text, parse_lines
from apps.core.tests.logparse.corpus.harness import UNSEEN, checks, half, load, parsed

LOGHUB = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "loghub"


def pct(right: int, total: int) -> str:
    return f"{right / total:6.1%}" if total else "     -"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worst", type=int, default=10, help="formats listed as the worst")
    args = ap.parse_args()

    totals: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    rows = []
    for fmt in load():
        per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for c in checks(fmt):
            if c.field == "ts" and c.expected is None:
                continue  # a line without a time: the test checks none is invented
            per[c.field][0] += c.right
            per[c.field][1] += 1
            for key in ("all", half(fmt)):
                totals[key][c.field][0] += c.right
                totals[key][c.field][1] += 1
        scored = sum(n for _, n in per.values())
        right = sum(r for r, _ in per.values())
        full = right == scored
        totals["all"]["full"][0] += full
        totals["all"]["full"][1] += 1
        totals[half(fmt)]["full"][0] += full
        totals[half(fmt)]["full"][1] += 1
        if half(fmt) not in UNSEEN:
            rows.append((right / scored, fmt["name"], parsed(fmt["name"])[0], per, half(fmt)))

    print(f"{'format':34} {'half':8} {'detected':13} {'n':>3} {'ts':>6} {'level':>6} {'msg':>6}")
    for _, name, detected, per, part in rows:
        print(
            f"{name:34} {part:8} {detected:13} {per['message'][1]:3d} {pct(*per['ts'])} "
            f"{pct(*per['level'])} {pct(*per['message'])}"
        )
    for key in ("all", "dev", "held-out", "held-out-2", "held-out-3"):
        t = totals[key]
        print(
            f"\n{key}: {t['full'][1]} formats, {t['message'][1]} records: timestamp right "
            f"{pct(*t['ts'])} of records with a time ({t['ts'][1]}), level right "
            f"{pct(*t['level'])} of records with a level ({t['level'][1]}), message without "
            f"header right {pct(*t['message'])}; formats fully right: {t['full'][0]} of "
            f"{t['full'][1]}",
            end="",
        )
    print()
    print(
        f"worst {args.worst}:",
        ", ".join(f"{n} ({s:.0%})" for s, n, *_ in sorted(rows)[: args.worst]),
    )
    loghub_split()


def loghub_split() -> None:
    """Automatic mode on each loghub system: does the message equal the structured Content?"""
    if not LOGHUB.is_dir():
        return
    right = total = 0
    parts = []
    for folder in sorted(p for p in LOGHUB.iterdir() if p.is_dir()):
        raw = folder / f"{folder.name}_2k.log"
        truth = folder / f"{folder.name}_2k.log_structured.csv"
        if not (raw.exists() and truth.exists()):
            continue
        with truth.open(encoding="utf-8", newline="") as fh:
            content = {int(row["LineId"]): row["Content"] for row in csv.DictReader(fh)}
        text = raw.read_text(encoding="utf-8", errors="replace")
        by_line = {r.line: r for r in parse_lines(lines_from_text(text), default_year=2024)}
        ok = sum(
            1
            for n, want in content.items()
            if (r := by_line.get(n)) is not None and r.message.strip() == want.strip()
        )
        fmt = next(iter(by_line.values())).fmt if by_line else "-"
        parts.append(f"{folder.name} {ok / len(content):.1%} ({fmt})")
        right += ok
        total += len(content)
    if total:
        print(
            f"loghub automatic header split: message = structured Content on "
            f"{right / total:.1%} of {total} lines: " + ", ".join(parts)
        )


if __name__ == "__main__":
    main()
