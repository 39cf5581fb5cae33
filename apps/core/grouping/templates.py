"""Templates and their tokens: which token accepts which, how two tokens merge, and the keys
the miner indexes templates and merge evidence under.

A template is a tuple of tokens; a token is a literal (`Accepted`), the wildcard `<*>`, or a
literal with wildcards inside (`uid=<*>`, `[<*>]`), which accepts what its pattern matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import itemgetter, ne
from typing import Any

from .masks import WILDCARD
from .values import STATUS_CLASSES, is_request_line, merge_routes


def fill(template: str, params: list[str]) -> str:
    """Substitute params back into a template: the inverse of mining."""
    parts = template.split(WILDCARD)
    if len(parts) != len(params) + 1:
        raise ValueError("params do not fit the template")
    out = [parts[0]]
    for param, part in zip(params, parts[1:], strict=True):
        out += (param, part)
    return "".join(out)


_pattern_cache: dict[str, re.Pattern[str]] = {}


def token_pattern(token: str) -> re.Pattern[str]:
    """Regex for a template token with wildcards: literals around `(.*?)` groups."""
    pat = _pattern_cache.get(token)
    if pat is None:
        if len(_pattern_cache) > 50_000:
            _pattern_cache.clear()
        body = "(.*?)".join(re.escape(part) for part in token.split(WILDCARD))
        pat = _pattern_cache[token] = re.compile(body + r"\Z", re.DOTALL)
    return pat


def matches(parts: list[str], token: str) -> bool:
    """Does `token` match a token with wildcards, split on them (`parts`)? The same answer as
    `token_pattern(...).match`, without compiling a regex: the literals in order, leftmost."""
    first, last = parts[0], parts[-1]
    end = len(token) - len(last)
    if end < len(first) or not token.startswith(first) or not token.endswith(last):
        return False
    pos = len(first)
    for part in parts[1:-1]:
        pos = token.find(part, pos, end)
        if pos < 0:
            return False
        pos += len(part)
    return True


def fits(pattern_token: str, token: str) -> bool:
    """Does template token `pattern_token` accept `token` (a masked or raw token)?"""
    if pattern_token in (token, WILDCARD):
        return True
    return WILDCARD in pattern_token and matches(pattern_token.split(WILDCARD), token)


def _compatible(a: str, b: str) -> bool:
    return fits(a, b) or fits(b, a)


def merge_token(a: str, b: str) -> str:
    """The most specific token accepting both: equal, one's pattern, `key=<*>`, or `<*>`."""
    if fits(a, b):
        return a
    if fits(b, a):
        return b
    if is_request_line(a) and is_request_line(b):
        route = merge_routes(a, b)
        if route is not None:
            return route  # the method stays; varying path segments become variables
    if WILDCARD in a or WILDCARD in b:
        return WILDCARD
    # keep a common prefix ending in punctuation and a common suffix starting with it
    n = 0
    limit = min(len(a), len(b))
    while n < limit and a[n] == b[n]:
        n += 1
    while n and a[n - 1].isalnum():
        n -= 1
    m = 0
    limit -= n
    while m < limit and a[-1 - m] == b[-1 - m]:
        m += 1
    while m and a[-m].isalnum():
        m -= 1
    return a[:n] + WILDCARD + (a[len(a) - m :] if m else "")


def has_digit(token: str) -> bool:
    return any(map(str.isdigit, token))


def _specificity(tokens: tuple[str, ...]) -> int:
    return sum(2 if WILDCARD not in t else (0 if t == WILDCARD else 1) for t in tokens)


class Template:
    __slots__ = (
        "constant_values",
        "count",
        "exact",
        "get_constants",
        "id",
        "literals",
        "merged_into",
        "partial",
        "seq",
        "simple",
        "specificity",
        "text",
        "tokens",
        "wild",
        "wild_bits",
    )

    def __init__(self, tid: str, tokens: tuple[str, ...], count: int, seq: int) -> None:
        self.id = tid
        self.seq = seq
        self.count = count
        self.merged_into: Template | None = None
        self.set_tokens(tokens)

    def set_tokens(self, tokens: tuple[str, ...]) -> None:
        self.tokens = tokens
        self.text = " ".join(tokens)
        self.exact = tuple((i, t) for i, t in enumerate(tokens) if WILDCARD not in t)
        # the literal tokens as one C-level getter and the tuple it must return
        self.get_constants: Callable[[tuple[str, ...]], Any] | None = None
        self.constant_values: Any = None
        if self.exact:
            self.get_constants = itemgetter(*(i for i, _ in self.exact))
            self.constant_values = self.get_constants(tokens)
        self.partial = tuple(
            (i, t, t.split(WILDCARD))
            for i, t in enumerate(tokens)
            if WILDCARD in t and t != WILDCARD
        )
        # literal tokens as they stand, a token with a wildcard as this template's own marker
        # (equal to nothing of another template), and the wildcards' positions as bits: the
        # miner counts the columns where two templates hold different literals in C
        marker = object()
        self.literals = tuple(marker if WILDCARD in t else t for t in tokens)
        self.wild_bits = sum(1 << i for i, t in enumerate(tokens) if WILDCARD in t)
        # the wildcard positions, with the token when it holds literals too (`uid=<*>`)
        self.wild = tuple(
            (i, None if t == WILDCARD else t) for i, t in enumerate(tokens) if WILDCARD in t
        )
        self.simple = not self.partial
        self.specificity = _specificity(tokens)

    def accepts(self, sig: tuple[str, ...]) -> bool:
        if self.get_constants is not None and self.get_constants(sig) != self.constant_values:
            return False
        return self.accepts_partial(sig)

    def accepts_partial(self, sig: tuple[str, ...]) -> bool:
        """Do the tokens with wildcards and literals (`uid=<*>`) accept theirs in `sig`?"""
        for i, token, parts in self.partial:
            s = sig[i]
            if s != token and not matches(parts, s):
                return False
        return True

    def live(self) -> Template:
        t = self
        while t.merged_into is not None:
            t = t.merged_into
        return t


_NAME_CHARS = frozenset("./\\@")


def _may_vary_first(token: str, name_first: bool) -> bool:
    """Drain's assumption, that the first word names the event, holds for words (`Accepted`,
    `Failed`); not for a token with digits, nor for a name-shaped one (`app.exe`, `/usr/bin/x`,
    `user@host`): those may be variables like any other column."""
    if has_digit(token):
        return True
    return name_first and not _NAME_CHARS.isdisjoint(token.rstrip(":,;"))


def _first_may_differ(x: str, y: str, name_first: bool) -> bool:
    if has_digit(x) or has_digit(y):
        return True
    # both name-shaped: `a.exe` / `b.exe` (not `x.y` / `timeout`: a dotted key next to a word)
    return name_first and _may_vary_first(x, True) and _may_vary_first(y, True)


def anchor_key(tokens: tuple[str, ...]) -> tuple[int, str, str]:
    n = len(tokens)
    a0 = tokens[0] if n and WILDCARD not in tokens[0] else WILDCARD
    a1 = (tokens[1] if WILDCARD not in tokens[1] else WILDCARD) if n > 1 else ""
    return (n, a0 if n else "", a1)


def first_key(tokens: tuple[str, ...], name_first: bool) -> tuple[int, str | None]:
    first = tokens[0] if tokens else ""
    loose = WILDCARD in first or _may_vary_first(first, name_first)
    return (len(tokens), None if loose else first)


def evidence_key(
    a: tuple[str, ...],
    b: tuple[str, ...],
    diff_share: int,
    name_first: bool = True,
    wild: int | None = None,
) -> tuple[tuple[int, ...], tuple[str | None, ...]] | None:
    """(differing columns, merged context) when a and b differ in a few variable-able columns.
    `wild`: how many tokens of a and b hold a wildcard, when the caller knows."""
    limit = max(1, len(a) // diff_share)
    # quick answer in C: columns that differ, less those where a wildcard may reconcile them,
    # are more than the limit (most pairs of neighbours: unrelated events of one length)
    if wild is None:
        wild = " ".join(a).count(WILDCARD) + " ".join(b).count(WILDCARD)
    if len(a) == len(b) and sum(map(ne, a, b)) - wild > limit:
        return None
    diff: list[int] = []
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x != y and ((WILDCARD not in x and WILDCARD not in y) or not _compatible(x, y)):
            if x in STATUS_CLASSES or y in STATUS_CLASSES:
                return None  # a status class is the event (200s and 504s of one route)
            if i == 0 and not _first_may_differ(x, y, name_first):
                return None  # a different first word: a different message
            diff.append(i)
            if len(diff) > limit:
                return None
    if not diff:
        return None
    context = tuple(
        None if i in diff else merge_token(x, y) for i, (x, y) in enumerate(zip(a, b, strict=True))
    )
    constants = sum(1 for t in context if t is not None and t != WILDCARD)
    if constants < len(diff):
        return None
    return tuple(diff), context


class TemplateIndex:
    """The live templates, indexed so that a lookup visits the few that can accept a signature,
    not every one of its length (cost per line must not grow with the number of templates)."""

    def __init__(self, *, name_first: bool) -> None:
        self._name_first = name_first
        self._by_len: dict[int, list[Template]] = {}
        # by (length, token 0, token 1), a wildcard-bearing token as `<*>`
        self._anchored: dict[tuple[int, str, str], list[Template]] = {}
        # by (length, first token), `None` for a first token with digits or `<*>` (those may
        # take evidence from any first word)
        self._by_first: dict[tuple[int, str | None], list[Template]] = {}

    def by_seq(self) -> list[Template]:
        """Every live template, oldest first."""
        live = [t for ts in self._by_len.values() for t in ts]
        live.sort(key=lambda t: t.seq)
        return live

    def of_length(self, length: int) -> list[Template]:
        return self._by_len[length]

    def add(self, tpl: Template) -> None:
        self._by_len.setdefault(len(tpl.tokens), []).append(tpl)
        self._index(tpl)

    def remove(self, tpl: Template) -> None:
        self._by_len[len(tpl.tokens)].remove(tpl)
        self._unindex(tpl)

    def retoken(self, tpl: Template, tokens: tuple[str, ...]) -> None:
        """Give `tpl` new tokens of the same length (a merge generalized it)."""
        self._unindex(tpl)
        tpl.set_tokens(tokens)
        self._index(tpl)

    def find(self, sig: tuple[str, ...]) -> Template | None:
        """The most specific live template that accepts `sig` (the oldest on a tie)."""
        n = len(sig)
        s0 = sig[0] if n else ""
        s1 = sig[1] if n > 1 else ""
        get = self._anchored.get
        # the best is unique (specificity, then age): the order of the lists does not matter
        lists = [get((n, WILDCARD, WILDCARD))]
        if s0 != WILDCARD:
            lists.append(get((n, s0, WILDCARD)))
        if s1 != WILDCARD:
            lists.append(get((n, WILDCARD, s1)))
            if s0 != WILDCARD:
                lists.append(get((n, s0, s1)))
        best: Template | None = None
        best_score = -1
        for candidates in lists:
            if not candidates:
                continue
            for tpl in candidates:
                # `tpl.accepts(sig)`, inline: this is the miner's inner loop
                get_constants = tpl.get_constants
                if get_constants is not None and get_constants(sig) != tpl.constant_values:
                    continue
                if tpl.partial and not tpl.accepts_partial(sig):
                    continue
                score = tpl.specificity
                if score > best_score or (score == best_score and best and tpl.seq < best.seq):
                    best, best_score = tpl, score
        return best

    def neighbours(self, tpl: Template) -> list[Template]:
        """Same-length templates that may differ from `tpl` in a few columns, oldest first:
        the same first word, or a first token that may be a variable (either side)."""
        length = len(tpl.tokens)
        first = first_key(tpl.tokens, self._name_first)
        if first[1] is None:
            return list(self._by_len[length])
        out = self._by_first.get(first, []) + self._by_first.get((length, None), [])
        out.sort(key=lambda t: t.seq)
        return out

    def _index(self, tpl: Template) -> None:
        tokens = tpl.tokens
        self._anchored.setdefault(anchor_key(tokens), []).append(tpl)
        self._by_first.setdefault(first_key(tokens, self._name_first), []).append(tpl)

    def _unindex(self, tpl: Template) -> None:
        self._anchored[anchor_key(tpl.tokens)].remove(tpl)
        self._by_first[first_key(tpl.tokens, self._name_first)].remove(tpl)
