"""Values printed over several tokens, and the status class of an access-log line.

Masks work on one token; some values take two or more: a number and its unit (`5.2 KB`,
`12 sec`), and an optional restatement in brackets (`1190 bytes (1.16 KB)`). Printed with or
without the optional part, one event would get templates of different lengths, so the miner
folds each such run into the value before it (`<*> bytes (<*> KB) sent` and `<*> bytes sent`
both become `<*> sent`).

Access logs: the status after a request line is a class (`2xx`, `4xx`, `5xx`), part of the event,
so the 200s and the 504s of one route are different groups.
"""

from __future__ import annotations

from .masks import WILDCARD

# Units of size and time: words that only qualify the number before them. Generic vocabulary
# (like the `size` and `duration` masks), not one system's.
_UNIT_WORDS = """b kb mb gb tb pb kib mib gib tib byte bytes
ns us µs ms s sec secs second seconds min mins minute minutes h hr hrs hour hours day days"""
UNITS = frozenset(_UNIT_WORDS.split())
STATUS_CLASSES = frozenset(f"{d}xx" for d in "12345")
_TRAIL = ",;:.)"


def _unit(token: str) -> str | None:
    """The punctuation after `token` when it is a unit (`KB,` → `,`), else None."""
    word = token.rstrip(_TRAIL)
    if word.lower() not in UNITS or "(" in word:
        return None
    return token[len(word) :]


def may_fold(token: str) -> bool:
    """Can a masked token take part in a fold (a unit, or a bracket opening a group)? A line
    without one has nothing to fold: the miner skips `fold_spans` for it."""
    return token.startswith("(") or _unit(token) is not None


def _group_end(masked: list[str], start: int) -> tuple[int, str] | None:
    """A bracketed group of values and units opening at `start` (`(<*> KB)`): (end, what
    follows the closing bracket), or None."""
    if not masked[start].startswith("("):
        return None
    has_unit = False
    for j in range(start, min(start + 3, len(masked))):
        body = masked[j].lstrip("(") if j == start else masked[j]
        close = body.find(")")
        inner = body if close < 0 else body[:close]
        if inner != WILDCARD and _unit(inner) != "":
            return None
        has_unit = has_unit or inner != WILDCARD
        if close >= 0:
            return (j + 1, body[close + 1 :]) if has_unit else None
    return None


def fold_spans(raw: list[str], masked: list[str]) -> tuple[tuple[int, int, str], ...]:
    """(start, end, folded token) for each run to fold: an optional bracketed group of values
    and units joins the token before it (`<*> bytes (<*> KB)` → `<*> bytes`), and a unit
    after a bound joins the bound (`<1 sec` → `<*>`, like `00:01`). A unit after a plain
    number stays a token (`took <*> ms`): templates and ids of such lines do not change."""
    out = []
    i, n = 0, len(masked)
    while i < n:
        if not masked[i].endswith(WILDCARD):
            i += 1
            continue
        unit = _unit(masked[i + 1]) if i + 1 < n else None
        if unit is not None and raw[i][:1] in "<>~":  # a bound and its unit: one value
            out.append((i, i + 2, masked[i] + unit))
            i += 2
            continue
        first = i + 1 if unit == "" else i  # `<*> bytes (…)`: the group joins the unit
        group = _group_end(masked, first + 1) if first + 1 < n else None
        if group is not None:
            out.append((first, group[0], masked[first] + group[1]))
            i = group[0]
            continue
        i += 1
    return tuple(out)


def fold(tokens: list[str], spans: tuple[tuple[int, int, str], ...], raw: bool) -> list[str]:
    """`tokens` with each span replaced by one token: the raw text joined (raw) or the folded
    masked token."""
    if not spans:
        return tokens
    out: list[str] = []
    last = 0
    for start, end, folded in spans:
        out += tokens[last:start]
        out.append(" ".join(tokens[start:end]) if raw else folded)
        last = end
    out += tokens[last:]
    return out


def is_slot(values: set[str]) -> bool:
    """Values that sit in a parameter's slot by their shape, so that two of them make the
    column a variable: the values of one key (`user=root`, `user=guest`), or size and time
    units after a number (`<*> B`, `<*> KB`). Any other word needs several values."""
    if len(values) < 2:
        return False
    keys = {v.partition("=")[0] for v in values}
    if len(keys) == 1:
        key = next(iter(keys))
        return key != "" and all("=" in v for v in values) and key.replace("_", "").isalnum()
    trails = {_unit(v) for v in values}  # `B,` and `KB,`: units followed alike
    return len(trails) == 1 and None not in trails


def slot_pair(a: str, b: str) -> bool:
    """`is_slot({a, b})` for two different values, without building sets (the miner asks
    for every pair of neighbours that differ)."""
    key, eq, _ = a.partition("=")
    if eq:
        return key != "" and b.startswith(key + "=") and key.replace("_", "").isalnum()
    unit = _unit(a)
    return unit is not None and unit == _unit(b)


def is_request_line(token: str) -> bool:
    """A quoted HTTP request line as masking leaves it: `"GET /api/users/<*> HTTP/<*>"`."""
    return token.startswith('"') and token.endswith(f'HTTP/{WILDCARD}"')


def _route(token: str) -> tuple[str, list[str]]:
    """A request line's method and path segments: `"GET /api/users/<*> HTTP/<*>"` →
    (`GET`, [``, `api`, `users`, `<*>`])."""
    method, _, rest = token[1:].partition(" ")
    return method, rest.rpartition(" ")[0].split("/")


def route_shape(token: str) -> tuple[str, int] | None:
    """A request line's method and segment count (None for other tokens): lines whose shapes
    differ are different events, whatever else they share."""
    if not is_request_line(token):
        return None
    method, segments = _route(token)
    return method, len(segments)


def route_variation(values: set[str]) -> list[int]:
    """How many values each varying path segment takes across request lines of one shape."""
    routes = [_route(v)[1] for v in values]
    counts = [len({s[i] for s in routes}) for i in range(min(map(len, routes)))]
    return [c for c in counts if c > 1]


def merge_routes(a: str, b: str) -> str | None:
    """The route shape accepting request lines `a` and `b` of one method and segment count
    (segments that differ become a variable), or None."""
    (ma, sa), (mb, sb) = _route(a), _route(b)
    if ma != mb or len(sa) != len(sb):
        return None
    path = "/".join(x if x == y else WILDCARD for x, y in zip(sa, sb, strict=True))
    return f'"{ma} {path} HTTP/{WILDCARD}"'


def status_classes(raw: list[str], masked: list[str]) -> list[int]:
    """Set the status after a request line to its class (`502` → `5xx`) in `masked`; the
    indices changed."""
    out = []
    for i in range(1, len(raw)):
        if is_request_line(masked[i - 1]):
            status = raw[i]
            if len(status) == 3 and status.isdigit() and "1" <= status[0] <= "5":
                masked[i] = status[0] + "xx"
                out.append(i)
    return out
