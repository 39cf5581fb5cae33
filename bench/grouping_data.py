"""Bench data for grouping: real systems expanded with re-drawn variables, and a template-rich mix.

- `expand(...)`: a Loghub-2k system grown to n lines. Each line is a sampled real line whose
  variables (the `<*>` positions of its ground-truth template) are replaced by fresh values of
  the same shape (digit → digit, letter → letter of the same case, hex stays hex, punctuation
  kept). The event of every line is known, so grouping quality can be scored at size too.
- `template_rich(...)`: a generated stream with >= 1,000 templates of long lines (12-40 tokens, most near 18),
  templates arriving through the whole file (as in a real template-rich log) and sharing leading
  words (a component name), which is what makes prefix trees and length buckets crowded.

Both are seeded and deterministic. Nothing here knows any system's vocabulary: words are
generated from syllables.
"""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path

_HEX = frozenset("0123456789abcdefABCDEF")
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = _LOWER.upper()


def _digits(run: str, rng: random.Random) -> str:
    """A fresh number with as many digits (no new leading zero; byte-sized stays byte-sized)."""
    n = len(run)
    low = 0 if n == 1 or run[0] == "0" else 10 ** (n - 1)
    high = 10**n - 1
    if n <= 3 and int(run) <= 255:
        high = min(high, 255)
    return str(rng.randint(low, high)).zfill(n)


def redraw(value: str, rng: random.Random) -> str:
    """A fresh value of the same shape as `value`: digit runs re-drawn, hex digits of a hex
    string re-drawn; a value without digits (a user, a host word) gets fresh letters of the same
    cases; letters next to digits (`blk_`, `-nbs.`) are kept as the value's fixed part."""
    if not any(c.isdigit() for c in value):
        return "".join(
            rng.choice(_LOWER) if "a" <= c <= "z" else rng.choice(_UPPER) if "A" <= c <= "Z" else c
            for c in value
        )
    if value[:2] in ("0x", "0X"):
        return value[:2] + "".join(rng.choice("0123456789abcdef") for _ in value[2:])
    if len(value) >= 6 and all(c in _HEX for c in value):
        return "".join(rng.choice("0123456789abcdef") for _ in value)
    return re.sub(r"\d+", lambda m: _digits(m.group(0), rng), value)


def _template_regex(template: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in template.split("<*>")]
    # `\s*` between literals: the ground truth normalises some runs of spaces
    return re.compile("(.*?)".join(parts).replace(r"\ ", r"\s+") + r"\Z", re.DOTALL)


def load_rows(data: Path, name: str) -> list[tuple[str, str, str]]:
    """(content, event id, template with variables marked) per line of a Loghub-2k system."""
    base = data / name / f"{name}_2k.log_structured"
    with open(f"{base}.csv", encoding="utf-8", newline="") as f:
        rows = [(r["Content"], r["EventId"]) for r in csv.DictReader(f)]
    corrected = Path(f"{base}_corrected_lh2.csv")
    with open(corrected if corrected.exists() else f"{base}.csv", encoding="utf-8") as f:
        templates = [r["EventTemplate"] for r in csv.DictReader(f)]
    return [(c, e, t) for (c, e), t in zip(rows, templates, strict=True)]


def expand(rows: list[tuple[str, str, str]], n: int, seed: int = 7) -> tuple[list[str], list[str]]:
    """(lines, event ids): n lines drawn from `rows`, every variable re-drawn."""
    rng = random.Random(seed)
    regexes: dict[str, re.Pattern[str]] = {}
    lines: list[str] = []
    events: list[str] = []
    for _ in range(n):
        content, event, template = rows[rng.randrange(len(rows))]
        rx = regexes.get(template) or regexes.setdefault(template, _template_regex(template))
        m = rx.match(content)
        if m is None or not m.groups():
            # the ground truth does not align with the text: vary its digits only
            line = re.sub(r"\d", lambda _: rng.choice("0123456789"), content)
        else:
            out, last = [], 0
            for i in range(1, len(m.groups()) + 1):
                out += (content[last : m.start(i)], redraw(m.group(i), rng))
                last = m.end(i)
            out.append(content[last:])
            line = "".join(out)
        lines.append(line)
        events.append(event)
    return lines, events


# ---------------------------------------------------------------- template-rich generated mix

_SYLLABLES = [a + b for a in "bcdfghklmnprstvwz" for b in "aeiou"] + ["er", "in", "on", "an"]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4)))


def _variable(kind: str, rng: random.Random, names: list[str]) -> str:
    if kind == "int":
        return str(rng.randint(0, 10 ** rng.randint(1, 7)))
    if kind == "float":
        return f"{rng.random() * 1000:.{rng.randint(1, 3)}f}"
    if kind == "ip":
        return ".".join(str(rng.randint(1, 254)) for _ in range(4)) + f":{rng.randint(1, 65535)}"
    if kind == "hex":
        return f"{rng.getrandbits(64):016x}"
    if kind == "path":
        return "/" + "/".join(rng.choice(names) for _ in range(rng.randint(2, 5)))
    if kind == "ms":
        return f"{rng.randint(0, 99999)}ms"
    if kind == "kv":
        return f"{rng.choice(names)}={rng.randint(0, 9999)}"
    return rng.choice(names)  # "name": a word from a large pool (users, hosts, tables)


_KINDS = ["int", "int", "float", "ip", "hex", "path", "ms", "kv", "name"]


def template_rich(
    n: int = 62_500, templates: int = 1_200, seed: int = 11
) -> tuple[list[str], list[int]]:
    """(lines, template index) with `templates` long templates arriving through the file."""
    rng = random.Random(seed)
    vocab = sorted({_word(rng) for _ in range(4_000)})  # sorted: set order varies by run
    names = sorted({_word(rng) + str(rng.randint(0, 99)) for _ in range(5_000)})
    components = [_word(rng).capitalize() + _word(rng).capitalize() for _ in range(60)]
    shapes: list[list[str | None]] = []  # None marks a variable slot
    kinds: list[list[str]] = []
    for _ in range(templates):
        length = min(40, max(12, round(rng.gauss(18, 4))))  # real lengths bunch up
        tokens: list[str | None] = [rng.choice(components) + ":"]
        slot_kinds = []
        for _ in range(length - 1):
            if rng.random() < 0.2:
                tokens.append(None)
                slot_kinds.append(rng.choice(_KINDS))
            else:
                tokens.append(rng.choice(vocab))
        shapes.append(tokens)
        kinds.append(slot_kinds)
    # template k is introduced once k / templates of the file has passed (plus a head start);
    # lines otherwise pick among the introduced ones, older (more common) ones more often
    lines: list[str] = []
    labels: list[int] = []
    introduced = 0
    for i in range(n):
        due = min(templates, 20 + int(i * templates / (0.9 * n)))
        if introduced < due:
            k = introduced
            introduced += 1
        else:
            k = int(introduced * rng.random() ** 2)
        it = iter(kinds[k])
        line = " ".join(t if t is not None else _variable(next(it), rng, names) for t in shapes[k])
        lines.append(line)
        labels.append(k)
    return lines, labels


# ---------------------------------------------------------------- failure shapes (issue 17)


def failure_shapes(seed: int = 5) -> dict[str, tuple[list[str], list[str]]]:
    """Small generated streams, one per failure shape seen on systems kept aside: (lines, true
    event per line). Words are invented; only the shapes come from the issue."""
    rng = random.Random(seed)
    names = sorted({_word(rng) for _ in range(60)})
    apps = [f"{w}.exe" for w in names[:9]]
    out: dict[str, tuple[list[str], list[str]]] = {}

    def ip() -> str:
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))

    lines, events = [], []
    for _ in range(400):  # the protocol is the event, the program (first word) a variable
        proto = "HTTPS" if rng.random() < 0.8 else "SOCKS5"
        lines.append(f"{rng.choice(apps)} - {ip()}:{rng.randint(1, 65535)} open through proxy "
                     f"{ip()}:{rng.choice([3128, 5070])} {proto}")  # fmt: skip
        events.append(proto)
    out["protocol word, program first"] = (lines, events)

    lines, events = [], []
    for _ in range(300):  # a status word is the event
        status = rng.choice(["OK", "OK", "OK", "FAILED"])
        lines.append(f"job {rng.randint(1, 99999)} finished: {status} after {rng.randint(1, 900)}s")
        events.append(status)
    out["status word"] = (lines, events)

    lines, events = [], []
    for _ in range(300):  # one event with and without an optional part
        n = rng.randint(10, 1023) if rng.random() < 0.5 else rng.randint(1024, 5_000_000)
        extra = f" ({n / 1024:.2f} KB)" if n >= 1024 else ""
        lines.append(f"{ip()}:{rng.randint(1, 65535)} close, {n} bytes{extra} sent")
        events.append("close")
    out["optional part"] = (lines, events)

    lines, events = [], []
    for _ in range(300):  # one value printed in different shapes
        life = rng.choice(["<1 sec", f"{rng.randint(1, 59)} sec", f"00:{rng.randint(10, 59)}"])
        lines.append(f"session {rng.randint(1, 9999)} ended, lifetime {life}")
        events.append("ended")
    out["value shapes (<1 sec, 12 sec, 00:12)"] = (lines, events)

    lines, events = [], []
    for _ in range(300):  # the method of a request line is the event
        method = rng.choice(["GET", "GET", "POST"])
        lines.append(f'{ip()} "{method} /api/{rng.choice(names)}/{rng.randint(1, 999)} HTTP/1.1" '
                     f"{rng.choice([200, 200, 201])} {rng.randint(100, 9999)}")  # fmt: skip
        events.append(method)
    out["request method"] = (lines, events)

    lines, events = [], []
    for _ in range(300):  # many user names: a variable word
        lines.append(f"Invalid user {rng.choice(names)} from {ip()} port {rng.randint(1, 65535)}")
        events.append("invalid")
    out["variable word (user names)"] = (lines, events)

    lines, events = [], []
    for _ in range(300):  # a few states, each repeated: part of the event
        state = rng.choice(["LOOKING", "FOLLOWING", "LEADING"])
        lines.append(
            f"Peer {rng.randint(1, 5)} state changed to {state} in round {rng.randint(1, 99)}"
        )
        events.append(state)
    out["state word"] = (lines, events)

    lines, events = [], []
    for _ in range(300):  # ids with one digit: a variable
        lines.append(
            f"worker {rng.choice(names)}{rng.randint(0, 9)} joined pool {rng.randint(1, 9)}"
        )
        events.append("joined")
    out["ids with one digit"] = (lines, events)
    return out
