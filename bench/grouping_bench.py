"""Grouping benchmark: our miner vs drain3 on the Loghub-2k samples in ../shared/data/loghub.

Prints GA / PA / FGA / FTA per system in two modes, next to drain3 (settings.json masks,
st and depth) on the same lines:

  layout  header split with the system's `log_format` (as the published benchmarks do)
  auto    no hint: `apps.ingestion.logparse.parser.parse_lines` when it exists, otherwise a
          generic header heuristic (below)

then lines/s for both on a ~1,000,000-line stream built in memory from the four systems' lines
with varied numbers. Usage:

  .venv/bin/python bench/grouping_bench.py [--data DIR] [--lines N] [--no-speed]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.ingestion.grouping.metrics import (
    f1_grouping_accuracy,
    f1_template_accuracy,
    grouping_accuracy,
    parsing_accuracy,
)
from apps.ingestion.grouping.miner import Miner
from apps.ingestion.logparse.loghub import compile_log_format
from apps.ingestion.logparse.record import Line

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "loghub"

# ---------------------------------------------------------------- fully automatic header strip

_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_DAYS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_LEVELS = "TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRIT|CRITICAL|SEVERE|ALERT|EMERG"
_HEADER_RE = re.compile(
    r"^(?:(?:\[(?:[^\[\]]|\[[^\[\]]*\])*\]"  # [bracketed field], one level of nesting
    r"|\d[\d\-/:.,T+Z]*"  # dates, times, pids, epoch
    rf"|(?:{_MONTHS}|{_DAYS})\b"  # syslog / ctime words
    rf"|(?:{_LEVELS})\b:?"
    r"|-)\s+)+"
    r"(?:(?:[\w.\-]+\s+)?[\w./\-]+\[\d+\]:\s+"  # host prog[pid]:
    r"|[\w.$\-]+(?:\[[^\]]*\])?:\s+)?",  # component:
    re.IGNORECASE,
)


def heuristic_messages(raw: list[str]) -> list[str]:
    return [line[m.end() :] if (m := _HEADER_RE.match(line)) else line for line in raw]


def auto_messages(raw: list[str]) -> tuple[list[str], str]:
    """(message per physical line, how): the ingestion parser if present, else the heuristic."""
    try:
        from apps.ingestion.logparse.parser import parse_lines  # type: ignore[import-not-found]
    except ImportError:
        return heuristic_messages(raw), "heuristic"
    try:
        lines = [Line(i + 1, text) for i, text in enumerate(raw)]
        out = list(raw)
        for rec in parse_lines(lines, source="bench"):
            for n in range(rec.line, rec.end_line + 1):
                out[n - 1] = (
                    rec.message.split("\n")[n - rec.line] if "\n" in rec.message else rec.message
                )
        return out, "parser"
    except Exception as exc:  # the parser is being written alongside; fall back, say so
        print(f"  (parse_lines failed: {exc!r}; using the heuristic)", file=sys.stderr)
        return heuristic_messages(raw), "heuristic"


# ---------------------------------------------------------------- miners


def ours(messages: list[str]) -> tuple[list[str], list[str]]:
    matches = Miner(salt="bench").mine_batch(messages)
    return [m.template_id for m in matches], [m.template for m in matches]


def make_drain3(cfg: dict):
    from drain3 import TemplateMiner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.drain_sim_th = cfg.get("st", 0.4)
    config.drain_depth = cfg.get("depth", 4)
    config.masking_instructions = [MaskingInstruction(rx, "*") for rx in cfg.get("regex", [])]
    config.mask_prefix, config.mask_suffix = "<", ">"
    return TemplateMiner(config=config)


def drain3(cfg: dict) -> Callable[[list[str]], tuple[list[str], list[str]]]:
    def run(messages: list[str]) -> tuple[list[str], list[str]]:
        tm = make_drain3(cfg)
        ids = [tm.add_log_message(m)["cluster_id"] for m in messages]
        by_id = {c.cluster_id: c.get_template() for c in tm.drain.clusters}
        return [str(i) for i in ids], [by_id[i] for i in ids]

    return run


# ---------------------------------------------------------------- data and scoring


def load(data: Path, name: str) -> tuple[list[str], list[str], list[str]]:
    base = data / name / f"{name}_2k.log"
    raw = base.read_bytes().decode("utf-8").splitlines()
    with open(f"{base}_structured.csv", encoding="utf-8", newline="") as f:
        event_ids = [r["EventId"] for r in csv.DictReader(f)]
    corrected = Path(f"{base}_structured_corrected_lh2.csv")
    with open(
        corrected if corrected.exists() else f"{base}_structured.csv", encoding="utf-8", newline=""
    ) as f:
        templates = [r["EventTemplate"] for r in csv.DictReader(f)]
    assert len(raw) == len(event_ids) == len(templates), name
    return raw, event_ids, templates


def layout_messages(raw: list[str], log_format: str) -> list[str]:
    regex, _names = compile_log_format(log_format)
    return [m.group("Content") if (m := regex.match(line.strip())) else line for line in raw]


def score(
    event_ids: list[str], templates: list[str], ids: list[str], tpls: list[str]
) -> list[float]:
    return [
        grouping_accuracy(event_ids, ids),
        parsing_accuracy(templates, tpls),
        f1_grouping_accuracy(event_ids, ids),
        f1_template_accuracy(templates, ids, tpls),
    ]


def accuracy_table(data: Path) -> None:
    settings = json.loads((data / "settings.json").read_text())["datasets"]
    names = sorted(p.name for p in data.iterdir() if (p / f"{p.name}_2k.log").exists())
    rows: dict[str, list[list[float]]] = {}
    how = ""
    for name in names:
        cfg = settings.get(name, {})
        raw, event_ids, templates = load(data, name)
        auto, how = auto_messages(raw)
        runs = [("ours", "auto", auto, ours), ("drain3", "auto", auto, drain3(cfg))]
        if "log_format" in cfg:
            layout = layout_messages(raw, cfg["log_format"])
            runs = [
                ("ours", "layout", layout, ours),
                ("drain3", "layout", layout, drain3(cfg)),
                *runs,
            ]
        for who, mode, messages, run in runs:
            ids, tpls = run(messages)
            rows.setdefault(f"{who}/{mode}", []).append(score(event_ids, templates, ids, tpls))
            print(
                f"{name:<10} {who:<7} {mode:<7} "
                + " ".join(f"{v:6.4f}" for v in rows[f"{who}/{mode}"][-1])
            )
    print(f"\n{'average':<26} {'GA':>6} {'PA':>6} {'FGA':>6} {'FTA':>6}   (auto = {how})")
    for key, vals in rows.items():
        avg = [sum(col) / len(col) for col in zip(*vals, strict=True)]
        print(f"{key:<26} " + " ".join(f"{v:6.4f}" for v in avg))


# ---------------------------------------------------------------- throughput

_NUM = re.compile(r"\d+")


def million(data: Path, n: int) -> list[str]:
    """n content lines mixing the four systems, every number varied (rng seeded)."""
    settings = json.loads((data / "settings.json").read_text())["datasets"]
    pool: list[str] = []
    for name, cfg in settings.items():
        raw, _, _ = load(data, name)
        pool += layout_messages(raw, cfg["log_format"])
    rng = random.Random(7)

    def vary(m: re.Match[str]) -> str:
        return str(rng.randrange(10 ** len(m.group(0))))

    return [_NUM.sub(vary, pool[rng.randrange(len(pool))]) for _ in range(n)]


def throughput(data: Path, n: int) -> None:
    lines = million(data, n)
    print(f"\nthroughput on {len(lines):,} lines (content, numbers varied)")
    t0 = time.perf_counter()
    miner = Miner(salt="bench")
    for line in lines:
        miner.add(line)
    dt = time.perf_counter() - t0
    print(
        f"ours   streaming add   {len(lines) / dt:10,.0f} lines/s  {len(miner.templates())} templates"
    )
    tm = make_drain3(
        {
            "regex": [r"blk_-?\d+", r"(/|)(\d+\.){3}\d+(:\d+)?", r"([\w-]+\.){2,}[\w-]+"],
            "st": 0.5,
            "depth": 4,
        }
    )
    t0 = time.perf_counter()
    for line in lines:
        tm.add_log_message(line)
    dt = time.perf_counter() - t0
    print(
        f"drain3 add_log_message {len(lines) / dt:10,.0f} lines/s  {len(tm.drain.clusters)} clusters"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--no-speed", action="store_true")
    args = ap.parse_args()
    if not args.data.exists():
        sys.exit(f"no loghub data at {args.data}")
    print(f"{'system':<10} {'miner':<7} {'mode':<7} {'GA':>6} {'PA':>6} {'FGA':>6} {'FTA':>6}")
    accuracy_table(args.data)
    if not args.no_speed:
        throughput(args.data, args.lines)


if __name__ == "__main__":
    main()
