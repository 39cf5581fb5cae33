"""Write the prove results table into docs/prove.md between the prove markers.

    python prove/report.py        (the last step of `make prove`)

Reads prove/out/results/*.json (one row per attack; ORDER lists them) and replaces the text
between `<!-- prove:begin -->` and `<!-- prove:end -->`. A script that did not run shows as such.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prove.common import ROOT, format_row, read_result

BEGIN, END = "<!-- prove:begin -->", "<!-- prove:end -->"
ORDER = (
    "faults",
    "jobs_faults",
    "outage",
    "alerts_faults",
    "stream_faults",
    "hostile",
    "stream_hostile",
    "stream_flood",
    "xss",
    "xss_reports",
    "load",
    "fairness",
    "isolation",
    "migrations",
    "bruteforce",
    "ssrf",
)


def table() -> str:
    rows = [
        "| Attack | How much | What broke | Result | When |",
        "|---|---|---|---|---|",
    ]
    for name in ORDER:
        row = read_result(name)
        if row is None:
            rows.append(f"| `prove/{name}.py` | not run | — | — | — |")
            continue
        cells = [row["what"], row["how_many"], row["broke"], "pass" if row["ok"] else "**FAIL**"]
        cells = [c.replace("|", "\\|").replace("\n", " ") for c in cells]
        rows.append(f"| {' | '.join(cells)} | {row['when']} |")
    return "\n".join(rows)


def main() -> int:
    readme = ROOT / "docs" / "prove.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        print(f"docs/prove.md has no {BEGIN} … {END} markers")
        return 1
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{table()}\n{END}{tail}")
    for name in ORDER:
        row = read_result(name)
        print(format_row(row) if row else f"[----] prove/{name}.py did not run")
    return 0 if all((read_result(n) or {}).get("ok") for n in ORDER) else 1


if __name__ == "__main__":
    sys.exit(main())
