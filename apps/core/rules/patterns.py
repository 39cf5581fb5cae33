"""Pattern handling: user-pattern validation (RE2), keyword derivation, the keyword prefilter.

Built-in catalogue patterns are reviewed and compiled with Python `re`. Patterns written by users
(custom per-tenant rules) only ever run on google-re2, which guarantees linear-time matching; a
pattern RE2 cannot compile (backreferences, look-around, possessive quantifiers …) is rejected
with a message the UI can show as is.

The prefilter is what keeps the engine cheap on healthy traffic: every rule declares (or we
derive from its regex) literal keywords, at least one of which must occur in a message for the
rule's regex to be worth running. All keywords of the catalogue go into one RE2 `Set`, so one
scan of a message tells which rules are candidates.
"""

from __future__ import annotations

import re

# The regex parser's own modules (private, stable since 3.11; typeshed has no stubs for them):
# keywords are derived from the parsed pattern, exactly as `re` reads it.
import re._constants as sre_c  # type: ignore[import-not-found]
import re._parser as sre_parse  # type: ignore[import-not-found]
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from itertools import accumulate

import re2
from re2 import _re2

MAX_SCAN_CHARS = 8192  # messages are cut to this many characters before any pattern runs
MAX_USER_PATTERN_CHARS = 1000
MAX_USER_PROGRAM_SIZE = 5000  # RE2 program size; rejects patterns such as a{1000}{1000}
MIN_KEYWORD_CHARS = 3


def _re2_options(*, case_sensitive: bool = True) -> re2.Options:
    opts = re2.Options()
    opts.log_errors = False
    opts.case_sensitive = case_sensitive
    opts.max_mem = 8 << 20
    return opts


class Pattern:
    """A compiled pattern answering one question fast: does it occur in this text?

    RE2 is used whenever it can compile the pattern (through the raw binding, without
    captures: the Python wrapper's offset bookkeeping costs more than the scan itself);
    built-in patterns that need Python-only syntax fall back to `re`. User patterns are
    RE2 only (see `compile_user_pattern`).
    """

    __slots__ = ("_py", "_re2", "pattern")

    def __init__(self, pattern: str, *, allow_python: bool = True) -> None:
        self.pattern = pattern
        self._re2 = None
        self._py = None
        opts = _re2_options()
        opts.never_capture = True
        compiled = _re2.RE2(pattern.encode("utf-8"), opts)
        if compiled.ok():
            self._re2 = compiled
        elif allow_python:
            self._py = re.compile(pattern)
        else:
            raise ValueError(compiled.error())

    @property
    def engine(self) -> str:
        return "re2" if self._re2 is not None else "re"

    def search(self, text: str) -> bool:
        if self._re2 is not None:
            data = text.encode("utf-8", "surrogatepass")
            return self._re2.Match(_UNANCHORED, data, 0, len(data))[0] != _NULL_SPAN
        assert self._py is not None  # compiled with `re` whenever RE2 refused the pattern
        return self._py.search(text) is not None

    def line_of(self, text: str) -> int | None:
        """The 0-based line of `text` (split at newlines) where the first match starts; None
        when nothing matches. Tells which physical line of a multi-line record matched."""
        if self._re2 is not None:
            data = text.encode("utf-8", "surrogatepass")
            start = self._re2.Match(_UNANCHORED, data, 0, len(data))[0][0]
            return None if start < 0 else data.count(b"\n", 0, start)
        assert self._py is not None  # compiled with `re` whenever RE2 refused the pattern
        m = self._py.search(text)
        return None if m is None else text.count("\n", 0, m.start())

    def __repr__(self) -> str:
        return f"Pattern({self.pattern!r}, engine={self.engine})"


_UNANCHORED = re2._Anchor.UNANCHORED
_NULL_SPAN = (-1, -1)


def compile_builtin_pattern(pattern: str) -> Pattern:
    """A reviewed catalogue pattern: RE2 when possible, else Python `re` (raises re.error)."""
    return Pattern(pattern, allow_python=True)


def compile_user_pattern(pattern: str) -> Pattern:
    """Compile a user pattern with RE2. Raise ValueError with a readable message when refused."""
    error = validate_user_pattern(pattern)
    if error:
        raise ValueError(error)
    return Pattern(pattern, allow_python=False)


def validate_user_pattern(pattern: str) -> str | None:
    """Return why `pattern` can't be used as a user rule pattern, or None when it is fine."""
    if not isinstance(pattern, str) or not pattern.strip():
        return "The pattern is empty."
    if len(pattern) > MAX_USER_PATTERN_CHARS:
        return f"The pattern is too long ({len(pattern)} characters, at most {MAX_USER_PATTERN_CHARS})."
    if re.search(r"\\[1-9]|\(\?P=", pattern):
        return "Backreferences (\\1, (?P=name)) are not supported: patterns run on a linear-time engine (RE2)."
    if re.search(r"\(\?<?[=!]", pattern):
        return "Look-ahead and look-behind ((?=…), (?!…), (?<=…), (?<!…)) are not supported: patterns run on a linear-time engine (RE2)."
    try:
        compiled = re2.compile(pattern, _re2_options())
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        return f"Invalid pattern: {detail}."
    if compiled.programsize > MAX_USER_PROGRAM_SIZE:
        return f"The pattern is too complex (RE2 program size {compiled.programsize}, at most {MAX_USER_PROGRAM_SIZE}); simplify counted repetitions."
    if compiled.search("") is not None:
        return "The pattern matches an empty line, so it would match every line; make it more specific."
    return None


# --- keyword derivation --------------------------------------------------------------------


def derive_keywords(pattern: str) -> tuple[str, ...]:
    """Literal substrings of which at least one occurs in every match of `pattern` (any-of).

    Returns () when none can be derived (the rule then runs on every message). The derivation
    walks Python's regex parse tree: a run of literal characters that is always part of a match
    is a requirement; so is an alternation whose every branch yields one. The requirement with
    the longest shortest-keyword wins. The prefilter is case-insensitive, so flags don't matter.
    """
    try:
        tree = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return ()
    best = _best_requirement(_requirements(list(tree)))
    return tuple(best) if best else ()


def _best_requirement(reqs: list[list[str]]) -> list[str] | None:
    good = [r for r in reqs if r and min(len(k) for k in r) >= MIN_KEYWORD_CHARS]
    if not good:
        return None
    return max(good, key=lambda r: (min(len(k) for k in r), -len(r)))


def _requirements(items: Sequence) -> list[list[str]]:
    """Each requirement is an any-of list of literals; all requirements hold for every match."""
    reqs: list[list[str]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            reqs.append(["".join(run)])
            run.clear()

    for op, av in items:
        if op is sre_c.LITERAL:
            run.append(chr(av))
            continue
        flush()
        if op is sre_c.SUBPATTERN:
            reqs.extend(_requirements(list(av[-1])))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
            low, _high, body = av
            if low >= 1:
                reqs.extend(_requirements(list(body)))
        elif op is sre_c.ATOMIC_GROUP:
            reqs.extend(_requirements(list(av)))
        elif op is sre_c.BRANCH:
            alternatives: list[str] = []
            for branch in av[1]:
                best = _best_requirement(_requirements(list(branch)))
                if best is None:
                    alternatives = []
                    break
                alternatives.extend(best)
            if alternatives:
                reqs.append(alternatives)
        elif op is sre_c.IN and len(av) == 1 and av[0][0] is sre_c.LITERAL:
            run.append(chr(av[0][1]))
            continue
    flush()
    return reqs


# --- prefilter -----------------------------------------------------------------------------


class KeywordIndex:
    """One case-insensitive RE2 Set over every keyword; maps a message to candidate rule indexes.

    `scan_batch` answers for a batch of messages at once (one RE2 call for the common case of no
    keyword at all), which is what makes the prefilter cheap: the per-call overhead of the
    binding dominates the scan itself on typical log lines.
    """

    def __init__(self, keywords_per_rule: Sequence[Iterable[str]]) -> None:
        self._kw_rules: list[tuple[int, ...]] = []
        seen: dict[str, int] = {}
        owners: list[list[int]] = []
        for rule_index, keywords in enumerate(keywords_per_rule):
            for kw in keywords:
                key = kw.casefold()
                if key not in seen:
                    seen[key] = len(owners)
                    owners.append([])
                owners[seen[key]].append(rule_index)
        self._set = None
        self._any = None
        if seen:
            s = re2.Set.SearchSet(_re2_options(case_sensitive=False))
            for key in seen:
                s.Add(re2.escape(key))
            s.Compile()
            self._set = s._set  # the raw binding: the wrapper re-encodes on every call
            # The same keywords as one alternation: its match positions say which message of
            # a joined batch holds a keyword, without a Set scan per message.
            opts = _re2_options(case_sensitive=False)
            opts.never_capture = True
            anyre = _re2.RE2("|".join(re2.escape(k) for k in seen).encode("utf-8"), opts)
            if anyre.ok():
                self._any = anyre
        self._owners = [tuple(o) for o in owners]

    def candidates(self, text: str) -> set[int]:
        if self._set is None:
            return set()
        hits = self._set.Match(text.encode("utf-8", "surrogatepass"))
        if not hits:
            return set()
        owners = self._owners
        out: set[int] = set()
        for h in hits:
            out.update(owners[h])
        return out

    def any_in(self, texts: Sequence[str]) -> bool:
        """True when some keyword occurs in some text (keywords never contain a newline)."""
        if self._set is None:
            return False
        return bool(self._set.Match("\n".join(texts).encode("utf-8", "surrogatepass")))

    def hits(self, texts: Sequence[str]) -> list[int]:
        """Indexes (ascending) of the texts in which some keyword occurs.

        One scan over the joined batch; keywords never contain a newline, so every match lies
        inside one text, and a text holding a keyword always yields a match inside it.
        """
        if self._set is None:
            return []
        joined = "\n".join(texts)
        data = joined.encode("utf-8", "surrogatepass")
        anyre = self._any
        if anyre is None or len(data) != len(joined):
            # No alternation, or non-ASCII text (byte offsets ≠ character offsets).
            if not self._set.Match(data):
                return []
            match = self._set.Match
            return [i for i, t in enumerate(texts) if match(t.encode("utf-8", "surrogatepass"))]
        ends = list(accumulate(len(t) + 1 for t in texts))  # one past each text's newline
        size = len(data)
        out: list[int] = []
        pos = 0
        while pos < size:
            start = anyre.Match(_UNANCHORED, data, pos, size)[0][0]
            if start < 0:
                break
            i = bisect_left(ends, start + 1)  # the text whose span holds `start`
            out.append(i)
            pos = ends[i]
        return out
