"""Speed sanity: the prefilter keeps the engine cheap on ordinary lines."""

from __future__ import annotations

import time

from apps.core.rules import Catalogue, Engine

from .factories import rec

LINES = [
    "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating",
    "2015-07-29 19:04:12,394 - INFO  [/10.10.34.11:3888:QuorumCnxManager$Listener@493] - Received connection request /10.10.34.11:45307",
    '10.0.1.4 - - [01/Mar/2024:10:00:11 +0000] "GET /api/orders?page=2 HTTP/1.1" 200 5123 "-" "Mozilla/5.0"',
    "[2024-03-01 10:00:00 +0000] [7] [INFO] GET /checkout 200 12ms user=42 cart=7 items=3",
    "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2",
]


def test_engine_cost_per_line_is_small():
    records = [rec(LINES[i % len(LINES)], i, at=i * 0.01) for i in range(50_000)]
    engine = Engine(Catalogue.load(), detect=False)
    start = time.perf_counter()
    for r in records:
        engine.feed(r)
    engine.findings()
    per_line = (time.perf_counter() - start) / len(records)
    # ~2 µs on a laptop with 20% of lines matching a keyword; generous bound for CI noise.
    assert per_line < 30e-6, f"{per_line * 1e6:.1f} µs per line"
