"""Recovery rates on the corpus of real log formats (apps/core/tests/logparse/corpus).

Each format is parsed as one uploaded file (automatic detection, the upload's date hints) and
scored per line against the hand-written labels; "right" is defined in corpus/harness.py:
timestamp = same instant to the millisecond (same wall-clock time when the line has no zone),
level = equal (only lines that state one), message = equal after trimming whitespace.
Rates are printed for all formats and for the fixed splits (harness.half): "dev", whose
failures parser work may look at, "held-out", the honest estimate on unseen formats,
"held-out-2", a fresh split of formats added later, before the parser work that followed,
"held-out-3", "held-out-4" and "held-out-5", later fresh splits that parser work has since taken
over, and "held-out-6", the newest fresh split, printed as totals only (harness.UNSEEN: no
per-format row).

Then the automatic header split on the loghub systems in ../shared/data/loghub (Apache, HDFS,
OpenSSH, Zookeeper: the parser was developed on them): the share of lines whose message (no
--log-format given) equals loghub's structured Content. Then the same on twelve held-out loghub
systems (bench/data/loghub2k_raw: the first 40 lines of each, see its README), per system and
as a mean over systems and a line-weighted total:

- message: the record that starts on the line has message == Content after trimming whitespace;
- timestamp: that record has a time of its own (ts set and not inherited from the record before;
  whether it is the right instant is not checked, loghub's headers are partly year-less);
- level: only on systems whose CSV has a Level column, and only on lines whose Level value
  apps.core.logparse.levels.normalize_level maps (Linux's "Level" is the host name, Android's
  "V" is not mapped): our level == normalize_level(Level).

Loghub rows are one physical line each. Records are matched by their first line, so when the
parser joins several physical lines into one record, the continuation lines count as wrong on
every measure (no record starts there) and the first line counts as right only if the joined
message still equals its Content.

    .venv/bin/python bench/formats_bench.py [--worst 10] [--examples 3]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apps.core.logparse.levels import normalize_level
from apps.core.logparse.parser import lines_from_text, parse_lines
from apps.core.tests.logparse.corpus.harness import UNSEEN, checks, half, load, parsed

LOGHUB = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "loghub"
HELD_OUT = Path(__file__).resolve().parent / "data" / "loghub2k_raw"


def pct(right: int, total: int) -> str:
    return f"{right / total:6.1%}" if total else "     -"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worst", type=int, default=10, help="formats listed as the worst")
    ap.add_argument(
        "--examples", type=int, default=0, help="wrong splits shown per held-out system"
    )
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
    for key in (
        "all",
        "dev",
        "held-out",
        "held-out-2",
        "held-out-3",
        "held-out-4",
        "held-out-5",
        "held-out-6",
    ):
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
    held_out_split(args.examples)


@dataclass
class SystemScore:
    """One loghub system's automatic split, line by line against its structured CSV."""

    name: str
    fmt: str = "-"
    lines: int = 0
    message: int = 0
    ts: int = 0
    level: list[int] = field(default_factory=lambda: [0, 0])  # right, lines with a known level
    wrong: list[tuple[int, str, str]] = field(default_factory=list)  # (line, ours, truth)


def score_system(raw: Path, truth: Path) -> SystemScore:
    """Parse `raw` in automatic mode and score each line against the row of `truth` (LineId)."""
    with truth.open(encoding="utf-8", newline="") as fh:
        rows = {int(row["LineId"]): row for row in csv.DictReader(fh)}
    text = raw.read_text(encoding="utf-8", errors="replace")
    by_line = {r.line: r for r in parse_lines(lines_from_text(text), default_year=2024)}
    score = SystemScore(raw.parent.name, lines=len(rows))
    if by_line:
        score.fmt = next(iter(by_line.values())).fmt
    for n, row in rows.items():
        r = by_line.get(n)
        want = row["Content"].strip()
        if r is not None and r.message.strip() == want:
            score.message += 1
        else:
            score.wrong.append((n, r.message.strip() if r else "<joined to the line before>", want))
        score.ts += r is not None and r.ts is not None and not r.ts_inherited
        level = normalize_level(row.get("Level"))
        if level is not None:
            score.level[0] += r is not None and r.level == level
            score.level[1] += 1
    return score


def system_files(root: Path, suffix: str) -> list[tuple[Path, Path]]:
    """(raw log, structured CSV) of each system folder under `root` that has both."""
    pairs = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        raw = folder / f"{folder.name}{suffix}"
        truth = folder / f"{folder.name}{suffix}_structured.csv"
        if raw.exists() and truth.exists():
            pairs.append((raw, truth))
    return pairs


def loghub_split() -> None:
    """Automatic mode on each loghub system: does the message equal the structured Content?"""
    if not LOGHUB.is_dir():
        return
    right = total = 0
    parts = []
    for raw, truth in system_files(LOGHUB, "_2k.log"):
        s = score_system(raw, truth)
        parts.append(f"{s.name} {s.message / s.lines:.1%} ({s.fmt})")
        right += s.message
        total += s.lines
    if total:
        print(
            f"loghub automatic header split: message = structured Content on "
            f"{right / total:.1%} of {total} lines: " + ", ".join(parts)
        )


def held_out_split(examples: int = 0) -> None:
    """The same on the held-out loghub heads, with timestamp and level recovery."""
    scores = [score_system(raw, truth) for raw, truth in system_files(HELD_OUT, "_2k_head.log")]
    if not scores:
        return
    print(f"\nheld-out loghub systems (automatic split, {HELD_OUT.name}):")
    print(f"{'system':12} {'detected':18} {'n':>3} {'msg':>6} {'ts':>6} {'level':>6}")
    for s in scores:
        print(
            f"{s.name:12} {s.fmt:18} {s.lines:3d} {pct(s.message, s.lines)} "
            f"{pct(s.ts, s.lines)} {pct(*s.level)}"
        )
        for n, ours, want in s.wrong[:examples]:
            print(f"    line {n}: ours {ours[:110]!r}\n{'':13}truth {want[:110]!r}")
    leveled = [s for s in scores if s.level[1]]
    lines = sum(s.lines for s in scores)
    print(
        f"held-out: {len(scores)} systems, {lines} lines; mean over systems: message "
        f"{sum(s.message / s.lines for s in scores) / len(scores):.1%}, timestamp "
        f"{sum(s.ts / s.lines for s in scores) / len(scores):.1%}, level "
        f"{sum(s.level[0] / s.level[1] for s in leveled) / max(len(leveled), 1):.1%} "
        f"({len(leveled)} systems); line-weighted: message "
        f"{pct(sum(s.message for s in scores), lines).strip()}, timestamp "
        f"{pct(sum(s.ts for s in scores), lines).strip()}, level "
        f"{pct(sum(s.level[0] for s in scores), sum(s.level[1] for s in scores)).strip()}; "
        f"systems with message >= 90%: {sum(s.message >= 0.9 * s.lines for s in scores)}"
    )


if __name__ == "__main__":
    main()
