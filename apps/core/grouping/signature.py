"""A line's signature: its masked tokens, value runs folded (`values.py`), runs of `<*>`
collapsed (variable-length lists such as `delete blk_1 blk_2 blk_3`).

Lines differing only in digits inside variables share a digit shape and a signature, so the
signature is remembered per digit shape and most lines cost a `str.translate` and a dict
lookup, without tokenizing.
"""

from __future__ import annotations

from collections.abc import Iterable

from .masker import TokenMasker
from .masks import SHAPE_TABLE, SHAPE_TABLE_0X, WILDCARD, tokenize
from .values import fold, fold_spans, may_fold, status_classes

SHAPE_LIMIT = 100_000  # digit shapes remembered (cleared when full)
SHAPE_VARIANTS = 8  # signatures remembered per digit shape (checks tell them apart)
# value runs folded (start, end, folded token), then runs of `<*>` collapsed (start, end)
Spans = tuple[tuple[tuple[int, int, str], ...], tuple[tuple[int, int], ...]]
_Checks = tuple[tuple[int, str], ...]  # (offset, text) that must hold in the line


class Signatures:
    """Line → (signature, spans), through a bounded cache by digit shape."""

    __slots__ = ("_mask", "_run", "_run_text", "_shapes")

    def __init__(self, collapse_run: int, *, without: frozenset[str] = frozenset()) -> None:
        self._mask = TokenMasker(without=without, watch=may_fold)
        self._run = collapse_run
        self._run_text = "\0".join(["", *[WILDCARD] * collapse_run, ""])  # in joined tokens
        # digit shape of a line → [(checks, signature, spans)]
        self._shapes: dict[str, tuple[tuple[_Checks, tuple[str, ...], Spans], ...]] = {}

    def of(self, message: str) -> tuple[tuple[str, ...], Spans]:
        """The signature of a line and the runs of its tokens folded or collapsed into one."""
        # `digit_shape(message)`, inline: once per line
        table = SHAPE_TABLE_0X if "0x" in message or "0X" in message else SHAPE_TABLE
        shape = (
            message.encode("utf-8", "surrogatepass")
            .translate(table)
            .decode("utf-8", "surrogatepass")
        )
        for checks, sig, spans in self._shapes.get(shape, ()):
            for offset, text in checks:
                if not message.startswith(text, offset):
                    break
            else:
                return sig, spans
        return self._prepare(message, shape)

    def _prepare(self, message: str, shape: str) -> tuple[tuple[str, ...], Spans]:
        """`of` for a line of a digit shape not seen, or whose checks failed. Tokens whose
        digits survive masking (`ssh2`) and statuses (by class) are checked as text at their
        offset in the line (lines of one shape have equal token offsets); a shape keeps a few
        such variants (the 200s and 502s of one route)."""
        if '"' in message or "'" in message:
            raw = tokenize(message)
            masked, named = self._mask.mask_line(raw, tokenize(shape))
        else:  # `tokenize` without quotes, inline: most lines
            raw = message.split()
            masked, named = self._mask.mask_line(raw, shape.split())
        status = status_classes(raw, masked) if "HTTP/" in message else None
        checks: _Checks = ()
        if status:  # a status holds by its class: a prefix check
            need = dict.fromkeys(named, 0)
            need.update(dict.fromkeys(status, 1))
            checks = tuple(
                (offset, raw[i] if need[i] == 0 else raw[i][:1])
                for i, offset in _offsets(message, raw, need)
            )
        elif named:  # some digits are part of a name (`ssh2`): checked as they stand
            if len(message) == sum(map(len, raw)) + len(raw) - 1:  # one space between tokens
                checks = tuple([(sum(map(len, raw[:i])) + i, raw[i]) for i in named])
            else:
                checks = tuple([(offset, raw[i]) for i, offset in _offsets(message, raw, named)])
        folds = fold_spans(raw, masked) if not self._mask.watched.isdisjoint(masked) else ()
        if folds:
            masked = fold(masked, folds, False)
        runs: tuple[tuple[int, int], ...] = ()
        # a run of `<*>` tokens, looked for in C first: most lines with several have none
        if masked.count(WILDCARD) >= self._run and self._run_text in "\0".join(["", *masked, ""]):
            runs = _runs(masked, self._run)
            if runs:
                masked = join_spans(masked, runs, WILDCARD)
        sig = tuple(masked)
        spans = (folds, runs)
        # a tuple, not a list: a tuple of strings and tuples of them leaves the garbage
        # collector's tracking, and this cache holds up to SHAPE_LIMIT of them
        variant = (checks, sig, spans)
        shapes = self._shapes
        variants = shapes.get(shape)
        if variants is None:
            if len(shapes) >= SHAPE_LIMIT:
                shapes.clear()
            shapes[shape] = (variant,)
        else:
            shapes[shape] = (*variants[1 - SHAPE_VARIANTS :], variant)
        return sig, spans


def _runs(masked: list[str], run: int) -> tuple[tuple[int, int], ...]:
    """(start, end) of every run of at least `run` masked tokens (variable-length lists)."""
    out = []
    i, n = 0, len(masked)
    while i < n:
        if masked[i] != WILDCARD:
            i += 1
            continue
        j = i
        while j < n and masked[j] == WILDCARD:
            j += 1
        if j - i >= run:
            out.append((i, j))
        i = j
    return tuple(out)


def join_spans(
    tokens: list[str], spans: tuple[tuple[int, int], ...], joined: str | None = None
) -> list[str]:
    """`tokens` with each span replaced by one token: `joined`, or the span's tokens joined."""
    if not spans:
        return tokens
    out: list[str] = []
    last = 0
    for start, end in spans:
        out += tokens[last:start]
        out.append(joined if joined is not None else " ".join(tokens[start:end]))
        last = end
    out += tokens[last:]
    return out


def apply_spans(raw: list[str], spans: Spans) -> list[str]:
    """Raw tokens as the signature saw them: value runs folded, then long runs collapsed."""
    folds, runs = spans
    return join_spans(fold(raw, folds, True), runs)


def _offsets(message: str, raw: list[str], need: Iterable[int]) -> list[tuple[int, int]]:
    """(index, offset in `message`) of the tokens `need` names, in increasing index order
    (`raw` is `tokenize(message)`: each token is the first occurrence of its text after the
    one before)."""
    if len(message) == sum(map(len, raw)) + len(raw) - 1:  # one separator between tokens
        return [(i, sum(map(len, raw[:i])) + i) for i in need]
    out = []
    pos = 0
    want = set(need)
    last = max(want)
    find = message.find
    for i, token in enumerate(raw):
        pos = find(token, pos)
        if i in want:
            out.append((i, pos))
            if i == last:
                break
        pos += len(token)
    return out
